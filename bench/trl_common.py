"""What dpo_step.py and grpo_step.py share: a trainer callback that times each optimizer step,
and the trainer settings that make TRL's run comparable to minichat's."""
import time

from transformers import TrainerCallback

# Settings of every TRL config here: CPU, float32 and activations kept, as minichat runs.
# TRL turns on bf16 autocast by default, which on a CPU without bf16 instructions (this one:
# AVX2) runs its products 30-50x slower; and its DPOConfig and GRPOConfig turn activation
# checkpointing on (each micro-batch's forward recomputed in the backward).
SAME_AS_MINICHAT = dict(
    use_cpu=True,
    bf16=False,
    fp16=False,
    gradient_checkpointing=False,
    report_to=[],
    logging_steps=10_000,
    save_strategy="no",
    dataloader_num_workers=0,
    seed=1,
)


class Timer(TrainerCallback):
    def __init__(self):
        self.times, self.start = [], None

    def on_step_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self.start)
