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
//!
//! That tile of 16-lane sums fits AVX-512's 32 registers; on a CPU with AVX2 only it would
//! need 32 of its 16, so such CPUs run `avx2::block` instead: 4 rows by 3 outputs of 8-lane
//! sums, and one row 4 outputs at a time. Measured on the 124M model's products (2 threads,
//! AVX2): 16 rows 30 -> 18 ms, 64 rows 110 -> 53 ms, below gemm from 2 rows up and level
//! with it at one row. Each CPU runs one kernel for every row count, so the invariance holds.

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
/// `cached`: the weights are likely still in the last-level cache from the previous step (the
/// whole model fits, `fits_in_cache`); one row then prefetches ahead, which pays from cache and
/// costs when streaming from memory (see `avx2::block`). Either way the sums are the same.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    out: &mut [f32],
    inp: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    n: usize,
    c: usize,
    oc: usize,
    cached: bool,
) {
    assert!(out.len() >= n * oc && inp.len() >= n * c && w.len() >= oc * c && bias.is_none_or(|b| b.len() >= oc));
    if n == 0 || oc == 0 {
        return;
    }
    // About four runs of outputs per thread, but none so short that handing it to a thread
    // costs more than it saves (a small model's one-row products), and a multiple of the
    // threads where there are enough (3 runs on 2 threads would leave one thread idle for a
    // third of the product).
    let threads = rayon::current_num_threads();
    let runs = (n * c * oc / MIN_TASK).clamp(1, 4 * threads);
    let runs = if runs >= threads { runs / threads * threads } else { runs };
    let per = oc.div_ceil(runs).next_multiple_of(BLOCK);
    let out_p = Shared(out.as_mut_ptr());
    (0..oc.div_ceil(per)).into_par_iter().for_each(|task| {
        let (o0, o1) = (task * per, ((task + 1) * per).min(oc));
        let mut sums = [0f32; PASS_ROWS * BLOCK];
        // Rows a pass at a time, so that a pass's inputs stay in cache over the run's blocks.
        for p0 in (0..n).step_by(PASS_ROWS) {
            let p1 = (p0 + PASS_ROWS).min(n);
            for b0 in (o0..o1).step_by(BLOCK) {
                let (b1, outs) = ((b0 + BLOCK).min(o1), (b0 + BLOCK).min(o1) - b0);
                let sums = &mut sums[..(p1 - p0) * outs];
                products(sums, &inp[p0 * c..p1 * c], &w[b0 * c..b1 * c], c, cached);
                // SAFETY: this task alone writes outputs o0..o1 (so b0..b1) of each row;
                // bounds asserted above.
                unsafe { out_p.put_rows(oc, p0, b0, sums, outs, bias) };
            }
        }
    });
}

/// Whether `bytes` of weights fit in this CPU's last-level cache (read once from Linux's
/// sysfs; elsewhere, or where it says nothing, they are taken not to).
pub fn fits_in_cache(bytes: usize) -> bool {
    static LLC: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    bytes <= *LLC.get_or_init(|| last_level_cache().unwrap_or(0))
}

/// The largest unified cache of CPU 0 in bytes, from `/sys/devices/system/cpu/cpu0/cache`.
fn last_level_cache() -> Option<usize> {
    let dir = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok()?;
    let size = |entry: std::fs::DirEntry| -> Option<usize> {
        let read = |name: &str| std::fs::read_to_string(entry.path().join(name)).ok();
        if read("type")?.trim() != "Unified" {
            return None;
        }
        let size = read("size")?;
        let size = size.trim();
        let (digits, unit) = size.split_at(size.find(|ch: char| !ch.is_ascii_digit()).unwrap_or(size.len()));
        let shift = match unit {
            "" => 0,
            "K" => 10,
            "M" => 20,
            _ => return None,
        };
        Some(digits.parse::<usize>().ok()? << shift)
    };
    dir.flatten().filter_map(size).max()
}

/// Multiply-adds per task at least.
const MIN_TASK: usize = 1 << 16;

/// Rows per pass over a run of outputs (their inputs, 96 KiB at 768 columns, stay in L2).
const PASS_ROWS: usize = 32;

/// `sums[r][o] = x_r . w_o` for the rows of `x` and of `wb` (`c` each) with this CPU's one
/// kernel: `avx2::block` where AVX2 is the best there is, else the portable `block`.
fn products(sums: &mut [f32], x: &[f32], wb: &[f32], c: usize, cached: bool) {
    #[cfg(target_arch = "x86_64")]
    if super::simd::level() == super::simd::Level::V3 {
        // SAFETY: level() found AVX2 and FMA on this CPU.
        return unsafe {
            if cached {
                avx2::block::<true>(sums, x, wb, c)
            } else {
                avx2::block::<false>(sums, x, wb, c)
            }
        };
    }
    block(sums, x, wb, c)
}

