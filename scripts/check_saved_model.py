#!/usr/bin/env python3
"""Check that transformers loads a model folder minichat saved and computes the same logits as a
reference folder:  check_saved_model.py SAVED_DIR REFERENCE_DIR  (needs torch, transformers).
The reference is e.g. crates/model/tests/fixtures/gpt2_tiny; inputs come from its
expected.safetensors."""
import sys
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

saved, ref = sys.argv[1], sys.argv[2]
ids = load_file(f"{ref}/expected.safetensors")["input_ids"].long()
a = AutoModelForCausalLM.from_pretrained(saved)
b = AutoModelForCausalLM.from_pretrained(ref)
with torch.no_grad():
    diff = float((a(ids).logits - b(ids).logits).abs().max())
print(f"{type(a).__name__}: max |logits difference| = {diff}")
sys.exit(0 if diff <= 1e-5 else 1)
