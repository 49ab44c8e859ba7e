//! `Cpu`: the `Backend` of this crate's kernels, on host `Vec<f32>` buffers.

use super::attention::{self, Dims};
use super::linear::{self, Dst};
use super::{cross_entropy, gelu, huge_pages, layer_norm, linear_bf16, linear_rows, rms_norm, rope, swiglu};
use crate::backend::{Backend, MatrixAt};
use rayon::prelude::*;

/// The CPU backend: rayon threads, gemm for products, vectorised elementwise kernels.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu;

/// Two disjoint mutable parts of `g`, given as (offset, length), in either order.
fn two_mut(g: &mut [f32], (a, la): (usize, usize), (b, lb): (usize, usize)) -> (&mut [f32], &mut [f32]) {
    if a < b {
        assert!(a + la <= b, "parameters overlap");
        let (left, right) = g.split_at_mut(b);
        (&mut left[a..a + la], &mut right[..lb])
    } else {
        let (y, x) = two_mut(g, (b, lb), (a, la));
        (x, y)
    }
}

/// A decoding pass's products (a prompt's rows, or a batch of sequences' next rows) with at
/// most this many rows run the f32 row kernel where there is no bf16 copy; more run gemm. The
/// row kernel is ahead of gemm up to about 64 rows and level beyond (`bench/src/rows.rs`, 2
/// threads, a decoding step's products: 124M 16 rows 47 against 88 ms, 48 rows 121 against 155,
/// 96 rows 240 against 211). The bf16 kernel is ahead at every row count measured (1.2-4x up to
/// 256 rows), so a packed model runs it for every row count.
const ROW_KERNEL_ROWS: usize = 64;

impl Backend for Cpu {
    type Buf = Vec<f32>;
    type Packed = Vec<u16>;

