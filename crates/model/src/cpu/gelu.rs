//! GELU with the tanh approximation (Hendrycks & Gimpel 2016), GPT-2's `gelu_new`:
//! `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.

use super::float::Float;
use super::simd::multiversion;
use rayon::prelude::*;

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

/// tanh through one exp: `1 - 2 / (exp(2u) + 1)`; libm's tanhf (via expm1f) was an eighth of a
/// training step, and with `exp` vectorised (`simd`) this is a few instructions per lane. Exact at the ends (exp overflows to inf -> 1, underflows to 0 -> -1).
#[inline(always)]
fn tanh<T: Float>(u: T) -> T {
    let one = T::from_f64(1.0);
    one - T::from_f64(2.0) / ((u + u).exp() + one)
}

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const COEF: f64 = 0.044715;

/// `out = gelu(x)`, in parallel chunks.
pub fn forward<T: Float>(out: &mut [T], x: &[T]) {
    out.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(out, x)| forward_chunk(out, x));
}

/// `dout *= gelu'(x)`: turns the output gradient into the input gradient in place (the one
/// consumer of the GELU input gradient is the layer below, so no accumulation is needed and
/// no second buffer has to be cleared).
pub fn backward<T: Float>(dout: &mut [T], x: &[T]) {
    dout.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(dout, x)| backward_chunk(dout, x));
}

multiversion! {
    fn forward_chunk<T: Float>(out: &mut [T], x: &[T]) {
        let (s, c, half, one) = (T::from_f64(SQRT_2_OVER_PI), T::from_f64(COEF), T::from_f64(0.5), T::from_f64(1.0));
        for (o, &x) in out.iter_mut().zip(x) {
            *o = half * x * (one + tanh(s * (x + c * x * x * x)));
        }
    }
}

multiversion! {
    fn backward_chunk<T: Float>(dout: &mut [T], x: &[T]) {
        let (s, c, half, one, three) =
            (T::from_f64(SQRT_2_OVER_PI), T::from_f64(COEF), T::from_f64(0.5), T::from_f64(1.0), T::from_f64(3.0));
        for (g, &x) in dout.iter_mut().zip(x) {
            let t = tanh(s * (x + c * x * x * x));
            let du = s * (one + three * c * x * x);
            *g = *g * (half * (one + t) + half * x * (one - t * t) * du);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check, random};

    #[test]
    fn matches_reference_values() {
        // torch.nn.functional.gelu(x, approximate="tanh") at these points.
        let x = [-3.0f32, -1.0, 0.0, 0.5, 2.0];
        let want = [-0.003_637_433f32, -0.158_808, 0.0, 0.345_714, 1.954_597_7];
        let mut out = [0f32; 5];
        forward(&mut out, &x);
        for (o, w) in out.iter().zip(want) {
            assert!((o - w).abs() < 1e-6, "{o} vs {w}");
        }
    }

    #[test]
    fn backward_matches_finite_differences() {
        let x: Vec<f64> = random(37, 1).iter().map(|v| v * 4.0).collect();
        let dout = random(37, 2);
        let mut dx = dout.clone();
        backward(&mut dx, &x);
        check("gelu dx", &x, &dx, |x| {
            let mut y = vec![0.0; x.len()];
            forward(&mut y, x);
            y.iter().zip(&dout).map(|(a, b)| a * b).sum()
        });
    }
}
