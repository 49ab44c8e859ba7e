//! The KV cache of one sequence (either family): the keys and values of every position fed so
//! far are kept per layer, so each new token attends to them instead of re-running the prefix.
//! The models' decoding forward (`forward_cached` in gpt.rs and llama.rs, beside their
//! training forward) feeds a batch of sequences in one pass (`Decode::extend_batch`): each
//! sequence brings its cache and any number of new tokens (a whole prompt runs at
//! matrix-multiply speed: that is prefill; one token is a decoding step), their rows are
//! stacked so that every weight matrix is read once for all of them, and each row's attention
//! reads its own sequence's cache. `Decode::extend` feeds one sequence. Both leave each
//! sequence's next-token logits (after its last row) in its `cache.logits`.
//!
//! A batch is `invariant` when each sequence must get exactly the numbers it would get alone
//! (a server's guarantee that a seed gives the same text under any load): then every row's
//! products are computed row by row in a fixed order (`cpu/linear_rows.rs`, as fast as gemm
//! at any row count on AVX2), so a position's keys, values and logits depend on its tokens
//! only, not on the batch or on how the sequence was cut into segments; a cache filled in
//! any pieces can then be kept and reused by a later prompt that shares its prefix.
//!
//! With `capture` on, the cache also keeps, for every position fed, each layer's attention
//! probabilities and the residual stream entering and leaving each block, for the "seeing
//! inside" views. Buffers are allocated once for `max_len` positions (a batch's scratch once
//! per shape, the last few shapes kept).

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
    /// `[n_layer]` buffers of `[max_len][n_embd]`: the residual stream inside each block, after
    /// attention has added to it and before the MLP does (so each sub-layer's write is a
    /// difference of two captured streams).
    pub mid: Vec<B::Buf>,
    /// `[n_layer]` buffers of `[n_head][max_len][max_len]`: row `i` of a head holds position
    /// `i`'s attention over positions `0..=i` (zero after).
    pub attention: Vec<B::Buf>,
}

/// Scratch for a pass over `n` new rows of `s` sequences.
#[derive(Clone)]
pub(crate) struct Rows<B: Backend> {
    pub(crate) n: usize,
    pub(crate) s: usize,
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
    /// Each sequence's last row `[s][c]`, after the final norm, and its logits `[s][vocab]`.
    pub(crate) head_in: B::Buf,
    pub(crate) head_ln: B::Buf,
    pub(crate) logits: B::Buf,
}

impl<B: Backend> Rows<B> {
    fn new(ops: &B, cfg: &ModelConfig, n: usize, s: usize) -> Rows<B> {
        let (c, f, kv) = (cfg.n_embd, cfg.intermediate_size, cfg.n_kv_head * cfg.head_dim());
        let z = |len: usize| ops.zeros(len);
        Rows {
            n,
            s,
            x: z(n * c),
            x2: z(n * c),
            ln: z(n * c),
            mean: z(n),
            rstd: z(n),
            qkv: z(n * (c + 2 * kv)),
            att_out: z(n * c),
            proj: z(n * c),
            mlp: [z(n * f), z(n * f), z(n * f)],
            head_in: z(s * c),
            head_ln: z(s * c),
            logits: z(s * cfg.vocab_size),
        }
    }
}

/// One sequence's part of a decoding pass: its cache and the tokens to feed it.
pub struct Segment<'a, B: Backend = Cpu> {
    pub cache: &'a mut KvCache<B>,
    pub tokens: &'a [u32],
}

/// Where a segment's rows sit in the batch, and its first position.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub(crate) first: usize,
    pub(crate) n: usize,
    pub(crate) pos0: usize,
}

/// How a pass runs: each segment's rows, and whether the products are row-invariant (they
/// run over all the scratch's `n` rows together, the LM head over its `s`, one per segment).
pub(crate) struct Plan {
    pub(crate) spans: Vec<Span>,
    pub(crate) invariant: bool,
}

/// Scratch for decoding passes over several sequences at once (see the header).
pub struct Batch<B: Backend = Cpu> {
    invariant: bool,
    /// Scratch of the last few shapes (rows, sequences), newest last.
    rows: Vec<Rows<B>>,
}

impl<B: Backend> Clone for Batch<B> {
    fn clone(&self) -> Self {
        Batch { invariant: self.invariant, rows: Vec::new() }
    }
}

impl<B: Backend> Default for Batch<B> {
    fn default() -> Self {
        Batch::new(false)
    }
}

impl<B: Backend> Batch<B> {
    /// `invariant`: every sequence gets the numbers it would get alone (see the header).
    pub fn new(invariant: bool) -> Batch<B> {
        Batch { invariant, rows: Vec::new() }
    }

