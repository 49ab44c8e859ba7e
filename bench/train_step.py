#!/usr/bin/env python3
"""PyTorch eager side of bench/train_step.rs: one GPT-2 training step (forward, mean
cross-entropy, backward, AdamW) with transformers' GPT2LMHeadModel (eager attention), f32, on
configs A and B. Median ms/step of 20 steps after 3 warm-up steps.  Usage: train_step.py THREADS"""
import sys, time
import torch
from transformers import GPT2Config, GPT2LMHeadModel

CONFIGS = {"A": (4096, 4, 4, 256, 256, 8), "B": (512, 2, 4, 128, 128, 16)}
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
for name, (v, l, h, c, t, b) in CONFIGS.items():
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=v, n_positions=t, n_embd=c, n_layer=l, n_head=h, activation_function="gelu_new",
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="eager")
    model = GPT2LMHeadModel(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    ids = torch.arange(b * t).reshape(b, t) * 7919 % v
    targets = (torch.arange(b * t).reshape(b, t) + 1) * 7919 % v
    times = []
    for step in range(23):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model(ids).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, v), targets.reshape(-1))
        loss.item()
        loss.backward()
        opt.step()
        if step >= 3:
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    ms = times[len(times) // 2]
    print(f"config {name}: pytorch {ms:.1f} ms/step, {b * t / ms * 1e3:.0f} tokens/s, {torch.get_num_threads()} threads")
