//! One type for either model family, so the training loop, evaluation and sampling are written
//! once: `Net` wraps `Gpt` or `Llama` (CPU backend) and forwards each call.

use crate::cpu::backend::Cpu;
use crate::gpt::{Activations, Gpt};
use crate::kv_cache::{Batch, Decode, KvCache, Segment};
use crate::llama::{Llama, LlamaActs};
use crate::params::{self, Param, Parameters};
use crate::safetensors::{self as st, Tensors};
use crate::{Error, Family, ModelConfig};
use std::path::Path;

pub enum Net {
    Gpt(Gpt),
    Llama(Llama),
}

pub enum NetActs {
    Gpt(Activations),
    Llama(LlamaActs),
}

impl NetActs {
    /// Logits `[b·t][vocab]` of the last forward pass where every position had a target or none
    /// did; where some did, the rows with a target only, in order (`head`). Until a backward
    /// pass turns them into their gradient.
    pub fn logits(&self) -> &[f32] {
        match self {
            NetActs::Gpt(a) => &a.logits,
            NetActs::Llama(a) => &a.logits,
        }
    }

    /// Rows of the last forward pass that went through the LM head (`head`).
    pub fn head_rows(&self) -> usize {
        match self {
            NetActs::Gpt(a) => a.head_rows(),
            NetActs::Llama(a) => a.head_rows(),
        }
    }

    /// log p(target) per token of the last forward pass.
    pub fn logp(&self) -> &[f32] {
        match self {
            NetActs::Gpt(a) => &a.logp,
            NetActs::Llama(a) => &a.logp,
        }
    }
}

