#!/usr/bin/env bash
# One Muon update over a model's hidden matrices, minichat (f32 Newton-Schulz iterations) vs
# torch.optim.Muon (bf16 iterations as shipped, and f32), 2 threads, side by side in one run:
# the tiny preset's Llama and GPT-2 small. Prints ms/update and the ratios.
#   bash bench/muon_step.sh [CONFIG...]   (default: tiny 124M)
set -euo pipefail
cd "$(dirname "$0")"
[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/python -c "import torch; torch.optim.Muon" 2>/dev/null || venv/bin/pip install -q "torch>=2.9"
cargo build --release -q --bin muon-step-bench
if [ $# -gt 0 ]; then configs=("$@"); else configs=(tiny 124M); fi
for c in "${configs[@]}"; do
  ours=$(RAYON_NUM_THREADS=2 ./target/release/muon-step-bench "$c")
  echo "${ours%%; shapes*}"
  theirs=$(venv/bin/python muon_step.py 2 "$ours")
  echo "$theirs"
  python3 - "$ours" "$theirs" <<'PY'
import re, sys
o = float(re.search(r"minichat ([\d.]+) ms", sys.argv[1]).group(1))
b, f = (float(x) for x in re.findall(r"([\d.]+) ms/update", sys.argv[2]))
print(f"  minichat/torch time: {o / b:.2f}x against bf16 iterations, {o / f:.2f}x against f32 iterations")
PY
done
