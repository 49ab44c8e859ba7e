#!/usr/bin/env bash
# One GPT-2 training step, minichat's engine vs PyTorch eager (2 threads), configs A and B of
# issue 3, in one run; prints ms/step and the ratio.   bash bench/train_step.sh
set -euo pipefail
cd "$(dirname "$0")"
[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/python -c "import torch, transformers" 2>/dev/null || venv/bin/pip install -q torch transformers
cargo build --release -q --bin train-step-bench
./target/release/train-step-bench A B | tee results-step-ours.txt
venv/bin/python train_step.py 2 2>/dev/null | tee results-step-torch.txt
python3 - <<'PY'
import re
ours = {m[0]: float(m[1]) for m in re.findall(r"config (\w): minichat ([\d.]+)", open("results-step-ours.txt").read())}
torch = {m[0]: float(m[1]) for m in re.findall(r"config (\w): pytorch ([\d.]+)", open("results-step-torch.txt").read())}
for k in sorted(ours):
    print(f"config {k}: minichat {ours[k]:.1f} ms, PyTorch eager {torch[k]:.1f} ms -> minichat/PyTorch step time {ours[k] / torch[k]:.2f}x")
PY
