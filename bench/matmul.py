#!/usr/bin/env python3
"""PyTorch's f32 matmul (MKL / oneDNN) on the shapes of bench/src/matmul.rs, GFLOP/s, best of 5.
Usage: matmul.py THREADS"""
import sys, time
import torch

SHAPES = [
    ("A qkv fwd   2048x256 * 256x768", 2048, 256, 768, False, True),
    ("A fc fwd    2048x256 * 256x1024", 2048, 256, 1024, False, True),
    ("A proj fwd  2048x1024 * 1024x256", 2048, 1024, 256, False, True),
    ("A lm_head   2048x256 * 256x4096", 2048, 256, 4096, False, True),
    ("A dW fc     1024x2048 * 2048x256", 1024, 2048, 256, True, False),
    ("A attn      256x64 * 64x256", 256, 64, 256, False, True),
    ("B fc fwd    2048x128 * 128x512", 2048, 128, 512, False, True),
    ("124M fc fwd 1024x768 * 768x3072", 1024, 768, 3072, False, True),
    ("124M lm_head 1024x768 * 768x50304", 1024, 768, 50304, False, True),
]

threads = int(sys.argv[1])
torch.set_num_threads(threads)
for name, m, k, n, ta, tb in SHAPES:
    a = torch.randn(k, m).t() if ta else torch.randn(m, k)
    b = torch.randn(n, k).t() if tb else torch.randn(k, n)
    out = torch.empty(m, n)
    torch.mm(a, b, out=out)
    times = []
    for _ in range(5):
        t = time.perf_counter(); torch.mm(a, b, out=out); times.append(time.perf_counter() - t)
    print(f"{name:<36} {threads:>3} {2 * m * k * n / min(times) / 1e9:>13.1f}")
