# Shared by bench/dpo_step.sh and bench/grpo_step.sh (sourced from bench/): the Python venv
# with TRL, minichat's release build, the arithmetic questions of `tasks make`, and the models
# (`make_run NAME`: tiny, the speedrun's shape, or d12, GPT-2 small's shape, each one
# pretraining step from a random start with a tokenizer that has the chat format's tokens; the
# speed does not depend on the weights), for the configurations named on the command line
# (`configs`, default both). Needs `runs` set.
root=$(cd .. && pwd)
if [ $# -gt 0 ]; then configs=("$@"); else configs=(tiny d12); fi
export RAYON_NUM_THREADS=2
[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/python -c "import torch, transformers, trl, datasets" 2>/dev/null || venv/bin/pip install -q torch transformers trl datasets
(cd "$root" && cargo build --release -q -p minichat)
minichat=$root/target/release/minichat
mkdir -p "$runs"
[ -f "$runs/tasks/arithmetic-train.jsonl" ] || "$minichat" tasks make -o "$runs/tasks" --train 400 --test 10 \
    --words-from "$root/data/corpus.jsonl" >/dev/null

make_run() {
    local name=$1 depth context
    case $name in
        tiny) depth=4 context=256 ;;
        d12) depth=12 context=1024 ;;
        *) echo "unknown config $name (tiny, d12)" >&2; exit 2 ;;
    esac
    [ -d "$runs/$name/checkpoints" ] && return
    [ -f "$runs/tok8192.mctok" ] || "$minichat" tokenizer train "$root/data/corpus.jsonl" -v 8192 -o "$runs/tok8192.mctok"
    "$minichat" pretrain --family gpt2 --corpus "$root/data/corpus.jsonl" -t "$runs/tok8192.mctok" -o "$runs/$name" \
        --depth "$depth" --context "$context" --steps 1 --micro-batch 1 --batch-tokens "$context"
}
