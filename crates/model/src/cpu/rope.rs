//! Rotary position embeddings (Su et al. 2021) in Hugging Face Llama's "rotate half" layout:
//! dimension `i` of a head is paired with `i + d/2` and the pair is rotated by
//! `pos * theta^(-2i/d)`. Applied in place to q and k laid out `[rows][heads][d]`, where row
//! `r` is position `pos0 + r % t` (so a batch of `b` sequences of length `t` shares positions).

use super::float::Float;
use rayon::prelude::*;

/// cos and sin tables, `[pos][d/2]`, for positions `0..max_pos`.
pub fn tables(max_pos: usize, d: usize, theta: f64) -> (Vec<f32>, Vec<f32>) {
    let half = d / 2;
    let (mut cos, mut sin) = (Vec::with_capacity(max_pos * half), Vec::with_capacity(max_pos * half));
    for pos in 0..max_pos {
        for i in 0..half {
            let angle = pos as f64 * theta.powf(-2.0 * i as f64 / d as f64);
            cos.push(angle.cos() as f32);
            sin.push(angle.sin() as f32);
        }
    }
    (cos, sin)
}

/// Rotates the first `heads` heads of each `row`-wide row of `x` (`[rows][row]`, so q and k
/// can be rotated inside the fused qkv buffer); `sign` = 1 for the forward pass, -1 to apply
/// the inverse rotation (which is the backward pass: rotations are orthogonal).
#[allow(clippy::too_many_arguments)]
pub fn rotate<T: Float>(
    x: &mut [T],
    cos: &[f32],
    sin: &[f32],
    heads: usize,
    d: usize,
    row: usize,
    t: usize,
    pos0: usize,
    sign: f64,
) {
    let half = d / 2;
    x.par_chunks_exact_mut(row).enumerate().for_each(|(r, row)| {
        let pos = pos0 + r % t;
        let (c, s) = (&cos[pos * half..(pos + 1) * half], &sin[pos * half..(pos + 1) * half]);
        for head in row[..heads * d].chunks_exact_mut(d) {
            for i in 0..half {
                let (ci, si) = (T::from_f64(c[i] as f64), T::from_f64(sign * s[i] as f64));
                let (a, b) = (head[i], head[i + half]);
                head[i] = a * ci - b * si;
                head[i + half] = b * ci + a * si;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check, random};

    #[test]
    fn backward_is_the_inverse_rotation() {
        let (t, heads, d) = (3, 2, 4);
        let (cos, sin) = tables(8, d, 10_000.0);
        let x = random(2 * t * heads * d, 13);
        let dout = random(x.len(), 14);
        let mut dx = dout.clone();
        rotate(&mut dx, &cos, &sin, heads, d, heads * d, t, 1, -1.0);
        check("rope dx", &x, &dx, |x| {
            let mut y = x.to_vec();
            rotate(&mut y, &cos, &sin, heads, d, heads * d, t, 1, 1.0);
            y.iter().zip(&dout).map(|(a, b)| a * b).sum()
        });
        // Position 0 is the identity.
        let mut y = x.clone();
        rotate(&mut y, &cos, &sin, heads, d, heads * d, 1, 0, 1.0);
        assert_eq!(y, x);
    }
}
