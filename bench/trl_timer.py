"""A trainer callback that times each optimizer step (shared by dpo_step.py and grpo_step.py)."""
import time

from transformers import TrainerCallback


class Timer(TrainerCallback):
    def __init__(self):
        self.times, self.start = [], None

    def on_step_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self.start)
