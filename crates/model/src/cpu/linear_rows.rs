//! Linear layers for a batch of decoding rows, each row computed exactly as it would be alone
//! (batch invariance): the sums of an output run over the input in one fixed order, whatever
//! the number of rows or threads. A server that decodes many sequences in one pass then gives
//! each the text it would get by itself, so a seed means the same text under any load; gemm
//! cannot promise that (its blocking, and so its rounding, changes with the row count).
//!
//! Threads take runs of outputs; inside a run, blocks of outputs small enough to stay in cache
//! are read once from memory for all the rows, and a register tile of 4 rows by 4 outputs
//! keeps 16 sums going at once (two loads per four multiply-adds instead of two per one). One
//! row is what decoding one token costs: bound by reading the weights, as gemm's
//! matrix-vector path is.

use super::simd::{fold_lanes, multiversion, LANES};
use super::Shared;
use rayon::prelude::*;

/// Outputs per block: 16 rows of weights (48 KiB at 768 inputs) stay in L1/L2 while every
/// input row passes over them.
const BLOCK: usize = 16;
/// The register tile: rows by outputs.
const TR: usize = 4;
const TO: usize = 4;

/// `out[n×oc] = inp[n×c] · w[oc×c]^T (+ bias)`, row by row in a fixed order (see the header).
pub fn forward(out: &mut [f32], inp: &[f32], w: &[f32], bias: Option<&[f32]>, n: usize, c: usize, oc: usize) {
    assert!(out.len() >= n * oc && inp.len() >= n * c && w.len() >= oc * c && bias.is_none_or(|b| b.len() >= oc));
    if n == 0 || oc == 0 {
        return;
    }
    // About four runs of outputs per thread.
    let per = oc.div_ceil(4 * rayon::current_num_threads()).next_multiple_of(BLOCK);
    let out_p = Shared(out.as_mut_ptr());
    (0..oc.div_ceil(per)).into_par_iter().for_each(|task| {
        let (o0, o1) = (task * per, ((task + 1) * per).min(oc));
        // Rows a pass at a time, so that a pass's inputs stay in cache over the run's blocks.
        for p0 in (0..n).step_by(PASS_ROWS) {
            let rows = p0..(p0 + PASS_ROWS).min(n);
            for b0 in (o0..o1).step_by(BLOCK) {
                let b1 = (b0 + BLOCK).min(o1);
                let (x, wb, bias) = (&inp[rows.start * c..rows.end * c], &w[b0 * c..b1 * c], bias.map(|b| &b[b0..b1]));
                // SAFETY: this task alone writes outputs o0..o1 of each row (so b0..b1 of this
                // pass's rows); `block` stays inside them. Bounds asserted above.
                unsafe { block(out_p, oc, b0, x, wb, bias, rows.start, c) };
            }
        }
    });
}

/// Rows per pass over a run of outputs (their inputs, 96 KiB at 768 columns, stay in L2).
const PASS_ROWS: usize = 32;

/// Outputs `b0..` (as many as `wb` has rows) of the rows `first..` that `x` holds: 4-row tiles,
/// then the last rows one at a time; in each, 4-output tiles, then the last outputs.
///
/// # Safety
/// `out` must address `[rows][oc]` with these rows and outputs inside it, and no other thread
/// may write them meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn block(
    out: Shared,
    oc: usize,
    b0: usize,
    x: &[f32],
    wb: &[f32],
    bias: Option<&[f32]>,
    first: usize,
    c: usize,
) {
    let (n, outs) = (x.len() / c, wb.len() / c);
    let tiled_outs = outs - outs % TO;
    // SAFETY: the caller's promise, for row `r` of this pass.
    let dst = |r: usize| unsafe { std::slice::from_raw_parts_mut(out.get().add((first + r) * oc + b0), outs) };
    let mut r = 0;
    while r < n {
        let rows = if r + TR <= n { TR } else { 1 };
        for t0 in (0..tiled_outs).step_by(TO) {
            let w = &wb[t0 * c..(t0 + TO) * c];
            if rows == TR {
                let mut sums = [[0f32; TO]; TR];
                tile(&mut sums, &x[r * c..(r + TR) * c], w);
                for (i, s) in sums.iter().enumerate() {
                    dst(r + i)[t0..t0 + TO].copy_from_slice(s);
                }
            } else {
                let mut sums = [[0f32; TO]; 1];
                row_tile(&mut sums, &x[r * c..(r + 1) * c], w);
                dst(r)[t0..t0 + TO].copy_from_slice(&sums[0]);
            }
        }
        for i in r..r + rows {
            let d = dst(i);
            dots(&mut d[tiled_outs..], &x[i * c..(i + 1) * c], &wb[tiled_outs * c..]);
            if let Some(b) = bias {
                d.iter_mut().zip(b).for_each(|(d, &b)| *d += b);
            }
        }
        r += rows;
    }
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
                    acc[i] = xa[i].mul_add(wb[i], acc[i]);
                }
            }
            *d = fold_lanes(acc) + tail;
        }
    }
}

