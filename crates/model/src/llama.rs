//! The Llama Transformer (Touvron et al. 2023), forward and backward written out.
//!
//! Token embedding (no position embedding), `n_layer` pre-norm blocks (RMSNorm -> q/k/v
//! projections -> rotary positions on q and k -> causal grouped-query attention -> output
//! projection -> residual; RMSNorm -> SwiGLU MLP -> residual), a final RMSNorm and an untied LM
//! head. No biases. Names and shapes are Hugging Face's `LlamaForCausalLM` (all `nn.Linear`,
//! `[out][in]`, so nothing is transposed).

use crate::config::{Family, ModelConfig};
use crate::cpu::attention::{self, Dims};
use crate::cpu::linear::{self, Dst};
use crate::cpu::{cross_entropy, rms_norm, rope, swiglu};
use crate::gpt::add;
use crate::params::{self, Param, Table};
use crate::safetensors::Tensor;
use crate::Error;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockParams {
    pub(crate) input_norm: usize,
    pub(crate) q: usize,
    pub(crate) k: usize,
    pub(crate) v: usize,
    pub(crate) o: usize,
    pub(crate) post_norm: usize,
    pub(crate) gate: usize,
    pub(crate) up: usize,
    pub(crate) down: usize,
}

/// The model: config, parameter table, flat parameter and gradient buffers, RoPE tables.
pub struct Llama {
    pub config: ModelConfig,
    pub params: Vec<Param>,
    pub weights: Vec<f32>,
    pub grads: Vec<f32>,
    pub(crate) embed: usize,
    pub(crate) blocks: Vec<BlockParams>,
    pub(crate) norm: usize,
    pub(crate) lm_head: usize,
    pub(crate) rope_cos: Vec<f32>,
    pub(crate) rope_sin: Vec<f32>,
}

impl Llama {
    /// A Llama model with all weights zero (load or initialise them next).
    pub fn new(config: ModelConfig) -> Result<Llama, Error> {
        config.validate()?;
        if config.family != Family::Llama || config.tie_embeddings {
            return Err(Error::Config("this engine builds Llama with an untied LM head so far".into()));
        }
        let (v, c, f) = (config.vocab_size, config.n_embd, config.intermediate_size);
        let kv = config.n_kv_head * config.head_dim();
        let mut table = Table::default();
        let embed = table.add("model.embed_tokens.weight".into(), vec![v, c], false);
        let mut blocks = Vec::new();
        for l in 0..config.n_layer {
            let mut add = |s: &str, shape: Vec<usize>| table.add(format!("model.layers.{l}.{s}"), shape, false);
            blocks.push(BlockParams {
                input_norm: add("input_layernorm.weight", vec![c]),
                q: add("self_attn.q_proj.weight", vec![c, c]),
                k: add("self_attn.k_proj.weight", vec![kv, c]),
                v: add("self_attn.v_proj.weight", vec![kv, c]),
                o: add("self_attn.o_proj.weight", vec![c, c]),
                post_norm: add("post_attention_layernorm.weight", vec![c]),
                gate: add("mlp.gate_proj.weight", vec![f, c]),
                up: add("mlp.up_proj.weight", vec![f, c]),
                down: add("mlp.down_proj.weight", vec![c, f]),
            });
        }
        // The forward pass runs q_proj, k_proj and v_proj as one product over their weights.
        debug_assert!(blocks.iter().all(|b| b.k == b.q + c * c && b.v == b.k + kv * c));
        let norm = table.add("model.norm.weight".into(), vec![c], false);
        let lm_head = table.add("lm_head.weight".into(), vec![v, c], false);
        let total = table.len();
        let (rope_cos, rope_sin) = rope::tables(config.block_size, config.head_dim(), config.rope_theta as f64);
        Ok(Llama {
            config,
            params: table.params,
            weights: vec![0.0; total],
            grads: vec![0.0; total],
            embed,
            blocks,
            norm,
            lm_head,
            rope_cos,
            rope_sin,
        })
    }

