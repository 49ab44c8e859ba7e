//! Inference with a KV cache (GPT-2): each new token attends to the keys and values of all
//! earlier ones, kept per layer, so generating token `p` costs O(p) instead of re-running the
//! whole prefix. `prefill` feeds a prompt, `decode` one token; both return the logits of the
//! last position. All buffers are allocated once, for `max_len` positions.

use crate::cpu::{gelu, layer_norm, linear};
use crate::gpt::Gpt;
use crate::Error;

/// Cached keys/values and scratch buffers for one sequence.
pub struct KvCache {
    max_len: usize,
    len: usize,
    /// `[layer][pos][c]`
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    x: Vec<f32>,
    ln: Vec<f32>,
    stats: [f32; 2],
    qkv: Vec<f32>,
    att_out: Vec<f32>,
    proj: Vec<f32>,
    fc: Vec<f32>,
    fc_gelu: Vec<f32>,
    scores: Vec<f32>,
    pub logits: Vec<f32>,
}

impl KvCache {
    /// Room for `max_len` positions (at most the model's block size).
    pub fn new(model: &Gpt, max_len: usize) -> Result<KvCache, Error> {
        let cfg = &model.config;
        if max_len == 0 || max_len > cfg.block_size {
            return Err(Error::Config(format!("cache length {max_len} must be in 1..={}", cfg.block_size)));
        }
        let (c, f) = (cfg.n_embd, cfg.intermediate_size);
        let z = |n: usize| vec![0f32; n];
        Ok(KvCache {
            max_len,
            len: 0,
            k: (0..cfg.n_layer).map(|_| z(max_len * c)).collect(),
            v: (0..cfg.n_layer).map(|_| z(max_len * c)).collect(),
            x: z(c),
            ln: z(c),
            stats: [0.0; 2],
            qkv: z(3 * c),
            att_out: z(c),
            proj: z(c),
            fc: z(f),
            fc_gelu: z(f),
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
}

impl Gpt {
    /// Feeds `tokens` after what the cache holds; returns the logits after the last one.
    pub fn prefill<'c>(&self, cache: &'c mut KvCache, tokens: &[u32]) -> Result<&'c [f32], Error> {
        for &tok in tokens {
            self.decode(cache, tok)?;
        }
        Ok(&cache.logits)
    }

    /// Feeds one token at position `cache.len()`; returns the next-token logits.
    pub fn decode<'c>(&self, cache: &'c mut KvCache, token: u32) -> Result<&'c [f32], Error> {
        let cfg = &self.config;
        let (c, f, v, h) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.n_head);
        let (d, pos, eps) = (c / h, cache.len, cfg.norm_eps);
        if pos >= cache.max_len {
            return Err(Error::Config(format!("the KV cache is full ({} positions)", cache.max_len)));
        }
        if token as usize >= v {
            return Err(Error::Config(format!("token id {token} is outside the vocabulary of {v}")));
        }
        let w = &self.weights;
        for i in 0..c {
            cache.x[i] = w[self.wte + token as usize * c + i] + w[self.wpe + pos * c + i];
        }
        let scale = 1.0 / (d as f32).sqrt();
        for (l, bp) in self.blocks.iter().enumerate() {
            let [mean, rstd] = &mut cache.stats;
            layer_norm::forward(
                &mut cache.ln,
                std::slice::from_mut(mean),
                std::slice::from_mut(rstd),
                &cache.x,
                &w[bp.ln_1_w..][..c],
                &w[bp.ln_1_b..][..c],
                c,
                eps,
            );
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
                let q = &cache.qkv[head * d..(head + 1) * d];
                let scores = &mut cache.scores[..=pos];
                for (j, s) in scores.iter_mut().enumerate() {
                    let k = &cache.k[l][j * c + head * d..][..d];
                    *s = q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * scale;
                }
                let max = scores.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
                let mut sum = 0.0;
                for s in scores.iter_mut() {
                    *s = (*s - max).exp();
                    sum += *s;
                }
                let out = &mut cache.att_out[head * d..(head + 1) * d];
                out.fill(0.0);
                for (j, &p) in scores.iter().enumerate() {
                    for (oi, vi) in out.iter_mut().zip(&cache.v[l][j * c + head * d..][..d]) {
                        *oi += p / sum * vi;
                    }
                }
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
            let [mean, rstd] = &mut cache.stats;
            layer_norm::forward(
                &mut cache.ln,
                std::slice::from_mut(mean),
                std::slice::from_mut(rstd),
                &cache.x,
                &w[bp.ln_2_w..][..c],
                &w[bp.ln_2_b..][..c],
                c,
                eps,
            );
            linear::forward(&mut cache.fc, &cache.ln, &w[bp.c_fc_w..][..f * c], Some(&w[bp.c_fc_b..][..f]), 1, c, f);
            gelu::forward(&mut cache.fc_gelu, &cache.fc);
            linear::forward(
                &mut cache.proj,
                &cache.fc_gelu,
                &w[bp.mlp_proj_w..][..c * f],
                Some(&w[bp.mlp_proj_b..][..c]),
                1,
                f,
                c,
            );
            cache.x.iter_mut().zip(&cache.proj).for_each(|(x, p)| *x += p);
        }
        let [mean, rstd] = &mut cache.stats;
        layer_norm::forward(
            &mut cache.ln,
            std::slice::from_mut(mean),
            std::slice::from_mut(rstd),
            &cache.x,
            &w[self.ln_f_w..][..c],
            &w[self.ln_f_b..][..c],
            c,
            eps,
        );
        linear::forward(&mut cache.logits, &cache.ln, &w[self.wte..][..v * c], None, 1, c, v);
        cache.len += 1;
        Ok(&cache.logits)
    }
}
