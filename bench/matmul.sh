#!/usr/bin/env bash
# f32 matmul candidates for the model engine (gemm, matrixmultiply) vs PyTorch's MKL on the
# shapes of a GPT training step, 1 and 2 threads; prints GFLOP/s and the ratio to PyTorch.
#   bash bench/matmul.sh     (installs torch from PyPI into bench/venv on first use)
set -euo pipefail
cd "$(dirname "$0")"
[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/python -c "import torch" 2>/dev/null || venv/bin/pip install -q torch
cargo build --release -q --bin matmul-bench
for t in 1 2; do
  MATMUL_NUM_THREADS=$t ./target/release/matmul-bench $t | tail -n +2 > results-matmul-rust-$t.txt
  venv/bin/python matmul.py $t > results-matmul-torch-$t.txt
done
python3 - <<'PY'
print(f"{'shape':<36} {'thr':>3} {'gemm':>7} {'mmul':>7} {'torch':>7}  gemm/torch  mmul/torch   (GFLOP/s)")
for t in (1, 2):
    rust = [l.rsplit(None, 3) for l in open(f"results-matmul-rust-{t}.txt")]
    torch = [l.rsplit(None, 2) for l in open(f"results-matmul-torch-{t}.txt")]
    for (name, _, g, m), (_, _, p) in zip(rust, torch):
        g, m, p = float(g), float(m), float(p)
        print(f"{name:<36} {t:>3} {g:>7.1f} {m:>7.1f} {p:>7.1f}  {g / p:>9.2f}x  {m / p:>9.2f}x")
PY
