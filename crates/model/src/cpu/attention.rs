//! Causal multi-head self-attention core (Vaswani et al. 2017), with grouped-query attention
//! (Ainslie et al. 2023): `softmax(q k^T / sqrt(d) + causal mask) v` per head, where query head
//! `h` reads key/value head `h / (n_head / n_kv_head)`. Scale, mask and softmax are fused; the
//! probabilities are kept for the backward pass (and for attention visualisations).
//!
//! `forward`/`backward` are the fast f32 path: per (sequence, head) the products run on gemm
//! and (sequence, key/value head) groups run in parallel on rayon; `forward_ref`/`backward_ref`
//! are plain loops over any float type, the finite-difference-checked reference the fast path
//! is tested against.
//!
//! Layout: q, k and v come fused, one `[b*t][n_head*d | n_kv_head*d | n_kv_head*d]` buffer as
//! the QKV projection writes it (no copies into separate buffers); out is `[b*t][n_head][d]`,
//! att `[b][n_head][t][t]` (entries above the diagonal stay 0).

use super::float::Float;
use super::linear::gemm_raw;
use super::simd::{self, multiversion};
use super::{attention_row, Shared};
use rayon::prelude::*;
use std::cell::RefCell;

/// Shapes of one attention call.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    pub b: usize,
    pub t: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub d: usize,
}

impl Dims {
    /// Width of one token's row of the fused `qkv` buffer: `[q heads | k heads | v heads]`.
    #[inline(always)]
    pub fn qkv_row(&self) -> usize {
        (self.n_head + 2 * self.n_kv_head) * self.d
    }
    #[inline(always)]
    fn q_at(&self, b: usize, t: usize, h: usize) -> usize {
        (b * self.t + t) * self.qkv_row() + h * self.d
    }
    #[inline(always)]
    fn k_at(&self, b: usize, t: usize, h: usize) -> usize {
        let kv = h / (self.n_head / self.n_kv_head);
        (b * self.t + t) * self.qkv_row() + (self.n_head + kv) * self.d
    }
    #[inline(always)]
    fn v_at(&self, b: usize, t: usize, h: usize) -> usize {
        self.k_at(b, t, h) + self.n_kv_head * self.d
    }
    #[inline(always)]
    fn out_at(&self, b: usize, t: usize, h: usize) -> usize {
        ((b * self.t + t) * self.n_head + h) * self.d
    }
    #[inline(always)]
    fn att_at(&self, b: usize, h: usize, t: usize) -> usize {
        ((b * self.n_head + h) * self.t + t) * self.t
    }
    fn check(&self, out: usize, att: usize, qkv: usize) {
        let rows = self.b * self.t;
        assert!(self.n_kv_head > 0 && self.n_head.is_multiple_of(self.n_kv_head));
        assert!(out >= rows * self.n_head * self.d && att >= self.b * self.n_head * self.t * self.t);
        assert!(qkv >= rows * self.qkv_row());
    }
}

#[inline(always)]
fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let mut s = T::default();
    for (x, y) in a.iter().zip(b) {
        s += *x * *y;
    }
    s
}

/// Fills `out` and the attention probabilities `att` (reference loops, any float type).
pub fn forward_ref<T: Float>(out: &mut [T], att: &mut [T], qkv: &[T], dims: Dims) {
    let Dims { b, t, n_head, d, .. } = dims;
    let scale = T::from_f64(1.0 / (d as f64).sqrt());
    for bi in 0..b {
        for h in 0..n_head {
            for ti in 0..t {
                let qi = &qkv[dims.q_at(bi, ti, h)..][..d];
                let row = &mut att[dims.att_at(bi, h, ti)..][..t];
                let mut max = T::from_f64(f64::NEG_INFINITY);
                for (tj, r) in row.iter_mut().enumerate().take(ti + 1) {
                    *r = dot(qi, &qkv[dims.k_at(bi, tj, h)..][..d]) * scale;
                    if *r > max {
                        max = *r;
                    }
                }
                let mut sum = T::default();
                for r in row.iter_mut().take(ti + 1) {
                    *r = (*r - max).exp();
                    sum += *r;
                }
                let inv = T::from_f64(1.0) / sum;
                let o = &mut out[dims.out_at(bi, ti, h)..][..d];
                o.fill(T::default());
                for (tj, r) in row.iter_mut().enumerate().take(ti + 1) {
                    *r = *r * inv;
                    for (oi, &vi) in o.iter_mut().zip(&qkv[dims.v_at(bi, tj, h)..][..d]) {
                        *oi += *r * vi;
                    }
                }
            }
        }
    }
}

