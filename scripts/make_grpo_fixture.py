#!/usr/bin/env python3
"""The GRPO objective's fixture, from PyTorch autograd on TRL's formula (CPU, float64).

    python3 -m venv .venv && .venv/bin/pip install torch
    .venv/bin/python scripts/make_grpo_fixture.py

Writes crates/train/tests/fixtures/grpo.json: a batch of 8 replies (2 prompts x 4 samples) of
6 positions with log-probabilities under the policy, the sampling policy and the reference
(each a float32 value, so Rust reads the same numbers), a completion mask and rewards; the
advantages for each of TRL's `scale_rewards` ("group", "batch", "none": reward less the group
mean, divided by torch.std (n - 1) plus 1e-4 unless "none"); and for each `loss_type` ("grpo",
"dr_grpo" with max_completion_length 6, "dapo") at epsilon 0.2, epsilon_high 0.28 and beta 0.04,
the loss and its gradient with respect to the policy's log-probabilities, as TRL's
GRPOTrainer._compute_loss computes them (trl/trainer/grpo_trainer.py):

    coef_1 = exp(logp - old); coef_2 = clamp(coef_1, 1 - eps, 1 + eps_high)
    per_token_loss = -min(coef_1 * A, coef_2 * A) + beta * (exp(ref - logp) - (ref - logp) - 1)
"""
import json
from pathlib import Path

import torch

EPS, EPS_HIGH, BETA = 0.2, 0.28, 0.04
B, G, T = 8, 4, 6


def f32(x):
    return x.to(torch.float32).to(torch.float64)


def advantages(rewards, scale):
    grouped = rewards.view(-1, G)
    adv = (grouped - grouped.mean(dim=1, keepdim=True)).reshape(-1)
    if scale == "group":
        adv = adv / (grouped.std(dim=1).repeat_interleave(G) + 1e-4)
    elif scale == "batch":
        adv = adv / (rewards.std() + 1e-4)
    return adv


def loss_and_grad(logp, old, ref, mask, adv, loss_type):
    logp = logp.clone().requires_grad_(True)
    coef_1 = torch.exp(logp - old)
    coef_2 = torch.clamp(coef_1, 1 - EPS, 1 + EPS_HIGH)
    per_token_loss = -torch.min(coef_1 * adv.unsqueeze(1), coef_2 * adv.unsqueeze(1))
    per_token_loss = per_token_loss + BETA * (torch.exp(ref - logp) - (ref - logp) - 1)
    if loss_type == "grpo":
        loss = ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    elif loss_type == "dr_grpo":
        loss = (per_token_loss * mask).sum() / (B * T)
    else:
        loss = (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0)
    loss.backward()
    return loss.item(), logp.grad.reshape(-1).tolist()


def main():
    g = torch.Generator().manual_seed(7)
    logp = f32(-3.0 * torch.rand(B, T, generator=g, dtype=torch.float64))
    # Ratios from exp(-0.8) to exp(0.8), away from the clip edges by at least 0.01 in log space
    # (where PyTorch and any other implementation may pick either side).
    shift = 1.6 * torch.rand(B, T, generator=g, dtype=torch.float64) - 0.8
    edges = torch.tensor([torch.log(torch.tensor(1 - EPS)), torch.log(torch.tensor(1 + EPS_HIGH))], dtype=torch.float64)
    for e in edges:
        near = (shift - e).abs() < 0.01
        shift[near] = e + 0.02
    old = f32(logp - shift)
    ref = f32(logp + 0.6 * torch.rand(B, T, generator=g, dtype=torch.float64) - 0.3)
    lengths = [6, 4, 5, 1, 6, 3, 6, 2]
    mask = torch.tensor([[1.0 if t < n else 0.0 for t in range(T)] for n in lengths], dtype=torch.float64)
    mask[0, 0] = 0.0  # a tool result inside a reply
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 1.0, 0.0], dtype=torch.float64)
    out = {
        "group": G,
        "t": T,
        "epsilon_low": EPS,
        "epsilon_high": EPS_HIGH,
        "beta": BETA,
        "logp": logp.reshape(-1).tolist(),
        "old": old.reshape(-1).tolist(),
        "reference": ref.reshape(-1).tolist(),
        "mask": mask.reshape(-1).tolist(),
        "rewards": rewards.tolist(),
        "advantages": {s: advantages(rewards, s).tolist() for s in ["group", "batch", "none"]},
        "losses": {},
    }
    adv = f32(advantages(rewards, "group"))
    for loss_type in ["grpo", "dr_grpo", "dapo"]:
        loss, grad = loss_and_grad(logp, old, ref, mask, adv, loss_type)
        out["losses"][loss_type] = {"loss": loss, "grad": grad}
    path = Path(__file__).resolve().parent.parent / "crates/train/tests/fixtures/grpo.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
