//! LayerNorm (Ba et al. 2016) over the last dimension, with weight and bias, as in GPT-2.
//! Forward keeps each row's mean and 1/std for the backward pass (llm.c's layout).

use super::float::Float;
use super::simd::{self, multiversion};
use rayon::prelude::*;

/// `out[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias` for each row of `c` values;
/// fills `mean[r]` and `rstd[r]`.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Float>(
    out: &mut [T],
    mean: &mut [T],
    rstd: &mut [T],
    x: &[T],
    weight: &[T],
    bias: &[T],
    c: usize,
    eps: T,
) {
    let rows = out.par_chunks_exact_mut(c).zip(x.par_chunks_exact(c)).zip(mean.par_iter_mut().zip(rstd.par_iter_mut()));
    rows.for_each(|((o, xr), (mean, rstd))| (*mean, *rstd) = forward_row(o, xr, weight, bias, eps));
}

multiversion! {
    /// One row; returns (mean, 1/std).
    fn forward_row<T: Float>(o: &mut [T], x: &[T], weight: &[T], bias: &[T], eps: T) -> (T, T) {
        let inv_c = T::from_f64(1.0 / x.len() as f64);
        let m = simd::sum_map(x, |v| v) * inv_c;
        let var = simd::sum_map(x, |v| (v - m) * (v - m)) * inv_c;
        let s = T::from_f64(1.0) / (var + eps).sqrt();
        for (((o, &x), &w), &b) in o.iter_mut().zip(x).zip(weight).zip(bias) {
            *o = (x - m) * s * w + b;
        }
        (m, s)
    }
}

/// Accumulates the gradients of `forward` into `dx`, `dweight` and `dbias`.
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Float>(
    dx: &mut [T],
    dweight: &mut [T],
    dbias: &mut [T],
    dout: &[T],
    x: &[T],
    weight: &[T],
    mean: &[T],
    rstd: &[T],
    c: usize,
) {
    // Blocks of rows run in parallel, reading each row once for dx and for this block's
    // partial weight/bias gradients; the partials are then added in block order, so the result
    // does not depend on thread timing. (Splitting the weight gradient by columns instead
    // avoids the partials but reads everything twice: slower, this is memory-bound.)
    let partials: Vec<(Vec<T>, Vec<T>)> = dx
        .par_chunks_mut(ROWS_PER_TASK * c)
        .enumerate()
        .map(|(blk, dx)| {
            let (mut dw, mut db) = (vec![T::default(); c], vec![T::default(); c]);
            let r0 = blk * ROWS_PER_TASK;
            let rows = dx.len() / c;
            let (dout, x) = (&dout[r0 * c..(r0 + rows) * c], &x[r0 * c..(r0 + rows) * c]);
            backward_rows(dx, &mut dw, &mut db, dout, x, weight, &mean[r0..r0 + rows], &rstd[r0..r0 + rows]);
            (dw, db)
        })
        .collect();
    for (dw, db) in partials {
        dweight.iter_mut().zip(&dw).for_each(|(a, b)| *a += *b);
        dbias.iter_mut().zip(&db).for_each(|(a, b)| *a += *b);
    }
}

/// Rows per parallel task in the backward pass.
const ROWS_PER_TASK: usize = 64;

multiversion! {
    #[allow(clippy::too_many_arguments)]
    fn backward_rows<T: Float>(dx: &mut [T], dw: &mut [T], db: &mut [T], dout: &[T], x: &[T], weight: &[T], mean: &[T], rstd: &[T]) {
        let c = weight.len();
        let inv_c = T::from_f64(1.0 / c as f64);
        for (((dx, dout), x), (&m, &s)) in
            dx.chunks_exact_mut(c).zip(dout.chunks_exact(c)).zip(x.chunks_exact(c)).zip(mean.iter().zip(rstd))
        {
            // Two reductions: mean(dnorm) and mean(dnorm * norm), where dnorm = dout * weight;
            // sum(g w (x - m)) = sum(g w x) - m sum(g w).
            let sum_d = simd::dot(dout, weight);
            let mean_d = sum_d * inv_c;
            let mean_dn = (simd::dot3(dout, weight, x) - m * sum_d) * s * inv_c;
            for ((((dx, dw), db), &g), (&w, &x)) in
                dx.iter_mut().zip(dw.iter_mut()).zip(db.iter_mut()).zip(dout).zip(weight.iter().zip(x))
            {
                let norm = (x - m) * s;
                *dx += s * (g * w - mean_d - norm * mean_dn);
                *dw += norm * g;
                *db += g;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check, random};

    const C: usize = 37;
    // More rows than one parallel task takes, so the per-block partial sums are exercised.
    const ROWS: usize = ROWS_PER_TASK * 2 + 3;

    fn loss(x: &[f64], w: &[f64], b: &[f64], dout: &[f64]) -> f64 {
        let (mut out, mut mean, mut rstd) = (vec![0.0; x.len()], vec![0.0; ROWS], vec![0.0; ROWS]);
        forward(&mut out, &mut mean, &mut rstd, x, w, b, C, 1e-5);
        out.iter().zip(dout).map(|(a, b)| a * b).sum()
    }

    #[test]
    fn normalises_rows() {
        let x = [1.0f32, 2.0, 3.0, 4.0];
        let (mut out, mut mean, mut rstd) = ([0f32; 4], [0f32; 1], [0f32; 1]);
        forward(&mut out, &mut mean, &mut rstd, &x, &[1.0; 4], &[0.0; 4], 4, 1e-5);
        assert!((mean[0] - 2.5).abs() < 1e-6);
        let want = [-1.341_635_5f32, -0.447_211_83, 0.447_211_83, 1.341_635_5]; // torch.nn.functional.layer_norm
        for (o, w) in out.iter().zip(want) {
            assert!((o - w).abs() < 1e-5, "{o} vs {w}");
        }
    }

    #[test]
    fn backward_matches_finite_differences() {
        let x = random(ROWS * C, 3);
        let w = random(C, 4);
        let b = random(C, 5);
        let dout = random(ROWS * C, 6);
        let (mut out, mut mean, mut rstd) = (vec![0.0; ROWS * C], vec![0.0; ROWS], vec![0.0; ROWS]);
        forward(&mut out, &mut mean, &mut rstd, &x, &w, &b, C, 1e-5);
        let (mut dx, mut dw, mut db) = (vec![0.0; ROWS * C], vec![0.0; C], vec![0.0; C]);
        backward(&mut dx, &mut dw, &mut db, &dout, &x, &w, &mean, &rstd, C);
        check("layer_norm dx", &x, &dx, |x| loss(x, &w, &b, &dout));
        check("layer_norm dweight", &w, &dw, |w| loss(&x, w, &b, &dout));
        check("layer_norm dbias", &b, &db, |b| loss(&x, &w, b, &dout));
    }
}
