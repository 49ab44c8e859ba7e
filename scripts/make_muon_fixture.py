#!/usr/bin/env python3
"""Parity fixture for Muon (crates/model/src/muon.rs) from `torch.optim.Muon` (torch 2.9+, CPU).

    python3 -m venv .venv && .venv/bin/pip install torch safetensors
    .venv/bin/python scripts/make_muon_fixture.py

Writes crates/model/tests/fixtures/muon/expected.safetensors: for three matrices (tall, square,
wide), `p0.<i>` the starting parameters, `g<k>.<i>` the gradients of steps k = 1..3, and after
each step the parameters from torch.optim.Muon as shipped (`bf16.<k>.<i>`: its Newton-Schulz
iterations run in bf16) and from the same optimizer with the iterations in f32 (`f32.<k>.<i>`:
torch's own function with only the dtype changed), lr 0.02, momentum 0.95 (Nesterov), weight
decay 0.1, defaults otherwise.
"""
from pathlib import Path
import torch
import torch.optim._muon as muon_module
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parent.parent / "crates/model/tests/fixtures/muon"
SHAPES = [(40, 16), (24, 24), (12, 36)]
STEPS = 3
shipped = muon_module._zeropower_via_newtonschulz


def zeropower_f32(grad, ns_coefficients, ns_steps, eps):
    """torch's `_zeropower_via_newtonschulz` with float32 in place of bfloat16."""
    a, b, c = ns_coefficients
    x = grad.to(dtype=torch.float32, copy=True)
    if grad.size(0) > grad.size(1):
        x = x.T
    x.div_(x.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    if grad.size(0) > grad.size(1):
        x = x.T
    return x


def run(p0, grads, zeropower, tag, out):
    muon_module._zeropower_via_newtonschulz = zeropower
    params = [torch.nn.Parameter(p.clone()) for p in p0]
    opt = torch.optim.Muon(params, lr=0.02, momentum=0.95, weight_decay=0.1)
    for k, step_grads in enumerate(grads, start=1):
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        opt.step()
        for i, p in enumerate(params):
            out[f"{tag}.{k}.{i}"] = p.detach().clone()
    muon_module._zeropower_via_newtonschulz = shipped


def main():
    torch.manual_seed(2024)
    p0 = [torch.randn(r, c) * 0.1 for r, c in SHAPES]
    grads = [[torch.randn(r, c) for r, c in SHAPES] for _ in range(STEPS)]
    out = {f"p0.{i}": p for i, p in enumerate(p0)}
    for k, step_grads in enumerate(grads, start=1):
        out.update({f"g{k}.{i}": g for i, g in enumerate(step_grads)})
    run(p0, grads, shipped, "bf16", out)
    run(p0, grads, zeropower_f32, "f32", out)
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in out.items()}, str(OUT / "expected.safetensors"))
    print("muon fixture:", torch.__version__, len(out), "tensors")


if __name__ == "__main__":
    main()
