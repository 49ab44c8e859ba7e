#!/usr/bin/env python3
"""Parity fixtures for the model engine from PyTorch + Hugging Face transformers (CPU).

    python3 -m venv .venv && .venv/bin/pip install torch transformers safetensors
    .venv/bin/python scripts/make_model_fixtures.py

For a tiny GPT2LMHeadModel with a fixed seed, writes to crates/model/tests/fixtures/:
- gpt2_tiny/config.json, gpt2_tiny/model.safetensors: the model as transformers saves it;
- gpt2_tiny/expected.safetensors: `input_ids` and `targets` (as f32), `logits`, `loss` (mean
  cross-entropy of logits against targets) and `grad.<parameter name>` for every parameter after
  loss.backward(), all f32; then `grad_norm` (global L2 norm before clipping) and
  `adamw.<parameter name>`: the parameters after `clip_grad_norm_(max_norm=1.0)` and one
  `torch.optim.AdamW` step (lr 1e-2, betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on the
  2-D linear weights only: none on norms, biases and embeddings);
- `hidden.<i>` and `attention.<l>` (transformers' `output_hidden_states` and
  `output_attentions`) for the KV cache's capture.
The Llama fixture (llama_tiny/) holds the same minus the optimizer step.
"""
from pathlib import Path
import torch
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

OUT = Path(__file__).resolve().parent.parent / "crates/model/tests/fixtures"


def randomize(model):
    """Weights larger than the default init (std 0.02) so every op is exercised away from zero."""
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    model.eval()


def record(model, name, b, t):
    """Saves the model, then logits, loss and gradients for random ids and targets."""
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (b, t))
    targets = torch.randint(0, vocab, (b, t))
    out = model(ids, output_hidden_states=True, output_attentions=True)
    logits = out.logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
    loss.backward()
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    expected = {"input_ids": ids.float(), "targets": targets.float(), "logits": logits.detach(),
                "loss": loss.detach().reshape(1)}
    for pname, p in model.named_parameters():
        expected[f"grad.{pname}"] = p.grad.detach().clone()
    # For the KV cache's capture: hidden.0 is the embedding output, hidden.i the residual
    # stream after block i (the last one after the final norm, as transformers returns it);
    # attention.l the probabilities [b][n_head][t][t] of block l.
    for i, h in enumerate(out.hidden_states):
        expected[f"hidden.{i}"] = h.detach().clone()
    for l, a in enumerate(out.attentions):
        expected[f"attention.{l}"] = a.detach().clone()
    return d, expected


def gpt2():
    torch.manual_seed(1234)
    config = GPT2Config(vocab_size=61, n_positions=16, n_embd=24, n_layer=2, n_head=3,
                        activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0, layer_norm_epsilon=1e-5, attn_implementation="eager")
    model = GPT2LMHeadModel(config).float()
    randomize(model)
    d, expected = record(model, "gpt2_tiny", 2, 9)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "wte" not in n and "wpe" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "wte" not in n and "wpe" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.95), eps=1e-8, foreach=False)
    expected["grad_norm"] = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0).detach().reshape(1)
    opt.step()
    for name, p in model.named_parameters():
        expected[f"adamw.{name}"] = p.detach().clone()
    save_file({k: v.contiguous() for k, v in expected.items()}, str(d / "expected.safetensors"))
    print("gpt2_tiny: loss", float(expected["loss"]))


def llama():
    """A tiny LlamaForCausalLM with grouped-query attention (4 query heads, 2 key/value heads)."""
    torch.manual_seed(4321)
    config = LlamaConfig(vocab_size=53, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16,
                         rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False,
                         attention_bias=False, mlp_bias=False, attn_implementation="eager")
    model = LlamaForCausalLM(config).float()
    randomize(model)
    d, expected = record(model, "llama_tiny", 2, 7)
    save_file({k: v.contiguous() for k, v in expected.items()}, str(d / "expected.safetensors"))
    print("llama_tiny: loss", float(expected["loss"]))


if __name__ == "__main__":
    gpt2()
    llama()