impl Net {
    /// A model with all weights zero.
    pub fn new(config: ModelConfig) -> Result<Net, Error> {
        Ok(match config.family {
            Family::Gpt2 => Net::Gpt(Gpt::new(config)?),
            Family::Llama => Net::Llama(Llama::new(config)?),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        match self {
            Net::Gpt(m) => &m.config,
            Net::Llama(m) => &m.config,
        }
    }

    /// The weights, gradients and packed copy, whichever the family.
    fn parameters(&self) -> &Parameters<Cpu> {
        match self {
            Net::Gpt(m) => &m.params,
            Net::Llama(m) => &m.params,
        }
    }

    fn parameters_mut(&mut self) -> &mut Parameters<Cpu> {
        match self {
            Net::Gpt(m) => &mut m.params,
            Net::Llama(m) => &mut m.params,
        }
    }

    /// The parameter table (names, offsets, shapes).
    pub fn params(&self) -> &[Param] {
        &self.parameters().table
    }

    /// (weights, gradients), the flat buffers.
    pub fn buffers(&mut self) -> (&mut Vec<f32>, &mut Vec<f32>) {
        let p = self.parameters_mut();
        (&mut p.weights, &mut p.grads)
    }

    pub fn weights(&self) -> &[f32] {
        &self.parameters().weights
    }

    /// The gradient of one parameter in Hugging Face layout.
    pub fn grad_hf(&self, name: &str) -> Option<Vec<f32>> {
        self.parameters().grad_hf(name)
    }

    pub fn acts(&self, b: usize, t: usize) -> Result<NetActs, Error> {
        Ok(match self {
            Net::Gpt(m) => NetActs::Gpt(Activations::new(&m.config, b, t)?),
            Net::Llama(m) => NetActs::Llama(LlamaActs::new(&m.config, b, t)?),
        })
    }

    pub fn forward(&self, acts: &mut NetActs, ids: &[u32], targets: &[u32]) -> Result<(), Error> {
        match (self, acts) {
            (Net::Gpt(m), NetActs::Gpt(a)) => m.forward(a, ids, targets),
            (Net::Llama(m), NetActs::Llama(a)) => m.forward(a, ids, targets),
            _ => Err(Error::Config("activations of the other model family".into())),
        }
    }

    /// Accumulates gradients of `sum dlogp[i] * logp[i]`; does nothing if `acts` belong to the
    /// other family (forward already refused them).
    pub fn backward(&mut self, acts: &mut NetActs, ids: &[u32], targets: &[u32], dlogp: &[f32]) {
        match (self, acts) {
            (Net::Gpt(m), NetActs::Gpt(a)) => m.backward(a, ids, targets, dlogp),
            (Net::Llama(m), NetActs::Llama(a)) => m.backward(a, ids, targets, dlogp),
            _ => {}
        }
    }

    /// Packs the weights for decoding (bf16 on the CPU; see `Gpt::pack_for_inference`).
    pub fn pack_for_inference(&mut self) {
        match self {
            Net::Gpt(m) => m.pack_for_inference(),
            Net::Llama(m) => m.pack_for_inference(),
        }
    }

    /// The final norm and the LM head over rows of a residual stream (`[n][n_embd]`): the
    /// logits `[n][vocab]` as if the model ended there (the logit lens on earlier layers).
    pub fn head(&self, x: &[f32]) -> Vec<f32> {
        match self {
            Net::Gpt(m) => m.head(x),
            Net::Llama(m) => m.head(x),
        }
    }

    /// Feeds tokens through a KV cache; the next-token logits land in `cache.logits`.
    pub fn extend(&self, cache: &mut KvCache, tokens: &[u32]) -> Result<(), Error> {
        match self {
            Net::Gpt(m) => m.extend(cache, tokens),
            Net::Llama(m) => m.extend(cache, tokens),
        }
    }

    /// Feeds several sequences' tokens through their caches in one pass (`kv_cache`).
    pub fn extend_batch(&self, batch: &mut Batch, segments: &mut [Segment]) -> Result<(), Error> {
        match self {
            Net::Gpt(m) => m.extend_batch(batch, segments),
            Net::Llama(m) => m.extend_batch(batch, segments),
        }
    }

    pub fn load_hf(&mut self, tensors: &impl Tensors, file: &str) -> Result<(), Error> {
        match self {
            Net::Gpt(m) => m.load_hf(tensors, file),
            Net::Llama(m) => m.load_hf(tensors, file),
        }
    }

    /// A model from a Hugging Face directory (`config.json` + `model.safetensors`), such as a
    /// checkpoint or an export.
    pub fn load_dir(dir: &Path) -> Result<Net, Error> {
        let path = dir.join("config.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
        let mut net = Net::new(ModelConfig::from_hf_json(&text)?)?;
        // Tensor by tensor from the file, straight into the weights.
        net.load_hf(&st::Reader::open(&dir.join("model.safetensors"))?, "model.safetensors")?;
        Ok(net)
    }

    /// `model.safetensors` + `config.json` in Hugging Face layout, rendered (`params::hf_files`).
    pub fn hf_files(&self) -> [(&'static str, Vec<u8>); 2] {
        params::hf_files(self.config(), self.params(), self.weights())
    }

    /// Matrix-multiply FLOPs of one training step per token (6 × linear parameters, LM head
    /// included, plus attention's QK^T and PV over a context of `t`; PaLM's MFU count).
    pub fn flops_per_token(&self, t: usize) -> f64 {
        let linear: usize = self
            .params()
            .iter()
            .filter(|p| p.shape.len() == 2 && !is_embedding_only(p, self.config()))
            .map(|p| p.len())
            .sum();
        let cfg = self.config();
        6.0 * linear as f64 + 6.0 * (cfg.n_layer * 2 * t * cfg.n_head * cfg.head_dim()) as f64
    }

    /// The LM head's part of `flops_per_token`, which rows that skip the head do not do
    /// (`NetActs::head_rows`).
    pub fn head_flops_per_token(&self) -> f64 {
        6.0 * (self.config().n_embd * self.config().vocab_size) as f64
    }
}

/// Embedding tables that are only looked up (not multiplied): GPT-2's position table, and the
/// token table of an untied model (its LM head is a separate matrix).
fn is_embedding_only(p: &Param, cfg: &ModelConfig) -> bool {
    p.name.ends_with("wpe.weight") || (!cfg.tie_embeddings && p.name.contains("embed_tokens"))
}
