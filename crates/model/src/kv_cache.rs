//! Inference with a KV cache (GPT-2 and Llama): the keys and values of every position fed so
//! far are kept per layer, so each new token attends to them instead of re-running the prefix.
//! `extend` feeds any number of new tokens in one batched pass (a whole prompt runs at
//! matrix-multiply speed: that is prefill), `decode` feeds one; both leave the next-token
//! logits of the last position in `cache.logits` (the LM head runs for that row only).
//!
//! With `capture` on, the cache also keeps, for every position fed, each layer's attention
//! probabilities and the residual stream entering and leaving each block, for the "seeing
//! inside" views. Buffers are allocated once for `max_len` positions (the per-row scratch once
//! per batch length).

use crate::backend::Backend;
use crate::config::ModelConfig;
use crate::cpu::attention::Dims;
use crate::cpu::backend::Cpu;
use crate::gpt::Gpt;
use crate::llama::Llama;
use crate::Error;

/// What a cache keeps about the positions fed so far, when asked to.
#[derive(Clone)]
pub struct Capture<B: Backend = Cpu> {
    /// `[n_layer + 1]` buffers of `[max_len][n_embd]`: the embedding output, then the residual
    /// stream after each block.
    pub hidden: Vec<B::Buf>,
    /// `[n_layer]` buffers of `[n_head][max_len][max_len]`: row `i` of a head holds position
    /// `i`'s attention over positions `0..=i` (zero after).
    pub attention: Vec<B::Buf>,
}

/// Scratch for a pass over `n` new rows.
#[derive(Clone)]
struct Rows<B: Backend> {
    n: usize,
    x: B::Buf,
    x2: B::Buf,
    ln: B::Buf,
    mean: B::Buf,
    rstd: B::Buf,
    qkv: B::Buf,
    att_out: B::Buf,
    proj: B::Buf,
    /// GPT-2: fc, gelu(fc); Llama: gate, up, silu(gate) * up.
    mlp: [B::Buf; 3],
}

/// Cached keys/values and scratch buffers for one sequence, for either family. Cloning forks
/// the sequence: N samples of one prompt share its prefill.
#[derive(Clone)]
pub struct KvCache<B: Backend = Cpu> {
    max_len: usize,
    len: usize,
    /// `[layer]` buffers of `[n_kv_head][max_len][head_dim]` (RoPE already applied for Llama):
    /// head major, so a decoding step reads each head's keys and values as one block.
    k: Vec<B::Buf>,
    v: Vec<B::Buf>,
    rows: Option<Rows<B>>,
    last: B::Buf,
    /// Next-token logits after the last position fed.
    pub logits: B::Buf,
    pub capture: Option<Capture<B>>,
}

impl KvCache<Cpu> {
    /// Room for `max_len` positions (at most the model's block size), on the CPU.
    pub fn new(cfg: &ModelConfig, max_len: usize) -> Result<KvCache<Cpu>, Error> {
        KvCache::with_backend(&Cpu, cfg, max_len)
    }
}

impl<B: Backend> KvCache<B> {
    pub fn with_backend(k: &B, cfg: &ModelConfig, max_len: usize) -> Result<KvCache<B>, Error> {
        if max_len == 0 || max_len > cfg.block_size {
            return Err(Error::Config(format!("cache length {max_len} must be in 1..={}", cfg.block_size)));
        }
        let kv = cfg.n_kv_head * cfg.head_dim();
        Ok(KvCache {
            max_len,
            len: 0,
            k: (0..cfg.n_layer).map(|_| k.zeros(max_len * kv)).collect(),
            v: (0..cfg.n_layer).map(|_| k.zeros(max_len * kv)).collect(),
            rows: None,
            last: k.zeros(cfg.n_embd),
            logits: k.zeros(cfg.vocab_size),
            capture: None,
        })
    }

    /// Keeps attention probabilities and hidden states from now on (see `Capture`).
    pub fn enable_capture(&mut self, k: &B, cfg: &ModelConfig) {
        let (m, c) = (self.max_len, cfg.n_embd);
        self.capture = Some(Capture {
            hidden: (0..=cfg.n_layer).map(|_| k.zeros(m * c)).collect(),
            attention: (0..cfg.n_layer).map(|_| k.zeros(cfg.n_head * m * m)).collect(),
        });
    }

