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
from trl_timer import Timer
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
        use_cpu=True,
        # float32 on both sides: TRL turns on bf16 autocast by default, which on a CPU without
        # bf16 instructions (this one: AVX2) runs its products 30-50x slower.
        bf16=False,
        fp16=False,
        # TRL's DPOConfig turns activation checkpointing on by default (it recomputes each
        # micro-batch's forward in the backward); minichat keeps the activations, so TRL does too.
        gradient_checkpointing=False,
        report_to=[],
        logging_steps=10_000,
        save_strategy="no",
        precompute_ref_log_probs=True,
        dataloader_num_workers=0,
        seed=1,
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
