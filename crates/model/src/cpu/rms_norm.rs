//! RMSNorm (Zhang & Sennrich 2019) over the last dimension with a weight and no bias, as in
//! Llama (`LlamaRMSNorm`): `x / sqrt(mean(x^2) + eps) * weight`. Forward keeps 1/rms per row.

use super::float::Float;

/// Normalises each row of `c` values; fills `rstd[r]`.
pub fn forward<T: Float>(out: &mut [T], rstd: &mut [T], x: &[T], weight: &[T], c: usize, eps: T) {
    let inv_c = T::from_f64(1.0 / c as f64);
    for (r, (o, xr)) in out.chunks_exact_mut(c).zip(x.chunks_exact(c)).enumerate() {
        let mut ss = T::default();
        for &v in xr {
            ss += v * v;
        }
        let s = T::from_f64(1.0) / (ss * inv_c + eps).sqrt();
        for i in 0..c {
            o[i] = xr[i] * s * weight[i];
        }
        rstd[r] = s;
    }
}

/// Accumulates the gradients of `forward` into `dx` and `dweight`.
pub fn backward<T: Float>(dx: &mut [T], dweight: &mut [T], dout: &[T], x: &[T], weight: &[T], rstd: &[T], c: usize) {
    let inv_c = T::from_f64(1.0 / c as f64);
    for (r, ((dxr, dor), xr)) in dx.chunks_exact_mut(c).zip(dout.chunks_exact(c)).zip(x.chunks_exact(c)).enumerate() {
        let s = rstd[r];
        let mut sum_dn = T::default();
        for i in 0..c {
            sum_dn += dor[i] * weight[i] * xr[i] * s;
        }
        let mean_dn = sum_dn * inv_c;
        for i in 0..c {
            let norm = xr[i] * s;
            dweight[i] += dor[i] * norm;
            dxr[i] += s * (dor[i] * weight[i] - norm * mean_dn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check, random};

    #[test]
    fn backward_matches_finite_differences() {
        let (rows, c) = (3, 5);
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
