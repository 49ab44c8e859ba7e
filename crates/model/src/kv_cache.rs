//! The KV cache of one sequence (either family): the keys and values of every position fed so
//! far are kept per layer, so each new token attends to them instead of re-running the prefix.
//! The models' decoding forward (`forward_cached` in gpt.rs and llama.rs, beside their
//! training forward), run through `Decode::extend`, feeds any number of new tokens in one batched pass (a whole prompt runs at
//! matrix-multiply speed: that is prefill) through the cache's scratch rows; `Decode::decode`
//! feeds one. Both leave the next-token logits of the last position in `cache.logits`.
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
pub(crate) struct Rows<B: Backend> {
    pub(crate) n: usize,
    pub(crate) x: B::Buf,
    pub(crate) x2: B::Buf,
    pub(crate) ln: B::Buf,
    pub(crate) mean: B::Buf,
    pub(crate) rstd: B::Buf,
    pub(crate) qkv: B::Buf,
    pub(crate) att_out: B::Buf,
    pub(crate) proj: B::Buf,
    /// GPT-2: fc, gelu(fc); Llama: gate, up, silu(gate) * up.
    pub(crate) mlp: [B::Buf; 3],
}

/// Cached keys/values and scratch buffers for one sequence, for either family. Cloning forks
/// the sequence: N samples of one prompt share its prefill.
#[derive(Clone)]
pub struct KvCache<B: Backend = Cpu> {
    max_len: usize,
    pub(crate) len: usize,
    /// `[layer]` buffers of `[n_kv_head][max_len][head_dim]` (RoPE already applied for Llama):
    /// head major, so a decoding step reads each head's keys and values as one block.
    keys: Vec<B::Buf>,
    values: Vec<B::Buf>,
    /// Scratch for the rows being fed (sized by `begin`).
    pub(crate) rows: Option<Rows<B>>,
    /// The last row after the final norm (the LM head's input).
    pub(crate) last: B::Buf,
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
    pub fn with_backend(ops: &B, cfg: &ModelConfig, max_len: usize) -> Result<KvCache<B>, Error> {
        if max_len == 0 || max_len > cfg.block_size {
            return Err(Error::Config(format!("cache length {max_len} must be in 1..={}", cfg.block_size)));
        }
        let kv = cfg.n_kv_head * cfg.head_dim();
        Ok(KvCache {
            max_len,
            len: 0,
            keys: (0..cfg.n_layer).map(|_| ops.zeros(max_len * kv)).collect(),
            values: (0..cfg.n_layer).map(|_| ops.zeros(max_len * kv)).collect(),
            rows: None,
            last: ops.zeros(cfg.n_embd),
            logits: ops.zeros(cfg.vocab_size),
            capture: None,
        })
    }

    /// Keeps attention probabilities and hidden states from now on (see `Capture`).
    pub fn enable_capture(&mut self, ops: &B, cfg: &ModelConfig) {
        let (m, c) = (self.max_len, cfg.n_embd);
        self.capture = Some(Capture {
            hidden: (0..=cfg.n_layer).map(|_| ops.zeros(m * c)).collect(),
            attention: (0..cfg.n_layer).map(|_| ops.zeros(cfg.n_head * m * m)).collect(),
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
    pub(crate) fn begin(&mut self, ops: &B, cfg: &ModelConfig, tokens: &[u32]) -> Result<usize, Error> {
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
            let z = |len: usize| ops.zeros(len);
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
    pub(crate) fn capture_hidden(&mut self, ops: &B, i: usize, pos0: usize, c: usize) {
        if let (Some(cap), Some(rows)) = (self.capture.as_mut(), self.rows.as_ref()) {
            ops.copy_rows(&mut cap.hidden[i], (pos0 * c, c), &rows.x, (0, c), rows.n, c);
        }
    }

    /// Appends layer `l`'s new keys and values (columns `q_width..` of the qkv rows, `heads`
    /// key/value heads of `d`) to the cache.
    pub(crate) fn append_kv(&mut self, ops: &B, l: usize, pos0: usize, q_width: usize, heads: usize, d: usize) {
        let rows = self.rows.as_ref().expect("begin sized the scratch");
        let (kv, m) = (heads * d, self.max_len);
        let row = q_width + 2 * kv;
        for h in 0..heads {
            let at = ((h * m + pos0) * d, d);
            ops.copy_rows(&mut self.keys[l], at, &rows.qkv, (q_width + h * d, row), rows.n, d);
            ops.copy_rows(&mut self.values[l], at, &rows.qkv, (q_width + kv + h * d, row), rows.n, d);
        }
    }

    /// Attention of the new rows' queries over the cache of layer `l`.
    pub(crate) fn attend(&mut self, ops: &B, l: usize, dims: Dims, pos0: usize) {
        let rows = self.rows.as_mut().expect("begin sized the scratch");
        let att = self.capture.as_mut().map(|c| &mut c.attention[l]);
        ops.attention_cached(
            &mut rows.att_out,
            att,
            &rows.qkv,
            &self.keys[l],
            &self.values[l],
            dims,
            pos0,
            self.max_len,
        );
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

// A decoding step is many small ops: run them where the backend runs them cheaply (on the CPU,
// inside the thread pool, so small parallel ops do not wake threads).
impl<B: Backend> Decode<B> for Gpt<B> {
    fn extend(&self, cache: &mut KvCache<B>, tokens: &[u32]) -> Result<(), Error> {
        self.params.backend.in_pool(|| self.forward_cached(cache, tokens))
    }
}

impl<B: Backend> Decode<B> for Llama<B> {
    fn extend(&self, cache: &mut KvCache<B>, tokens: &[u32]) -> Result<(), Error> {
        self.params.backend.in_pool(|| self.forward_cached(cache, tokens))
    }
}
