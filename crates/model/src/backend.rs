//! The boundary between model code and kernels.
//!
//! `gpt.rs`, `llama.rs` and `kv_cache.rs` say *what* to compute; a `Backend` says *how* and
//! *where*. Every tensor the model touches is a `Backend::Buf` (a host `Vec<f32>` for `Cpu`, a
//! device allocation for a GPU backend); parameters and their gradients are offsets into the
//! model's one flat weight buffer and one flat gradient buffer, so an op that updates a
//! parameter gradient takes the whole gradient buffer and the offsets it writes. Token ids,
//! targets and per-token loss coefficients are small host slices (a device backend uploads
//! them). Nothing in the model code reaches past this trait, so a CUDA backend (cuBLAS for the
//! products, NVRTC-compiled kernels for the rest) implements these methods and leaves the model
//! files untouched.
//!
//! Conventions, shared with `cpu`: matrices are row-major, linear weights `[out][in]`; backward
//! ops *add* into parameter gradients and into the residual-stream gradient, and *write* the
//! gradients that have a single producer (see `cpu`).

use crate::cpu::attention::Dims;
use crate::cpu::linear::Dst;

/// A weight matrix `[oc][c]` at `offset` in the flat weight buffer, as `linear` reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatrixAt {
    pub offset: usize,
    pub c: usize,
    pub oc: usize,
}

/// Kernels and buffers of one device.
pub trait Backend: Sync {
    /// A buffer of f32 on the device.
    type Buf: Send + Sync;
    /// The weights packed for memory-bound inference (bf16 on the CPU).
    type Packed: Send + Sync;

