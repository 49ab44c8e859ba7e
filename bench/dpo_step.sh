#!/usr/bin/env bash
# One DPO optimizer step, minichat's `dpo` vs TRL's DPOTrainer (PyTorch eager, CPU), side by
# side in one run on the same model (minichat's, exported to Hugging Face for TRL), the same
# pairs (arithmetic questions with a right and a wrong answer, TRL's standard text format),
# 16 pairs a step in micro-batches of 8, beta 0.1, 2 threads. Prints ms/step for each and the
# ratio.
#
#   bash bench/dpo_step.sh [CONFIG...]   (tiny: the speedrun's shape; d12: GPT-2 small's shape,
#                                          12 layers of 768, with the same 8,192-token tokenizer;
#                                          default both)
#   env: STEPS=12
set -euo pipefail
cd "$(dirname "$0")"
steps=${STEPS:-12}
runs=$PWD/dpo-runs
source trl_setup.sh

# The pairs: the arithmetic questions, the right answer against one off by one.
python3 - "$runs/tasks/arithmetic-train.jsonl" "$runs/pairs.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        question = next(m["content"] for m in r["messages"] if m["role"] == "user")
        answer = int(r["answer"])
        out.write(json.dumps({"prompt": question, "chosen": f"The answer is {answer}.",
                              "rejected": f"The answer is {answer + 1}."}) + "\n")
PY

: >results-dpo.txt
for name in "${configs[@]}"; do
    make_run "$name"
    rm -rf "$runs/$name-dpo" "$runs/$name-hf"
    "$minichat" dpo --base "$runs/$name" --pairs "$runs/pairs.jsonl" -o "$runs/$name-dpo" --steps "$steps" \
        --batch-pairs 16 --micro-pairs 8 --lr 2e-5 --beta 0.1 --val-fraction 0 --eval-every 0 2>/dev/null
    ours=$(python3 - "$runs/$name-dpo/metrics.jsonl" <<'PY'
import json, statistics, sys
seconds = [r["seconds"] for r in map(json.loads, open(sys.argv[1])) if "loss" in r and "lr" in r]
steps = [b - a for a, b in zip(seconds, seconds[1:])]
print(f"{statistics.median(steps) * 1000:.1f}")
PY
)
    "$minichat" export hf "$runs/$name" "$runs/$name-hf" >/dev/null
    trl=$(venv/bin/python dpo_step.py 2 "$runs/$name-hf" "$runs/pairs.jsonl" "$steps" 2>/dev/null | tail -1)
    trl_ms=$(echo "$trl" | sed -E 's/^trl: ([0-9.]+) ms.*/\1/')
    python3 -c "import sys; o, t = float(sys.argv[1]), float(sys.argv[2]); print(f'$name: minichat {o:.1f} ms/step, TRL {t:.1f} ms/step -> TRL/minichat {t / o:.2f}x')" \
        "$ours" "$trl_ms" | tee -a results-dpo.txt
done