    fn in_pool<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        // `scope` runs its closure on a pool thread (measured: tiny-model decode 1.1k -> 2.3k
        // tokens/s, bench/generate.sh).
        rayon::scope(|_| f())
    }

    fn zeros(&self, len: usize) -> Vec<f32> {
        huge_pages::zeroed(len)
    }

    fn upload(&self, data: &[f32]) -> Vec<f32> {
        let mut buf = huge_pages::zeroed(data.len());
        buf.copy_from_slice(data);
        buf
    }

    fn upload_vec(&self, data: Vec<f32>) -> Vec<f32> {
        data
    }

    fn download(&self, buf: &Vec<f32>) -> Vec<f32> {
        buf.clone()
    }

    fn len(&self, buf: &Vec<f32>) -> usize {
        buf.len()
    }

    fn fill(&self, buf: &mut Vec<f32>, value: f32) {
        buf.par_chunks_mut(1 << 16).for_each(|c| c.fill(value));
    }

    fn copy_rows(
        &self,
        dst: &mut Vec<f32>,
        at: (usize, usize),
        src: &Vec<f32>,
        from: (usize, usize),
        rows: usize,
        width: usize,
    ) {
        for r in 0..rows {
            dst[at.0 + r * at.1..][..width].copy_from_slice(&src[from.0 + r * from.1..][..width]);
        }
    }

    fn embed(
        &self,
        out: &mut Vec<f32>,
        first: usize,
        ids: &[u32],
        w: &Vec<f32>,
        table: usize,
        pos: Option<usize>,
        t: usize,
        c: usize,
    ) {
        out[first * c..].par_chunks_exact_mut(c).zip(ids.par_iter()).enumerate().for_each(|(r, (x, &id))| {
            x.copy_from_slice(&w[table + id as usize * c..][..c]);
            if let Some(pos) = pos {
                x.iter_mut().zip(&w[pos + (r % t) * c..][..c]).for_each(|(x, p)| *x += p);
            }
        });
    }

    fn embed_backward(
        &self,
        g: &mut Vec<f32>,
        table: usize,
        pos: Option<usize>,
        ids: &[u32],
        dout: &Vec<f32>,
        t: usize,
        c: usize,
    ) {
        // Serial: rows with the same id add into the same gradient row.
        for (r, (&id, dr)) in ids.iter().zip(dout.chunks_exact(c)).enumerate() {
            g[table + id as usize * c..][..c].iter_mut().zip(dr).for_each(|(gi, x)| *gi += x);
            if let Some(pos) = pos {
                g[pos + (r % t) * c..][..c].iter_mut().zip(dr).for_each(|(gi, x)| *gi += x);
            }
        }
    }

    fn layer_norm(
        &self,
        out: &mut Vec<f32>,
        mean: &mut Vec<f32>,
        rstd: &mut Vec<f32>,
        x: &Vec<f32>,
        w: &Vec<f32>,
        (wo, bo): (usize, usize),
        c: usize,
        eps: f32,
    ) {
        layer_norm::forward(out, mean, rstd, x, &w[wo..][..c], &w[bo..][..c], c, eps);
    }

    fn layer_norm_backward(
        &self,
        dx: &mut Vec<f32>,
        g: &mut Vec<f32>,
        (wo, bo): (usize, usize),
        dout: &Vec<f32>,
        x: &Vec<f32>,
        w: &Vec<f32>,
        mean: &Vec<f32>,
        rstd: &Vec<f32>,
        c: usize,
    ) {
        let (gw, gb) = two_mut(g, (wo, c), (bo, c));
        layer_norm::backward(dx, gw, gb, dout, x, &w[wo..][..c], mean, rstd, c);
    }

    fn rms_norm(
        &self,
        out: &mut Vec<f32>,
        rstd: &mut Vec<f32>,
        x: &Vec<f32>,
        w: &Vec<f32>,
        weight: usize,
        c: usize,
        eps: f32,
    ) {
        rms_norm::forward(out, rstd, x, &w[weight..][..c], c, eps);
    }

    fn rms_norm_backward(
        &self,
        dx: &mut Vec<f32>,
        g: &mut Vec<f32>,
        weight: usize,
        dout: &Vec<f32>,
        x: &Vec<f32>,
        w: &Vec<f32>,
        rstd: &Vec<f32>,
        c: usize,
    ) {
        rms_norm::backward(dx, &mut g[weight..][..c], dout, x, &w[weight..][..c], rstd, c);
    }

    fn linear(
        &self,
        out: &mut Vec<f32>,
        inp: &Vec<f32>,
        w: &Vec<f32>,
        weight: usize,
        bias: Option<usize>,
        n: usize,
        c: usize,
        oc: usize,
    ) {
        linear::forward(out, inp, &w[weight..][..oc * c], bias.map(|b| &w[b..][..oc]), n, c, oc);
    }

    fn pack(&self, w: &Vec<f32>, matrices: &[MatrixAt]) -> Vec<u16> {
        let mut packed: Vec<u16> = huge_pages::zeroed(w.len());
        packed.par_iter_mut().zip(w.par_iter()).for_each(|(p, &x)| *p = linear_bf16::to_bf16(x));
        for &MatrixAt { offset, c, oc } in matrices {
            linear_bf16::pack(&mut packed[offset..][..oc * c], &w[offset..][..oc * c], c, oc);
        }
        packed
    }

    fn linear_decode(
        &self,
        out: &mut Vec<f32>,
        inp: &Vec<f32>,
        rows: std::ops::Range<usize>,
        invariant: bool,
        packed: Option<&Vec<u16>>,
        w: &Vec<f32>,
        weight: usize,
        bias: Option<usize>,
        c: usize,
        oc: usize,
    ) {
        let n = rows.len();
        let (out, inp) = (&mut out[rows.start * oc..rows.end * oc], &inp[rows.start * c..rows.end * c]);
        let bias = bias.map(|b| &w[b..][..oc]);
        match (packed, invariant) {
            // The bf16 kernel computes every row alike at any row count.
            (Some(p), _) => linear_bf16::forward(out, inp, &p[weight..][..oc * c], bias, n, c, oc),
            // The row kernel: every row alike at any row count, and ahead of gemm up to
            // `ROW_KERNEL_ROWS`.
            (None, invariant) if invariant || n <= ROW_KERNEL_ROWS => {
                // `w` holds every weight: if they all fit in cache, this step's are still there.
                let cached = linear_rows::fits_in_cache(w.len() * 4);
                linear_rows::forward(out, inp, &w[weight..][..oc * c], bias, n, c, oc, cached)
            }
            _ => linear::forward(out, inp, &w[weight..][..oc * c], bias, n, c, oc),
        }
    }

    fn linear_backward(
        &self,
        dinp: &mut Vec<f32>,
        mode: Dst,
        g: &mut Vec<f32>,
        weight: usize,
        bias: Option<usize>,
        dout: &Vec<f32>,
        inp: &Vec<f32>,
        w: &Vec<f32>,
        n: usize,
        c: usize,
        oc: usize,
    ) {
        let wt = &w[weight..][..oc * c];
        match bias {
            Some(b) => {
                let (gw, gb) = two_mut(g, (weight, oc * c), (b, oc));
                linear::backward(dinp, mode, gw, Some(gb), dout, inp, wt, n, c, oc);
            }
            None => linear::backward(dinp, mode, &mut g[weight..][..oc * c], None, dout, inp, wt, n, c, oc),
        }
    }

    fn attention(&self, out: &mut Vec<f32>, att: &mut Vec<f32>, qkv: &Vec<f32>, dims: Dims) {
        attention::forward(out, att, qkv, dims);
    }

    fn attention_backward(&self, dqkv: &mut Vec<f32>, dout: &Vec<f32>, qkv: &Vec<f32>, att: &Vec<f32>, dims: Dims) {
        attention::backward(dqkv, dout, qkv, att, dims);
    }

    fn attention_cached(
        &self,
        out: &mut Vec<f32>,
        att: Option<&mut Vec<f32>>,
        qkv: &Vec<f32>,
        first: usize,
        k: &Vec<f32>,
        v: &Vec<f32>,
        dims: Dims,
        pos0: usize,
        max_len: usize,
        invariant: bool,
    ) {
        let (out, qkv) = (&mut out[first * dims.n_head * dims.d..], &qkv[first * dims.qkv_row()..]);
        attention::forward_cached(out, att.map(|a| a.as_mut_slice()), qkv, k, v, dims, pos0, max_len, invariant);
    }

    fn rope(
        &self,
        x: &mut Vec<f32>,
        rows: std::ops::Range<usize>,
        cos: &Vec<f32>,
        sin: &Vec<f32>,
        heads: usize,
        d: usize,
        row: usize,
        t: usize,
        pos0: usize,
        inverse: bool,
    ) {
        let x = &mut x[rows.start * row..rows.end * row];
        rope::rotate(x, cos, sin, heads, d, row, t, pos0, if inverse { -1.0 } else { 1.0 });
    }

    fn gelu(&self, out: &mut Vec<f32>, x: &Vec<f32>) {
        gelu::forward(out, x);
    }

    fn gelu_backward(&self, dout: &mut Vec<f32>, x: &Vec<f32>) {
        gelu::backward(dout, x);
    }

    fn swiglu(&self, out: &mut Vec<f32>, gate: &Vec<f32>, up: &Vec<f32>) {
        swiglu::forward(out, gate, up);
    }

    fn swiglu_backward(
        &self,
        dgate: &mut Vec<f32>,
        dup: &mut Vec<f32>,
        dout: &Vec<f32>,
        gate: &Vec<f32>,
        up: &Vec<f32>,
    ) {
        swiglu::backward(dgate, dup, dout, gate, up);
    }

    fn add(&self, out: &mut Vec<f32>, a: &Vec<f32>, b: &Vec<f32>) {
        const CHUNK: usize = 1 << 14;
        out.par_chunks_mut(CHUNK).zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK))).for_each(|(o, (a, b))| {
            o.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (a, b))| *o = a + b);
        });
    }

    fn cross_entropy(&self, logp: &mut Vec<f32>, lse: &mut Vec<f32>, logits: &Vec<f32>, targets: &[u32], v: usize) {
        cross_entropy::forward(logp, lse, logits, targets, v);
    }

    fn cross_entropy_backward(&self, logits: &mut Vec<f32>, lse: &Vec<f32>, targets: &[u32], dlogp: &[f32], v: usize) {
        cross_entropy::backward(logits, lse, targets, dlogp, v);
    }
}
