//! The GPT-2 Transformer (Radford et al. 2019), forward and backward written out, llm.c style.
//!
//! Reads top to bottom like nanoGPT's `model.py`: token + position embedding, `n_layer` pre-norm
//! blocks (LayerNorm -> causal self-attention -> residual; LayerNorm -> MLP with GELU ->
//! residual), a final LayerNorm and the LM head tied to the token embedding: the training
//! forward (`forward`), the decoding forward through a KV cache (`forward_cached`), then the
//! backward pass. Parameters live in one flat buffer (and gradients in another of the same
//! layout, `params::Parameters`) so the optimizer is one loop; activations are sized once per
//! (batch, sequence) shape and reused across steps. Every op goes through a `Backend` (`Cpu` by
//! default).
//!
//! Parameter names and shapes are Hugging Face's `GPT2LMHeadModel`; its `Conv1D` weights are
//! stored `[in][out]`, ours `[out][in]` like `torch.nn.Linear`, so they are transposed on load.

use crate::backend::{Backend, MatrixAt};
use crate::config::{Family, ModelConfig};
use crate::cpu::attention::Dims;
use crate::cpu::backend::Cpu;
use crate::cpu::cross_entropy::IGNORE;
use crate::cpu::linear::Dst;
use crate::head::{HeadRows, Loss};
use crate::kv_cache::{Batch, Segment};
use crate::params::{Parameters, Table};
use crate::safetensors::Tensors;
use crate::Error;

/// Offsets of one block's parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockParams {
    pub(crate) ln_1: (usize, usize),
    pub(crate) c_attn_w: usize,
    pub(crate) c_attn_b: usize,
    pub(crate) attn_proj_w: usize,
    pub(crate) attn_proj_b: usize,
    pub(crate) ln_2: (usize, usize),
    pub(crate) c_fc_w: usize,
    pub(crate) c_fc_b: usize,
    pub(crate) mlp_proj_w: usize,
    pub(crate) mlp_proj_b: usize,
}

/// The model: config, parameter table and the flat parameter and gradient buffers.
pub struct Gpt<B: Backend = Cpu> {
    pub config: ModelConfig,
    /// The weights, their gradients and their packed copy for decoding, on the backend.
    pub params: Parameters<B>,
    pub(crate) wte: usize,
    pub(crate) wpe: usize,
    pub(crate) blocks: Vec<BlockParams>,
    pub(crate) ln_f: (usize, usize),
}

impl Gpt<Cpu> {
    /// A GPT-2 model on the CPU with all weights zero (load or initialise them next).
    pub fn new(config: ModelConfig) -> Result<Gpt<Cpu>, Error> {
        Gpt::with_backend(config, Cpu)
    }
}

