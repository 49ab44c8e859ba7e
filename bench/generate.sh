#!/usr/bin/env bash
# KV-cache inference, minichat vs Hugging Face transformers (PyTorch eager, CPU, 2 threads), on
# the same weights: prefill and greedy decode tokens/s for the tiny preset's shape and GPT-2
# small (124M), in one run.   bash bench/generate.sh [CONFIG...]   (default: tiny 124M)
set -euo pipefail
cd "$(dirname "$0")"
[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/python -c "import torch, transformers" 2>/dev/null || venv/bin/pip install -q torch transformers
cargo build --release -q --bin generate-bench
if [ $# -gt 0 ]; then configs=("$@"); else configs=(tiny 124M); fi
RAYON_NUM_THREADS=2 ./target/release/generate-bench "${configs[@]}" | tee results-generate-ours.txt
venv/bin/python generate.py 2 "${configs[@]}" 2>/dev/null | tee results-generate-hf.txt
python3 - <<'PY'
import re
pat = r"config (\w+): {} prefill (\d+) tokens/s.*?decode ([\d.]+) tokens/s"
ours = {m[0]: (float(m[1]), float(m[2])) for m in re.findall(pat.format("minichat"), open("results-generate-ours.txt").read())}
hf = {m[0]: (float(m[1]), float(m[2])) for m in re.findall(pat.format("transformers"), open("results-generate-hf.txt").read())}
for k in ours:
    (op, od), (hp, hd) = ours[k], hf[k]
    print(f"config {k}: prefill {op:.0f} vs {hp:.0f} tokens/s ({op / hp:.2f}x), decode {od:.1f} vs {hd:.1f} tokens/s ({od / hd:.2f}x) minichat vs transformers")
PY
