#!/usr/bin/env python3
"""PyTorch side of bench/quality.sh: the same model (transformers' LlamaForCausalLM built from the
config.json of minichat's run), the same tokens (that run's shards), the same batch, schedule
and evaluation, trained with torch's AdamW for a wall-clock budget on THREADS threads.

Mirrors minichat's pretraining (crates/train): windows of T+1 tokens in a seeded random order,
reshuffled every epoch; init N(0, 0.02) with the residual projections (o_proj, down_proj) at
0.02 / sqrt(2 n_layer) (GPT-2, crates/model/src/init.rs); AdamW on every parameter, weight
decay on the 2-D ones but the embeddings (crates/model/src/params.rs); gradients clipped to
norm 1; linear warm-up then cosine decay to final_frac of the peak (crates/train/src/schedule.rs).
Validation as crates/train/src/trainer.rs `evaluate`: the first `eval_tokens` of the validation
shard in windows of T, special-token targets left out, bits per byte = nats / (ln 2 x bytes).

The number of steps is what fits the budget: a few timed steps first, then steps = budget /
step time, so the schedule ends at the budget as minichat's does. Writes one JSON line per
evaluation: {"step", "seconds" (training time so far, evaluations excluded), "val_bpb"}.

The hyperparameters are read from the run's config.toml (its AdamW learning rate, betas,
weight decay, warm-up, final fraction, clipping, micro-batch, validation tokens and seed), so
the two sides cannot drift apart.

Usage: quality.py RUN_DIR RANKS_FILE MINUTES THREADS OUT.jsonl
"""
import base64, json, math, os, resource, sys, time, tomllib
import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM


def shard(path):
    """A minichat token shard (crates/train/src/shard.rs): 64-byte header, then the ids."""
    raw = open(path, "rb").read()
    assert raw[:8] == b"MCTOKENS", path
    width = int.from_bytes(raw[12:16], "little")
    count = int.from_bytes(raw[16:24], "little")
    return np.frombuffer(raw[64:64 + count * width], dtype=np.uint16 if width == 2 else np.uint32).astype(np.int64)


def token_bytes(ranks_file, vocab):
    """UTF-8 bytes of each token from a .tiktoken rank file; ids it lacks are special (-1)."""
    out = np.full(vocab, -1, dtype=np.int64)
    for line in open(ranks_file):
        b64, rank = line.split()
        out[int(rank)] = len(base64.b64decode(b64))
    return out


def lr_at(step, peak, warmup, total, final_frac):
    if step < warmup:
        return peak * (step + 1) / warmup
    end = peak * final_frac
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return end + (peak - end) * 0.5 * (1 + math.cos(math.pi * progress))


EVAL_EVERY_S = 30.0


