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
root=$(cd .. && pwd)
steps=${STEPS:-12}
if [ $# -gt 0 ]; then configs=("$@"); else configs=(tiny d12); fi
export RAYON_NUM_THREADS=2
[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/python -c "import torch, transformers, trl, datasets" 2>/dev/null || venv/bin/pip install -q torch transformers trl datasets
(cd "$root" && cargo build --release -q -p minichat)
minichat=$root/target/release/minichat
runs=$PWD/dpo-runs
mkdir -p "$runs"

# The pairs: arithmetic questions from `tasks make`, the right answer against one off by one.
[ -f "$runs/tasks/arithmetic-train.jsonl" ] || "$minichat" tasks make -o "$runs/tasks" --train 400 --test 10 \
    --words-from "$root/data/corpus.jsonl" >/dev/null
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

# The models: one pretraining step from a random start (the speed does not depend on the
# weights), with a tokenizer that has the chat format's tokens.
make_run() {
    local name=$1 depth=$2 context=$3
    [ -d "$runs/$name/checkpoints" ] && return
    [ -f "$runs/tok8192.mctok" ] || "$minichat" tokenizer train "$root/data/corpus.jsonl" -v 8192 -o "$runs/tok8192.mctok"
    "$minichat" pretrain --corpus "$root/data/corpus.jsonl" -t "$runs/tok8192.mctok" -o "$runs/$name" \
        --depth "$depth" --context "$context" --steps 1 --micro-batch 1 --batch-tokens "$context"
}

: >results-dpo.txt
for name in "${configs[@]}"; do
    case $name in
        tiny) make_run tiny 4 256 ;;
        d12) make_run d12 12 1024 ;;
        *) echo "unknown config $name (tiny, d12)" >&2; exit 2 ;;
    esac
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