/// Accumulates the gradients of `forward_ref` into `dqkv` (reference loops).
pub fn backward_ref<T: Float>(dqkv: &mut [T], dout: &[T], qkv: &[T], att: &[T], dims: Dims) {
    let Dims { b, t, n_head, d, .. } = dims;
    let scale = T::from_f64(1.0 / (d as f64).sqrt());
    for bi in 0..b {
        for h in 0..n_head {
            for ti in 0..t {
                let row = &att[dims.att_at(bi, h, ti)..][..t];
                let go = &dout[dims.out_at(bi, ti, h)..][..d];
                // d softmax: ds_j = p_j (dp_j - sum_k p_k dp_k), dp_j = dout . v_j.
                let mut sum = T::default();
                for (tj, &p) in row.iter().enumerate().take(ti + 1) {
                    sum += p * dot(go, &qkv[dims.v_at(bi, tj, h)..][..d]);
                }
                let qo = dims.q_at(bi, ti, h);
                for (tj, &p) in row.iter().enumerate().take(ti + 1) {
                    let (ko, vo) = (dims.k_at(bi, tj, h), dims.v_at(bi, tj, h));
                    let dp = dot(go, &qkv[vo..][..d]);
                    let ds = p * (dp - sum) * scale;
                    for i in 0..d {
                        dqkv[vo + i] += p * go[i];
                        dqkv[qo + i] += ds * qkv[ko + i];
                        dqkv[ko + i] += ds * qkv[qo + i];
                    }
                }
            }
        }
    }
}

thread_local! {
    /// Per-thread scratch for score matrices (grown once, reused every step).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch, at least `len` floats long.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        if scratch.len() < len {
            scratch.resize(len, 0.0);
        }
        f(&mut scratch[..len])
    })
}

/// Query rows per block: block `[r0, r1)` attends only to keys `0..r1`, so the products skip
/// the masked upper triangle in steps of this many rows (about 40% of the work at t = 256)
/// while each product stays large enough to run gemm at full speed.
const BLOCK: usize = 32;

/// The row blocks of a length-`t` sequence: `(r0, r1)`.
fn blocks(t: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..t).step_by(BLOCK).map(move |r0| (r0, (r0 + BLOCK).min(t)))
}

/// Fast f32 forward: same contract as `forward_ref`, except that `att` must hold zeros above
/// the diagonal on entry (a zero-filled buffer does: nothing ever writes there).
pub fn forward(out: &mut [f32], att: &mut [f32], qkv: &[f32], dims: Dims) {
    let Dims { b, t, n_head, d, .. } = dims;
    dims.check(out.len(), att.len(), qkv.len());
    let scale = 1.0 / (d as f32).sqrt();
    let (out_p, att_p) = (Shared(out.as_mut_ptr()), Shared(att.as_mut_ptr()));
    let (rs, out_rs) = (dims.qkv_row(), n_head * d);
    (0..b * n_head).into_par_iter().for_each(|task| {
        let (bi, h) = (task / n_head, task % n_head);
        let (qo, ko, vo, oo, ao) = (
            dims.q_at(bi, 0, h),
            dims.k_at(bi, 0, h),
            dims.v_at(bi, 0, h),
            dims.out_at(bi, 0, h),
            dims.att_at(bi, h, 0),
        );
        // SAFETY: task (bi, h) writes only its own att slab and its own head's columns of out;
        // dims.check bounds every index.
        unsafe {
            let a = att_p.get().add(ao);
            for (r0, r1) in blocks(t) {
                let m = r1 - r0;
                let a_blk = a.add(r0 * t);
                // S = Q K^T over the keys this block can see, then scaled, masked, normalised.
                let q = qkv.as_ptr().add(qo + r0 * rs);
                gemm_raw(m, r1, d, a_blk, t, false, q, (rs, 1), qkv.as_ptr().add(ko), (1, rs));
                // Only columns ..r1 are touched: the rest of the row is never written, so it
                // keeps the zeros the buffer was allocated with.
                for i in 0..m {
                    softmax_row(std::slice::from_raw_parts_mut(a_blk.add(i * t), r1), r0 + i + 1, scale);
                }
                // O = P V.
                let o = out_p.get().add(oo + r0 * out_rs);
                gemm_raw(m, d, r1, o, out_rs, false, a_blk, (t, 1), qkv.as_ptr().add(vo), (rs, 1));
            }
        }
    });
}

