#!/usr/bin/env python3
"""PyTorch eager side of bench/train_step.rs: one GPT-2 training step (forward, mean
cross-entropy, backward, AdamW) with transformers' GPT2LMHeadModel (eager attention), f32, on
configs A, B, 124M (GPT-2 small) and L (A as a LlamaForCausalLM). Median ms/step after warm-up, peak RSS of the process and
RSS growth from the first timed step to the last.  Usage: train_step.py THREADS CONFIG..."""
import resource, sys, time
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

# vocab, layers, heads, C, T, B, warm-up steps, timed steps
CONFIGS = {"A": (4096, 4, 4, 256, 256, 8, 3, 20), "B": (512, 2, 4, 128, 128, 16, 3, 20),
           "124M": (50257, 12, 12, 768, 1024, 1, 2, 6), "L": (4096, 4, 4, 256, 256, 8, 3, 20)}


def rss_kb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS"))


torch.set_num_threads(int(sys.argv[1]))
for name in sys.argv[2:]:
    v, l, h, c, t, b, warm, steps = CONFIGS[name]
    torch.manual_seed(0)
    if name == "L":  # config A as a Llama: SwiGLU 704, 2 key/value heads, untied head
        cfg = LlamaConfig(vocab_size=v, hidden_size=c, intermediate_size=704, num_hidden_layers=l, num_attention_heads=h,
                          num_key_value_heads=2, max_position_embeddings=t, tie_word_embeddings=False,
                          attn_implementation="eager")
        model = LlamaForCausalLM(cfg)
    else:
        cfg = GPT2Config(vocab_size=v, n_positions=t, n_embd=c, n_layer=l, n_head=h, activation_function="gelu_new",
                         resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="eager")
        model = GPT2LMHeadModel(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    ids = torch.arange(b * t).reshape(b, t) * 7919 % v
    targets = (torch.arange(b * t).reshape(b, t) + 1) * 7919 % v
    times = []
    for step in range(warm + steps):
        if step == warm:
            rss_first = rss_kb()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model(ids).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, v), targets.reshape(-1))
        loss.item()
        loss.backward()
        opt.step()
        if step >= warm:
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    ms = times[len(times) // 2]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"config {name}: pytorch {ms:.1f} ms/step, {b * t / ms * 1e3:.0f} tokens/s, peak RSS {peak} MB, "
          f"RSS growth {rss_kb() - rss_first} kB, {torch.get_num_threads()} threads, loss {loss.item():.3f}")
