"""One DPO optimizer step with TRL's DPOTrainer (PyTorch eager, CPU), timed, for
bench/dpo_step.sh: the same exported model, pairs, batch (16 pairs a step in micro-batches of
8), beta and learning rate as `minichat dpo`, the reference log-probabilities precomputed as
minichat does.

    venv/bin/python dpo_step.py THREADS MODEL_DIR PAIRS.jsonl STEPS
"""
import json
import statistics
import sys
import time

import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl_common import SAME_AS_MINICHAT, Timer
from trl import DPOConfig, DPOTrainer


def main():
    threads, model_dir, pairs, steps = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(model_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    rows = [json.loads(line) for line in open(pairs)]
    config = DPOConfig(
        output_dir="/tmp/minichat-bench-trl-dpo",
        per_device_train_batch_size=8,
        gradient_accumulation_steps=2,
        max_steps=steps,
        learning_rate=2e-5,
        beta=0.1,
        precompute_ref_log_probs=True,
        **SAME_AS_MINICHAT,
    )
    timer = Timer()
    trainer = DPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tok,
                         callbacks=[timer])
    started = time.perf_counter()
    trainer.train()
    total = time.perf_counter() - started
    step = statistics.median(timer.times[1:])
    print(f"trl: {step * 1000:.1f} ms/step (median of steps 2..{steps}); train() {total:.1f} s with the reference pass")


if __name__ == "__main__":
    main()