    /// Positions filled so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Forgets the sequence (keeps the buffers; captured rows are overwritten as it refills).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Checks that `tokens` fit, and sizes the scratch for them; returns the first position.
    fn begin(&mut self, k: &B, cfg: &ModelConfig, tokens: &[u32]) -> Result<usize, Error> {
        if tokens.is_empty() {
            return Err(Error::Config("no tokens to feed".into()));
        }
        if self.len + tokens.len() > self.max_len {
            return Err(Error::Config(format!(
                "the KV cache is full: {} positions held, {} more do not fit in {}",
                self.len,
                tokens.len(),
                self.max_len
            )));
        }
        if let Some(bad) = tokens.iter().find(|&&t| t as usize >= cfg.vocab_size) {
            return Err(Error::Config(format!("token id {bad} is outside the vocabulary of {}", cfg.vocab_size)));
        }
        let n = tokens.len();
        if self.rows.as_ref().is_none_or(|r| r.n != n) {
            let (c, f, kv) = (cfg.n_embd, cfg.intermediate_size, cfg.n_kv_head * cfg.head_dim());
            let z = |len: usize| k.zeros(len);
            self.rows = Some(Rows {
                n,
                x: z(n * c),
                x2: z(n * c),
                ln: z(n * c),
                mean: z(n),
                rstd: z(n),
                qkv: z(n * (c + 2 * kv)),
                att_out: z(n * c),
                proj: z(n * c),
                mlp: [z(n * f), z(n * f), z(n * f)],
            });
        }
        Ok(self.len)
    }

    /// Keeps `x` (the `n` new rows of the residual stream) as hidden state `i`, if capturing.
    fn capture_hidden(&mut self, k: &B, i: usize, pos0: usize, c: usize) {
        if let (Some(cap), Some(rows)) = (self.capture.as_mut(), self.rows.as_ref()) {
            k.copy_rows(&mut cap.hidden[i], (pos0 * c, c), &rows.x, (0, c), rows.n, c);
        }
    }

    /// Appends layer `l`'s new keys and values (columns `q_width..` of the qkv rows, `heads`
    /// key/value heads of `d`) to the cache.
    fn append_kv(&mut self, k: &B, l: usize, pos0: usize, q_width: usize, heads: usize, d: usize) {
        let rows = self.rows.as_ref().expect("begin sized the scratch");
        let (kv, m) = (heads * d, self.max_len);
        let row = q_width + 2 * kv;
        for h in 0..heads {
            let at = ((h * m + pos0) * d, d);
            k.copy_rows(&mut self.k[l], at, &rows.qkv, (q_width + h * d, row), rows.n, d);
            k.copy_rows(&mut self.v[l], at, &rows.qkv, (q_width + kv + h * d, row), rows.n, d);
        }
    }

    /// Attention of the new rows' queries over the cache of layer `l`.
    fn attend(&mut self, k: &B, l: usize, dims: Dims, pos0: usize) {
        let rows = self.rows.as_mut().expect("begin sized the scratch");
        let att = self.capture.as_mut().map(|c| &mut c.attention[l]);
        k.attention_cached(&mut rows.att_out, att, &rows.qkv, &self.k[l], &self.v[l], dims, pos0, self.max_len);
    }
}

/// A model that generates with a KV cache.
pub trait Decode<B: Backend> {
    /// Feeds `tokens` at positions `cache.len()..` in one pass; leaves the logits after the
    /// last one in `cache.logits`.
    fn extend(&self, cache: &mut KvCache<B>, tokens: &[u32]) -> Result<(), Error>;

    /// Feeds one token; returns the next-token logits.
    fn decode<'c>(&self, cache: &'c mut KvCache<B>, token: u32) -> Result<&'c B::Buf, Error> {
        self.extend(cache, &[token])?;
        Ok(&cache.logits)
    }

    /// Feeds a prompt; returns the logits after its last token.
    fn prefill<'c>(&self, cache: &'c mut KvCache<B>, tokens: &[u32]) -> Result<&'c B::Buf, Error> {
        self.extend(cache, tokens)?;
        Ok(&cache.logits)
    }
}

impl<B: Backend> Decode<B> for Gpt<B> {
    fn extend(&self, cache: &mut KvCache<B>, tokens: &[u32]) -> Result<(), Error> {
        self.backend.in_pool(|| self.extend_now(cache, tokens))
    }
}

