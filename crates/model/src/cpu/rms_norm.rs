//! RMSNorm (Zhang & Sennrich 2019) over the last dimension with a weight and no bias, as in
//! Llama (`LlamaRMSNorm`): `x / sqrt(mean(x^2) + eps) * weight`. Forward keeps 1/rms per row.

use super::float::Float;
use super::simd::{self, multiversion};
use rayon::prelude::*;

/// Normalises each row of `c` values; fills `rstd[r]`.
pub fn forward<T: Float>(out: &mut [T], rstd: &mut [T], x: &[T], weight: &[T], c: usize, eps: T) {
    let rows = out.par_chunks_exact_mut(c).zip(x.par_chunks_exact(c)).zip(rstd.par_iter_mut());
    rows.for_each(|((o, x), rstd)| *rstd = forward_row(o, x, weight, eps));
}

multiversion! {
    /// One row; returns 1/rms.
    fn forward_row<T: Float>(o: &mut [T], x: &[T], weight: &[T], eps: T) -> T {
        let inv_c = T::from_f64(1.0 / x.len() as f64);
        let s = T::from_f64(1.0) / (simd::sum_map(x, |v| v * v) * inv_c + eps).sqrt();
        for ((o, &x), &w) in o.iter_mut().zip(x).zip(weight) {
            *o = x * s * w;
        }
        s
    }
}

/// Accumulates the gradients of `forward` into `dx` and `dweight`.
pub fn backward<T: Float>(dx: &mut [T], dweight: &mut [T], dout: &[T], x: &[T], weight: &[T], rstd: &[T], c: usize) {
    let rows = dx.par_chunks_exact_mut(c).zip(dout.par_chunks_exact(c)).zip(x.par_chunks_exact(c));
    rows.zip(rstd.par_iter()).for_each(|(((dx, dout), x), &s)| backward_row(dx, dout, x, weight, s));
    // The weight gradient sums over rows: columns split between threads (see layer_norm).
    let width = c.div_ceil(rayon::current_num_threads()).next_multiple_of(16);
    dweight.par_chunks_mut(width).enumerate().for_each(|(i, dw)| weight_grad(dw, dout, x, rstd, c, i * width));
}

multiversion! {
    fn backward_row<T: Float>(dx: &mut [T], dout: &[T], x: &[T], weight: &[T], s: T) {
        let inv_c = T::from_f64(1.0 / x.len() as f64);
        let mean_dn = simd::dot3(dout, weight, x) * s * inv_c;
        for (((dx, &g), &w), &x) in dx.iter_mut().zip(dout).zip(weight).zip(x) {
            *dx += s * (g * w - x * s * mean_dn);
        }
    }
}

multiversion! {
    /// Columns `c0..c0 + dw.len()` of the weight gradient, summed over all rows.
    fn weight_grad<T: Float>(dw: &mut [T], dout: &[T], x: &[T], rstd: &[T], c: usize, c0: usize) {
        for ((dout, x), &s) in dout.chunks_exact(c).zip(x.chunks_exact(c)).zip(rstd) {
            for ((dw, &g), &x) in dw.iter_mut().zip(&dout[c0..]).zip(&x[c0..]) {
                *dw += g * x * s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check, random};

    #[test]
    fn backward_matches_finite_differences() {
        let (rows, c) = (37, 21);
        let (x, w, dout) = (random(rows * c, 7), random(c, 8), random(rows * c, 9));
        let loss = |x: &[f64], w: &[f64]| {
            let (mut out, mut rstd) = (vec![0.0; rows * c], vec![0.0; rows]);
            forward(&mut out, &mut rstd, x, w, c, 1e-6);
            out.iter().zip(&dout).map(|(a, b)| a * b).sum::<f64>()
        };
        let (mut out, mut rstd) = (vec![0.0; rows * c], vec![0.0; rows]);
        forward(&mut out, &mut rstd, &x, &w, c, 1e-6);
        let (mut dx, mut dw) = (vec![0.0; rows * c], vec![0.0; c]);
        backward(&mut dx, &mut dw, &dout, &x, &w, &rstd, c);
        check("rms_norm dx", &x, &dx, |x| loss(x, &w));
        check("rms_norm dweight", &w, &dw, |w| loss(&x, w));
    }
}
