//! The Llama Transformer (Touvron et al. 2023), forward and backward written out.
//!
//! Token embedding (no position embedding), `n_layer` pre-norm blocks (RMSNorm -> q/k/v
//! projections -> rotary positions on q and k -> causal grouped-query attention -> output
//! projection -> residual; RMSNorm -> SwiGLU MLP -> residual), a final RMSNorm and an untied LM
//! head. No biases. The training forward (`forward`), the decoding forward through a KV cache
//! (`forward_cached`), then the backward pass. Names and shapes are Hugging Face's
//! `LlamaForCausalLM` (all `nn.Linear`, `[out][in]`, so nothing is transposed). Every op goes
//! through a `Backend` (`Cpu` by default).

use crate::backend::{Backend, MatrixAt};
use crate::config::{Family, ModelConfig};
use crate::cpu::attention::Dims;
use crate::cpu::backend::Cpu;
use crate::cpu::linear::Dst;
use crate::cpu::rope;
use crate::gpt::{check_shape, check_tokens};
use crate::head::{HeadRows, Loss};
use crate::kv_cache::{Batch, Segment};
use crate::params::{Parameters, Table};
use crate::safetensors::Tensors;
use crate::Error;

#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockParams {
    pub(crate) input_norm: usize,
    /// q_proj; k_proj and v_proj follow it in the flat buffer, so `[q; k; v]` is one matrix.
    pub(crate) q: usize,
    pub(crate) o: usize,
    pub(crate) post_norm: usize,
    pub(crate) gate: usize,
    pub(crate) up: usize,
    pub(crate) down: usize,
}

/// The model: config, parameter table, flat parameter and gradient buffers, RoPE tables.
pub struct Llama<B: Backend = Cpu> {
    pub config: ModelConfig,
    /// The weights, their gradients and their packed copy for decoding, on the backend.
    pub params: Parameters<B>,
    pub(crate) embed: usize,
    pub(crate) blocks: Vec<BlockParams>,
    pub(crate) norm: usize,
    pub(crate) lm_head: usize,
    pub(crate) rope_cos: B::Buf,
    pub(crate) rope_sin: B::Buf,
}

impl Llama<Cpu> {
    /// A Llama model on the CPU with all weights zero (load or initialise them next).
    pub fn new(config: ModelConfig) -> Result<Llama<Cpu>, Error> {
        Llama::with_backend(config, Cpu)
    }
}