multiversion! {
    /// `sums[r][o] = x_r . w_o` for `TR` rows of `x` and `TO` rows of `w` (`tile_of`).
    fn tile(sums: &mut [[f32; TO]; TR], x: &[f32], w: &[f32]) {
        tile_of(sums, x, w)
    }
}

multiversion! {
    /// `tile` for one row of `x` (a batch's last rows, and decoding one token).
    fn row_tile(sums: &mut [[f32; TO]; 1], x: &[f32], w: &[f32]) {
        tile_of(sums, x, w)
    }
}

/// `sums[r][o] = x_r . w_o` for the `R` rows of `x` and `TO` rows of `w`, each sum formed in
/// exactly `dots`'s order (lane-wise over chunks, folded, plus the tail), whatever `R`.
#[inline(always)]
fn tile_of<const R: usize>(sums: &mut [[f32; TO]; R], x: &[f32], w: &[f32]) {
    let c = x.len() / R;
    assert!(x.len() == R * c && w.len() == TO * c);
    let q = c / LANES;
    let mut acc = [[[0f32; LANES]; TO]; R];
    for k in 0..q {
        // SAFETY: k < q = c / LANES, so every index below is under (r + 1) * c <= x.len() (or
        // (o + 1) * c <= w.len()), asserted above. Unchecked, so that no panic path makes the
        // sums live in memory instead of registers.
        unsafe {
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let xa = x.get_unchecked(r * c + k * LANES..r * c + (k + 1) * LANES);
                for (o, acc_ro) in acc_r.iter_mut().enumerate() {
                    let wb = w.get_unchecked(o * c + k * LANES..o * c + (k + 1) * LANES);
                    for (i, a) in acc_ro.iter_mut().enumerate() {
                        *a = xa.get_unchecked(i).mul_add(*wb.get_unchecked(i), *a);
                    }
                }
            }
        }
    }
    for (r, sums_r) in sums.iter_mut().enumerate() {
        let xt = &x[r * c + q * LANES..(r + 1) * c];
        for (o, s) in sums_r.iter_mut().enumerate() {
            let wt = &w[o * c + q * LANES..(o + 1) * c];
            let tail = xt.iter().zip(wt).map(|(&a, &b)| a * b).sum::<f32>();
            *s = fold_lanes(acc[r][o]) + tail;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::linear::forward_ref;

    #[test]
    fn equals_the_reference_and_each_row_is_the_same_in_any_batch() {
        let (c, oc, n) = (70, 100, 11);
        let w: Vec<f32> = (0..oc * c).map(|i| ((i * 37 % 101) as f32 - 50.0) / 97.0).collect();
        let bias: Vec<f32> = (0..oc).map(|i| i as f32 / 10.0).collect();
        let inp: Vec<f32> = (0..n * c).map(|i| ((i * 53 % 89) as f32 - 44.0) / 31.0).collect();
        let mut want = vec![0.0; n * oc];
        forward_ref(&mut want, &inp, &w, Some(&bias), n, c, oc);
        let mut all = vec![0.0; n * oc];
        forward(&mut all, &inp, &w, Some(&bias), n, c, oc);
        for (a, b) in all.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        // Each row alone, and every batch size: the tiles and the leftovers agree bit for bit.
        for r in 0..n {
            let mut one = vec![0.0; oc];
            forward(&mut one, &inp[r * c..(r + 1) * c], &w, Some(&bias), 1, c, oc);
            assert_eq!(one, all[r * oc..(r + 1) * oc], "row {r} alone");
        }
        for m in 1..n {
            let mut some = vec![0.0; m * oc];
            forward(&mut some, &inp[..m * c], &w, Some(&bias), m, c, oc);
            assert_eq!(some, all[..m * oc], "the first {m} rows");
        }
    }
}