    /// Checks every segment, lays their rows out and sizes the scratch; returns the plan and
    /// the scratch.
    pub(crate) fn begin(
        &mut self,
        ops: &B,
        cfg: &ModelConfig,
        segments: &mut [Segment<B>],
    ) -> Result<(Plan, &mut Rows<B>), Error> {
        if segments.is_empty() {
            return Err(Error::Config("no sequences to feed".into()));
        }
        let mut spans = Vec::with_capacity(segments.len());
        let mut next = 0;
        for seg in segments.iter_mut() {
            let pos0 = seg.cache.check(cfg, seg.tokens)?;
            spans.push(Span { first: next, n: seg.tokens.len(), pos0 });
            next += seg.tokens.len();
        }
        let (n, s) = (next, segments.len());
        let plan = Plan { spans, invariant: self.invariant };
        let at = match self.rows.iter().position(|r| r.n == n && r.s == s) {
            Some(i) => i,
            None => {
                if self.rows.len() >= 4 {
                    self.rows.remove(0);
                }
                self.rows.push(Rows::new(ops, cfg, n, s));
                self.rows.len() - 1
            }
        };
        Ok((plan, &mut self.rows[at]))
    }
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
    /// Scratch for feeding this sequence alone (`Decode::extend`).
    pub(crate) scratch: Batch<B>,
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
            scratch: Batch::new(false),
            logits: ops.zeros(cfg.vocab_size),
            capture: None,
        })
    }

    /// Keeps attention probabilities and hidden states from now on (see `Capture`).
    pub fn enable_capture(&mut self, ops: &B, cfg: &ModelConfig) {
        let (m, c) = (self.max_len, cfg.n_embd);
        self.capture = Some(Capture {
            hidden: (0..=cfg.n_layer).map(|_| ops.zeros(m * c)).collect(),
            mid: (0..cfg.n_layer).map(|_| ops.zeros(m * c)).collect(),
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

    /// Keeps the first `len` positions (all if there are fewer) and forgets the rest: a
    /// prompt that shares them goes on from there (`minichat_chat::prompt_cache`).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Checks that `tokens` fit and are in the vocabulary; returns the first position.
    pub(crate) fn check(&self, cfg: &ModelConfig, tokens: &[u32]) -> Result<usize, Error> {
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
        Ok(self.len)
    }

    /// Keeps the segment's rows of `x` (the residual stream) as hidden state `i`, if capturing.
    pub(crate) fn capture_hidden(&mut self, ops: &B, i: usize, sp: Span, x: &B::Buf, c: usize) {
        if let Some(cap) = self.capture.as_mut() {
            ops.copy_rows(&mut cap.hidden[i], (sp.pos0 * c, c), x, (sp.first * c, c), sp.n, c);
        }
    }

    /// Keeps the segment's rows of `x` (the residual stream after layer `l`'s attention) as its
    /// mid-block state, if capturing.
    pub(crate) fn capture_mid(&mut self, ops: &B, l: usize, sp: Span, x: &B::Buf, c: usize) {
        if let Some(cap) = self.capture.as_mut() {
            ops.copy_rows(&mut cap.mid[l], (sp.pos0 * c, c), x, (sp.first * c, c), sp.n, c);
        }
    }

    /// Appends layer `l`'s new keys and values (columns `q_width..` of the segment's qkv rows,
    /// `heads` key/value heads of `d`) to the cache.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append_kv(
        &mut self,
        ops: &B,
        l: usize,
        sp: Span,
        qkv: &B::Buf,
        q_width: usize,
        heads: usize,
        d: usize,
    ) {
        let (kv, m) = (heads * d, self.max_len);
        let row = q_width + 2 * kv;
        for h in 0..heads {
            let at = ((h * m + sp.pos0) * d, d);
            ops.copy_rows(&mut self.keys[l], at, qkv, (sp.first * row + q_width + h * d, row), sp.n, d);
            ops.copy_rows(&mut self.values[l], at, qkv, (sp.first * row + q_width + kv + h * d, row), sp.n, d);
        }
    }

    /// Attention of the segment's queries over the cache of layer `l`, into its rows of `out`.
    /// `invariant`: each row as if fed alone (see the header).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attend(
        &mut self,
        ops: &B,
        l: usize,
        dims: Dims,
        sp: Span,
        qkv: &B::Buf,
        out: &mut B::Buf,
        invariant: bool,
    ) {
        let att = self.capture.as_mut().map(|c| &mut c.attention[l]);
        let (k, v) = (&self.keys[l], &self.values[l]);
        ops.attention_cached(out, att, qkv, sp.first, k, v, dims, sp.pos0, self.max_len, invariant);
    }

    /// Copies the segment's logits (row `i` of the pass's) and counts its positions as fed.
    pub(crate) fn finish(&mut self, ops: &B, i: usize, sp: Span, logits: &B::Buf, v: usize) {
        ops.copy_rows(&mut self.logits, (0, v), logits, (i * v, v), 1, v);
        self.len += sp.n;
    }
}

/// A model that generates with a KV cache.
pub trait Decode<B: Backend> {
    /// Feeds each segment's tokens at positions `cache.len()..` of its cache, all in one pass;
    /// leaves each one's logits after its last token in its `cache.logits`.
    fn extend_batch(&self, batch: &mut Batch<B>, segments: &mut [Segment<B>]) -> Result<(), Error>;

    /// Feeds `tokens` at positions `cache.len()..` in one pass; leaves the logits after the
    /// last one in `cache.logits`.
    fn extend(&self, cache: &mut KvCache<B>, tokens: &[u32]) -> Result<(), Error> {
        let mut scratch = std::mem::take(&mut cache.scratch);
        let fed = self.extend_batch(&mut scratch, &mut [Segment { cache: &mut *cache, tokens }]);
        cache.scratch = scratch;
        fed
    }

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
    fn extend_batch(&self, batch: &mut Batch<B>, segments: &mut [Segment<B>]) -> Result<(), Error> {
        self.params.backend.in_pool(|| self.forward_cached(batch, segments))
    }
}

impl<B: Backend> Decode<B> for Llama<B> {
    fn extend_batch(&self, batch: &mut Batch<B>, segments: &mut [Segment<B>]) -> Result<(), Error> {
        self.params.backend.in_pool(|| self.forward_cached(batch, segments))
    }
}
