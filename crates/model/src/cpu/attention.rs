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
//! Layout: q and out are `[b*t][n_head][d]`, k and v `[b*t][n_kv_head][d]`, att
//! `[b][n_head][t][t]` (entries above the diagonal stay 0).

use super::float::Float;
use super::linear::gemm_raw;
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
    #[inline(always)]
    fn q_at(&self, b: usize, t: usize, h: usize) -> usize {
        ((b * self.t + t) * self.n_head + h) * self.d
    }
    #[inline(always)]
    fn kv_at(&self, b: usize, t: usize, h: usize) -> usize {
        let kv = h / (self.n_head / self.n_kv_head);
        ((b * self.t + t) * self.n_kv_head + kv) * self.d
    }
    #[inline(always)]
    fn att_at(&self, b: usize, h: usize, t: usize) -> usize {
        ((b * self.n_head + h) * self.t + t) * self.t
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
pub fn forward_ref<T: Float>(out: &mut [T], att: &mut [T], q: &[T], k: &[T], v: &[T], dims: Dims) {
    let Dims { b, t, n_head, d, .. } = dims;
    let scale = T::from_f64(1.0 / (d as f64).sqrt());
    for bi in 0..b {
        for h in 0..n_head {
            for ti in 0..t {
                let qi = &q[dims.q_at(bi, ti, h)..][..d];
                let row = &mut att[dims.att_at(bi, h, ti)..][..t];
                let mut max = T::from_f64(f64::NEG_INFINITY);
                for (tj, r) in row.iter_mut().enumerate().take(ti + 1) {
                    *r = dot(qi, &k[dims.kv_at(bi, tj, h)..][..d]) * scale;
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
                let o = &mut out[dims.q_at(bi, ti, h)..][..d];
                o.fill(T::default());
                for (tj, r) in row.iter_mut().enumerate().take(ti + 1) {
                    *r = *r * inv;
                    for (oi, &vi) in o.iter_mut().zip(&v[dims.kv_at(bi, tj, h)..][..d]) {
                        *oi += *r * vi;
                    }
                }
            }
        }
    }
}

/// Accumulates the gradients of `forward_ref` into `dq`, `dk` and `dv` (reference loops).
pub fn backward_ref<T: Float>(
    dq: &mut [T],
    dk: &mut [T],
    dv: &mut [T],
    dout: &[T],
    q: &[T],
    k: &[T],
    v: &[T],
    att: &[T],
    dims: Dims,
) {
    let Dims { b, t, n_head, d, .. } = dims;
    let scale = T::from_f64(1.0 / (d as f64).sqrt());
    for bi in 0..b {
        for h in 0..n_head {
            for ti in 0..t {
                let row = &att[dims.att_at(bi, h, ti)..][..t];
                let go = &dout[dims.q_at(bi, ti, h)..][..d];
                // d softmax: ds_j = p_j (dp_j - sum_k p_k dp_k), dp_j = dout . v_j.
                let mut sum = T::default();
                for (tj, &p) in row.iter().enumerate().take(ti + 1) {
                    sum += p * dot(go, &v[dims.kv_at(bi, tj, h)..][..d]);
                }
                let qo = dims.q_at(bi, ti, h);
                for (tj, &p) in row.iter().enumerate().take(ti + 1) {
                    let kvo = dims.kv_at(bi, tj, h);
                    let dp = dot(go, &v[kvo..][..d]);
                    let ds = p * (dp - sum) * scale;
                    for i in 0..d {
                        dv[kvo + i] += p * go[i];
                        dq[qo + i] += ds * k[kvo + i];
                        dk[kvo + i] += ds * q[qo + i];
                    }
                }
            }
        }
    }
}

/// A pointer that may cross threads: each rayon task writes a disjoint part of the buffer.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// Through a method, so closures capture the whole `Shared` (not its raw-pointer field).
    fn get(self) -> *mut f32 {
        self.0
    }
}

thread_local! {
    /// Per-thread `[t][t]` scratch for the backward pass (grown once, reused every step).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Fast f32 forward: same contract as `forward_ref`.
pub fn forward(out: &mut [f32], att: &mut [f32], q: &[f32], k: &[f32], v: &[f32], dims: Dims) {
    let Dims { b, t, n_head, n_kv_head, d } = dims;
    assert!(out.len() >= b * t * n_head * d && att.len() >= b * n_head * t * t);
    assert!(q.len() >= b * t * n_head * d && k.len() >= b * t * n_kv_head * d && v.len() >= b * t * n_kv_head * d);
    let scale = 1.0 / (d as f32).sqrt();
    let (out_p, att_p) = (Shared(out.as_mut_ptr()), Shared(att.as_mut_ptr()));
    (0..b * n_head).into_par_iter().for_each(|task| {
        let (bi, h) = (task / n_head, task % n_head);
        let (qo, kvo, ao) = (dims.q_at(bi, 0, h), dims.kv_at(bi, 0, h), dims.att_at(bi, h, 0));
        let (q_rs, kv_rs) = (n_head * d, n_kv_head * d);
        // SAFETY: task (bi, h) writes only its own att slab and its own head's columns of out;
        // the asserts above bound every index.
        unsafe {
            let a = att_p.get().add(ao);
            // S = Q K^T (then scaled, masked and normalised row by row).
            gemm_raw(t, t, d, a, t, false, q.as_ptr().add(qo), (q_rs, 1), k.as_ptr().add(kvo), (1, kv_rs));
            let rows = std::slice::from_raw_parts_mut(a, t * t);
            for (i, row) in rows.chunks_exact_mut(t).enumerate() {
                let live = &mut row[..=i];
                let max = live.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)) * scale;
                let mut sum = 0.0;
                for x in live.iter_mut() {
                    *x = (*x * scale - max).exp();
                    sum += *x;
                }
                let inv = 1.0 / sum;
                live.iter_mut().for_each(|x| *x *= inv);
                row[i + 1..].fill(0.0);
            }
            // O = P V.
            gemm_raw(t, d, t, out_p.get().add(qo), q_rs, false, a, (t, 1), v.as_ptr().add(kvo), (kv_rs, 1));
        }
    });
}