    /// Loads Hugging Face weights; every parameter must be present with its exact shape.
    pub fn load_hf(&mut self, tensors: &BTreeMap<String, Tensor>, file: &str) -> Result<(), Error> {
        params::load_hf(&self.params, &mut self.weights, tensors, file, |k| k.ends_with(".rotary_emb.inv_freq"))
    }

    /// The gradient of one parameter in Hugging Face layout.
    pub fn grad_hf(&self, name: &str) -> Option<Vec<f32>> {
        self.params.iter().find(|p| p.name == name).map(|p| params::to_hf(p, &self.grads))
    }

    fn dims(&self, b: usize, t: usize) -> Dims {
        let c = &self.config;
        Dims { b, t, n_head: c.n_head, n_kv_head: c.n_kv_head, d: c.head_dim() }
    }

    /// Forward pass over `b × t` tokens; per-token log p(target) lands in `acts.logp`.
    pub fn forward(&self, acts: &mut LlamaActs, ids: &[u32], targets: &[u32]) -> Result<(), Error> {
        let (b, t) = (acts.b, acts.t);
        let cfg = &self.config;
        let (c, f, v) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size);
        let (hd, kv) = (cfg.head_dim(), cfg.n_kv_head * cfg.head_dim());
        let (qkv, rot_heads) = (c + 2 * kv, cfg.n_head + cfg.n_kv_head);
        check_tokens(ids, targets, b * t, v)?;
        let (n, w, eps) = (b * t, &self.weights, cfg.norm_eps);
        for (r, &id) in ids.iter().enumerate() {
            acts.embedded[r * c..(r + 1) * c].copy_from_slice(&w[self.embed + id as usize * c..][..c]);
        }
        let dims = self.dims(b, t);
        for (l, bp) in self.blocks.iter().enumerate() {
            let la = &mut acts.layers[l];
            let input = if l == 0 { &acts.embedded } else { &acts.layers_out[l - 1] };
            // Attention sub-block: x + o(attn(rope(q), rope(k), v)) of rms(x).
            rms_norm::forward(&mut la.norm_1, &mut la.rstd_1, input, &w[bp.input_norm..][..c], c, eps);
            // q_proj, k_proj and v_proj sit one after another in `weights`: one product.
            linear::forward(&mut la.qkv, &la.norm_1, &w[bp.q..][..qkv * c], None, n, c, qkv);
            // The q heads and then the k heads lead each row: rotate them in one pass.
            rope::rotate(&mut la.qkv, &self.rope_cos, &self.rope_sin, rot_heads, hd, qkv, t, 0, 1.0);
            attention::forward(&mut la.att_out, &mut la.att, &la.qkv, dims);
            linear::forward(&mut la.o, &la.att_out, &w[bp.o..][..c * c], None, n, c, c);
            add(&mut la.residual_2, input, &la.o);
            // MLP sub-block: x + down(silu(gate(h)) * up(h)) with h = rms(x).
            rms_norm::forward(&mut la.norm_2, &mut la.rstd_2, &la.residual_2, &w[bp.post_norm..][..c], c, eps);
            linear::forward(&mut la.gate, &la.norm_2, &w[bp.gate..][..f * c], None, n, c, f);
            linear::forward(&mut la.up, &la.norm_2, &w[bp.up..][..f * c], None, n, c, f);
            swiglu::forward(&mut la.act, &la.gate, &la.up);
            linear::forward(&mut la.down, &la.act, &w[bp.down..][..c * f], None, n, f, c);
            add(&mut acts.layers_out[l], &la.residual_2, &la.down);
        }
        let last = acts.layers_out.last().unwrap_or(&acts.embedded);
        rms_norm::forward(&mut acts.norm_f, &mut acts.rstd_f, last, &w[self.norm..][..c], c, eps);
        linear::forward(&mut acts.logits, &acts.norm_f, &w[self.lm_head..][..v * c], None, n, c, v);
        cross_entropy::forward(&mut acts.logp, &mut acts.lse, &acts.logits, targets, v);
        Ok(())
    }

    /// Backward pass: `dlogp[i]` is d(loss)/d(logp[i]); accumulates into `self.grads`.
    pub fn backward(&mut self, acts: &mut LlamaActs, ids: &[u32], targets: &[u32], dlogp: &[f32]) {
        let (b, t) = (acts.b, acts.t);
        let cfg = self.config.clone();
        let (c, f, v) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size);
        let (hd, kv) = (cfg.head_dim(), cfg.n_kv_head * cfg.head_dim());
        let (qkv, rot_heads) = (c + 2 * kv, cfg.n_head + cfg.n_kv_head);
        let (n, dims) = (b * t, self.dims(b, t));
        let (w, g) = (&self.weights, &mut self.grads);
        let d = &mut acts.grads;
        // The logits buffer becomes their gradient.
        cross_entropy::backward(&mut acts.logits, &acts.lse, targets, dlogp, v);
        linear::backward(
            &mut d.norm,
            Dst::Write,
            &mut g[self.lm_head..][..v * c],
            None,
            &acts.logits,
            &acts.norm_f,
            &w[self.lm_head..][..v * c],
            n,
            c,
            v,
        );
        d.residual.fill(0.0);
        let last = acts.layers_out.last().unwrap_or(&acts.embedded);
        rms_norm::backward(
            &mut d.residual,
            &mut g[self.norm..][..c],
            &d.norm,
            last,
            &w[self.norm..][..c],
            &acts.rstd_f,
            c,
        );
        for (l, bp) in self.blocks.iter().enumerate().rev() {
            let la = &acts.layers[l];
            let input = if l == 0 { &acts.embedded } else { &acts.layers_out[l - 1] };
            // MLP sub-block.
            linear::backward(
                &mut d.act,
                Dst::Write,
                &mut g[bp.down..][..c * f],
                None,
                &d.residual,
                &la.act,
                &w[bp.down..][..c * f],
                n,
                f,
                c,
            );
            swiglu::backward(&mut d.gate, &mut d.up, &d.act, &la.gate, &la.up);
            linear::backward(
                &mut d.norm,
                Dst::Write,
                &mut g[bp.gate..][..f * c],
                None,
                &d.gate,
                &la.norm_2,
                &w[bp.gate..][..f * c],
                n,
                c,
                f,
            );
            linear::backward(
                &mut d.norm,
                Dst::Add,
                &mut g[bp.up..][..f * c],
                None,
                &d.up,
                &la.norm_2,
                &w[bp.up..][..f * c],
                n,
                c,
                f,
            );
            rms_norm::backward(
                &mut d.residual,
                &mut g[bp.post_norm..][..c],
                &d.norm,
                &la.residual_2,
                &w[bp.post_norm..][..c],
                &la.rstd_2,
                c,
            );
            // Attention sub-block.
            linear::backward(
                &mut d.att_out,
                Dst::Write,
                &mut g[bp.o..][..c * c],
                None,
                &d.residual,
                &la.att_out,
                &w[bp.o..][..c * c],
                n,
                c,
                c,
            );
            attention::backward(&mut d.qkv, &d.att_out, &la.qkv, &la.att, dims);
            // RoPE is a rotation: its backward rotates the gradient back.
            rope::rotate(&mut d.qkv, &self.rope_cos, &self.rope_sin, rot_heads, hd, qkv, t, 0, -1.0);
            linear::backward(
                &mut d.norm,
                Dst::Write,
                &mut g[bp.q..][..qkv * c],
                None,
                &d.qkv,
                &la.norm_1,
                &w[bp.q..][..qkv * c],
                n,
                c,
                qkv,
            );
            rms_norm::backward(
                &mut d.residual,
                &mut g[bp.input_norm..][..c],
                &d.norm,
                input,
                &w[bp.input_norm..][..c],
                &la.rstd_1,
                c,
            );
        }
        for (r, &id) in ids.iter().enumerate() {
            for (gi, x) in g[self.embed + id as usize * c..][..c].iter_mut().zip(&d.residual[r * c..(r + 1) * c]) {
                *gi += x;
            }
        }
    }
}

