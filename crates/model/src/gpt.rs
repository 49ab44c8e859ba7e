//! The GPT-2 Transformer (Radford et al. 2019), forward and backward written out, llm.c style.
//!
//! Reads top to bottom like nanoGPT's `model.py`: token + position embedding, `n_layer` pre-norm
//! blocks (LayerNorm -> causal self-attention -> residual; LayerNorm -> MLP with GELU ->
//! residual), a final LayerNorm and the LM head tied to the token embedding. Parameters live in
//! one flat buffer (and gradients in another of the same layout) so the optimizer is one loop;
//! activations are sized once per (batch, sequence) shape and reused across steps.
//!
//! Parameter names and shapes are Hugging Face's `GPT2LMHeadModel`; its `Conv1D` weights are
//! stored `[in][out]`, ours `[out][in]` like `torch.nn.Linear`, so they are transposed on load.

use crate::config::{Family, ModelConfig};
use crate::cpu::attention::{self, Dims};
use crate::cpu::linear::{self, Dst};
use crate::cpu::{cross_entropy, gelu, layer_norm};
use crate::params::{self, linear_backward_split, two_mut, Param, Table};
use crate::safetensors::Tensor;
use crate::Error;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Offsets of one block's parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockParams {
    pub(crate) ln_1_w: usize,
    pub(crate) ln_1_b: usize,
    pub(crate) c_attn_w: usize,
    pub(crate) c_attn_b: usize,
    pub(crate) attn_proj_w: usize,
    pub(crate) attn_proj_b: usize,
    pub(crate) ln_2_w: usize,
    pub(crate) ln_2_b: usize,
    pub(crate) c_fc_w: usize,
    pub(crate) c_fc_b: usize,
    pub(crate) mlp_proj_w: usize,
    pub(crate) mlp_proj_b: usize,
}

/// The model: config, parameter table and the flat parameter and gradient buffers.
pub struct Gpt {
    pub config: ModelConfig,
    pub params: Vec<Param>,
    pub weights: Vec<f32>,
    pub grads: Vec<f32>,
    pub(crate) wte: usize,
    pub(crate) wpe: usize,
    pub(crate) blocks: Vec<BlockParams>,
    pub(crate) ln_f_w: usize,
    pub(crate) ln_f_b: usize,
}

impl Gpt {
    /// A GPT-2 model with all weights zero (load or initialise them next).
    pub fn new(config: ModelConfig) -> Result<Gpt, Error> {
        config.validate()?;
        if config.family != Family::Gpt2 || !config.tie_embeddings {
            return Err(Error::Config("this engine builds GPT-2 with tied embeddings so far".into()));
        }
        let (v, c, f) = (config.vocab_size, config.n_embd, config.intermediate_size);
        let mut table = Table::default();
        let mut add = |name: String, shape: Vec<usize>, conv1d: bool| table.add(name, shape, conv1d);
        let wte = add("transformer.wte.weight".into(), vec![v, c], false);
        let wpe = add("transformer.wpe.weight".into(), vec![config.block_size, c], false);
        let mut blocks = Vec::new();
        for l in 0..config.n_layer {
            let p = |s: &str| format!("transformer.h.{l}.{s}");
            blocks.push(BlockParams {
                ln_1_w: add(p("ln_1.weight"), vec![c], false),
                ln_1_b: add(p("ln_1.bias"), vec![c], false),
                c_attn_w: add(p("attn.c_attn.weight"), vec![3 * c, c], true),
                c_attn_b: add(p("attn.c_attn.bias"), vec![3 * c], false),
                attn_proj_w: add(p("attn.c_proj.weight"), vec![c, c], true),
                attn_proj_b: add(p("attn.c_proj.bias"), vec![c], false),
                ln_2_w: add(p("ln_2.weight"), vec![c], false),
                ln_2_b: add(p("ln_2.bias"), vec![c], false),
                c_fc_w: add(p("mlp.c_fc.weight"), vec![f, c], true),
                c_fc_b: add(p("mlp.c_fc.bias"), vec![f], false),
                mlp_proj_w: add(p("mlp.c_proj.weight"), vec![c, f], true),
                mlp_proj_b: add(p("mlp.c_proj.bias"), vec![c], false),
            });
        }
        let ln_f_w = add("transformer.ln_f.weight".into(), vec![c], false);
        let ln_f_b = add("transformer.ln_f.bias".into(), vec![c], false);
        let total = table.len();
        Ok(Gpt {
            config,
            params: table.params,
            weights: vec![0.0; total],
            grads: vec![0.0; total],
            wte,
            wpe,
            blocks,
            ln_f_w,
            ln_f_b,
        })
    }

