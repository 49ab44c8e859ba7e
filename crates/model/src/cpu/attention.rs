//! Causal multi-head self-attention core (Vaswani et al. 2017), with grouped-query attention
//! (Ainslie et al. 2023): `softmax(q k^T / sqrt(d) + causal mask) v` per head, where query head
//! `h` reads key/value head `h / (n_head / n_kv_head)`. Scale, mask and softmax are fused; the
//! probabilities are kept for the backward pass (and for attention visualisations).
//!
//! Layout: q and out are `[b*t][n_head][d]`, k and v `[b*t][n_kv_head][d]`, att
//! `[b][n_head][t][t]` (entries above the diagonal stay 0).

use super::float::Float;

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

/// Fills `out` and the attention probabilities `att`.
pub fn forward<T: Float>(out: &mut [T], att: &mut [T], q: &[T], k: &[T], v: &[T], dims: Dims) {
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

/// Accumulates the gradients of `forward` into `dq`, `dk` and `dv`.
pub fn backward<T: Float>(
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
            forward(&mut out, &mut att, q, k, v, dims);
            out.iter().zip(&dout).map(|(a, b)| a * b).sum::<f64>()
        };
        let (mut out, mut att) = (vec![0.0; nq], vec![0.0; b * n_head * t * t]);
        forward(&mut out, &mut att, &q, &k, &v, dims);
        // Rows are distributions over the causal window.
        for row in att.chunks(t).take(t) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let (mut dq, mut dk, mut dv) = (vec![0.0; nq], vec![0.0; nkv], vec![0.0; nkv]);
        backward(&mut dq, &mut dk, &mut dv, &dout, &q, &k, &v, &att, dims);
        check("attention dq", &q, &dq, |q| loss(q, &k, &v));
        check("attention dk", &k, &dk, |k| loss(&q, k, &v));
        check("attention dv", &v, &dv, |v| loss(&q, &k, v));
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
        forward(&mut out, &mut att, &q, &k, &v, dims);
        assert_eq!(&out[..2], &[7.0, 8.0]);
        assert_eq!(att[1], 0.0);
    }
}
