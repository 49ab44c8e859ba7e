"""One GRPO optimizer step with TRL's GRPOTrainer (PyTorch eager, CPU, generation through
transformers' `generate`), timed, for bench/grpo_step.sh: the same exported model, questions,
prompts per step, group, reply length, loss and learning rate as `minichat rl`.

    venv/bin/python grpo_step.py THREADS MODEL_DIR TASKS.jsonl STEPS PROMPTS GROUP MAX_TOKENS
"""
import json
import statistics
import sys
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl_common import SAME_AS_MINICHAT, Timer
from trl import GRPOConfig, GRPOTrainer


def main():
    threads, model_dir, tasks = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    steps, prompts, group, max_tokens = (int(a) for a in sys.argv[4:8])
    torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.pad_token = tok.pad_token or tok.eos_token
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    rows = []
    for line in open(tasks):
        r = json.loads(line)
        question = next(m["content"] for m in r["messages"] if m["role"] == "user")
        # minichat's chat format as text (the exported tokenizer has its special tokens).
        rows.append({"prompt": f"<|bos|><|user_start|>{question}<|user_end|><|assistant_start|>",
                     "answer": r["answer"]})

    def correct(completions, answer, **kwargs):
        return [1.0 if a in c else 0.0 for c, a in zip(completions, answer)]

    micro = 16
    config = GRPOConfig(
        output_dir="/tmp/minichat-bench-trl-grpo",
        # One generation of PROMPTS x GROUP replies per optimizer step, trained in micro-batches
        # of 16 replies, as `minichat rl --micro-batch 16`.
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=prompts * group // micro,
        num_generations=group,
        max_completion_length=max_tokens,
        max_steps=steps,
        learning_rate=5e-5,
        beta=0.0,
        loss_type="dapo",
        scale_rewards="group",
        temperature=1.0,
        **SAME_AS_MINICHAT,
    )
    timer = Timer()
    trainer = GRPOTrainer(model=model, reward_funcs=correct, args=config, train_dataset=Dataset.from_list(rows),
                          processing_class=tok, callbacks=[timer])
    trainer.train()
    step = statistics.median(timer.times[1:])
    print(f"trl: {step * 1000:.1f} ms/step (median of steps 2..{steps})")


if __name__ == "__main__":
    main()
