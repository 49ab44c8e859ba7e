//! SwiGLU (Shazeer 2020), Llama's MLP non-linearity: `silu(gate) * up`, where
//! `silu(g) = g * sigmoid(g)` and `gate`, `up` are the two projections of the input.

use super::float::Float;

#[inline(always)]
fn sigmoid<T: Float>(g: T) -> T {
    let one = T::from_f64(1.0);
    one / (one + (-g).exp())
}

/// `out = silu(gate) * up`.
pub fn forward<T: Float>(out: &mut [T], gate: &[T], up: &[T]) {
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = g * sigmoid(g) * u;
    }
}

/// Accumulates into `dgate` and `dup`.
pub fn backward<T: Float>(dgate: &mut [T], dup: &mut [T], dout: &[T], gate: &[T], up: &[T]) {
    let one = T::from_f64(1.0);
    for i in 0..dout.len() {
        let (g, u, d) = (gate[i], up[i], dout[i]);
        let s = sigmoid(g);
        dup[i] += d * g * s;
        dgate[i] += d * u * s * (one + g * (one - s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check, random};

    #[test]
    fn backward_matches_finite_differences() {
        let n = 23;
        let gate: Vec<f64> = random(n, 10).iter().map(|v| v * 5.0).collect();
        let (up, dout) = (random(n, 11), random(n, 12));
        let loss = |g: &[f64], u: &[f64]| {
            let mut out = vec![0.0; n];
            forward(&mut out, g, u);
            out.iter().zip(&dout).map(|(a, b)| a * b).sum::<f64>()
        };
        let (mut dg, mut du) = (vec![0.0; n], vec![0.0; n]);
        backward(&mut dg, &mut du, &dout, &gate, &up);
        check("swiglu dgate", &gate, &dg, |g| loss(g, &up));
        check("swiglu dup", &up, &du, |u| loss(&gate, u));
    }
}
