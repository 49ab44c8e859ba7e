//! The model family and its configuration.
//!
//! Two families cover the literature minichat follows:
//! - **GPT-2** (Radford et al. 2019; nanoGPT, llm.c): learned position embeddings, LayerNorm with
//!   bias, GELU (tanh approximation), biases everywhere, LM head tied to the token embedding.
//! - **Llama** (Touvron et al. 2023; nanochat's modern block): rotary positions, RMSNorm, SwiGLU,
//!   no biases, untied LM head, grouped-query attention (`n_kv_head` <= `n_head`).
//!
//! `ModelConfig` reads and writes the Hugging Face `config.json` of `GPT2LMHeadModel` and
//! `LlamaForCausalLM`, so checkpoints move between minichat and `transformers` unchanged.

use crate::Error;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Gpt2,
    Llama,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub family: Family,
    pub vocab_size: usize,
    /// Longest sequence (GPT-2's `n_positions`, Llama's `max_position_embeddings`).
    pub block_size: usize,
    pub n_layer: usize,
    pub n_head: usize,
    /// Key/value heads for grouped-query attention; equal to `n_head` for GPT-2.
    pub n_kv_head: usize,
    pub n_embd: usize,
    /// Hidden size of the MLP (4 * n_embd for GPT-2).
    pub intermediate_size: usize,
    pub norm_eps: f32,
    /// RoPE base (Llama only).
    pub rope_theta: f32,
    pub tie_embeddings: bool,
}

