#!/usr/bin/env python3
"""The DPO objective's fixture, from PyTorch autograd on TRL's formula (CPU, float64).

    python3 -m venv .venv && .venv/bin/pip install torch
    .venv/bin/python scripts/make_dpo_fixture.py

Writes crates/train/tests/fixtures/dpo.json: 4 pairs as 8 rows (chosen, rejected, chosen, ...)
of 6 positions: each token's log-probability under the policy and under the reference model
(float32 values, so Rust reads the same numbers) and a completion mask; then for beta 0.1 with
label smoothing 0 and 0.1, and with RPO's rpo_alpha 0.5, the loss, its gradient with respect to the policy's log-probabilities
and the implicit rewards, as TRL's DPOTrainer computes them (`loss_type="sigmoid"`,
trl/trainer/dpo_trainer.py `dpo_loss`), a sequence's log-probability being the sum over its
completion tokens:

    logits = (pi_c - pi_r) - (ref_c - ref_r)
    losses = -logsigmoid(beta * logits) * (1 - ls) - logsigmoid(-beta * logits) * ls
    rewards_c = beta * (pi_c - ref_c); rewards_r = beta * (pi_r - ref_r)
    with rpo_alpha: loss += rpo_alpha * (mean negative log-likelihood over the chosen tokens)
"""
import json
from pathlib import Path

import torch
import torch.nn.functional as F

PAIRS, T, BETA = 4, 6, 0.1


def f32(x):
    return x.to(torch.float32).to(torch.float64)


def main():
    g = torch.Generator().manual_seed(7)
    logp = f32(-torch.rand(2 * PAIRS, T, generator=g, dtype=torch.float64) * 3)
    ref = f32(logp + torch.randn(2 * PAIRS, T, generator=g, dtype=torch.float64) * 0.5)
    # Prompts of 1-2 tokens, replies of different lengths, padding at the end.
    mask = torch.zeros(2 * PAIRS, T, dtype=torch.float64)
    for row, (start, end) in enumerate([(1, 5), (1, 3), (2, 6), (2, 6), (1, 2), (1, 6), (2, 4), (2, 5)]):
        mask[row, start:end] = 1.0
    cases = []
    for ls, rpo in ((0.0, 0.0), (0.1, 0.0), (0.0, 0.5)):
        lp = logp.clone().requires_grad_(True)
        seq = (lp * mask).sum(-1)
        ref_seq = (ref * mask).sum(-1)
        pi_c, pi_r, ref_c, ref_r = seq[0::2], seq[1::2], ref_seq[0::2], ref_seq[1::2]
        logits = (pi_c - pi_r) - (ref_c - ref_r)
        losses = -F.logsigmoid(BETA * logits) * (1 - ls) - F.logsigmoid(-BETA * logits) * ls
        loss = losses.mean()
        if rpo:
            chosen_mask = mask[0::2]
            loss = loss + rpo * -(lp[0::2] * chosen_mask).sum() / chosen_mask.sum()
        loss.backward()
        rewards_c, rewards_r = BETA * (pi_c - ref_c).detach(), BETA * (pi_r - ref_r).detach()
        cases.append({
            "label_smoothing": ls,
            "rpo_alpha": rpo,
            "loss": loss.item(),
            "grad": lp.grad.reshape(-1).tolist(),
            "reward_chosen": rewards_c.mean().item(),
            "reward_rejected": rewards_r.mean().item(),
            "accuracy": (rewards_c > rewards_r).double().mean().item(),
        })
    out = {
        "pairs": PAIRS,
        "t": T,
        "beta": BETA,
        "logp": logp.reshape(-1).tolist(),
        "reference": ref.reshape(-1).tolist(),
        "mask": mask.reshape(-1).tolist(),
        "cases": cases,
    }
    path = Path(__file__).resolve().parent.parent / "crates/train/tests/fixtures/dpo.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
