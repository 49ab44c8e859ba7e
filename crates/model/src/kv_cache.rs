//! Inference with a KV cache (GPT-2 and Llama): each new token attends to the keys and values of all
//! earlier ones, kept per layer, so generating token `p` costs O(p) instead of re-running the
//! whole prefix. `prefill` feeds a prompt, `decode` one token; both return the logits of the
//! last position. All buffers are allocated once, for `max_len` positions.

use crate::cpu::{gelu, layer_norm, linear, rms_norm, rope, swiglu};
use crate::gpt::Gpt;
use crate::llama::Llama;
use crate::Error;
use crate::ModelConfig;

/// One query head against cached keys/values `0..=pos`: `out = softmax(q k^T * scale) v`.
/// Key `j` of this head sits at `cache[j * row + col..][..q.len()]` for `(row, col) = at`.
#[allow(clippy::too_many_arguments)]
fn attend_one(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    (row, col): (usize, usize),
    pos: usize,
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    let d = q.len();
    let scores = &mut scores[..=pos];
    for (j, s) in scores.iter_mut().enumerate() {
        *s = q.iter().zip(&k[j * row + col..][..d]).map(|(a, b)| a * b).sum::<f32>() * scale;
    }
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    out.fill(0.0);
    for (j, &p) in scores.iter().enumerate() {
        for (oi, vi) in out.iter_mut().zip(&v[j * row + col..][..d]) {
            *oi += p / sum * vi;
        }
    }
}

/// A model that generates with a KV cache.
pub trait Decode {
    /// Feeds one token at position `cache.len()`; returns the next-token logits.
    fn decode<'c>(&self, cache: &'c mut KvCache, token: u32) -> Result<&'c [f32], Error>;

    /// Feeds `tokens` after what the cache holds; returns the logits after the last one.
    fn prefill<'c>(&self, cache: &'c mut KvCache, tokens: &[u32]) -> Result<&'c [f32], Error> {
        for &tok in tokens {
            self.decode(cache, tok)?;
        }
        Ok(&cache.logits)
    }
}

/// Cached keys/values and scratch buffers for one sequence, for either family.
pub struct KvCache {
    max_len: usize,
    len: usize,
    /// `[layer][pos][n_kv_head * head_dim]` (RoPE already applied for Llama).
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    x: Vec<f32>,
    ln: Vec<f32>,
    stats: [f32; 2],
    /// GPT-2's fused q|k|v row; Llama uses the first `n_embd` values for q.
    qkv: Vec<f32>,
    att_out: Vec<f32>,
    proj: Vec<f32>,
    /// MLP hidden rows: GPT-2 fc and gelu(fc); Llama gate, up and silu(gate) * up.
    mlp: [Vec<f32>; 3],
    scores: Vec<f32>,
    pub logits: Vec<f32>,
}

impl KvCache {
    /// Room for `max_len` positions (at most the model's block size).
    pub fn new(cfg: &ModelConfig, max_len: usize) -> Result<KvCache, Error> {
        if max_len == 0 || max_len > cfg.block_size {
            return Err(Error::Config(format!("cache length {max_len} must be in 1..={}", cfg.block_size)));
        }
        let (c, f, kv) = (cfg.n_embd, cfg.intermediate_size, cfg.n_kv_head * cfg.head_dim());
        let z = |n: usize| vec![0f32; n];
        Ok(KvCache {
            max_len,
            len: 0,
            k: (0..cfg.n_layer).map(|_| z(max_len * kv)).collect(),
            v: (0..cfg.n_layer).map(|_| z(max_len * kv)).collect(),
            x: z(c),
            ln: z(c),
            stats: [0.0; 2],
            qkv: z(3 * c),
            att_out: z(c),
            proj: z(c),
            mlp: [z(f), z(f), z(f)],
            scores: z(max_len),
            logits: z(cfg.vocab_size),
        })
    }

    /// Positions filled so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets the sequence (keeps the buffers).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// `ln = layer_norm(x)` (GPT-2).
    fn layer_norm(&mut self, weight: &[f32], bias: &[f32], eps: f32) {
        let [mean, rstd] = &mut self.stats;
        let (mean, rstd) = (std::slice::from_mut(mean), std::slice::from_mut(rstd));
        layer_norm::forward(&mut self.ln, mean, rstd, &self.x, weight, bias, self.x.len(), eps);
    }

    /// `ln = rms_norm(x)` (Llama).
    fn rms_norm(&mut self, weight: &[f32], eps: f32) {
        let rstd = std::slice::from_mut(&mut self.stats[0]);
        rms_norm::forward(&mut self.ln, rstd, &self.x, weight, self.x.len(), eps);
    }

    /// The position the next token goes to, once it is known to fit.
    fn next_position(&self, token: u32, vocab: usize) -> Result<usize, Error> {
        if self.len >= self.max_len {
            return Err(Error::Config(format!("the KV cache is full ({} positions)", self.max_len)));
        }
        if token as usize >= vocab {
            return Err(Error::Config(format!("token id {token} is outside the vocabulary of {vocab}")));
        }
        Ok(self.len)
    }
}