impl<B: Backend> Gpt<B> {
    /// A GPT-2 model on `backend` with all weights zero.
    pub fn with_backend(config: ModelConfig, backend: B) -> Result<Gpt<B>, Error> {
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
                ln_1: (add(p("ln_1.weight"), vec![c], false), add(p("ln_1.bias"), vec![c], false)),
                c_attn_w: add(p("attn.c_attn.weight"), vec![3 * c, c], true),
                c_attn_b: add(p("attn.c_attn.bias"), vec![3 * c], false),
                attn_proj_w: add(p("attn.c_proj.weight"), vec![c, c], true),
                attn_proj_b: add(p("attn.c_proj.bias"), vec![c], false),
                ln_2: (add(p("ln_2.weight"), vec![c], false), add(p("ln_2.bias"), vec![c], false)),
                c_fc_w: add(p("mlp.c_fc.weight"), vec![f, c], true),
                c_fc_b: add(p("mlp.c_fc.bias"), vec![f], false),
                mlp_proj_w: add(p("mlp.c_proj.weight"), vec![c, f], true),
                mlp_proj_b: add(p("mlp.c_proj.bias"), vec![c], false),
            });
        }
        let ln_f = (
            add("transformer.ln_f.weight".into(), vec![c], false),
            add("transformer.ln_f.bias".into(), vec![c], false),
        );
        Ok(Gpt { config, params: Parameters::zeroed(backend, table), wte, wpe, blocks, ln_f })
    }

    /// Loads Hugging Face weights (as read by `safetensors::load`); every parameter must be
    /// present with its exact shape. `lm_head.weight` (tied) and the causal-mask buffers of old
    /// checkpoints are ignored.
    pub fn load_hf(&mut self, tensors: &impl Tensors, file: &str) -> Result<(), Error> {
        self.params.load_hf(tensors, file, |name| {
            name == "lm_head.weight" || name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias")
        })
    }

    /// Packs the weights for decoding (bf16 on the CPU: half the memory traffic per token,
    /// logits within about 1e-2 relative of f32). Call again after changing the weights.
    pub fn pack_for_inference(&mut self) {
        let (c, f, v) = (self.config.n_embd, self.config.intermediate_size, self.config.vocab_size);
        let at = |offset, c, oc| MatrixAt { offset, c, oc };
        let mut matrices = vec![at(self.wte, c, v)];
        for b in &self.blocks {
            matrices.extend([
                at(b.c_attn_w, c, 3 * c),
                at(b.attn_proj_w, c, c),
                at(b.c_fc_w, c, f),
                at(b.mlp_proj_w, f, c),
            ]);
        }
        self.params.pack(&matrices);
    }

    fn dims(&self, b: usize, t: usize) -> Dims {
        let h = self.config.n_head;
        Dims { b, t, n_head: h, n_kv_head: h, d: self.config.n_embd / h }
    }

    /// Forward pass over `ids` (`b` rows of `t` tokens): fills `acts`, returns per-token
    /// log-probabilities of `targets` in `acts.logp` (0 where the target is IGNORE).
    pub fn forward(&self, acts: &mut Activations<B>, ids: &[u32], targets: &[u32]) -> Result<(), Error> {
        let (b, t) = (acts.b, acts.t);
        let cfg = &self.config;
        let (c, f, v) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size);
        check_tokens(ids, targets, b * t, v)?;
        let (ops, w, n, eps, dims) = (&self.params.backend, &self.params.weights, b * t, cfg.norm_eps, self.dims(b, t));
        // Token embedding + learned position embedding.
        ops.embed(&mut acts.residual, 0, ids, w, self.wte, Some(self.wpe), t, c);
        for (l, bp) in self.blocks.iter().enumerate() {
            let la = &mut acts.layers[l];
            let input = if l == 0 { &acts.residual } else { &acts.layers_out[l - 1] };
            // Attention sub-block: x + proj(attn(ln_1(x))).
            ops.layer_norm(&mut la.ln_1, &mut la.ln_1_mean, &mut la.ln_1_rstd, input, w, bp.ln_1, c, eps);
            ops.linear(&mut la.qkv, &la.ln_1, w, bp.c_attn_w, Some(bp.c_attn_b), n, c, 3 * c);
            ops.attention(&mut la.att_out, &mut la.att, &la.qkv, dims);
            ops.linear(&mut la.attn_proj, &la.att_out, w, bp.attn_proj_w, Some(bp.attn_proj_b), n, c, c);
            ops.add(&mut la.residual_2, input, &la.attn_proj);
            // MLP sub-block: x + proj(gelu(fc(ln_2(x)))).
            ops.layer_norm(&mut la.ln_2, &mut la.ln_2_mean, &mut la.ln_2_rstd, &la.residual_2, w, bp.ln_2, c, eps);
            ops.linear(&mut la.fc, &la.ln_2, w, bp.c_fc_w, Some(bp.c_fc_b), n, c, f);
            ops.gelu(&mut la.fc_gelu, &la.fc);
            ops.linear(&mut la.mlp_proj, &la.fc_gelu, w, bp.mlp_proj_w, Some(bp.mlp_proj_b), n, f, c);
            ops.add(&mut acts.layers_out[l], &la.residual_2, &la.mlp_proj);
        }
        let last = acts.layers_out.last().unwrap_or(&acts.residual);
        ops.layer_norm(&mut acts.ln_f, &mut acts.ln_f_mean, &mut acts.ln_f_rstd, last, w, self.ln_f, c, eps);
        // LM head tied to the token embedding: logits = ln_f(x) . wte^T, on the rows with a
        // target only where some have none (`head`).
        let loss = Loss { logits: &mut acts.logits, lse: &mut acts.lse, logp: &mut acts.logp };
        acts.head.forward(ops, loss, &acts.ln_f, w, self.wte, targets, c, v);
        Ok(())
    }

    /// The final LayerNorm and the (tied) LM head over the rows of a residual stream `x`
    /// (`[n][c]`): the logits `[n][vocab]` the model would give if it ended there. On an
    /// earlier layer's output this is the logit lens (nostalgebraist 2020).
    pub fn head(&self, x: &[f32]) -> Vec<f32> {
        let (c, v, eps) = (self.config.n_embd, self.config.vocab_size, self.config.norm_eps);
        let (ops, w, n) = (&self.params.backend, &self.params.weights, x.len() / c);
        let x = ops.upload(&x[..n * c]);
        let (mut ln, mut mean, mut rstd, mut logits) = (ops.zeros(n * c), ops.zeros(n), ops.zeros(n), ops.zeros(n * v));
        ops.layer_norm(&mut ln, &mut mean, &mut rstd, &x, w, self.ln_f, c, eps);
        ops.linear(&mut logits, &ln, w, self.wte, None, n, c, v);
        ops.download(&logits)
    }

    /// The decoding forward: the blocks of `forward` over a batch of sequences, each feeding
    /// its tokens at positions `cache.len()..` of its cache (`kv_cache`). The rows of all the
    /// sequences go through each product together; each sequence's
    /// rows attend over the keys and values its own cache keeps. Leaves each one's next-token
    /// logits in its `cache.logits`: the final norm and the LM head run for each sequence's
    /// last row only. Called through `Decode::extend_batch`, inside the backend's pool.
    pub(crate) fn forward_cached(&self, batch: &mut Batch<B>, segments: &mut [Segment<B>]) -> Result<(), Error> {
        let cfg = &self.config;
        let (c, f, v, eps, h) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.norm_eps, cfg.n_head);
        let (ops, w, p) = (&self.params.backend, &self.params.weights, &self.params);
        let (plan, r) = batch.begin(ops, cfg, segments)?;
        let (n, inv) = (r.n, plan.invariant);
        for (seg, &sp) in segments.iter_mut().zip(&plan.spans) {
            ops.embed(&mut r.x, sp.first, seg.tokens, w, self.wte, Some(self.wpe + sp.pos0 * c), sp.n, c);
            seg.cache.capture_hidden(ops, 0, sp, &r.x, c);
        }
        for (l, bp) in self.blocks.iter().enumerate() {
            ops.layer_norm(&mut r.ln, &mut r.mean, &mut r.rstd, &r.x, w, bp.ln_1, c, eps);
            p.decode_linear(&mut r.qkv, &r.ln, n, inv, bp.c_attn_w, Some(bp.c_attn_b), c, 3 * c);
            for (seg, &sp) in segments.iter_mut().zip(&plan.spans) {
                seg.cache.append_kv(ops, l, sp, &r.qkv, c, h, c / h);
                seg.cache.attend(ops, l, self.dims(1, sp.n), sp, &r.qkv, &mut r.att_out, inv);
            }
            p.decode_linear(&mut r.proj, &r.att_out, n, inv, bp.attn_proj_w, Some(bp.attn_proj_b), c, c);
            ops.add(&mut r.x2, &r.x, &r.proj);
            for (seg, &sp) in segments.iter_mut().zip(&plan.spans) {
                seg.cache.capture_mid(ops, l, sp, &r.x2, c);
            }
            ops.layer_norm(&mut r.ln, &mut r.mean, &mut r.rstd, &r.x2, w, bp.ln_2, c, eps);
            let [fc, fc_gelu, _] = &mut r.mlp;
            p.decode_linear(fc, &r.ln, n, inv, bp.c_fc_w, Some(bp.c_fc_b), c, f);
            ops.gelu(fc_gelu, fc);
            p.decode_linear(&mut r.proj, fc_gelu, n, inv, bp.mlp_proj_w, Some(bp.mlp_proj_b), f, c);
            ops.add(&mut r.x, &r.x2, &r.proj);
            for (seg, &sp) in segments.iter_mut().zip(&plan.spans) {
                seg.cache.capture_hidden(ops, l + 1, sp, &r.x, c);
            }
        }
        // Final LayerNorm and the (tied) LM head, for each sequence's last row.
        for (i, sp) in plan.spans.iter().enumerate() {
            ops.copy_rows(&mut r.head_in, (i * c, c), &r.x, ((sp.first + sp.n - 1) * c, c), 1, c);
        }
        ops.layer_norm(&mut r.head_ln, &mut r.mean, &mut r.rstd, &r.head_in, w, self.ln_f, c, eps);
        p.decode_linear(&mut r.logits, &r.head_ln, r.s, inv, self.wte, None, c, v);
        for (i, (seg, &sp)) in segments.iter_mut().zip(&plan.spans).enumerate() {
            seg.cache.finish(ops, i, sp, &r.logits, v);
        }
        Ok(())
    }

    /// Backward pass: `dlogp[i]` is d(loss)/d(logp[i]); accumulates into `self.params.grads`. The
    /// logits in `acts` become their gradient.
    pub fn backward(&mut self, acts: &mut Activations<B>, ids: &[u32], targets: &[u32], dlogp: &[f32]) {
        let (b, t) = (acts.b, acts.t);
        let cfg = &self.config;
        let (c, f, v) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size);
        let (n, dims) = (b * t, self.dims(b, t));
        let (ops, w, g) = (&self.params.backend, &self.params.weights, &mut self.params.grads);
        let d = &mut acts.grads;
        let loss = Loss { logits: &mut acts.logits, lse: &mut acts.lse, logp: &mut acts.logp };
        acts.head.backward(ops, loss, (&acts.ln_f, &mut d.ln_f), (w, self.wte, g), targets, dlogp, c, v);
        // d.residual carries the gradient of the residual stream from the top down.
        ops.fill(&mut d.residual, 0.0);
        let last = acts.layers_out.last().unwrap_or(&acts.residual);
        let (mean, rstd) = (&acts.ln_f_mean, &acts.ln_f_rstd);
        ops.layer_norm_backward(&mut d.residual, g, self.ln_f, &d.ln_f, last, w, mean, rstd, c);
        for (l, bp) in self.blocks.iter().enumerate().rev() {
            let la = &acts.layers[l];
            let input = if l == 0 { &acts.residual } else { &acts.layers_out[l - 1] };
            // MLP sub-block: the residual passes d.residual through unchanged; the branch adds.
            let mlp_proj = (bp.mlp_proj_w, Some(bp.mlp_proj_b));
            ops.linear_backward(
                &mut d.big,
                Dst::Write,
                g,
                mlp_proj.0,
                mlp_proj.1,
                &d.residual,
                &la.fc_gelu,
                w,
                n,
                f,
                c,
            );
            ops.gelu_backward(&mut d.big, &la.fc);
            ops.linear_backward(&mut d.ln, Dst::Write, g, bp.c_fc_w, Some(bp.c_fc_b), &d.big, &la.ln_2, w, n, c, f);
            let (mean, rstd) = (&la.ln_2_mean, &la.ln_2_rstd);
            ops.layer_norm_backward(&mut d.residual, g, bp.ln_2, &d.ln, &la.residual_2, w, mean, rstd, c);
            // Attention sub-block.
            let proj = (bp.attn_proj_w, Some(bp.attn_proj_b));
            ops.linear_backward(&mut d.att_out, Dst::Write, g, proj.0, proj.1, &d.residual, &la.att_out, w, n, c, c);
            ops.attention_backward(&mut d.qkv, &d.att_out, &la.qkv, &la.att, dims);
            ops.linear_backward(
                &mut d.ln,
                Dst::Write,
                g,
                bp.c_attn_w,
                Some(bp.c_attn_b),
                &d.qkv,
                &la.ln_1,
                w,
                n,
                c,
                3 * c,
            );
            let (mean, rstd) = (&la.ln_1_mean, &la.ln_1_rstd);
            ops.layer_norm_backward(&mut d.residual, g, bp.ln_1, &d.ln, input, w, mean, rstd, c);
        }
        // Embeddings.
        ops.embed_backward(g, self.wte, Some(self.wpe), ids, &d.residual, t, c);
    }
}

