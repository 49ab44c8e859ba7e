//! Linear layers with bf16 weights for decoding: one token's products read every weight once,
//! so they are bound by memory bandwidth, and bf16 storage (the top half of each f32, 8 bits of
//! mantissa) halves the bytes per token. Arithmetic stays f32. Used for inference only, from a
//! packed copy of the weights (`Backend::pack`).

use super::simd::multiversion;
use super::Shared;
use rayon::prelude::*;

/// Rounds f32 to bf16 (to nearest, ties to even; NaN stays NaN).
pub fn to_bf16(x: f32) -> u16 {
    if x.is_nan() {
        return 0x7fc0;
    }
    let bits = x.to_bits();
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

/// `out[n×oc] = inp[n×c] · w16[oc×c]^T (+ bias)` with bf16 weights, for a few input rows.
/// Output features are split between threads, each streaming its weight rows once.
pub fn forward(out: &mut [f32], inp: &[f32], w16: &[u16], bias: Option<&[f32]>, n: usize, c: usize, oc: usize) {
    assert!(out.len() >= n * oc && inp.len() >= n * c && w16.len() >= oc * c && bias.is_none_or(|b| b.len() >= oc));
    // About four tasks per thread, whole cache lines of outputs.
    let chunk = oc.div_ceil(4 * rayon::current_num_threads()).next_multiple_of(16).max(16);
    let out_p = Shared(out.as_mut_ptr());
    (0..oc.div_ceil(chunk)).into_par_iter().for_each(|t| {
        let (o0, o1) = (t * chunk, ((t + 1) * chunk).min(oc));
        for r in 0..n {
            // SAFETY: this task alone writes outputs o0..o1 of each row; bounds asserted.
            let dst = unsafe { std::slice::from_raw_parts_mut(out_p.get().add(r * oc + o0), o1 - o0) };
            rows(dst, &inp[r * c..(r + 1) * c], &w16[o0 * c..o1 * c], bias.map(|b| &b[o0..o1]));
        }
    });
}

multiversion! {
    /// `dst[o] = x · w[o] (+ bias[o])` for bf16 weight rows `w` of `x.len()` each.
    fn rows(dst: &mut [f32], x: &[f32], w: &[u16], bias: Option<&[f32]>) {
        let c = x.len();
        for (o, (d, row)) in dst.iter_mut().zip(w.chunks_exact(c)).enumerate() {
            let mut acc = [0f32; 16];
            let (xs, ws) = (x.chunks_exact(16), row.chunks_exact(16));
            let mut tail = 0.0;
            for (&a, &b) in xs.remainder().iter().zip(ws.remainder()) {
                tail += a * f32::from_bits((b as u32) << 16);
            }
            for (xa, wb) in xs.zip(ws) {
                for i in 0..16 {
                    acc[i] += xa[i] * f32::from_bits((wb[i] as u32) << 16);
                }
            }
            *d = acc.iter().sum::<f32>() + tail + bias.map_or(0.0, |b| b[o]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::random;
    use crate::cpu::linear::forward_ref;

    #[test]
    fn bf16_weights_give_nearly_the_f32_product() {
        let (n, c, oc) = (2, 100, 70);
        let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let (inp, w, b) = (f(random(n * c, 51)), f(random(oc * c, 52)), f(random(oc, 53)));
        let w16: Vec<u16> = w.iter().map(|&x| to_bf16(x)).collect();
        let (mut want, mut got) = (vec![0f32; n * oc], vec![f32::NAN; n * oc]);
        forward_ref(&mut want, &inp, &w, Some(&b), n, c, oc);
        forward(&mut got, &inp, &w16, Some(&b), n, c, oc);
        // bf16 keeps 8 bits of mantissa: each weight within 2^-9 relative.
        let scale = want.iter().map(|x| x.abs()).fold(0.0, f32::max);
        assert!(want.iter().zip(&got).all(|(a, b)| (a - b).abs() < 2e-2 * scale), "{want:?} {got:?}");
        assert_eq!(to_bf16(1.0), 0x3f80);
        assert_eq!(to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80); // tie to even
        assert_eq!(to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82);
    }
}
