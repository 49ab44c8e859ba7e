#!/usr/bin/env python3
"""transformers side of bench/src/generate.rs: prefill and greedy decode with the KV cache
(past_key_values) on the same weights (bench/models/NAME), f32 and bf16, 2 threads, median of 3.
Usage: generate.py THREADS CONFIG..."""
import sys, time
import torch
from transformers import GPT2LMHeadModel

SIZES = {"tiny": (128, 120), "124M": (512, 128)}


def measure(model, p, d):
    v = model.config.vocab_size
    prompt = torch.tensor([[(i * 7919 + 13) % v for i in range(p)]])
    prefill, decode = [], []
    with torch.inference_mode():
        for _ in range(3):
            t0 = time.perf_counter()
            out = model(prompt, use_cache=True)
            prefill.append(time.perf_counter() - t0)
            past, logits, tokens = out.past_key_values, out.logits[:, -1], []
            t1 = time.perf_counter()
            for _ in range(d):
                nxt = logits.argmax(-1, keepdim=True)
                tokens.append(int(nxt))
                out = model(nxt, past_key_values=past, use_cache=True)
                past, logits = out.past_key_values, out.logits[:, -1]
            decode.append(time.perf_counter() - t1)
    return sorted(prefill)[1], sorted(decode)[1], tokens


torch.set_num_threads(int(sys.argv[1]))
for name in sys.argv[2:]:
    p, d = SIZES[name]
    for dtype, label in ((torch.float32, "transformers"), (torch.bfloat16, "transformers-bf16")):
        model = GPT2LMHeadModel.from_pretrained(f"models/{name}", dtype=dtype).eval()
        tp, td, tokens = measure(model, p, d)
        print(f"config {name}: {label} prefill {p / tp:.0f} tokens/s ({p} tokens in {tp * 1e3:.1f} ms), "
              f"decode {d / td:.1f} tokens/s ({d} tokens, {td * 1e3 / d:.2f} ms/token), {torch.get_num_threads()} threads, "
              f"first tokens {tokens[:5]}")
