#!/usr/bin/env bash
# One GRPO optimizer step, `minichat rl` vs TRL's GRPOTrainer (PyTorch eager, CPU, generation
# through transformers), side by side in one run on the same model (minichat's, exported to
# Hugging Face for TRL) and questions (arithmetic from `tasks make`), 8 prompts x 8 replies of
# 64 tokens a step, trained in micro-batches of 16 replies, DAPO's token-level loss, no KL
# penalty (both defaults), 2 threads. Prints ms/step for each, the ratio, and minichat's rollout
# phase: its share of the step and tokens drawn per second (all 64 replies sampled together).
# The models are random (one pretraining step), so every reply runs to 64 tokens on both sides
# and every reward is 0: the work per step is the same as a trained model's, not its learning.
#
#   bash bench/grpo_step.sh [CONFIG...]  (tiny: the speedrun's shape; d12: GPT-2 small's shape,
#                                          12 layers of 768, with the same 8,192-token tokenizer;
#                                          default both)
#   env: STEPS=5
set -euo pipefail
cd "$(dirname "$0")"
steps=${STEPS:-5}
runs=$PWD/grpo-runs
prompts=8 group=8 max_tokens=64
source trl_setup.sh

: >results-grpo.txt
for name in "${configs[@]}"; do
    make_run "$name"
    rm -rf "$runs/$name-rl" "$runs/$name-hf"
    "$minichat" rl --base "$runs/$name" --tasks "$runs/tasks/arithmetic-train.jsonl" -o "$runs/$name-rl" \
        --steps "$steps" --prompts $prompts --group $group --micro-batch 16 --max-tokens $max_tokens --eval-every 0 2>/dev/null
    ours=$(python3 - "$runs/$name-rl/metrics.jsonl" $((prompts * group)) <<'PY'
import json, statistics, sys
records, per_step = list(map(json.loads, open(sys.argv[1]))), int(sys.argv[2])
steps = [r for r in records if "loss" in r and "lr" in r]
replies = [r["reply_tokens"] * per_step for r in records if "reply_tokens" in r]
seconds = [b["seconds"] - a["seconds"] for a, b in zip(steps, steps[1:])]
rollout = [s["data_seconds"] for s in steps[1:]]
step = statistics.median(seconds)
share = statistics.median(r / s for r, s in zip(rollout, seconds))
rate = statistics.median(t / r for t, r in zip(replies[1:], rollout))
print(f"{step * 1000:.1f} {share * 100:.0f} {rate:.0f}")
PY
)
    "$minichat" export hf "$runs/$name" "$runs/$name-hf" >/dev/null
    trl=$(venv/bin/python grpo_step.py 2 "$runs/$name-hf" "$runs/tasks/arithmetic-train.jsonl" "$steps" $prompts $group $max_tokens 2>/dev/null | tail -1)
    trl_ms=$(echo "$trl" | sed -E 's/^trl: ([0-9.]+) ms.*/\1/')
    python3 -c "import sys; o, share, rate, t = map(float, sys.argv[1:]); print(f'$name: minichat {o:.0f} ms/step (rollouts {share:.0f}% of it, {rate:.0f} tokens/s), TRL {t:.0f} ms/step -> TRL/minichat {t / o:.2f}x')" \
        $ours "$trl_ms" | tee -a results-grpo.txt
done