/// The queries of `n = dims.t` new positions `pos0..pos0 + n` (rows of `qkv`, one sequence)
/// against cached keys and values `[n_kv_head][max_len][d]` of positions `0..pos0 + n` (head
/// major, so decoding streams each head's keys from one contiguous block):
/// writes `out` `[n][n_head * d]` and, if given, the probabilities into rows `pos0..pos0 + n` of
/// `att` `[n_head][max_len][max_len]`. One gemm pair per head, so a long prompt prefills at
/// matrix-multiply speed; one position, or every position when `invariant`, goes through
/// `attention_row::attend` on its own, so its output does not depend on the rows fed beside it (gemm's
/// rounding changes with the row count).
#[allow(clippy::too_many_arguments)]
pub fn forward_cached(
    out: &mut [f32],
    att: Option<&mut [f32]>,
    qkv: &[f32],
    k: &[f32],
    v: &[f32],
    dims: Dims,
    pos0: usize,
    max_len: usize,
    invariant: bool,
) {
    let Dims { t: n, n_head, n_kv_head, d, .. } = dims;
    let total = pos0 + n;
    assert!(dims.b == 1 && total <= max_len && n_kv_head > 0 && n_head.is_multiple_of(n_kv_head));
    assert!(qkv.len() >= n * dims.qkv_row() && out.len() >= n * n_head * d);
    assert!(k.len() >= n_kv_head * max_len * d && v.len() >= n_kv_head * max_len * d);
    let att_p = att.map(|a| {
        assert!(a.len() >= n_head * max_len * max_len);
        Shared(a.as_mut_ptr())
    });
    let scale = 1.0 / (d as f32).sqrt();
    let (rs, out_rs) = (dims.qkv_row(), n_head * d);
    let out_p = Shared(out.as_mut_ptr());
    if n == 1 || invariant {
        return row_by_row(out, att_p, qkv, k, v, dims, pos0, max_len);
    }
    (0..n_head).into_par_iter().for_each(|h| {
        let kvh = h / (n_head / n_kv_head);
        with_scratch(n * total, |scratch| {
            let s = scratch.as_mut_ptr();
            // SAFETY: head h writes only its own columns of out and its own att slab; the
            // asserts above bound every index.
            unsafe {
                // S = Q K^T over every cached position, then masked (row i sees pos0 + i + 1).
                gemm_raw(
                    n,
                    total,
                    d,
                    s,
                    total,
                    false,
                    qkv.as_ptr().add(h * d),
                    (rs, 1),
                    k.as_ptr().add(kvh * max_len * d),
                    (1, d),
                );
                for i in 0..n {
                    softmax_row(std::slice::from_raw_parts_mut(s.add(i * total), total), pos0 + i + 1, scale);
                }
                // O = P V.
                gemm_raw(
                    n,
                    d,
                    total,
                    out_p.get().add(h * d),
                    out_rs,
                    false,
                    s,
                    (total, 1),
                    v.as_ptr().add(kvh * max_len * d),
                    (d, 1),
                );
                if let Some(a) = att_p {
                    for i in 0..n {
                        let dst = a.get().add((h * max_len + pos0 + i) * max_len);
                        std::ptr::copy_nonoverlapping(s.add(i * total), dst, total);
                    }
                }
            }
        });
    });
}