impl<B: Backend> Gpt<B> {
    fn extend_now(&self, cache: &mut KvCache<B>, tokens: &[u32]) -> Result<(), Error> {
        let cfg = &self.config;
        let (c, f, v, eps) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.norm_eps);
        let (k, w) = (&self.backend, &self.weights);
        let pos0 = cache.begin(k, cfg, tokens)?;
        let n = tokens.len();
        let dims = Dims { b: 1, t: n, n_head: cfg.n_head, n_kv_head: cfg.n_head, d: c / cfg.n_head };
        {
            let r = cache.rows.as_mut().expect("sized");
            k.embed(&mut r.x, tokens, w, self.wte, Some(self.wpe + pos0 * c), n, c);
        }
        cache.capture_hidden(k, 0, pos0, c);
        for (l, bp) in self.blocks.iter().enumerate() {
            let r = cache.rows.as_mut().expect("sized");
            k.layer_norm(&mut r.ln, &mut r.mean, &mut r.rstd, &r.x, w, bp.ln_1, c, eps);
            self.infer_linear(&mut r.qkv, &r.ln, bp.c_attn_w, Some(bp.c_attn_b), n, c, 3 * c);
            cache.append_kv(k, l, pos0, c, cfg.n_head, c / cfg.n_head);
            cache.attend(k, l, dims, pos0);
            let r = cache.rows.as_mut().expect("sized");
            self.infer_linear(&mut r.proj, &r.att_out, bp.attn_proj_w, Some(bp.attn_proj_b), n, c, c);
            k.add(&mut r.x2, &r.x, &r.proj);
            k.layer_norm(&mut r.ln, &mut r.mean, &mut r.rstd, &r.x2, w, bp.ln_2, c, eps);
            let [fc, fc_gelu, _] = &mut r.mlp;
            self.infer_linear(fc, &r.ln, bp.c_fc_w, Some(bp.c_fc_b), n, c, f);
            k.gelu(fc_gelu, fc);
            self.infer_linear(&mut r.proj, fc_gelu, bp.mlp_proj_w, Some(bp.mlp_proj_b), n, f, c);
            k.add(&mut r.x, &r.x2, &r.proj);
            cache.capture_hidden(k, l + 1, pos0, c);
        }
        // Final LayerNorm and the (tied) LM head, for the last row only.
        let r = cache.rows.as_mut().expect("sized");
        k.copy_rows(&mut r.x2, (0, c), &r.x, ((n - 1) * c, c), 1, c);
        k.layer_norm(&mut cache.last, &mut r.mean, &mut r.rstd, &r.x2, w, self.ln_f, c, eps);
        self.infer_linear(&mut cache.logits, &cache.last, self.wte, None, 1, c, v);
        cache.len += n;
        Ok(())
    }
}

impl<B: Backend> Decode<B> for Llama<B> {
    fn extend(&self, cache: &mut KvCache<B>, tokens: &[u32]) -> Result<(), Error> {
        self.backend.in_pool(|| self.extend_now(cache, tokens))
    }
}

impl<B: Backend> Llama<B> {
    fn extend_now(&self, cache: &mut KvCache<B>, tokens: &[u32]) -> Result<(), Error> {
        let cfg = &self.config;
        let (c, f, v, eps, hd) = (cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.norm_eps, cfg.head_dim());
        let kv = cfg.n_kv_head * hd;
        let (k, w) = (&self.backend, &self.weights);
        let pos0 = cache.begin(k, cfg, tokens)?;
        let n = tokens.len();
        let dims = self.dims(1, n);
        {
            let r = cache.rows.as_mut().expect("sized");
            k.embed(&mut r.x, tokens, w, self.embed, None, n, c);
        }
        cache.capture_hidden(k, 0, pos0, c);
        for (l, bp) in self.blocks.iter().enumerate() {
            let r = cache.rows.as_mut().expect("sized");
            k.rms_norm(&mut r.ln, &mut r.rstd, &r.x, w, bp.input_norm, c, eps);
            self.infer_linear(&mut r.qkv, &r.ln, bp.q, None, n, c, c + 2 * kv);
            // Row r is position pos0 + r.
            k.rope(
                &mut r.qkv,
                &self.rope_cos,
                &self.rope_sin,
                cfg.n_head + cfg.n_kv_head,
                hd,
                c + 2 * kv,
                n,
                pos0,
                false,
            );
            cache.append_kv(k, l, pos0, c, cfg.n_kv_head, hd);
            cache.attend(k, l, dims, pos0);
            let r = cache.rows.as_mut().expect("sized");
            self.infer_linear(&mut r.proj, &r.att_out, bp.o, None, n, c, c);
            k.add(&mut r.x2, &r.x, &r.proj);
            k.rms_norm(&mut r.ln, &mut r.rstd, &r.x2, w, bp.post_norm, c, eps);
            let [gate, up, act] = &mut r.mlp;
            self.infer_linear(gate, &r.ln, bp.gate, None, n, c, f);
            self.infer_linear(up, &r.ln, bp.up, None, n, c, f);
            k.swiglu(act, gate, up);
            self.infer_linear(&mut r.proj, act, bp.down, None, n, f, c);
            k.add(&mut r.x, &r.x2, &r.proj);
            cache.capture_hidden(k, l + 1, pos0, c);
        }
        let r = cache.rows.as_mut().expect("sized");
        k.copy_rows(&mut r.x2, (0, c), &r.x, ((n - 1) * c, c), 1, c);
        k.rms_norm(&mut cache.last, &mut r.rstd, &r.x2, w, self.norm, c, eps);
        self.infer_linear(&mut cache.logits, &cache.last, self.lm_head, None, 1, c, v);
        cache.len += n;
        Ok(())
    }
}