    /// Loads Hugging Face weights (as read by `safetensors::load`); every parameter must be
    /// present with its exact shape. `lm_head.weight` (tied) and the causal-mask buffers of old
    /// checkpoints are ignored.
    pub fn load_hf(&mut self, tensors: &BTreeMap<String, Tensor>, file: &str) -> Result<(), Error> {
        params::load_hf(&self.params, &mut self.weights, tensors, file, |k| {
            k == "lm_head.weight" || k.ends_with(".attn.bias") || k.ends_with(".attn.masked_bias")
        })
    }

    /// The gradient of one parameter in Hugging Face layout (for comparisons and export).
    pub fn grad_hf(&self, name: &str) -> Option<Vec<f32>> {
        self.params.iter().find(|p| p.name == name).map(|p| params::to_hf(p, &self.grads))
    }

    /// Forward pass over `ids` (`b` rows of `t` tokens): fills `acts`, returns per-token
    /// log-probabilities of `targets` in `acts.logp` (0 where the target is IGNORE).
    pub fn forward(&self, acts: &mut Activations, ids: &[u32], targets: &[u32]) -> Result<(), Error> {
        let (b, t) = (acts.b, acts.t);
        let cfg = &self.config;
        let (c, f, v, h) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.n_head);
        if ids.len() != b * t || targets.len() != b * t {
            return Err(Error::Config(format!(
                "expected {} ids and targets, got {} and {}",
                b * t,
                ids.len(),
                targets.len()
            )));
        }
        if let Some(bad) =
            ids.iter().chain(targets.iter().filter(|&&x| x != cross_entropy::IGNORE)).find(|&&x| x as usize >= v)
        {
            return Err(Error::Config(format!("token id {bad} is outside the vocabulary of {v}")));
        }
        let n = b * t;
        let w = &self.weights;
        let eps = cfg.norm_eps;
        // Token embedding + learned position embedding.
        acts.residual.par_chunks_exact_mut(c).zip(ids.par_iter()).enumerate().for_each(|(r, (x, &id))| {
            let (tok, pos) = (&w[self.wte + id as usize * c..][..c], &w[self.wpe + (r % t) * c..][..c]);
            x.iter_mut().zip(tok.iter().zip(pos)).for_each(|(x, (a, p))| *x = a + p);
        });
        let dims = Dims { b, t, n_head: h, n_kv_head: h, d: c / h };
        for (l, bp) in self.blocks.iter().enumerate() {
            let la = &mut acts.layers[l];
            let input = if l == 0 { &acts.residual } else { &acts.layers_out[l - 1] };
            // Attention sub-block: x + proj(attn(ln_1(x))).
            layer_norm::forward(
                &mut la.ln_1,
                &mut la.ln_1_mean,
                &mut la.ln_1_rstd,
                input,
                &w[bp.ln_1_w..][..c],
                &w[bp.ln_1_b..][..c],
                c,
                eps,
            );
            linear::forward(
                &mut la.qkv,
                &la.ln_1,
                &w[bp.c_attn_w..][..3 * c * c],
                Some(&w[bp.c_attn_b..][..3 * c]),
                n,
                c,
                3 * c,
            );
            attention::forward(&mut la.att_out, &mut la.att, &la.qkv, dims);
            linear::forward(
                &mut la.attn_proj,
                &la.att_out,
                &w[bp.attn_proj_w..][..c * c],
                Some(&w[bp.attn_proj_b..][..c]),
                n,
                c,
                c,
            );
            add(&mut la.residual_2, input, &la.attn_proj);
            // MLP sub-block: x + proj(gelu(fc(ln_2(x)))).
            layer_norm::forward(
                &mut la.ln_2,
                &mut la.ln_2_mean,
                &mut la.ln_2_rstd,
                &la.residual_2,
                &w[bp.ln_2_w..][..c],
                &w[bp.ln_2_b..][..c],
                c,
                eps,
            );
            linear::forward(&mut la.fc, &la.ln_2, &w[bp.c_fc_w..][..f * c], Some(&w[bp.c_fc_b..][..f]), n, c, f);
            gelu::forward(&mut la.fc_gelu, &la.fc);
            linear::forward(
                &mut la.mlp_proj,
                &la.fc_gelu,
                &w[bp.mlp_proj_w..][..c * f],
                Some(&w[bp.mlp_proj_b..][..c]),
                n,
                f,
                c,
            );
            add(&mut acts.layers_out[l], &la.residual_2, &la.mlp_proj);
        }
        let last = acts.layers_out.last().unwrap_or(&acts.residual);
        layer_norm::forward(
            &mut acts.ln_f,
            &mut acts.ln_f_mean,
            &mut acts.ln_f_rstd,
            last,
            &w[self.ln_f_w..][..c],
            &w[self.ln_f_b..][..c],
            c,
            eps,
        );
        // LM head tied to the token embedding: logits = ln_f(x) . wte^T.
        linear::forward(&mut acts.logits, &acts.ln_f, &w[self.wte..][..v * c], None, n, c, v);
        cross_entropy::forward(&mut acts.logp, &mut acts.lse, &acts.logits, targets, v);
        Ok(())
    }

    /// Backward pass: `dlogp[i]` is d(loss)/d(logp[i]); accumulates into `self.grads`.
    pub fn backward(&mut self, acts: &mut Activations, ids: &[u32], targets: &[u32], dlogp: &[f32]) {
        let (b, t) = (acts.b, acts.t);
        let cfg = self.config.clone();
        let (c, f, v, h) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.n_head);
        let n = b * t;
        let (w, g) = (&self.weights, &mut self.grads);
        let d = &mut acts.grads;
        // The logits buffer becomes their gradient.
        cross_entropy::backward(&mut acts.logits, &acts.lse, targets, dlogp, v);
        let dlogits = &acts.logits;
        linear_backward_split(g, self.wte, v * c, None, &mut d.ln_f, Dst::Write, dlogits, &acts.ln_f, w, n, c, v);
        // d.residual carries the gradient of the residual stream from the top down.
        d.residual.fill(0.0);
        let last = acts.layers_out.last().unwrap_or(&acts.residual);
        let (gw, gb) = two_mut(g, self.ln_f_w, self.ln_f_b, c);
        layer_norm::backward(
            &mut d.residual,
            gw,
            gb,
            &d.ln_f,
            last,
            &w[self.ln_f_w..][..c],
            &acts.ln_f_mean,
            &acts.ln_f_rstd,
            c,
        );
        let dims = Dims { b, t, n_head: h, n_kv_head: h, d: c / h };
        for (l, bp) in self.blocks.iter().enumerate().rev() {
            let la = &acts.layers[l];
            let input = if l == 0 { &acts.residual } else { &acts.layers_out[l - 1] };
            // MLP sub-block: the residual passes d.residual through unchanged; the branch adds.
            linear_backward_split(
                g,
                bp.mlp_proj_w,
                c * f,
                Some(bp.mlp_proj_b),
                &mut d.big,
                Dst::Write,
                &d.residual,
                &la.fc_gelu,
                w,
                n,
                f,
                c,
            );
            gelu::backward(&mut d.big, &la.fc);
            linear_backward_split(
                g,
                bp.c_fc_w,
                f * c,
                Some(bp.c_fc_b),
                &mut d.ln,
                Dst::Write,
                &d.big,
                &la.ln_2,
                w,
                n,
                c,
                f,
            );
            let (gw, gb) = two_mut(g, bp.ln_2_w, bp.ln_2_b, c);
            layer_norm::backward(
                &mut d.residual,
                gw,
                gb,
                &d.ln,
                &la.residual_2,
                &w[bp.ln_2_w..][..c],
                &la.ln_2_mean,
                &la.ln_2_rstd,
                c,
            );
            // Attention sub-block.
            linear_backward_split(
                g,
                bp.attn_proj_w,
                c * c,
                Some(bp.attn_proj_b),
                &mut d.att_out,
                Dst::Write,
                &d.residual,
                &la.att_out,
                w,
                n,
                c,
                c,
            );
            attention::backward(&mut d.qkv, &d.att_out, &la.qkv, &la.att, dims);
            linear_backward_split(
                g,
                bp.c_attn_w,
                3 * c * c,
                Some(bp.c_attn_b),
                &mut d.ln,
                Dst::Write,
                &d.qkv,
                &la.ln_1,
                w,
                n,
                c,
                3 * c,
            );
            let (gw, gb) = two_mut(g, bp.ln_1_w, bp.ln_1_b, c);
            layer_norm::backward(
                &mut d.residual,
                gw,
                gb,
                &d.ln,
                input,
                &w[bp.ln_1_w..][..c],
                &la.ln_1_mean,
                &la.ln_1_rstd,
                c,
            );
        }
        // Embeddings.
        for (r, &id) in ids.iter().enumerate() {
            let dr = &d.residual[r * c..(r + 1) * c];
            for (gi, x) in g[self.wte + id as usize * c..][..c].iter_mut().zip(dr) {
                *gi += x;
            }
            for (gi, x) in g[self.wpe + (r % t) * c..][..c].iter_mut().zip(dr) {
                *gi += x;
            }
        }
    }
}

