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
pat = r"config (\w+): ([\w-]+) prefill (\d+) tokens/s.*?decode ([\d.]+) tokens/s"
rows = {}
for f in ("results-generate-ours.txt", "results-generate-hf.txt"):
    for name, who, pre, dec in re.findall(pat, open(f).read()):
        rows[(name, who)] = (float(pre), float(dec))
for name in dict.fromkeys(k[0] for k in rows):
    (op, od), (hp, hd) = rows[(name, "minichat")], rows[(name, "transformers")]
    (bp, bd), (hbp, hbd) = rows[(name, "minichat-bf16")], rows[(name, "transformers-bf16")]
    print(f"config {name}: f32 prefill {op:.0f} vs {hp:.0f} tok/s ({op / hp:.2f}x), decode {od:.1f} vs {hd:.1f} ({od / hd:.2f}x); "
          f"bf16 weights: decode {bd:.1f} vs transformers bf16 {hbd:.1f} ({bd / hbd:.2f}x) and vs transformers f32 ({bd / hd:.2f}x)")
PY
