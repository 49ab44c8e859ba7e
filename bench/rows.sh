#!/usr/bin/env bash
# A decoding step's products at a server's batch sizes: minichat's row-invariant kernels (f32
# and bf16) against gemm 0.19 on the same shapes, tiny and 124M, 2 threads (bench/src/rows.rs).
#   bash bench/rows.sh [--rows 1,4,16,64,256]      env: REPS=25 (best of REPS)
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release -q --bin rows-bench
RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-2} REPS=${REPS:-25} ./target/release/rows-bench tiny 124M "$@"
