#!/usr/bin/env bash
# Training quality at equal wall-clock (issue 18): the tiny preset's model (Llama, 4 layers,
# width 256, context 256, vocabulary 8192) on the same tokens, trained by minichat and by a
# PyTorch reference (transformers' LlamaForCausalLM with torch's AdamW, eager, bench/quality.py)
# for the same budget on the same threads, one after the other. Each side sizes its steps so
# that its schedule ends at the budget, and evaluates validation bits per byte about every 30
# s of training (evaluation time not counted). Prints bits per byte at a quarter, half and all
# of the budget for each side, and when minichat reached the reference's final value.
#   MINUTES=20 THREADS=2 OPTIMIZERS="muon adamw" [REFERENCE=keep] bash bench/quality.sh
# Data: bench/corpus.jsonl (61 MB, bench/make_corpus.py), so that a 20-minute run does not
# repeat its tokens. Runs in bench/quality-runs/.
set -euo pipefail
cd "$(dirname "$0")"
MINUTES=${MINUTES:-20}
THREADS=${THREADS:-2}
OPTIMIZERS=${OPTIMIZERS:-muon adamw}
[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/python -c "import torch, transformers, numpy" 2>/dev/null || venv/bin/pip install -q torch transformers numpy
[ -f corpus.jsonl ] || python3 make_corpus.py
(cd .. && cargo build --release -q -p minichat)
minichat=../target/release/minichat
runs=quality-runs
mkdir -p "$runs"
[ -f "$runs/tok.mctok" ] || "$minichat" tokenizer train corpus.jsonl -v 8192 -o "$runs/tok.mctok"
[ -f "$runs/tok.tiktoken" ] || "$minichat" tokenizer export -t "$runs/tok.mctok" -f tiktoken -o "$runs/tok.tiktoken"
budget=$((MINUTES * 60))
pretrain() { # OPTIMIZER STEPS EVAL_EVERY OUT
    rm -rf "$4"
    "$minichat" pretrain --preset tiny --optimizer "$1" --corpus corpus.jsonl -t "$runs/tok.mctok" --threads "$THREADS" \
        --steps "$2" --eval-every "$3" --sample-every 0 --checkpoint-every "$2" -o "$4" >"$4.log" 2>&1
}
for opt in $OPTIMIZERS; do
    # A short run times a step (steps 5-40, past the first slow ones); the real run takes as
    # many steps as fit the budget.
    pretrain "$opt" 40 0 "$runs/probe-$opt"
    steps=$(python3 -c "
import json
s = {r['step']: r['seconds'] for r in map(json.loads, open('$runs/probe-$opt/metrics.jsonl')) if 'seconds' in r}
per = (s[40] - s[5]) / 35
print(max(int($budget / per), 41))")
    every=$((steps * 30 / budget > 0 ? steps * 30 / budget : 1))
    echo "minichat ($opt): $steps steps in $MINUTES min, validation every $every steps"
    pretrain "$opt" "$steps" "$every" "$runs/minichat-$opt"
done
first=$(echo "$OPTIMIZERS" | awk '{print $1}')
# REFERENCE=keep reuses the reference's last run (when only minichat's side changed).
if [ "${REFERENCE:-run}" != keep ] || [ ! -f "$runs/pytorch.jsonl" ]; then
    venv/bin/python quality.py "$runs/minichat-$first" "$runs/tok.tiktoken" "$MINUTES" "$THREADS" "$runs/pytorch.jsonl" \
        | tee "$runs/pytorch.log"
fi
python3 - "$budget" "$runs" $OPTIMIZERS <<'PY'
import json, sys
budget, runs, opts = float(sys.argv[1]), sys.argv[2], sys.argv[3:]

def curve(path, with_seconds=None):
    recs = [json.loads(l) for l in open(path)]
    if with_seconds is None:
        return [(r["seconds"], r["val_bpb"]) for r in recs]
    secs = {r["step"]: r["seconds"] for r in recs if "seconds" in r}
    return [(secs[r["step"]], r["val_bpb"]) for r in recs if "val_bpb" in r]

def at(c, t):  # the last evaluation at or before t seconds; at the budget, the run's last
    if t >= budget:  # (its schedule's end, which a machine that slowed down reaches a little late)
        return c[-1][1]
    done = [b for s, b in c if s <= t]
    return done[-1] if done else float("nan")

def reached(c, target):  # seconds of training when the curve first got to target
    return next((s for s, b in c if b <= target), None)

sides = {f"minichat ({o})": curve(f"{runs}/minichat-{o}/metrics.jsonl", True) for o in opts}
sides["pytorch (AdamW)"] = curve(f"{runs}/pytorch.jsonl")
marks = [budget / 4, budget / 2, budget]
print("\n| side | " + " | ".join(f"bpb at {m / 60:g} min" for m in marks) + " | training s |")
print("|---|" + "---|" * (len(marks) + 1))
for name, c in sides.items():
    print(f"| {name} | " + " | ".join(f"{at(c, m):.4f}" for m in marks) + f" | {c[-1][0]:.0f} |")
ref = at(sides["pytorch (AdamW)"], budget)
for name, c in sides.items():
    if name.startswith("minichat"):
        s = reached(c, ref)
        when = f"{s / 60:.1f} min ({s / budget:.0%} of the budget)" if s is not None else "not within the budget"
        print(f"{name} reached the reference's {budget / 60:g}-minute {ref:.4f} bits per byte at {when}")
PY
