#!/usr/bin/env python3
"""Check `minichat export hf RUN OUT`: transformers loads OUT (AutoModelForCausalLM +
AutoTokenizer), tokenizes texts exactly as minichat does, and computes the same next-token
logits as minichat's engine (`minichat next RUN --json`).

    python3 -m venv .venv && .venv/bin/pip install torch transformers
    cargo build --release -p minichat
    minichat export hf RUN OUT
    .venv/bin/python scripts/check_export.py RUN OUT [path/to/minichat]

Exits non-zero if a token id differs or a logit differs by more than 1e-4 (relative to the
logits' largest magnitude).
"""
import json
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

TEXTS = ["The Python interpreter", "Once upon a time, there was", "def main():\n    return 0", "Ça va? 你好 😀"]

run, out = sys.argv[1], sys.argv[2]
binary = sys.argv[3] if len(sys.argv) > 3 else "target/release/minichat"
model = AutoModelForCausalLM.from_pretrained(out).eval()
tok = AutoTokenizer.from_pretrained(out)
worst = 0.0
for text in TEXTS:
    ours = json.loads(subprocess.run([binary, "next", run, "--text", text, "--json"], check=True,
                                     capture_output=True, text=True).stdout)
    ids = [tok.bos_token_id] + tok.encode(text, add_special_tokens=False)
    if ids != ours["ids"]:
        sys.exit(f"{text!r}: token ids differ:\n  transformers {ids}\n  minichat     {ours['ids']}")
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1]
    theirs = torch.tensor(ours["logits"])
    diff = float((logits - theirs).abs().max() / logits.abs().max())
    worst = max(worst, diff)
    print(f"{type(model).__name__} {text!r}: {len(ids)} tokens identical, max relative logit difference {diff:.2e}")
sys.exit(0 if worst <= 1e-4 else f"logits differ by {worst:.2e}")