impl<B: Backend> Llama<B> {
    /// A Llama model on `backend` with all weights zero.
    pub fn with_backend(config: ModelConfig, backend: B) -> Result<Llama<B>, Error> {
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
            let input_norm = add("input_layernorm.weight", vec![c]);
            let q = add("self_attn.q_proj.weight", vec![c, c]);
            // The forward pass runs q_proj, k_proj and v_proj as one product over their weights.
            let k = add("self_attn.k_proj.weight", vec![kv, c]);
            let v = add("self_attn.v_proj.weight", vec![kv, c]);
            assert!(k == q + c * c && v == k + kv * c);
            blocks.push(BlockParams {
                input_norm,
                q,
                o: add("self_attn.o_proj.weight", vec![c, c]),
                post_norm: add("post_attention_layernorm.weight", vec![c]),
                gate: add("mlp.gate_proj.weight", vec![f, c]),
                up: add("mlp.up_proj.weight", vec![f, c]),
                down: add("mlp.down_proj.weight", vec![c, f]),
            });
        }
        let norm = table.add("model.norm.weight".into(), vec![c], false);
        let lm_head = table.add("lm_head.weight".into(), vec![v, c], false);
        let (cos, sin) = rope::tables(config.block_size, config.head_dim(), config.rope_theta as f64);
        let (rope_cos, rope_sin) = (backend.upload(&cos), backend.upload(&sin));
        Ok(Llama {
            config,
            params: Parameters::zeroed(backend, table),
            embed,
            blocks,
            norm,
            lm_head,
            rope_cos,
            rope_sin,
        })
    }

    /// Loads Hugging Face weights; every parameter must be present with its exact shape.
    pub fn load_hf(&mut self, tensors: &impl Tensors, file: &str) -> Result<(), Error> {
        self.params.load_hf(tensors, file, |name| name.ends_with(".rotary_emb.inv_freq"))
    }

    /// Packs the weights for decoding (bf16 on the CPU: half the memory traffic per token,
    /// logits within about 1e-2 relative of f32). Call again after changing the weights.
    pub fn pack_for_inference(&mut self) {
        let cfg = &self.config;
        let (c, f, v, kv) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.n_kv_head * cfg.head_dim());
        let at = |offset, c, oc| MatrixAt { offset, c, oc };
        let mut matrices = vec![at(self.lm_head, c, v)];
        for b in &self.blocks {
            matrices.extend([
                at(b.q, c, c + 2 * kv),
                at(b.o, c, c),
                at(b.gate, c, f),
                at(b.up, c, f),
                at(b.down, f, c),
            ]);
        }
        self.params.pack(&matrices);
    }

    pub(crate) fn dims(&self, b: usize, t: usize) -> Dims {
        let c = &self.config;
        Dims { b, t, n_head: c.n_head, n_kv_head: c.n_kv_head, d: c.head_dim() }
    }

    /// Forward pass over `b × t` tokens; per-token log p(target) lands in `acts.logp`.
    pub fn forward(&self, acts: &mut LlamaActs<B>, ids: &[u32], targets: &[u32]) -> Result<(), Error> {
        let (b, t) = (acts.b, acts.t);
        let cfg = &self.config;
        let (c, f, v, hd) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.head_dim());
        let (qkv, rot_heads) = (c + 2 * cfg.n_kv_head * hd, cfg.n_head + cfg.n_kv_head);
        check_tokens(ids, targets, b * t, v)?;
        let (ops, w, n, eps, dims) = (&self.params.backend, &self.params.weights, b * t, cfg.norm_eps, self.dims(b, t));
        let (cos, sin) = (&self.rope_cos, &self.rope_sin);
        ops.embed(&mut acts.embedded, 0, ids, w, self.embed, None, t, c);
        for (l, bp) in self.blocks.iter().enumerate() {
            let la = &mut acts.layers[l];
            let input = if l == 0 { &acts.embedded } else { &acts.layers_out[l - 1] };
            // Attention sub-block: x + o(attn(rope(q), rope(k), v)) of rms(x).
            ops.rms_norm(&mut la.norm_1, &mut la.rstd_1, input, w, bp.input_norm, c, eps);
            ops.linear(&mut la.qkv, &la.norm_1, w, bp.q, None, n, c, qkv);
            // The q heads and then the k heads lead each row: rotate them in one pass.
            ops.rope(&mut la.qkv, 0..n, cos, sin, rot_heads, hd, qkv, t, 0, false);
            ops.attention(&mut la.att_out, &mut la.att, &la.qkv, dims);
            ops.linear(&mut la.o, &la.att_out, w, bp.o, None, n, c, c);
            ops.add(&mut la.residual_2, input, &la.o);
            // MLP sub-block: x + down(silu(gate(h)) * up(h)) with h = rms(x).
            ops.rms_norm(&mut la.norm_2, &mut la.rstd_2, &la.residual_2, w, bp.post_norm, c, eps);
            ops.linear(&mut la.gate, &la.norm_2, w, bp.gate, None, n, c, f);
            ops.linear(&mut la.up, &la.norm_2, w, bp.up, None, n, c, f);
            ops.swiglu(&mut la.act, &la.gate, &la.up);
            ops.linear(&mut la.down, &la.act, w, bp.down, None, n, f, c);
            ops.add(&mut acts.layers_out[l], &la.residual_2, &la.down);
        }
        let last = acts.layers_out.last().unwrap_or(&acts.embedded);
        ops.rms_norm(&mut acts.norm_f, &mut acts.rstd_f, last, w, self.norm, c, eps);
        // On the rows with a target only where some have none (`head`).
        let loss = Loss { logits: &mut acts.logits, lse: &mut acts.lse, logp: &mut acts.logp };
        acts.head.forward(ops, loss, &acts.norm_f, w, self.lm_head, targets, c, v);
        Ok(())
    }

    /// The final RMSNorm and the LM head over the rows of a residual stream `x` (`[n][c]`):
    /// the logits `[n][vocab]` the model would give if it ended there. On an earlier layer's
    /// output this is the logit lens (nostalgebraist 2020).
    pub fn head(&self, x: &[f32]) -> Vec<f32> {
        let (c, v, eps) = (self.config.n_embd, self.config.vocab_size, self.config.norm_eps);
        let (ops, w, n) = (&self.params.backend, &self.params.weights, x.len() / c);
        let x = ops.upload(&x[..n * c]);
        let (mut normed, mut rstd, mut logits) = (ops.zeros(n * c), ops.zeros(n), ops.zeros(n * v));
        ops.rms_norm(&mut normed, &mut rstd, &x, w, self.norm, c, eps);
        ops.linear(&mut logits, &normed, w, self.lm_head, None, n, c, v);
        ops.download(&logits)
    }

    /// The decoding forward: the blocks of `forward` over a batch of sequences, each feeding
    /// its tokens at positions `cache.len()..` of its cache (`kv_cache`). The rows of all the
    /// sequences go through each product together; each sequence's
    /// rows are rotated at its own positions and attend over the keys and values its own cache
    /// keeps. Leaves each one's next-token logits in its `cache.logits`: the final norm and
    /// the LM head run for each sequence's last row only. Called through
    /// `Decode::extend_batch`, inside the backend's pool.
    pub(crate) fn forward_cached(&self, batch: &mut Batch<B>, segments: &mut [Segment<B>]) -> Result<(), Error> {
        let cfg = &self.config;
        let (c, f, v, eps, hd) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.norm_eps, cfg.head_dim());
        let kv = cfg.n_kv_head * hd;
        let (ops, w, p) = (&self.params.backend, &self.params.weights, &self.params);
        let (plan, r) = batch.begin(ops, cfg, segments)?;
        let (n, inv) = (r.n, plan.invariant);
        for (seg, &sp) in segments.iter_mut().zip(&plan.spans) {
            ops.embed(&mut r.x, sp.first, seg.tokens, w, self.embed, None, sp.n, c);
            seg.cache.capture_hidden(ops, 0, sp, &r.x, c);
        }
        for (l, bp) in self.blocks.iter().enumerate() {
            ops.rms_norm(&mut r.ln, &mut r.rstd, &r.x, w, bp.input_norm, c, eps);
            p.decode_linear(&mut r.qkv, &r.ln, n, inv, bp.q, None, c, c + 2 * kv);
            for (seg, &sp) in segments.iter_mut().zip(&plan.spans) {
                // The segment's row i is its position pos0 + i.
                let (cos, sin) = (&self.rope_cos, &self.rope_sin);
                let rows = sp.first..sp.first + sp.n;
                ops.rope(&mut r.qkv, rows, cos, sin, cfg.n_head + cfg.n_kv_head, hd, c + 2 * kv, sp.n, sp.pos0, false);
                seg.cache.append_kv(ops, l, sp, &r.qkv, c, cfg.n_kv_head, hd);
                seg.cache.attend(ops, l, self.dims(1, sp.n), sp, &r.qkv, &mut r.att_out, inv);
            }
            p.decode_linear(&mut r.proj, &r.att_out, n, inv, bp.o, None, c, c);
            ops.add(&mut r.x2, &r.x, &r.proj);
            for (seg, &sp) in segments.iter_mut().zip(&plan.spans) {
                seg.cache.capture_mid(ops, l, sp, &r.x2, c);
            }
            ops.rms_norm(&mut r.ln, &mut r.rstd, &r.x2, w, bp.post_norm, c, eps);
            let [gate, up, act] = &mut r.mlp;
            p.decode_linear(gate, &r.ln, n, inv, bp.gate, None, c, f);
            p.decode_linear(up, &r.ln, n, inv, bp.up, None, c, f);
            ops.swiglu(act, gate, up);
            p.decode_linear(&mut r.proj, act, n, inv, bp.down, None, f, c);
            ops.add(&mut r.x, &r.x2, &r.proj);
            for (seg, &sp) in segments.iter_mut().zip(&plan.spans) {
                seg.cache.capture_hidden(ops, l + 1, sp, &r.x, c);
            }
        }
        for (i, sp) in plan.spans.iter().enumerate() {
            ops.copy_rows(&mut r.head_in, (i * c, c), &r.x, ((sp.first + sp.n - 1) * c, c), 1, c);
        }
        ops.rms_norm(&mut r.head_ln, &mut r.rstd, &r.head_in, w, self.norm, c, eps);
        p.decode_linear(&mut r.logits, &r.head_ln, r.s, inv, self.lm_head, None, c, v);
        for (i, (seg, &sp)) in segments.iter_mut().zip(&plan.spans).enumerate() {
            seg.cache.finish(ops, i, sp, &r.logits, v);
        }
        Ok(())
    }

    /// Backward pass: `dlogp[i]` is d(loss)/d(logp[i]); accumulates into `self.params.grads`. The
    /// logits in `acts` become their gradient.
    pub fn backward(&mut self, acts: &mut LlamaActs<B>, ids: &[u32], targets: &[u32], dlogp: &[f32]) {
        let (b, t) = (acts.b, acts.t);
        let cfg = &self.config;
        let (c, f, v, hd) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.head_dim());
        let (qkv, rot_heads) = (c + 2 * cfg.n_kv_head * hd, cfg.n_head + cfg.n_kv_head);
        let (n, dims) = (b * t, self.dims(b, t));
        let (ops, w, g) = (&self.params.backend, &self.params.weights, &mut self.params.grads);
        let (cos, sin) = (&self.rope_cos, &self.rope_sin);
        let d = &mut acts.grads;
        let loss = Loss { logits: &mut acts.logits, lse: &mut acts.lse, logp: &mut acts.logp };
        acts.head.backward(ops, loss, (&acts.norm_f, &mut d.norm), (w, self.lm_head, g), targets, dlogp, c, v);
        ops.fill(&mut d.residual, 0.0);
        let last = acts.layers_out.last().unwrap_or(&acts.embedded);
        ops.rms_norm_backward(&mut d.residual, g, self.norm, &d.norm, last, w, &acts.rstd_f, c);
        for (l, bp) in self.blocks.iter().enumerate().rev() {
            let la = &acts.layers[l];
            let input = if l == 0 { &acts.embedded } else { &acts.layers_out[l - 1] };
            // MLP sub-block.
            ops.linear_backward(&mut d.act, Dst::Write, g, bp.down, None, &d.residual, &la.act, w, n, f, c);
            ops.swiglu_backward(&mut d.gate, &mut d.up, &d.act, &la.gate, &la.up);
            ops.linear_backward(&mut d.norm, Dst::Write, g, bp.gate, None, &d.gate, &la.norm_2, w, n, c, f);
            ops.linear_backward(&mut d.norm, Dst::Add, g, bp.up, None, &d.up, &la.norm_2, w, n, c, f);
            ops.rms_norm_backward(&mut d.residual, g, bp.post_norm, &d.norm, &la.residual_2, w, &la.rstd_2, c);
            // Attention sub-block.
            ops.linear_backward(&mut d.att_out, Dst::Write, g, bp.o, None, &d.residual, &la.att_out, w, n, c, c);
            ops.attention_backward(&mut d.qkv, &d.att_out, &la.qkv, &la.att, dims);
            // RoPE is a rotation: its backward rotates the gradient back.
            ops.rope(&mut d.qkv, 0..n, cos, sin, rot_heads, hd, qkv, t, 0, true);
            ops.linear_backward(&mut d.norm, Dst::Write, g, bp.q, None, &d.qkv, &la.norm_1, w, n, c, qkv);
            ops.rms_norm_backward(&mut d.residual, g, bp.input_norm, &d.norm, input, w, &la.rstd_1, c);
        }
        ops.embed_backward(g, self.embed, None, ids, &d.residual, t, c);
    }
}