/// Token ids must fit the vocabulary; targets too, unless ignored.
pub(crate) fn check_tokens(ids: &[u32], targets: &[u32], n: usize, v: usize) -> Result<(), Error> {
    if ids.len() != n || targets.len() != n {
        return Err(Error::Config(format!("expected {n} ids and targets, got {} and {}", ids.len(), targets.len())));
    }
    match ids.iter().chain(targets.iter().filter(|&&x| x != cross_entropy::IGNORE)).find(|&&x| x as usize >= v) {
        Some(bad) => Err(Error::Config(format!("token id {bad} is outside the vocabulary of {v}"))),
        None => Ok(()),
    }
}

/// Saved activations of one Llama block.
pub struct LlamaLayerActs {
    pub norm_1: Vec<f32>,
    pub rstd_1: Vec<f32>,
    /// `[rows][q | k | v]`, q and k after RoPE.
    pub qkv: Vec<f32>,
    /// Attention probabilities `[b][n_head][t][t]`.
    pub att: Vec<f32>,
    pub att_out: Vec<f32>,
    pub o: Vec<f32>,
    pub residual_2: Vec<f32>,
    pub norm_2: Vec<f32>,
    pub rstd_2: Vec<f32>,
    pub gate: Vec<f32>,
    pub up: Vec<f32>,
    pub act: Vec<f32>,
    pub down: Vec<f32>,
}