multiversion! {
    /// `sums[r][o] = x_r . w_o` for the rows of `x` (`c` each) and the rows of `wb` (a block
    /// of outputs): 4-row tiles, then the last rows one at a time; in each, 4-output tiles,
    /// then the last outputs. Compiled whole for each instruction-set level, the tiles inlined.
    fn block(sums: &mut [f32], x: &[f32], wb: &[f32], c: usize) {
        let (n, outs) = (x.len() / c, wb.len() / c);
        let tiled_outs = outs - outs % TO;
        let mut r = 0;
        while r < n {
            let rows = if r + TR <= n { TR } else { 1 };
            for t0 in (0..tiled_outs).step_by(TO) {
                let w = &wb[t0 * c..(t0 + TO) * c];
                if rows == TR {
                    let mut s = [[0f32; TO]; TR];
                    tile_of(&mut s, &x[r * c..(r + TR) * c], w);
                    for (i, s) in s.iter().enumerate() {
                        sums[(r + i) * outs + t0..][..TO].copy_from_slice(s);
                    }
                } else {
                    let mut s = [[0f32; TO]; 1];
                    tile_of(&mut s, &x[r * c..(r + 1) * c], w);
                    sums[r * outs + t0..][..TO].copy_from_slice(&s[0]);
                }
            }
            for i in r..r + rows {
                dots_of(&mut sums[i * outs + tiled_outs..(i + 1) * outs], &x[i * c..(i + 1) * c], &wb[tiled_outs * c..]);
            }
            r += rows;
        }
    }
}

/// `block` for CPUs with AVX2 but not AVX-512, written with intrinsics: `tile_of`'s 4x4 tile
/// of 16-lane sums needs 32 AVX2 registers, twice what there are, so LLVM spills it. Here a
/// tile is 4 rows by 3 outputs of 8-lane sums (12 registers, 3 for the weights, 1 for the
/// input). One kernel for every row count on such a CPU, so each row's outputs are the same in
/// any batch.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::super::simd::hsum8 as hsum;
    use std::arch::x86_64::*;

    const L: usize = 8;

    /// `sums[r][o] = x_r . w_o` for the rows of `x` and of `wb` (`c` each; `sums` is
    /// `[rows][outputs]`): 4-row by 3-output tiles, the last rows one at a time (4 outputs at
    /// a time), the last outputs one at a time.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn block<const PREFETCH: bool>(sums: &mut [f32], x: &[f32], wb: &[f32], c: usize) {
        let (n, outs) = (x.len() / c, wb.len() / c);
        assert!(x.len() == n * c && wb.len() == outs * c && sums.len() == n * outs);
        let mut r = 0;
        while r < n {
            let xr = &x[r * c..];
            let mut o = 0;
            while o < outs {
                let w = &wb[o * c..];
                let s = &mut sums[r * outs + o..];
                // One row takes 4 outputs at a time: 4 sums cover the multiply-adds' latency at
                // the speed memory feeds them, and 4 streams of weights at once suit the
                // hardware prefetcher better than 8 (measured, one row, 2 threads: the tiny
                // model's products 0.80 -> 0.65 ms, the 124M's level). Prefetching the next
                // tile pays only for weights already in cache (tiny: 0.65 -> 0.53 ms) and costs
                // 3-11% on weights streamed from memory (124M), hence `PREFETCH`.
                // SAFETY: AVX2 and FMA (the caller's promise); the tile's rows and outputs are
                // inside `x`, `wb` and `sums` (`tile`'s requirements).
                o += unsafe {
                    match (n - r >= 4, outs - o) {
                        (true, 3..) => tile::<4, 3, false>(s, outs, xr, w, c),
                        (true, _) => tile::<4, 1, false>(s, outs, xr, w, c),
                        (false, 4..) => tile::<1, 4, PREFETCH>(s, outs, xr, w, c),
                        (false, _) => tile::<1, 1, false>(s, outs, xr, w, c),
                    }
                };
            }
            r += if n - r >= 4 { 4 } else { 1 };
        }
    }

    /// `s[i * stride + j] = x_i . w_j` for `N` rows of `x` and `M` rows of `w` (`c` each): each
    /// sum is 8-lane fused multiply-adds over the chunks in order, `hsum`, plus the tail,
    /// whatever `N` and `M`. Returns `M`.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; `x` holds at least `N` rows, `w` at least `M`, and `s`
    /// at least `(N - 1) * stride + M` elements.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const N: usize, const M: usize, const PREFETCH: bool>(
        s: &mut [f32],
        stride: usize,
        x: &[f32],
        w: &[f32],
        c: usize,
    ) -> usize {
        assert!(x.len() >= N * c && w.len() >= M * c && s.len() > (N - 1) * stride + M - 1);
        let q = c / L;
        let mut acc = [[_mm256_setzero_ps(); M]; N];
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        for k in 0..q {
            // SAFETY: chunk k (k < q = c / L) of row i or output j ends at most at
            // (i or j) * c + c, inside `x` and `w` (asserted above).
            unsafe {
                if PREFETCH {
                    // The next tile's M rows (the M * c elements after this tile's) into L2 as
                    // one sequential stream, M * L elements per chunk, while this tile's M
                    // short streams are summed. A prefetch never faults, so running past the
                    // end is harmless.
                    for line in 0..(M * L).div_ceil(16) {
                        _mm_prefetch::<_MM_HINT_T1>(wp.wrapping_add(M * c + k * L * M + line * 16).cast());
                    }
                }
                let mut wv = [_mm256_setzero_ps(); M];
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = _mm256_loadu_ps(wp.add(j * c + k * L));
                }
                for (i, acc_i) in acc.iter_mut().enumerate() {
                    let xv = _mm256_loadu_ps(xp.add(i * c + k * L));
                    for (a, &v) in acc_i.iter_mut().zip(&wv) {
                        *a = _mm256_fmadd_ps(xv, v, *a);
                    }
                }
            }
        }
        for (i, acc_i) in acc.iter().enumerate() {
            let xt = &x[i * c + q * L..(i + 1) * c];
            for (j, &a) in acc_i.iter().enumerate() {
                let tail = xt.iter().zip(&w[j * c + q * L..(j + 1) * c]).map(|(&a, &b)| a * b).sum::<f32>();
                s[i * stride + j] = hsum(a) + tail;
            }
        }
        M
    }
}