/// Saved activations of one Llama block.
pub struct LlamaLayerActs<B: Backend = Cpu> {
    pub norm_1: B::Buf,
    pub rstd_1: B::Buf,
    /// `[rows][q | k | v]`, q and k after RoPE.
    pub qkv: B::Buf,
    /// Attention probabilities `[b][n_head][t][t]`.
    pub att: B::Buf,
    pub att_out: B::Buf,
    pub o: B::Buf,
    pub residual_2: B::Buf,
    pub norm_2: B::Buf,
    pub rstd_2: B::Buf,
    pub gate: B::Buf,
    pub up: B::Buf,
    pub act: B::Buf,
    pub down: B::Buf,
}

struct LlamaGrads<B: Backend> {
    norm: B::Buf,
    residual: B::Buf,
    act: B::Buf,
    gate: B::Buf,
    up: B::Buf,
    att_out: B::Buf,
    qkv: B::Buf,
}

/// Every buffer a Llama forward and backward pass over `b × t` tokens needs, allocated once.
pub struct LlamaActs<B: Backend = Cpu> {
    pub b: usize,
    pub t: usize,
    pub embedded: B::Buf,
    pub layers: Vec<LlamaLayerActs<B>>,
    pub layers_out: Vec<B::Buf>,
    pub norm_f: B::Buf,
    pub rstd_f: B::Buf,
    /// Logits of the forward pass (of the rows with a target only, in order, where some rows
    /// have none: `head`); the backward pass overwrites them with their gradient.
    pub logits: B::Buf,
    /// Log-sum-exp of each row of logits (kept for backward).
    pub lse: B::Buf,
    pub logp: B::Buf,
    head: HeadRows<B>,
    grads: LlamaGrads<B>,
}

impl LlamaActs<Cpu> {
    pub fn new(config: &ModelConfig, b: usize, t: usize) -> Result<LlamaActs<Cpu>, Error> {
        LlamaActs::with_backend(&Cpu, config, b, t)
    }
}

impl<B: Backend> LlamaActs<B> {
    /// Rows of the last forward pass that went through the LM head (`head`).
    pub fn head_rows(&self) -> usize {
        self.head.rows(self.b * self.t)
    }

    pub fn with_backend(ops: &B, config: &ModelConfig, b: usize, t: usize) -> Result<LlamaActs<B>, Error> {
        check_shape(config, b, t)?;
        let (n, c, f, v, h) = (b * t, config.n_embd, config.intermediate_size, config.vocab_size, config.n_head);
        let kv = config.n_kv_head * config.head_dim();
        let z = |len: usize| ops.zeros(len);
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
            head: HeadRows::new(ops, n, c),
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