/// Fast f32 backward: same contract as `backward_ref` (accumulates into dq, dk, dv).
#[allow(clippy::too_many_arguments)]
pub fn backward(
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    dout: &[f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    att: &[f32],
    dims: Dims,
) {
    let Dims { b, t, n_head, n_kv_head, d } = dims;
    assert!(dq.len() >= b * t * n_head * d && dout.len() >= b * t * n_head * d && att.len() >= b * n_head * t * t);
    assert!(dk.len() >= b * t * n_kv_head * d && dv.len() >= b * t * n_kv_head * d && q.len() >= dq.len().min(q.len()));
    let scale = 1.0 / (d as f32).sqrt();
    let group = n_head / n_kv_head;
    let (dq_p, dk_p, dv_p) = (Shared(dq.as_mut_ptr()), Shared(dk.as_mut_ptr()), Shared(dv.as_mut_ptr()));
    // One task per (sequence, key/value head): the query heads that share it add into the same
    // dk and dv, so they run one after another inside the task.
    (0..b * n_kv_head).into_par_iter().for_each(|task| {
        let (bi, kvh) = (task / n_kv_head, task % n_kv_head);
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            if scratch.len() < t * t {
                scratch.resize(t * t, 0.0);
            }
            let ds = scratch.as_mut_ptr();
            let (q_rs, kv_rs) = (n_head * d, n_kv_head * d);
            for h in kvh * group..(kvh + 1) * group {
                let (qo, kvo, ao) = (dims.q_at(bi, 0, h), dims.kv_at(bi, 0, h), dims.att_at(bi, h, 0));
                // SAFETY: this task alone writes dq for heads of its group and dk/dv for its
                // key/value head; the asserts above bound every index.
                unsafe {
                    let p = att.as_ptr().add(ao);
                    // dP = dO V^T.
                    gemm_raw(t, t, d, ds, t, false, dout.as_ptr().add(qo), (q_rs, 1), v.as_ptr().add(kvo), (1, kv_rs));
                    // dS = P * (dP - rowsum(P * dP)) * scale, causal part only.
                    let (dsr, pr) = (std::slice::from_raw_parts_mut(ds, t * t), std::slice::from_raw_parts(p, t * t));
                    for i in 0..t {
                        let (drow, prow) = (&mut dsr[i * t..(i + 1) * t], &pr[i * t..(i + 1) * t]);
                        let sum: f32 = drow[..=i].iter().zip(&prow[..=i]).map(|(a, b)| a * b).sum();
                        for j in 0..=i {
                            drow[j] = prow[j] * (drow[j] - sum) * scale;
                        }
                        drow[i + 1..].fill(0.0);
                    }
                    // dQ += dS K; dK += dS^T Q; dV += P^T dO.
                    gemm_raw(t, d, t, dq_p.get().add(qo), q_rs, true, ds, (t, 1), k.as_ptr().add(kvo), (kv_rs, 1));
                    gemm_raw(t, d, t, dk_p.get().add(kvo), kv_rs, true, ds, (1, t), q.as_ptr().add(qo), (q_rs, 1));
                    gemm_raw(t, d, t, dv_p.get().add(kvo), kv_rs, true, p, (1, t), dout.as_ptr().add(qo), (q_rs, 1));
                }
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check, random};

    fn run(dims: Dims) {
        let Dims { b, t, n_head, n_kv_head, d } = dims;
        let (nq, nkv) = (b * t * n_head * d, b * t * n_kv_head * d);
        let (q, k, v, dout) = (random(nq, 17), random(nkv, 18), random(nkv, 19), random(nq, 20));
        let loss = |q: &[f64], k: &[f64], v: &[f64]| {
            let (mut out, mut att) = (vec![0.0; nq], vec![0.0; b * n_head * t * t]);
            forward_ref(&mut out, &mut att, q, k, v, dims);
            out.iter().zip(&dout).map(|(a, b)| a * b).sum::<f64>()
        };
        let (mut out, mut att) = (vec![0.0; nq], vec![0.0; b * n_head * t * t]);
        forward_ref(&mut out, &mut att, &q, &k, &v, dims);
        // Rows are distributions over the causal window.
        for row in att.chunks(t).take(t) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let (mut dq, mut dk, mut dv) = (vec![0.0; nq], vec![0.0; nkv], vec![0.0; nkv]);
        backward_ref(&mut dq, &mut dk, &mut dv, &dout, &q, &k, &v, &att, dims);
        check("attention dq", &q, &dq, |q| loss(q, &k, &v));
        check("attention dk", &k, &dk, |k| loss(&q, k, &v));
        check("attention dv", &v, &dv, |v| loss(&q, &k, v));
    }

    #[test]
    fn fast_path_equals_reference() {
        for dims in [
            Dims { b: 2, t: 5, n_head: 2, n_kv_head: 2, d: 3 },
            Dims { b: 1, t: 33, n_head: 4, n_kv_head: 1, d: 8 },
            Dims { b: 3, t: 17, n_head: 6, n_kv_head: 3, d: 16 },
        ] {
            let Dims { b, t, n_head, n_kv_head, d } = dims;
            let (nq, nkv, na) = (b * t * n_head * d, b * t * n_kv_head * d, b * n_head * t * t);
            let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
            let (q, k, v, dout) = (f(random(nq, 31)), f(random(nkv, 32)), f(random(nkv, 33)), f(random(nq, 34)));
            let (mut out, mut att, mut out2, mut att2) =
                (vec![0f32; nq], vec![1f32; na], vec![0f32; nq], vec![0f32; na]);
            forward(&mut out, &mut att, &q, &k, &v, dims);
            forward_ref(&mut out2, &mut att2, &q, &k, &v, dims);
            let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()));
            assert!(close(&out, &out2) && close(&att, &att2), "forward {dims:?}");
            let grads = || (vec![0.5f32; nq], vec![0.25f32; nkv], vec![-1f32; nkv]);
            let ((mut dq, mut dk, mut dv), (mut dq2, mut dk2, mut dv2)) = (grads(), grads());
            backward(&mut dq, &mut dk, &mut dv, &dout, &q, &k, &v, &att, dims);
            backward_ref(&mut dq2, &mut dk2, &mut dv2, &dout, &q, &k, &v, &att2, dims);
            assert!(close(&dq, &dq2) && close(&dk, &dk2) && close(&dv, &dv2), "backward {dims:?}");
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
        let (q, k, v) = ([1.0f32, 0.0, 0.5, 0.5], [0.3f32, 0.1, 0.2, 0.9], [7.0f32, 8.0, 1.0, 2.0]);
        let (mut out, mut att) = ([0f32; 4], [0f32; 4]);
        forward_ref(&mut out, &mut att, &q, &k, &v, dims);
        assert_eq!(&out[..2], &[7.0, 8.0]);
        assert_eq!(att[1], 0.0);
    }
}