def main():
    run, ranks, minutes, threads, out = sys.argv[1:6]
    with open(os.path.join(run, "config.toml"), "rb") as f:
        tc = tomllib.load(f)
    tr = tc["train"]
    assert tr["schedule"] == "cosine", "the reference runs minichat's cosine schedule only"
    warmup, final_frac, peak = tr["warmup_steps"], tr["final_lr_frac"], tr["lr"]
    budget = float(minutes) * 60
    torch.set_num_threads(int(threads))
    torch.manual_seed(tr["seed"])
    latest = open(os.path.join(run, "checkpoints", "LATEST")).read().strip()
    cfg = json.load(open(os.path.join(run, "checkpoints", latest, "config.json")))
    config = LlamaConfig(**{k: v for k, v in cfg.items() if k not in ("architectures", "torch_dtype")})
    config._attn_implementation = "sdpa"
    model = LlamaForCausalLM(config)
    n_layer = config.num_hidden_layers
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                residual = "o_proj" in name or "down_proj" in name
                p.normal_(0.0, 0.02 / math.sqrt(2 * n_layer) if residual else 0.02)
    decays = {n: p.dim() == 2 and "embed_tokens" not in n for n, p in model.named_parameters()}
    groups = [{"params": [p for n, p in model.named_parameters() if decays[n] == d],
               "weight_decay": tr["weight_decay"] if d else 0.0} for d in (True, False)]
    opt = torch.optim.AdamW(groups, lr=peak, betas=(tr["beta1"], tr["beta2"]), eps=tr["eps"])

    shards = sorted(os.listdir(os.path.join(run, "shards")))
    train = np.concatenate([shard(os.path.join(run, "shards", f)) for f in shards if f.startswith("train_")])
    val = np.concatenate([shard(os.path.join(run, "shards", f)) for f in shards if f.startswith("val_")])
    tb = token_bytes(ranks, config.vocab_size)
    t, b = config.max_position_embeddings, tr["micro_batch"]
    windows = (len(train) - 1) // (t + 1)
    rng = np.random.default_rng(tr["seed"])

    def batches():
        while True:
            order = rng.permutation(windows)
            for i in range(0, windows - b + 1, b):
                rows = np.stack([train[w * (t + 1):(w + 1) * (t + 1)] for w in order[i:i + b]])
                yield torch.from_numpy(rows[:, :-1]), torch.from_numpy(rows[:, 1:])

    val_windows = min((len(val) - 1) // t, tc["eval"]["tokens"] // t)
    vx = torch.from_numpy(np.stack([val[w * t:w * t + t] for w in range(val_windows)]))
    vy = torch.from_numpy(np.stack([val[w * t + 1:w * t + t + 1] for w in range(val_windows)]))
    vbytes = torch.from_numpy(tb)[vy]
    keep = vbytes >= 0  # special-token targets (no bytes) are left out
    val_bytes = int(vbytes[keep].sum())

    @torch.no_grad()
    def evaluate():
        model.eval()
        nats = 0.0
        for i in range(0, val_windows, b):
            logp = torch.log_softmax(model(vx[i:i + b]).logits.float(), -1)
            nats -= logp.gather(-1, vy[i:i + b, :, None])[..., 0][keep[i:i + b]].sum().item()
        model.train()
        return nats / (math.log(2) * max(val_bytes, 1))

    def step(x, y, lr):
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        logits = model(x).logits.view(-1, config.vocab_size)
        loss = torch.nn.functional.cross_entropy(logits, y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tr["grad_clip"])
        opt.step()
        return loss.item()

    data = batches()
    # Time steps 4-15 at the warm-up's learning rates (they count as training; the first ones
    # are slow), then size the run so that its schedule ends at the budget.
    probe, seconds, total, at3 = 15, 0.0, None, 0.0
    log = open(out, "w")
    s, last_eval = 0, -1e9
    while True:
        x, y = next(data)
        t0 = time.perf_counter()
        loss = step(x, y, lr_at(s, peak, warmup, total or 10**9, final_frac))
        seconds += time.perf_counter() - t0
        s += 1
        if s == 3:
            at3 = seconds
        if s == probe:
            per_step = (seconds - at3) / (probe - 3)
            total = max(probe + int((budget - seconds) / per_step), probe + 1)
            print(f"pytorch: {per_step * 1e3:.0f} ms a step -> {total} steps in {minutes} min", flush=True)
        done = total is not None and s >= total
        if done or seconds - last_eval >= EVAL_EVERY_S:
            last_eval = seconds
            bpb = evaluate()
            log.write(json.dumps({"step": s, "seconds": seconds, "val_bpb": bpb, "loss": loss}) + "\n")
            log.flush()
            print(f"pytorch step {s}/{total}  {seconds:.0f} s  loss {loss:.3f}  val bpb {bpb:.4f}", flush=True)
        if done:
            break
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"pytorch: {s} steps, {seconds:.0f} s of training, peak RSS {peak_rss} MB, torch {torch.__version__}")


if __name__ == "__main__":
    main()
