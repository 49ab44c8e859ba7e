#!/usr/bin/env bash
# One GPT-2 training step, minichat's engine vs PyTorch eager (2 threads), configs A and B of
# issue 3 and GPT-2 small (124M, T=1024, B=1), side by side in one run; each config runs in its
# own process on each side (so peak RSS is that config's). Prints ms/step, GFLOP/s, memory and
# the ratio.   bash bench/train_step.sh [CONFIG...]   (default: A B 124M)
set -euo pipefail
cd "$(dirname "$0")"
[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/python -c "import torch, transformers" 2>/dev/null || venv/bin/pip install -q torch transformers
cargo build --release -q --bin train-step-bench
if [ $# -gt 0 ]; then configs=("$@"); else configs=(A B 124M); fi
: >results-step-ours.txt
: >results-step-torch.txt
for c in "${configs[@]}"; do
  RAYON_NUM_THREADS=2 ./target/release/train-step-bench "$c" | tee -a results-step-ours.txt
  venv/bin/python train_step.py 2 "$c" 2>/dev/null | tee -a results-step-torch.txt
done
python3 - <<'PY'
import re
pat = r"config (\w+): {} ([\d.]+) ms/step.*?peak RSS (\d+) MB"
ours = {m[0]: (float(m[1]), int(m[2])) for m in re.findall(pat.format("minichat"), open("results-step-ours.txt").read())}
torch = {m[0]: (float(m[1]), int(m[2])) for m in re.findall(pat.format("pytorch"), open("results-step-torch.txt").read())}
for k in ours:
    (o, om), (t, tm) = ours[k], torch[k]
    print(f"config {k}: minichat {o:.1f} ms, PyTorch eager {t:.1f} ms -> minichat/PyTorch step time {o / t:.2f}x; "
          f"peak RSS {om} MB vs {tm} MB")
PY