/// Token ids must fit the vocabulary; targets too, unless ignored.
pub(crate) fn check_tokens(ids: &[u32], targets: &[u32], n: usize, v: usize) -> Result<(), Error> {
    if ids.len() != n || targets.len() != n {
        return Err(Error::Config(format!("expected {n} ids and targets, got {} and {}", ids.len(), targets.len())));
    }
    match ids.iter().chain(targets.iter().filter(|&&x| x != IGNORE)).find(|&&x| x as usize >= v) {
        Some(bad) => Err(Error::Config(format!("token id {bad} is outside the vocabulary of {v}"))),
        None => Ok(()),
    }
}

/// Saved activations of one block.
pub struct LayerActs<B: Backend = Cpu> {
    pub ln_1: B::Buf,
    pub ln_1_mean: B::Buf,
    pub ln_1_rstd: B::Buf,
    /// `[rows][q | k | v]`.
    pub qkv: B::Buf,
    /// Attention probabilities `[b][n_head][t][t]`.
    pub att: B::Buf,
    pub att_out: B::Buf,
    pub attn_proj: B::Buf,
    pub residual_2: B::Buf,
    pub ln_2: B::Buf,
    pub ln_2_mean: B::Buf,
    pub ln_2_rstd: B::Buf,
    pub fc: B::Buf,
    pub fc_gelu: B::Buf,
    pub mlp_proj: B::Buf,
}

