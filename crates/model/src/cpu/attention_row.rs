//! One query row's attention over a sequence's cached keys and values: what a decoding step
//! (and the server's row-invariant pass) runs per (row, head), `attention::forward_cached`'s
//! inner loop. Scores, softmax and the weighted sum in one pass over the cache, without the
//! setup of a gemm call (which costs more than the arithmetic for one row); intrinsics for
//! AVX-512 and AVX2, where LLVM's vectorisation of the plain loop is slow (see `avx2`).

use super::simd::{self, multiversion};

/// `p = softmax(q · k_j / sqrt(d))` over the `p.len()` cached keys `k` `[p.len()][d]`, then
/// `o = sum_j p_j v_j`.
pub fn attend(o: &mut [f32], p: &mut [f32], q: &[f32], k: &[f32], v: &[f32]) {
    let d = q.len();
    let scale = 1.0 / (d as f32).sqrt();
    #[cfg(target_arch = "x86_64")]
    match simd::level() {
        simd::Level::V4 if d.is_multiple_of(16) && d <= avx512::MAX_D => {
            // SAFETY: level() found AVX-512 F/BW/DQ/VL on this CPU; the kernels check the shapes.
            unsafe { avx512::scores(p, q, k, scale) };
            softmax(p);
            // SAFETY: as above.
            return unsafe { avx512::weighted_sum(o, p, v) };
        }
        simd::Level::V3 if d.is_multiple_of(avx2::BLOCK) => {
            // SAFETY: level() found AVX2 and FMA on this CPU; the kernels check the shapes.
            unsafe { avx2::scores(p, q, k, scale) };
            softmax(p);
            // SAFETY: as above.
            return unsafe { avx2::weighted_sum(o, p, v) };
        }
        _ => {}
    }
    portable(o, p, q, k, v, scale)
}

/// `p = softmax(p)`.
fn softmax(p: &mut [f32]) {
    softmax_unnormalised(p);
    let inv = 1.0 / simd::sum_map(p, |x| x);
    p.iter_mut().for_each(|x| *x *= inv);
}

multiversion! {
    /// `p = e^(p - max p)`.
    fn softmax_unnormalised(p: &mut [f32]) {
        let max = simd::max(p);
        for x in p.iter_mut() {
            *x = simd::exp_f32(*x - max);
        }
    }
}

multiversion! {
    /// `attend` in plain Rust that LLVM vectorises.
    fn portable(o: &mut [f32], p: &mut [f32], q: &[f32], k: &[f32], v: &[f32], scale: f32) {
        let d = q.len();
        for (pj, kj) in p.iter_mut().zip(k.chunks_exact(d)) {
            *pj = simd::dot(q, kj) * scale;
        }
        let max = simd::max(p);
        for x in p.iter_mut() {
            *x = simd::exp_f32(*x - max);
        }
        let inv = 1.0 / simd::sum_map(p, |x| x);
        p.iter_mut().for_each(|x| *x *= inv);
        o.fill(0.0);
        for (&pj, vj) in p.iter().zip(v.chunks_exact(d)) {
            for (oi, &vi) in o.iter_mut().zip(vj) {
                *oi += pj * vi;
            }
        }
    }
}

/// The decoding step's two products with AVX2 intrinsics, for head sizes that are multiples
/// of `BLOCK` (GPT-2's and Llama's 64 and 128). The portable loop, as LLVM compiles it, makes
/// each score one chain of dependent multiply-adds and reloads and stores the output for every
/// position; here four keys' scores are summed at once and a block of the output stays in
/// registers across all positions (tiny model, 16 clients: attention was 15% of the server's
/// time).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::super::simd::hsum8 as hsum;
    use std::arch::x86_64::*;

    /// Output elements kept in registers (8 vectors) per pass over the cached values.
    pub(super) const BLOCK: usize = 64;

    /// `p[j] = q · k_j * scale`, four keys at a time; each score is 8-lane multiply-adds over
    /// `q` in order, then `hsum`, however the keys are grouped.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn scores(p: &mut [f32], q: &[f32], k: &[f32], scale: f32) {
        let d = q.len();
        assert!(d.is_multiple_of(8) && k.len() >= p.len() * d);
        let first = p.len() / 4 * 4;
        let mut groups = p.chunks_exact_mut(4);
        for (g, pg) in groups.by_ref().enumerate() {
            // SAFETY: AVX2 and FMA (the caller's promise); `keys` checks the shapes.
            unsafe { keys::<4>(pg, q, &k[4 * g * d..], scale) };
        }
        for (j, pj) in groups.into_remainder().chunks_exact_mut(1).enumerate() {
            // SAFETY: as above.
            unsafe { keys::<1>(pj, q, &k[(first + j) * d..], scale) };
        }
    }

    /// `p[t] = q · k_t * scale` for the `G` keys at the start of `k`, their sums side by side.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn keys<const G: usize>(p: &mut [f32], q: &[f32], k: &[f32], scale: f32) {
        let d = q.len();
        assert!(d.is_multiple_of(8) && p.len() == G && k.len() >= G * d);
        let (qp, kp) = (q.as_ptr(), k.as_ptr());
        let mut acc = [_mm256_setzero_ps(); G];
        for i in (0..d).step_by(8) {
            // SAFETY: i + 8 <= d = q.len(); key t's chunk ends at t * d + i + 8 <= G * d <=
            // k.len() (asserted).
            unsafe {
                let qv = _mm256_loadu_ps(qp.add(i));
                for (t, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kp.add(t * d + i)), *a);
                }
            }
        }
        for (pj, &a) in p.iter_mut().zip(&acc) {
            *pj = hsum(a) * scale;
        }
    }

    /// `o = sum_j p_j v_j`, `BLOCK` outputs at a time.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn weighted_sum(o: &mut [f32], p: &[f32], v: &[f32]) {
        let d = o.len();
        assert!(d.is_multiple_of(BLOCK) && v.len() >= p.len() * d);
        for b0 in (0..d).step_by(BLOCK) {
            let mut acc = [_mm256_setzero_ps(); BLOCK / 8];
            for (j, &pj) in p.iter().enumerate() {
                let w = _mm256_set1_ps(pj);
                for (i, a) in acc.iter_mut().enumerate() {
                    // SAFETY: b0 + i * 8 + 8 <= d, so inside row j of v, (j + 1) * d <= v.len().
                    *a = _mm256_fmadd_ps(w, unsafe { _mm256_loadu_ps(v.as_ptr().add(j * d + b0 + i * 8)) }, *a);
                }
            }
            for (i, a) in acc.iter().enumerate() {
                // SAFETY: b0 + i * 8 + 8 <= d = o.len().
                unsafe { _mm256_storeu_ps(o.as_mut_ptr().add(b0 + i * 8), *a) };
            }
        }
    }
}