    /// Runs `f`, a sequence of many small ops (one decoding step), where the backend's own
    /// threads can run it cheaply (on the CPU: inside the thread pool, so that a small
    /// parallel op runs in place instead of waking a thread).
    fn in_pool<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        f()
    }

    /// A zero-filled buffer.
    fn zeros(&self, len: usize) -> Self::Buf;
    /// A buffer holding `data`.
    fn upload(&self, data: &[f32]) -> Self::Buf;
    /// A buffer holding `data`, which it may take over rather than copy (the CPU does).
    fn upload_vec(&self, data: Vec<f32>) -> Self::Buf {
        self.upload(&data)
    }
    /// The buffer's contents on the host.
    fn download(&self, buf: &Self::Buf) -> Vec<f32>;
    fn len(&self, buf: &Self::Buf) -> usize;
    fn fill(&self, buf: &mut Self::Buf, value: f32);
    /// `rows` rows of `width` values from `src` to `dst`, each given as (offset, row stride).
    fn copy_rows(
        &self,
        dst: &mut Self::Buf,
        at: (usize, usize),
        src: &Self::Buf,
        from: (usize, usize),
        rows: usize,
        width: usize,
    );

    /// `out[first + r] = table[ids[r]] (+ pos[r % t])`, rows of `c`; `table` and `pos` are
    /// offsets into `w` (`pos` may point past row 0 of the position table, to start at a later
    /// position). `first` > 0 places one sequence's rows inside a batch of decoding rows.
    #[allow(clippy::too_many_arguments)]
    fn embed(
        &self,
        out: &mut Self::Buf,
        first: usize,
        ids: &[u32],
        w: &Self::Buf,
        table: usize,
        pos: Option<usize>,
        t: usize,
        c: usize,
    );
    /// Adds `dout` rows into the gradients of the rows `embed` read.
    #[allow(clippy::too_many_arguments)]
    fn embed_backward(
        &self,
        g: &mut Self::Buf,
        table: usize,
        pos: Option<usize>,
        ids: &[u32],
        dout: &Self::Buf,
        t: usize,
        c: usize,
    );

    /// LayerNorm over rows of `c`, weight and bias at offsets `wb` of `w`; keeps mean and 1/std.
    #[allow(clippy::too_many_arguments)]
    fn layer_norm(
        &self,
        out: &mut Self::Buf,
        mean: &mut Self::Buf,
        rstd: &mut Self::Buf,
        x: &Self::Buf,
        w: &Self::Buf,
        wb: (usize, usize),
        c: usize,
        eps: f32,
    );
    /// Adds into `dx` and into the weight and bias gradients at offsets `wb` of `g`.
    #[allow(clippy::too_many_arguments)]
    fn layer_norm_backward(
        &self,
        dx: &mut Self::Buf,
        g: &mut Self::Buf,
        wb: (usize, usize),
        dout: &Self::Buf,
        x: &Self::Buf,
        w: &Self::Buf,
        mean: &Self::Buf,
        rstd: &Self::Buf,
        c: usize,
    );
    /// RMSNorm over rows of `c`, weight at offset `weight`; keeps 1/rms.
    #[allow(clippy::too_many_arguments)]
    fn rms_norm(
        &self,
        out: &mut Self::Buf,
        rstd: &mut Self::Buf,
        x: &Self::Buf,
        w: &Self::Buf,
        weight: usize,
        c: usize,
        eps: f32,
    );
    /// Adds into `dx` and into the weight gradient at `weight`.
    #[allow(clippy::too_many_arguments)]
    fn rms_norm_backward(
        &self,
        dx: &mut Self::Buf,
        g: &mut Self::Buf,
        weight: usize,
        dout: &Self::Buf,
        x: &Self::Buf,
        w: &Self::Buf,
        rstd: &Self::Buf,
        c: usize,
    );

    /// `out[n×oc] = inp[n×c] · W^T (+ bias)`, W `[oc][c]` at offset `weight` of `w`.
    #[allow(clippy::too_many_arguments)]
    fn linear(
        &self,
        out: &mut Self::Buf,
        inp: &Self::Buf,
        w: &Self::Buf,
        weight: usize,
        bias: Option<usize>,
        n: usize,
        c: usize,
        oc: usize,
    );
    /// A packed copy of the flat weight buffer, for `linear_decode`; `matrices` are the weight
    /// matrices it will be asked for (a backend may lay them out its own way).
    fn pack(&self, w: &Self::Buf, matrices: &[MatrixAt]) -> Self::Packed;
    /// Rows `rows` of `out` from the same rows of `inp` (`linear`'s product, reading the weight
    /// matrix from the packed copy when there is one: decoding, where reading the weights is
    /// the cost), for
    /// decoding. `invariant`: each row is computed exactly as it would be alone, whatever the
    /// batch (so a sequence decoded beside others gets the text it would get by itself);
    /// else the fastest way for this many rows.
    #[allow(clippy::too_many_arguments)]
    fn linear_decode(
        &self,
        out: &mut Self::Buf,
        inp: &Self::Buf,
        rows: std::ops::Range<usize>,
        invariant: bool,
        packed: Option<&Self::Packed>,
        w: &Self::Buf,
        weight: usize,
        bias: Option<usize>,
        c: usize,
        oc: usize,
    );
    /// `dinp (+)= dout · W`; adds `dout^T · inp` and the bias gradient into `g`.
    #[allow(clippy::too_many_arguments)]
    fn linear_backward(
        &self,
        dinp: &mut Self::Buf,
        mode: Dst,
        g: &mut Self::Buf,
        weight: usize,
        bias: Option<usize>,
        dout: &Self::Buf,
        inp: &Self::Buf,
        w: &Self::Buf,
        n: usize,
        c: usize,
        oc: usize,
    );

    /// Causal self-attention over a fused `[rows][q | k | v]` buffer; keeps the probabilities
    /// `att` (`[b][n_head][t][t]`, zero above the diagonal).
    fn attention(&self, out: &mut Self::Buf, att: &mut Self::Buf, qkv: &Self::Buf, dims: Dims);
    /// Writes the gradient of `attention` with respect to `qkv`.
    fn attention_backward(&self, dqkv: &mut Self::Buf, dout: &Self::Buf, qkv: &Self::Buf, att: &Self::Buf, dims: Dims);
    /// The queries of `n` new positions `pos0..pos0 + n` (rows `first..first + n` of `qkv`,
    /// `dims.b` = 1, `dims.t` = n) against cached keys and values `[n_kv_head][max_len][d]` of
    /// positions `0..pos0 + n`; writes rows `first..first + n` of `out` `[rows][n_head * d]`
    /// and, if given, the probabilities into rows `pos0..` of `att` `[n_head][max_len][max_len]`.
    /// `invariant`: each row's output exactly as if it were fed alone.
    #[allow(clippy::too_many_arguments)]
    fn attention_cached(
        &self,
        out: &mut Self::Buf,
        att: Option<&mut Self::Buf>,
        qkv: &Self::Buf,
        first: usize,
        k: &Self::Buf,
        v: &Self::Buf,
        dims: Dims,
        pos0: usize,
        max_len: usize,
        invariant: bool,
    );

    /// Rotates the first `heads` heads of each `row`-wide row `r` in `rows` of `x` by RoPE at
    /// position `pos0 + (r - rows.start) % t` (tables `[pos][d/2]`); `inverse` rotates back
    /// (the backward pass).
    #[allow(clippy::too_many_arguments)]
    fn rope(
        &self,
        x: &mut Self::Buf,
        rows: std::ops::Range<usize>,
        cos: &Self::Buf,
        sin: &Self::Buf,
        heads: usize,
        d: usize,
        row: usize,
        t: usize,
        pos0: usize,
        inverse: bool,
    );

    fn gelu(&self, out: &mut Self::Buf, x: &Self::Buf);
    /// `dout *= gelu'(x)` in place.
    fn gelu_backward(&self, dout: &mut Self::Buf, x: &Self::Buf);
    /// `out = silu(gate) * up`.
    fn swiglu(&self, out: &mut Self::Buf, gate: &Self::Buf, up: &Self::Buf);
    /// Writes `dgate` and `dup`.
    fn swiglu_backward(
        &self,
        dgate: &mut Self::Buf,
        dup: &mut Self::Buf,
        dout: &Self::Buf,
        gate: &Self::Buf,
        up: &Self::Buf,
    );
    /// `out = a + b` (a residual connection).
    fn add(&self, out: &mut Self::Buf, a: &Self::Buf, b: &Self::Buf);

    /// Per-row log p(target) and log-sum-exp of `v` logits (`cpu::cross_entropy::IGNORE`
    /// targets give 0).
    fn cross_entropy(&self, logp: &mut Self::Buf, lse: &mut Self::Buf, logits: &Self::Buf, targets: &[u32], v: usize);
    /// Turns `logits` into `dlogp[r] * d logp[r] / d logits[r]` in place.
    fn cross_entropy_backward(&self, logits: &mut Self::Buf, lse: &Self::Buf, targets: &[u32], dlogp: &[f32], v: usize);
}