/// `dst = W x` for rows `w` of `x.len()` each: lane-wise sums, folded in a fixed order.
#[inline(always)]
fn dots_of(dst: &mut [f32], x: &[f32], w: &[f32]) {
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
        forward(&mut all, &inp, &w, Some(&bias), n, c, oc, false);
        for (a, b) in all.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        // Each row alone, and every batch size: the tiles and the leftovers agree bit for bit.
        for r in 0..n {
            let mut one = vec![0.0; oc];
            forward(&mut one, &inp[r * c..(r + 1) * c], &w, Some(&bias), 1, c, oc, r % 2 == 0);
            assert_eq!(one, all[r * oc..(r + 1) * oc], "row {r} alone");
        }
        for m in 1..n {
            let mut some = vec![0.0; m * oc];
            forward(&mut some, &inp[..m * c], &w, Some(&bias), m, c, oc, m % 2 == 1);
            assert_eq!(some, all[..m * oc], "the first {m} rows");
        }
    }

    #[test]
    fn nothing_is_too_small_for_the_cache_and_not_everything_fits() {
        assert!(fits_in_cache(0));
        assert!(!fits_in_cache(usize::MAX));
    }

    #[test]
    fn the_portable_kernel_is_row_invariant_too() {
        // What CPUs with AVX-512 or without AVX2 run (`forward` here may take the AVX2 path).
        let (c, outs, n) = (70, 14, 11);
        let w: Vec<f32> = (0..outs * c).map(|i| ((i * 37 % 101) as f32 - 50.0) / 97.0).collect();
        let inp: Vec<f32> = (0..n * c).map(|i| ((i * 53 % 89) as f32 - 44.0) / 31.0).collect();
        let mut want = vec![0.0; n * outs];
        forward_ref(&mut want, &inp, &w, None, n, c, outs);
        let mut all = vec![0.0; n * outs];
        block(&mut all, &inp, &w, c);
        assert!(all.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-4), "{all:?} vs {want:?}");
        for m in 1..n {
            let mut some = vec![0.0; m * outs];
            block(&mut some, &inp[..m * c], &w, c);
            assert_eq!(some, all[..m * outs], "the first {m} rows");
            let mut one = vec![0.0; outs];
            block(&mut one, &inp[m * c..(m + 1) * c], &w, c);
            assert_eq!(one, all[m * outs..(m + 1) * outs], "row {m} alone");
        }
    }
}