/// `forward_cached` one position and head at a time (decoding, or an invariant pass): dot
/// products with each cached key up to the position, softmax, and the weighted sum of cached
/// values, without the setup of a gemm call per head (which costs more than the arithmetic
/// for one position).
#[allow(clippy::too_many_arguments)]
fn row_by_row(
    out: &mut [f32],
    att: Option<Shared>,
    qkv: &[f32],
    k: &[f32],
    v: &[f32],
    dims: Dims,
    pos0: usize,
    max_len: usize,
) {
    let Dims { t: n, n_head, n_kv_head, d, .. } = dims;
    let (rs, group) = (dims.qkv_row(), n_head / n_kv_head);
    out[..n * n_head * d].par_chunks_mut(d).enumerate().for_each(|(ih, o)| {
        let (i, h) = (ih / n_head, ih % n_head);
        let (total, q, kv) = (pos0 + i + 1, &qkv[i * rs + h * d..][..d], (h / group) * max_len * d..);
        with_scratch(total, |p| {
            attention_row::attend(o, p, q, &k[kv.clone()][..total * d], &v[kv][..total * d]);
            if let Some(a) = att {
                // SAFETY: (i, h) writes only row pos0 + i of head h's att slab; callers size att.
                unsafe {
                    std::ptr::copy_nonoverlapping(p.as_ptr(), a.get().add((h * max_len + pos0 + i) * max_len), total)
                };
            }
        });
    });
}

multiversion! {
    /// `row[..live] = softmax(row[..live] * scale)`, `row[live..] = 0`.
    fn softmax_row<T: Float>(row: &mut [T], live: usize, scale: T) {
        let (head, tail) = row.split_at_mut(live);
        let max = simd::max(head) * scale;
        for x in head.iter_mut() {
            *x = (*x * scale - max).exp();
        }
        let inv = T::from_f64(1.0) / simd::sum_map(head, |x| x);
        head.iter_mut().for_each(|x| *x = *x * inv);
        tail.fill(T::default());
    }
}

multiversion! {
    /// d softmax: `ds[j] = p[j] (dp[j] - sum_k p[k] dp[k]) * scale` for `j < live`, 0 after.
    fn softmax_backward_row<T: Float>(ds: &mut [T], p: &[T], live: usize, scale: T) {
        let (head, tail) = ds.split_at_mut(live);
        let p = &p[..live];
        let sum = simd::dot(head, p);
        for (x, &pj) in head.iter_mut().zip(p) {
            *x = pj * (*x - sum) * scale;
        }
        tail.fill(T::default());
    }
}