/// `out = a + b` (a residual connection), in parallel chunks.
pub(crate) fn add(out: &mut [f32], a: &[f32], b: &[f32]) {
    const CHUNK: usize = 1 << 14;
    out.par_chunks_mut(CHUNK).zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK))).for_each(|(o, (a, b))| {
        o.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (a, b))| *o = a + b);
    });
}

/// Saved activations of one block.
pub struct LayerActs {
    pub ln_1: Vec<f32>,
    pub ln_1_mean: Vec<f32>,
    pub ln_1_rstd: Vec<f32>,
    pub qkv: Vec<f32>,
    /// Attention probabilities `[b][n_head][t][t]`.
    pub att: Vec<f32>,
    pub att_out: Vec<f32>,
    pub attn_proj: Vec<f32>,
    pub residual_2: Vec<f32>,
    pub ln_2: Vec<f32>,
    pub ln_2_mean: Vec<f32>,
    pub ln_2_rstd: Vec<f32>,
    pub fc: Vec<f32>,
    pub fc_gelu: Vec<f32>,
    pub mlp_proj: Vec<f32>,
}

/// Scratch gradients of activations (reused by every layer in the backward pass).
pub struct ActGrads {
    ln_f: Vec<f32>,
    residual: Vec<f32>,
    ln: Vec<f32>,
    big: Vec<f32>,
    att_out: Vec<f32>,
    qkv: Vec<f32>,
}