/// Scratch gradients of activations (reused by every layer in the backward pass).
pub struct ActGrads<B: Backend = Cpu> {
    ln_f: B::Buf,
    residual: B::Buf,
    ln: B::Buf,
    big: B::Buf,
    att_out: B::Buf,
    qkv: B::Buf,
}

/// Every buffer a forward and backward pass over `b × t` tokens needs, allocated once.
pub struct Activations<B: Backend = Cpu> {
    pub b: usize,
    pub t: usize,
    /// Embedding output (the input of block 0).
    pub residual: B::Buf,
    pub layers: Vec<LayerActs<B>>,
    /// Output of each block (the residual stream after it).
    pub layers_out: Vec<B::Buf>,
    pub ln_f: B::Buf,
    pub ln_f_mean: B::Buf,
    pub ln_f_rstd: B::Buf,
    /// Logits of the forward pass (of the rows with a target only, in order, where some rows
    /// have none: `head`); the backward pass overwrites them with their gradient.
    pub logits: B::Buf,
    /// Log-sum-exp of each row of logits (the softmax normaliser, kept for backward).
    pub lse: B::Buf,
    /// log p(target) per token.
    pub logp: B::Buf,
    head: HeadRows<B>,
    grads: ActGrads<B>,
}

impl Activations<Cpu> {
    pub fn new(config: &ModelConfig, b: usize, t: usize) -> Result<Activations<Cpu>, Error> {
        Activations::with_backend(&Cpu, config, b, t)
    }
}

impl<B: Backend> Activations<B> {
    /// Rows of the last forward pass that went through the LM head (`head`).
    pub fn head_rows(&self) -> usize {
        self.head.rows(self.b * self.t)
    }

    pub fn with_backend(ops: &B, config: &ModelConfig, b: usize, t: usize) -> Result<Activations<B>, Error> {
        check_shape(config, b, t)?;
        let (n, c, f, v, h) = (b * t, config.n_embd, config.intermediate_size, config.vocab_size, config.n_head);
        let z = |len: usize| ops.zeros(len);
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
            head: HeadRows::new(ops, n, c),
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

/// A (batch, sequence) shape the model can take.
pub(crate) fn check_shape(config: &ModelConfig, b: usize, t: usize) -> Result<(), Error> {
    if t == 0 || b == 0 || t > config.block_size {
        return Err(Error::Config(format!(
            "sequence length {t} must be in 1..={} and batch {b} positive",
            config.block_size
        )));
    }
    Ok(())
}