impl ModelConfig {
    /// nanochat's single dial: width = 64 * depth, heads of 128 dims (at least one), MLP 4x,
    /// context 2048. GPT-2 keeps its own conventions (tied head, 4x MLP); Llama uses SwiGLU's
    /// usual 8/3 x width rounded up to a multiple of 64.
    pub fn from_depth(family: Family, depth: usize, vocab_size: usize) -> ModelConfig {
        let n_embd = depth * 64;
        let n_head = n_embd.div_ceil(128).max(1);
        let n_embd = n_head * (n_embd / n_head).max(1);
        let intermediate_size = match family {
            Family::Gpt2 => 4 * n_embd,
            Family::Llama => (8 * n_embd / 3).div_ceil(64) * 64,
        };
        ModelConfig {
            family,
            vocab_size,
            block_size: 2048,
            n_layer: depth,
            n_head,
            n_kv_head: n_head,
            n_embd,
            intermediate_size,
            norm_eps: 1e-5,
            rope_theta: 10_000.0,
            tie_embeddings: family == Family::Gpt2,
        }
    }

    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head
    }

    /// Checks the sizes fit together.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Config(m));
        if self.vocab_size == 0 || self.block_size == 0 || self.n_layer == 0 || self.n_head == 0 || self.n_embd == 0 {
            return bad("vocab_size, block_size, n_layer, n_head and n_embd must be positive".into());
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return bad(format!("n_embd {} is not a multiple of n_head {}", self.n_embd, self.n_head));
        }
        if self.n_kv_head == 0 || !self.n_head.is_multiple_of(self.n_kv_head) {
            return bad(format!("n_head {} is not a multiple of n_kv_head {}", self.n_head, self.n_kv_head));
        }
        if self.family == Family::Gpt2 && self.n_kv_head != self.n_head {
            return bad("GPT-2 has no grouped-query attention (n_kv_head must equal n_head)".into());
        }
        if self.family == Family::Llama && !self.head_dim().is_multiple_of(2) {
            return bad(format!("RoPE needs an even head dimension, got {}", self.head_dim()));
        }
        if self.norm_eps.is_nan() || self.norm_eps <= 0.0 {
            return bad("norm_eps must be positive".into());
        }
        Ok(())
    }

    /// Reads a Hugging Face `config.json` (GPT2Config or LlamaConfig).
    pub fn from_hf_json(text: &str) -> Result<ModelConfig, Error> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| Error::Config(format!("config.json is not JSON: {e}")))?;
        let get = |key: &str| -> Result<usize, Error> {
            v.get(key)
                .and_then(Value::as_u64)
                .map(|x| x as usize)
                .ok_or_else(|| Error::Config(format!("config.json: missing or non-integer \"{key}\"")))
        };
        let float = |key: &str, default: f64| v.get(key).and_then(Value::as_f64).unwrap_or(default) as f32;
        let config = match v.get("model_type").and_then(Value::as_str) {
            Some("gpt2") => {
                let n_embd = get("n_embd")?;
                let act = v.get("activation_function").and_then(Value::as_str).unwrap_or("gelu_new");
                if act != "gelu_new" && act != "gelu_pytorch_tanh" {
                    return Err(Error::Config(format!("GPT-2 activation {act:?} is not supported (gelu_new only)")));
                }
                ModelConfig {
                    family: Family::Gpt2,
                    vocab_size: get("vocab_size")?,
                    block_size: get("n_positions")?,
                    n_layer: get("n_layer")?,
                    n_head: get("n_head")?,
                    n_kv_head: get("n_head")?,
                    n_embd,
                    intermediate_size: v.get("n_inner").and_then(Value::as_u64).map_or(4 * n_embd, |x| x as usize),
                    norm_eps: float("layer_norm_epsilon", 1e-5),
                    rope_theta: 10_000.0,
                    tie_embeddings: v.get("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(true),
                }
            }
            Some("llama") => {
                let n_head = get("num_attention_heads")?;
                for (key, want) in [("attention_bias", false), ("mlp_bias", false)] {
                    if v.get(key).and_then(Value::as_bool).unwrap_or(false) != want {
                        return Err(Error::Config(format!("Llama with {key}=true is not supported")));
                    }
                }
                if v.get("rope_scaling").is_some_and(|s| !s.is_null()) {
                    return Err(Error::Config("Llama rope_scaling is not supported".into()));
                }
                ModelConfig {
                    family: Family::Llama,
                    vocab_size: get("vocab_size")?,
                    block_size: get("max_position_embeddings")?,
                    n_layer: get("num_hidden_layers")?,
                    n_head,
                    n_kv_head: v.get("num_key_value_heads").and_then(Value::as_u64).map_or(n_head, |x| x as usize),
                    n_embd: get("hidden_size")?,
                    intermediate_size: get("intermediate_size")?,
                    norm_eps: float("rms_norm_eps", 1e-6),
                    rope_theta: float("rope_theta", 10_000.0),
                    tie_embeddings: v.get("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(false),
                }
            }
            other => return Err(Error::Config(format!("model_type {other:?} is not supported (gpt2 or llama)"))),
        };
        config.validate()?;
        Ok(config)
    }

    /// The Hugging Face `config.json` for this model.
    pub fn to_hf_json(&self) -> Value {
        match self.family {
            Family::Gpt2 => json!({
                "architectures": ["GPT2LMHeadModel"],
                "model_type": "gpt2",
                "vocab_size": self.vocab_size,
                "n_positions": self.block_size,
                "n_ctx": self.block_size,
                "n_embd": self.n_embd,
                "n_layer": self.n_layer,
                "n_head": self.n_head,
                "n_inner": self.intermediate_size,
                "activation_function": "gelu_new",
                "layer_norm_epsilon": self.norm_eps,
                "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
                "tie_word_embeddings": self.tie_embeddings,
                "torch_dtype": "float32",
            }),
            Family::Llama => json!({
                "architectures": ["LlamaForCausalLM"],
                "model_type": "llama",
                "vocab_size": self.vocab_size,
                "max_position_embeddings": self.block_size,
                "hidden_size": self.n_embd,
                "intermediate_size": self.intermediate_size,
                "num_hidden_layers": self.n_layer,
                "num_attention_heads": self.n_head,
                "num_key_value_heads": self.n_kv_head,
                "hidden_act": "silu",
                "rms_norm_eps": self.norm_eps,
                "rope_theta": self.rope_theta,
                "attention_bias": false,
                "mlp_bias": false,
                "tie_word_embeddings": self.tie_embeddings,
                "torch_dtype": "float32",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_dial_follows_nanochat() {
        let c = ModelConfig::from_depth(Family::Llama, 20, 65536);
        assert_eq!((c.n_embd, c.n_head, c.head_dim(), c.n_layer), (1280, 10, 128, 20));
        let small = ModelConfig::from_depth(Family::Gpt2, 1, 512);
        assert_eq!((small.n_embd, small.n_head, small.intermediate_size), (64, 1, 256));
        small.validate().unwrap();
        c.validate().unwrap();
    }

    #[test]
    fn hf_json_round_trips_for_both_families() {
        for family in [Family::Gpt2, Family::Llama] {
            let mut c = ModelConfig::from_depth(family, 4, 4096);
            if family == Family::Llama {
                c.n_kv_head = 1;
            }
            let back = ModelConfig::from_hf_json(&c.to_hf_json().to_string()).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn bad_configs_are_clear_errors() {
        let err = ModelConfig::from_hf_json(r#"{"model_type": "bert"}"#).unwrap_err().to_string();
        assert!(err.contains("bert"), "{err}");
        let err = ModelConfig::from_hf_json(r#"{"model_type": "gpt2", "n_embd": 64}"#).unwrap_err().to_string();
        assert!(err.contains("vocab_size"), "{err}");
        let mut c = ModelConfig::from_depth(Family::Llama, 2, 100);
        c.n_kv_head = 3;
        assert!(c.validate().unwrap_err().to_string().contains("n_kv_head"));
    }
}
