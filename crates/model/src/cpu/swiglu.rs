//! SwiGLU (Shazeer 2020), Llama's MLP non-linearity: `silu(gate) * up`, where
//! `silu(g) = g * sigmoid(g)` and `gate`, `up` are the two projections of the input.

use super::float::Float;
use super::simd::multiversion;
use rayon::prelude::*;

#[inline(always)]
fn sigmoid<T: Float>(g: T) -> T {
    let one = T::from_f64(1.0);
    one / (one + (-g).exp())
}

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

/// `out = silu(gate) * up`, in parallel chunks.
pub fn forward<T: Float>(out: &mut [T], gate: &[T], up: &[T]) {
    let parts = out.par_chunks_mut(CHUNK).zip(gate.par_chunks(CHUNK).zip(up.par_chunks(CHUNK)));
    parts.for_each(|(out, (gate, up))| forward_chunk(out, gate, up));
}

/// Writes (not accumulates) `dgate` and `dup`, the gradients of `forward`.
pub fn backward<T: Float>(dgate: &mut [T], dup: &mut [T], dout: &[T], gate: &[T], up: &[T]) {
    let grads = dgate.par_chunks_mut(CHUNK).zip(dup.par_chunks_mut(CHUNK));
    let inputs = dout.par_chunks(CHUNK).zip(gate.par_chunks(CHUNK).zip(up.par_chunks(CHUNK)));
    grads.zip(inputs).for_each(|((dg, du), (d, (g, u)))| backward_chunk(dg, du, d, g, u));
}

multiversion! {
    fn forward_chunk<T: Float>(out: &mut [T], gate: &[T], up: &[T]) {
        for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
            *o = g * sigmoid(g) * u;
        }
    }
}

multiversion! {
    fn backward_chunk<T: Float>(dgate: &mut [T], dup: &mut [T], dout: &[T], gate: &[T], up: &[T]) {
        let one = T::from_f64(1.0);
        let n = dout.len().min(gate.len()).min(up.len()).min(dgate.len()).min(dup.len());
        for i in 0..n {
            let (g, u, d) = (gate[i], up[i], dout[i]);
            let s = sigmoid(g);
            dup[i] = d * g * s;
            dgate[i] = d * u * s * (one + g * (one - s));
        }
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
        let (mut dg, mut du) = (vec![f64::NAN; n], vec![f64::NAN; n]);
        backward(&mut dg, &mut du, &dout, &gate, &up);
        check("swiglu dgate", &gate, &dg, |g| loss(g, &up));
        check("swiglu dup", &up, &du, |u| loss(&gate, u));
    }
}