/// Fast f32 backward: writes the gradient of `forward` into `dqkv` (every element of it).
pub fn backward(dqkv: &mut [f32], dout: &[f32], qkv: &[f32], att: &[f32], dims: Dims) {
    let Dims { b, t, n_head, n_kv_head, d } = dims;
    dims.check(dout.len(), att.len(), qkv.len());
    assert!(dqkv.len() >= b * t * dims.qkv_row());
    let scale = 1.0 / (d as f32).sqrt();
    let group = n_head / n_kv_head;
    let (rs, out_rs) = (dims.qkv_row(), n_head * d);
    let dqkv_p = Shared(dqkv.as_mut_ptr());
    // One task per (sequence, key/value head): the query heads that share it add into the same
    // dk and dv, so they run one after another inside the task.
    (0..b * n_kv_head).into_par_iter().for_each(|task| {
        let (bi, kvh) = (task / n_kv_head, task % n_kv_head);
        with_scratch(t * t, |scratch| {
            let ds = scratch.as_mut_ptr();
            // SAFETY: this task alone writes the dq columns of its group's heads and the dk/dv
            // columns of its key/value head, rows of sequence bi; dims.check bounds every index.
            unsafe {
                let dq = dqkv_p.get();
                // Clear this task's columns: everything below adds into them.
                for r in 0..t {
                    let h0 = kvh * group;
                    std::slice::from_raw_parts_mut(dq.add(dims.q_at(bi, r, h0)), group * d).fill(0.0);
                    std::slice::from_raw_parts_mut(dq.add(dims.k_at(bi, r, h0)), d).fill(0.0);
                    std::slice::from_raw_parts_mut(dq.add(dims.v_at(bi, r, h0)), d).fill(0.0);
                }
                for h in kvh * group..(kvh + 1) * group {
                    let (qo, ko, vo) = (dims.q_at(bi, 0, h), dims.k_at(bi, 0, h), dims.v_at(bi, 0, h));
                    let (oo, ao) = (dims.out_at(bi, 0, h), dims.att_at(bi, h, 0));
                    let p = att.as_ptr().add(ao);
                    for (r0, r1) in blocks(t) {
                        let m = r1 - r0;
                        let (ds_blk, p_blk, go) = (ds.add(r0 * t), p.add(r0 * t), dout.as_ptr().add(oo + r0 * out_rs));
                        // dP = dO V^T.
                        gemm_raw(m, r1, d, ds_blk, t, false, go, (out_rs, 1), qkv.as_ptr().add(vo), (1, rs));
                        // dS = P * (dP - rowsum(P * dP)) * scale, causal part only.
                        for i in 0..m {
                            let row = std::slice::from_raw_parts_mut(ds_blk.add(i * t), r1);
                            softmax_backward_row(
                                row,
                                std::slice::from_raw_parts(p_blk.add(i * t), r1),
                                r0 + i + 1,
                                scale,
                            );
                        }
                        // dQ += dS K; dK += dS^T Q; dV += P^T dO.
                        let q = qkv.as_ptr().add(qo + r0 * rs);
                        gemm_raw(
                            m,
                            d,
                            r1,
                            dq.add(qo + r0 * rs),
                            rs,
                            true,
                            ds_blk,
                            (t, 1),
                            qkv.as_ptr().add(ko),
                            (rs, 1),
                        );
                        gemm_raw(r1, d, m, dq.add(ko), rs, true, ds_blk, (1, t), q, (rs, 1));
                        gemm_raw(r1, d, m, dq.add(vo), rs, true, p_blk, (1, t), go, (out_rs, 1));
                    }
                }
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check, random};

    fn sizes(dims: Dims) -> (usize, usize, usize) {
        let Dims { b, t, n_head, d, .. } = dims;
        (b * t * dims.qkv_row(), b * t * n_head * d, b * n_head * t * t)
    }

    fn run(dims: Dims) {
        let (nqkv, nout, na) = sizes(dims);
        let (qkv, dout) = (random(nqkv, 17), random(nout, 20));
        let loss = |qkv: &[f64]| {
            let (mut out, mut att) = (vec![0.0; nout], vec![0.0; na]);
            forward_ref(&mut out, &mut att, qkv, dims);
            out.iter().zip(&dout).map(|(a, b)| a * b).sum::<f64>()
        };
        let (mut out, mut att) = (vec![0.0; nout], vec![0.0; na]);
        forward_ref(&mut out, &mut att, &qkv, dims);
        // Rows are distributions over the causal window.
        for row in att.chunks(dims.t).take(dims.t) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let mut dqkv = vec![0.0; nqkv];
        backward_ref(&mut dqkv, &dout, &qkv, &att, dims);
        check("attention dqkv", &qkv, &dqkv, loss);
    }

    #[test]
    fn fast_path_equals_reference() {
        for dims in [
            Dims { b: 2, t: 5, n_head: 2, n_kv_head: 2, d: 3 },
            Dims { b: 1, t: 33, n_head: 4, n_kv_head: 1, d: 8 },
            Dims { b: 3, t: 17, n_head: 6, n_kv_head: 3, d: 16 },
            Dims { b: 2, t: 75, n_head: 2, n_kv_head: 1, d: 4 },
        ] {
            let (nqkv, nout, na) = sizes(dims);
            let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
            let (qkv, dout) = (f(random(nqkv, 31)), f(random(nout, 34)));
            let (mut out, mut att, mut out2, mut att2) =
                (vec![f32::NAN; nout], vec![0f32; na], vec![0f32; nout], vec![0f32; na]);
            forward(&mut out, &mut att, &qkv, dims);
            forward_ref(&mut out2, &mut att2, &qkv, dims);
            let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()));
            assert!(close(&out, &out2) && close(&att, &att2), "forward {dims:?}");
            // The fast path writes every element of dqkv; the reference adds into zeros.
            let (mut dqkv, mut dqkv2) = (vec![f32::NAN; nqkv], vec![0f32; nqkv]);
            backward(&mut dqkv, &dout, &qkv, &att, dims);
            backward_ref(&mut dqkv2, &dout, &qkv, &att2, dims);
            assert!(close(&dqkv, &dqkv2), "backward {dims:?}");
        }
    }

    #[test]
    fn cached_attention_equals_the_full_pass() {
        // Feed a sequence in pieces (3 rows, then 1, then 1, then 4) through a cache; every
        // row's output and probabilities must equal the full causal pass, and an invariant
        // pass's rows must be bit for bit those fed one at a time. Head sizes 8 and 24
        // decode on the portable kernel, 16 and 64 on AVX-512 where the CPU has it, 64 and
        // 128 on AVX2's where that is the best it has.
        for (d, n_kv_head) in [(8, 2), (16, 2), (24, 4), (64, 1), (128, 2)] {
            let full = Dims { b: 1, t: 9, n_head: 4, n_kv_head, d };
            let (nqkv, nout, na) = sizes(full);
            let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
            let qkv = f(random(nqkv, 41));
            let (mut out, mut att) = (vec![0f32; nout], vec![0f32; na]);
            forward(&mut out, &mut att, &qkv, full);
            let (t, row, kv) = (full.t, full.qkv_row(), full.n_kv_head * d);
            let (mut kc, mut vc) = (vec![0f32; t * kv], vec![0f32; t * kv]);
            let (mut out2, mut att2) = (vec![0f32; nout], vec![0f32; na]);
            let mut pos0 = 0;
            for n in [3, 1, 1, 4] {
                let rows = &qkv[pos0 * row..(pos0 + n) * row];
                // The cache is head-major: [n_kv_head][t][d].
                for (i, r) in rows.chunks(row).enumerate() {
                    for h in 0..n_kv_head {
                        let (at, from) = ((h * t + pos0 + i) * d, full.n_head * d + h * d);
                        kc[at..][..d].copy_from_slice(&r[from..][..d]);
                        vc[at..][..d].copy_from_slice(&r[from + kv..][..d]);
                    }
                }
                let dims = Dims { t: n, ..full };
                let o = &mut out2[pos0 * full.n_head * d..];
                forward_cached(o, Some(&mut att2), rows, &kc, &vc, dims, pos0, t, false);
                // Invariant: each row exactly as when it is fed alone.
                let (mut o3, mut att3) = (vec![0f32; n * full.n_head * d], vec![0f32; na]);
                forward_cached(&mut o3, Some(&mut att3), rows, &kc, &vc, dims, pos0, t, true);
                for i in 0..n {
                    let mut o1 = vec![0f32; full.n_head * d];
                    let one = Dims { t: 1, ..full };
                    forward_cached(&mut o1, None, &rows[i * row..], &kc, &vc, one, pos0 + i, t, false);
                    assert_eq!(o1, o3[i * full.n_head * d..][..full.n_head * d], "d {d} row {}", pos0 + i);
                }
                pos0 += n;
            }
            let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()));
            assert!(close(&out, &out2) && close(&att, &att2), "d {d}");
        }
    }

    #[test]
    fn multi_head_backward_matches_finite_differences() {
        run(Dims { b: 2, t: 4, n_head: 2, n_kv_head: 2, d: 3 });
    }

    #[test]
    fn grouped_query_backward_matches_finite_differences() {
        run(Dims { b: 1, t: 5, n_head: 4, n_kv_head: 2, d: 2 });
        run(Dims { b: 1, t: 3, n_head: 3, n_kv_head: 1, d: 5 });
    }

    #[test]
    fn first_position_attends_only_to_itself() {
        let dims = Dims { b: 1, t: 2, n_head: 1, n_kv_head: 1, d: 2 };
        // Rows: [q | k | v] for positions 0 and 1.
        let qkv = [1.0f32, 0.0, 0.3, 0.1, 7.0, 8.0, 0.5, 0.5, 0.2, 0.9, 1.0, 2.0];
        let (mut out, mut att) = ([0f32; 4], [0f32; 4]);
        forward_ref(&mut out, &mut att, &qkv, dims);
        assert_eq!(&out[..2], &[7.0, 8.0]);
        assert_eq!(att[1], 0.0);
    }
}
