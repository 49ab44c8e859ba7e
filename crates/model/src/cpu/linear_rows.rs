//! Linear layers for a batch of decoding rows, each row computed exactly as it would be alone
//! (batch invariance): the sums of an output run over the input in one fixed order, whatever
//! the number of rows or threads. A server that decodes many sequences in one pass then gives
//! each the text it would get by itself, so a seed means the same text under any load; gemm
//! cannot promise that (its blocking, and so its rounding, changes with the row count).
//!
//! Threads take runs of outputs; inside a run, blocks of outputs small enough to stay in cache
//! are read once from memory for all the rows. One row is what decoding one token costs:
//! bound by reading the weights, as gemm's matrix-vector path is.

use super::simd::{fold_lanes, multiversion, LANES};
use super::Shared;
use rayon::prelude::*;

/// Outputs per block: 16 rows of weights (48 KiB at 768 inputs) stay in L1/L2 while every
/// input row passes over them.
const BLOCK: usize = 16;

/// `out[n×oc] = inp[n×c] · w[oc×c]^T (+ bias)`, row by row in a fixed order (see the header).
pub fn forward(out: &mut [f32], inp: &[f32], w: &[f32], bias: Option<&[f32]>, n: usize, c: usize, oc: usize) {
    assert!(out.len() >= n * oc && inp.len() >= n * c && w.len() >= oc * c && bias.is_none_or(|b| b.len() >= oc));
    if n == 0 || oc == 0 {
        return;
    }
    // About four runs per thread.
    let per = oc.div_ceil(4 * rayon::current_num_threads()).next_multiple_of(BLOCK);
    let out_p = Shared(out.as_mut_ptr());
    (0..oc.div_ceil(per)).into_par_iter().for_each(|task| {
        let (o0, o1) = (task * per, ((task + 1) * per).min(oc));
        for b0 in (o0..o1).step_by(BLOCK) {
            let b1 = (b0 + BLOCK).min(o1);
            let wb = &w[b0 * c..b1 * c];
            for r in 0..n {
                // SAFETY: this task alone writes outputs o0..o1 of each row; bounds asserted.
                let dst = unsafe { std::slice::from_raw_parts_mut(out_p.get().add(r * oc + b0), b1 - b0) };
                dots(dst, &inp[r * c..(r + 1) * c], wb);
                if let Some(b) = bias {
                    dst.iter_mut().zip(&b[b0..b1]).for_each(|(d, &b)| *d += b);
                }
            }
        }
    });
}

multiversion! {
    /// `dst = W x` for rows `w` of `x.len()` each: lane-wise sums, folded in a fixed order.
    fn dots(dst: &mut [f32], x: &[f32], w: &[f32]) {
        let c = x.len();
        for (d, row) in dst.iter_mut().zip(w.chunks_exact(c)) {
            let mut acc = [0f32; LANES];
            let (xs, ws) = (x.chunks_exact(LANES), row.chunks_exact(LANES));
            let tail = xs.remainder().iter().zip(ws.remainder()).map(|(&a, &b)| a * b).sum::<f32>();
            for (xa, wb) in xs.zip(ws) {
                for i in 0..LANES {
                    acc[i] += xa[i] * wb[i];
                }
            }
            *d = fold_lanes(acc) + tail;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::linear::forward_ref;

    #[test]
    fn equals_the_reference_and_each_row_is_the_same_in_any_batch() {
        let (c, oc) = (70, 100);
        let w: Vec<f32> = (0..oc * c).map(|i| ((i * 37 % 101) as f32 - 50.0) / 97.0).collect();
        let bias: Vec<f32> = (0..oc).map(|i| i as f32 / 10.0).collect();
        let inp: Vec<f32> = (0..9 * c).map(|i| ((i * 53 % 89) as f32 - 44.0) / 31.0).collect();
        let mut want = vec![0.0; 9 * oc];
        forward_ref(&mut want, &inp, &w, Some(&bias), 9, c, oc);
        let mut all = vec![0.0; 9 * oc];
        forward(&mut all, &inp, &w, Some(&bias), 9, c, oc);
        for (a, b) in all.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        for r in 0..9 {
            let mut one = vec![0.0; oc];
            forward(&mut one, &inp[r * c..(r + 1) * c], &w, Some(&bias), 1, c, oc);
            assert_eq!(one, all[r * oc..(r + 1) * oc], "row {r} alone");
        }
    }
}