impl Decode for Gpt {
    fn decode<'c>(&self, cache: &'c mut KvCache, token: u32) -> Result<&'c [f32], Error> {
        let cfg = &self.config;
        let (c, f, v, h) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.n_head);
        let (d, pos, eps) = (c / h, cache.next_position(token, v)?, cfg.norm_eps);
        let w = &self.weights;
        for i in 0..c {
            cache.x[i] = w[self.wte + token as usize * c + i] + w[self.wpe + pos * c + i];
        }
        let scale = 1.0 / (d as f32).sqrt();
        for (l, bp) in self.blocks.iter().enumerate() {
            cache.layer_norm(&w[bp.ln_1_w..][..c], &w[bp.ln_1_b..][..c], eps);
            linear::forward(
                &mut cache.qkv,
                &cache.ln,
                &w[bp.c_attn_w..][..3 * c * c],
                Some(&w[bp.c_attn_b..][..3 * c]),
                1,
                c,
                3 * c,
            );
            cache.k[l][pos * c..(pos + 1) * c].copy_from_slice(&cache.qkv[c..2 * c]);
            cache.v[l][pos * c..(pos + 1) * c].copy_from_slice(&cache.qkv[2 * c..]);
            // One query against keys 0..=pos, head by head.
            for head in 0..h {
                let (q, out) = (&cache.qkv[head * d..(head + 1) * d], &mut cache.att_out[head * d..(head + 1) * d]);
                attend_one(q, &cache.k[l], &cache.v[l], (c, head * d), pos, scale, &mut cache.scores, out);
            }
            linear::forward(
                &mut cache.proj,
                &cache.att_out,
                &w[bp.attn_proj_w..][..c * c],
                Some(&w[bp.attn_proj_b..][..c]),
                1,
                c,
                c,
            );
            cache.x.iter_mut().zip(&cache.proj).for_each(|(x, p)| *x += p);
            cache.layer_norm(&w[bp.ln_2_w..][..c], &w[bp.ln_2_b..][..c], eps);
            let [fc, fc_gelu, _] = &mut cache.mlp;
            linear::forward(fc, &cache.ln, &w[bp.c_fc_w..][..f * c], Some(&w[bp.c_fc_b..][..f]), 1, c, f);
            gelu::forward(fc_gelu, fc);
            linear::forward(
                &mut cache.proj,
                fc_gelu,
                &w[bp.mlp_proj_w..][..c * f],
                Some(&w[bp.mlp_proj_b..][..c]),
                1,
                f,
                c,
            );
            cache.x.iter_mut().zip(&cache.proj).for_each(|(x, p)| *x += p);
        }
        cache.layer_norm(&w[self.ln_f_w..][..c], &w[self.ln_f_b..][..c], eps);
        linear::forward(&mut cache.logits, &cache.ln, &w[self.wte..][..v * c], None, 1, c, v);
        cache.len += 1;
        Ok(&cache.logits)
    }
}

impl Decode for Llama {
    fn decode<'c>(&self, cache: &'c mut KvCache, token: u32) -> Result<&'c [f32], Error> {
        let cfg = &self.config;
        let (c, f, v, h, hkv, d) =
            (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.n_head, cfg.n_kv_head, cfg.head_dim());
        let (kv, pos, eps) = (hkv * d, cache.next_position(token, v)?, cfg.norm_eps);
        let w = &self.weights;
        cache.x.copy_from_slice(&w[self.embed + token as usize * c..][..c]);
        let scale = 1.0 / (d as f32).sqrt();
        for (l, bp) in self.blocks.iter().enumerate() {
            cache.rms_norm(&w[bp.input_norm..][..c], eps);
            let q = &mut cache.qkv[..c];
            linear::forward(q, &cache.ln, &w[bp.q..][..c * c], None, 1, c, c);
            let (k_row, v_row) = (&mut cache.k[l][pos * kv..(pos + 1) * kv], &mut cache.v[l][pos * kv..(pos + 1) * kv]);
            linear::forward(k_row, &cache.ln, &w[bp.k..][..kv * c], None, 1, c, kv);
            linear::forward(v_row, &cache.ln, &w[bp.v..][..kv * c], None, 1, c, kv);
            rope::rotate(q, &self.rope_cos, &self.rope_sin, h, d, h * d, 1, pos, 1.0);
            rope::rotate(k_row, &self.rope_cos, &self.rope_sin, hkv, d, kv, 1, pos, 1.0);
            for head in 0..h {
                let kvh = head / (h / hkv);
                let (q, out) = (&cache.qkv[head * d..(head + 1) * d], &mut cache.att_out[head * d..(head + 1) * d]);
                attend_one(q, &cache.k[l], &cache.v[l], (kv, kvh * d), pos, scale, &mut cache.scores, out);
            }
            linear::forward(&mut cache.proj, &cache.att_out, &w[bp.o..][..c * c], None, 1, c, c);
            cache.x.iter_mut().zip(&cache.proj).for_each(|(x, p)| *x += p);
            cache.rms_norm(&w[bp.post_norm..][..c], eps);
            let [gate, up, act] = &mut cache.mlp;
            linear::forward(gate, &cache.ln, &w[bp.gate..][..f * c], None, 1, c, f);
            linear::forward(up, &cache.ln, &w[bp.up..][..f * c], None, 1, c, f);
            swiglu::forward(act, gate, up);
            linear::forward(&mut cache.proj, act, &w[bp.down..][..c * f], None, 1, f, c);
            cache.x.iter_mut().zip(&cache.proj).for_each(|(x, p)| *x += p);
        }
        cache.rms_norm(&w[self.norm..][..c], eps);
        linear::forward(&mut cache.logits, &cache.ln, &w[self.lm_head..][..v * c], None, 1, c, v);
        cache.len += 1;
        Ok(&cache.logits)
    }
}