/// Every buffer a forward and backward pass over `b × t` tokens needs, allocated once.
pub struct Activations {
    pub b: usize,
    pub t: usize,
    /// Embedding output (the input of block 0).
    pub residual: Vec<f32>,
    pub layers: Vec<LayerActs>,
    /// Output of each block (the residual stream after it).
    pub layers_out: Vec<Vec<f32>>,
    pub ln_f: Vec<f32>,
    pub ln_f_mean: Vec<f32>,
    pub ln_f_rstd: Vec<f32>,
    pub logits: Vec<f32>,
    /// Log-sum-exp of each row of logits (the softmax normaliser, kept for backward).
    pub lse: Vec<f32>,
    /// log p(target) per token.
    pub logp: Vec<f32>,
    grads: ActGrads,
}

impl Activations {
    pub fn new(config: &ModelConfig, b: usize, t: usize) -> Result<Activations, Error> {
        if t == 0 || b == 0 || t > config.block_size {
            return Err(Error::Config(format!(
                "sequence length {t} must be in 1..={} and batch {b} positive",
                config.block_size
            )));
        }
        let (n, c, f, v, h) = (b * t, config.n_embd, config.intermediate_size, config.vocab_size, config.n_head);
        let z = |len: usize| vec![0f32; len];
        let layers = (0..config.n_layer)
            .map(|_| LayerActs {
                ln_1: z(n * c),
                ln_1_mean: z(n),
                ln_1_rstd: z(n),
                qkv: z(n * 3 * c),
                att: z(b * h * t * t),
                att_out: z(n * c),
                attn_proj: z(n * c),
                residual_2: z(n * c),
                ln_2: z(n * c),
                ln_2_mean: z(n),
                ln_2_rstd: z(n),
                fc: z(n * f),
                fc_gelu: z(n * f),
                mlp_proj: z(n * c),
            })
            .collect();
        Ok(Activations {
            b,
            t,
            residual: z(n * c),
            layers,
            layers_out: (0..config.n_layer).map(|_| z(n * c)).collect(),
            ln_f: z(n * c),
            ln_f_mean: z(n),
            ln_f_rstd: z(n),
            logits: z(n * v),
            lse: z(n),
            logp: z(n),
            grads: ActGrads {
                ln_f: z(n * c),
                residual: z(n * c),
                ln: z(n * c),
                big: z(n * f),
                att_out: z(n * c),
                qkv: z(n * 3 * c),
            },
        })
    }
}
