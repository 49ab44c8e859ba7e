//! LayerNorm (Ba et al. 2016) over the last dimension, with weight and bias, as in GPT-2.
//! Forward keeps each row's mean and 1/std for the backward pass (llm.c's layout).

use super::float::Float;
use rayon::prelude::*;

/// `out[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias` for each row of `c` values;
/// fills `mean[r]` and `rstd[r]`.
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
    let inv_c = T::from_f64(1.0 / c as f64);
    let rows = out.par_chunks_exact_mut(c).zip(x.par_chunks_exact(c)).zip(mean.par_iter_mut()).zip(rstd.par_iter_mut());
    rows.for_each(|(((o, xr), mean), rstd)| {
        let mut m = T::default();
        for &v in xr {
            m += v;
        }
        m = m * inv_c;
        let mut var = T::default();
        for &v in xr {
            var += (v - m) * (v - m);
        }
        let s = T::from_f64(1.0) / (var * inv_c + eps).sqrt();
        for i in 0..c {
            o[i] = (xr[i] - m) * s * weight[i] + bias[i];
        }
        *mean = m;
        *rstd = s;
    });
}

/// Accumulates the gradients of `forward` into `dx`, `dweight` and `dbias`.
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
    let inv_c = T::from_f64(1.0 / c as f64);
    // Blocks of rows run in parallel; each returns its partial weight/bias gradients, which are
    // then added in block order, so the result does not depend on thread timing.
    let partials: Vec<(Vec<T>, Vec<T>)> = dx
        .par_chunks_mut(ROWS_PER_TASK * c)
        .enumerate()
        .map(|(blk, dx)| {
            let (mut dw, mut db) = (vec![T::default(); c], vec![T::default(); c]);
            for (j, dxr) in dx.chunks_exact_mut(c).enumerate() {
                let r = blk * ROWS_PER_TASK + j;
                let (dor, xr, m, s) = (&dout[r * c..(r + 1) * c], &x[r * c..(r + 1) * c], mean[r], rstd[r]);
                // Two reductions: mean(dnorm) and mean(dnorm * norm), where dnorm = dout * weight.
                let (mut sum_d, mut sum_dn) = (T::default(), T::default());
                for i in 0..c {
                    let dnorm = dor[i] * weight[i];
                    sum_d += dnorm;
                    sum_dn += dnorm * (xr[i] - m) * s;
                }
                let (mean_d, mean_dn) = (sum_d * inv_c, sum_dn * inv_c);
                for i in 0..c {
                    let norm = (xr[i] - m) * s;
                    db[i] += dor[i];
                    dw[i] += norm * dor[i];
                    dxr[i] += s * (dor[i] * weight[i] - mean_d - norm * mean_dn);
                }
            }
            (dw, db)
        })
        .collect();
    for (dw, db) in partials {
        for i in 0..c {
            dweight[i] += dw[i];
            dbias[i] += db[i];
        }
    }
}

/// Rows per parallel task in the backward pass.
const ROWS_PER_TASK: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check, random};

    const C: usize = 7;
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