struct LlamaGrads {
    norm: Vec<f32>,
    residual: Vec<f32>,
    act: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    att_out: Vec<f32>,
    qkv: Vec<f32>,
}

/// Every buffer a Llama forward and backward pass over `b × t` tokens needs, allocated once.
pub struct LlamaActs {
    pub b: usize,
    pub t: usize,
    pub embedded: Vec<f32>,
    pub layers: Vec<LlamaLayerActs>,
    pub layers_out: Vec<Vec<f32>>,
    pub norm_f: Vec<f32>,
    pub rstd_f: Vec<f32>,
    /// Logits of the forward pass; the backward pass overwrites them with their gradient.
    pub logits: Vec<f32>,
    /// Log-sum-exp of each row of logits (kept for backward).
    pub lse: Vec<f32>,
    pub logp: Vec<f32>,
    grads: LlamaGrads,
}

impl LlamaActs {
    pub fn new(config: &ModelConfig, b: usize, t: usize) -> Result<LlamaActs, Error> {
        if t == 0 || b == 0 || t > config.block_size {
            return Err(Error::Config(format!(
                "sequence length {t} must be in 1..={} and batch {b} positive",
                config.block_size
            )));
        }
        let (n, c, f, v, h) = (b * t, config.n_embd, config.intermediate_size, config.vocab_size, config.n_head);
        let kv = config.n_kv_head * config.head_dim();
        let z = |len: usize| vec![0f32; len];
        let layers = (0..config.n_layer)
            .map(|_| LlamaLayerActs {
                norm_1: z(n * c),
                rstd_1: z(n),
                qkv: z(n * (c + 2 * kv)),
                att: z(b * h * t * t),
                att_out: z(n * c),
                o: z(n * c),
                residual_2: z(n * c),
                norm_2: z(n * c),
                rstd_2: z(n),
                gate: z(n * f),
                up: z(n * f),
                act: z(n * f),
                down: z(n * c),
            })
            .collect();
        Ok(LlamaActs {
            b,
            t,
            embedded: z(n * c),
            layers,
            layers_out: (0..config.n_layer).map(|_| z(n * c)).collect(),
            norm_f: z(n * c),
            rstd_f: z(n),
            logits: z(n * v),
            lse: z(n),
            logp: z(n),
            grads: LlamaGrads {
                norm: z(n * c),
                residual: z(n * c),
                act: z(n * f),
                gate: z(n * f),
                up: z(n * f),
                att_out: z(n * c),
                qkv: z(n * (c + 2 * kv)),
            },
        })
    }
}