/// The decoding step's two products with AVX-512 intrinsics, the query and the output kept in
/// registers across all cached positions (LLVM keeps neither: it reloads and stores `o` for
/// every position). For head sizes that are multiples of 16 up to `MAX_D`.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    pub(super) const MAX_D: usize = 256;
    const MAX_V: usize = MAX_D / 16;

    /// `p[j] = q · k_j * scale`.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
    pub(super) unsafe fn scores(p: &mut [f32], q: &[f32], k: &[f32], scale: f32) {
        let (d, m) = (q.len(), q.len() / 16);
        assert!(d.is_multiple_of(16) && d <= MAX_D && k.len() >= p.len() * d);
        let mut qv = [_mm512_setzero_ps(); MAX_V];
        for (i, r) in qv.iter_mut().take(m).enumerate() {
            // SAFETY: i * 16 + 16 <= d = q.len().
            *r = unsafe { _mm512_loadu_ps(q.as_ptr().add(i * 16)) };
        }
        for (j, pj) in p.iter_mut().enumerate() {
            let mut acc = _mm512_setzero_ps();
            for (i, &qi) in qv.iter().take(m).enumerate() {
                // SAFETY: (j + 1) * d <= k.len() (asserted).
                acc = _mm512_fmadd_ps(qi, unsafe { _mm512_loadu_ps(k.as_ptr().add(j * d + i * 16)) }, acc);
            }
            *pj = _mm512_reduce_add_ps(acc) * scale;
        }
    }

    /// `o = sum_j p_j v_j`.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
    pub(super) unsafe fn weighted_sum(o: &mut [f32], p: &[f32], v: &[f32]) {
        let (d, m) = (o.len(), o.len() / 16);
        assert!(d.is_multiple_of(16) && d <= MAX_D && v.len() >= p.len() * d);
        let mut acc = [_mm512_setzero_ps(); MAX_V];
        for (j, &pj) in p.iter().enumerate() {
            let w = _mm512_set1_ps(pj);
            for (i, a) in acc.iter_mut().take(m).enumerate() {
                // SAFETY: (j + 1) * d <= v.len() (asserted).
                *a = _mm512_fmadd_ps(w, unsafe { _mm512_loadu_ps(v.as_ptr().add(j * d + i * 16)) }, *a);
            }
        }
        for (i, a) in acc.iter().take(m).enumerate() {
            // SAFETY: i * 16 + 16 <= d = o.len().
            unsafe { _mm512_storeu_ps(o.as_mut_ptr().add(i * 16), *a) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::random;

    #[test]
    fn decoding_kernels_agree() {
        // The AVX-512 or AVX2 path of `attend` (whichever this CPU runs) against the
        // portable one; key counts with and without a partial group of four.
        for (d, len) in [(32, 13), (64, 13), (64, 1), (128, 8), (64, 130)] {
            let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
            let (q, k, v) = (f(random(d, 61)), f(random(len * d, 62)), f(random(len * d, 63)));
            let (mut o1, mut p1) = (vec![f32::NAN; d], vec![0f32; len]);
            let (mut o2, mut p2) = (vec![f32::NAN; d], vec![0f32; len]);
            attend(&mut o1, &mut p1, &q, &k, &v);
            portable(&mut o2, &mut p2, &q, &k, &v, 1.0 / (d as f32).sqrt());
            let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()));
            assert!(close(&o1, &o2) && close(&p1, &p2), "d {d} len {len}: {o1:?} {o2:?}");
            assert!((p1.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
}
