//! Linear layers with bf16 weights for decoding: one token's products read every weight once,
//! so they are bound by memory bandwidth, and bf16 storage (the top half of each f32, 8 bits of
//! mantissa) halves the bytes per token. Arithmetic stays f32. Used for inference only, from a
//! packed copy of the weights (`Backend::pack`).
//!
//! The packed copy stores each weight matrix tiled (`tile`), so that the kernel reads one
//! sequential stream while keeping four output rows' sums going at once, and prefetches ahead of
//! it: measured on the 124M model's decoding products, 15.2 -> 8.2 ms per token of weights
//! (16 -> 30 GB/s on 2 threads, the speed of a plain streaming read) against plain rows.

use super::simd::{fold_lanes, multiversion};
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

#[inline(always)]
fn bf16(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

/// Output rows per tile.
const R: usize = 4;
/// Columns per chunk: one 512-bit vector of f32.
const K: usize = 16;

/// Writes the `[oc][c]` matrix `w` into `out` (same length) as bf16 tiles: each group of
/// `R` rows is laid out chunk by chunk, `[c / K][R][K]`, then the group's last `c % K` columns
/// `[R][c % K]`; the last `oc % R` rows stay plain rows after the groups. The same size as the
/// plain matrix, so every matrix keeps its offset in the packed buffer.
pub fn tile(out: &mut [u16], w: &[f32], c: usize, oc: usize) {
    assert!(out.len() == oc * c && w.len() == oc * c);
    let (q, t) = (c / K, c % K);
    let groups = oc / R;
    out.par_chunks_mut(R * c).zip(w.par_chunks(R * c)).enumerate().for_each(|(g, (dst, src))| {
        if g == groups {
            // The leftover rows: plain.
            dst.iter_mut().zip(src).for_each(|(d, &x)| *d = to_bf16(x));
            return;
        }
        for r in 0..R {
            let row = &src[r * c..(r + 1) * c];
            for k in 0..q {
                for (i, &x) in row[k * K..(k + 1) * K].iter().enumerate() {
                    dst[(k * R + r) * K + i] = to_bf16(x);
                }
            }
            for (i, &x) in row[q * K..].iter().enumerate() {
                dst[q * R * K + r * t + i] = to_bf16(x);
            }
        }
    });
}

/// `out[n×oc] = inp[n×c] · W^T (+ bias)` for a few input rows, `W` tiled by `tile`. Threads
/// take contiguous runs of tiles, each streamed once for all `n` rows.
pub fn forward(out: &mut [f32], inp: &[f32], w16: &[u16], bias: Option<&[f32]>, n: usize, c: usize, oc: usize) {
    assert!(out.len() >= n * oc && inp.len() >= n * c && w16.len() >= oc * c && bias.is_none_or(|b| b.len() >= oc));
    let groups = oc / R;
    // About four tasks per thread; the leftover rows (oc % R) are one more task.
    let per = groups.div_ceil(4 * rayon::current_num_threads()).max(1);
    let tasks = groups.div_ceil(per) + usize::from(!oc.is_multiple_of(R));
    let out_p = Shared(out.as_mut_ptr());
    (0..tasks).into_par_iter().for_each(|task| {
        let (g0, g1) = ((task * per).min(groups), ((task + 1) * per).min(groups));
        let (o0, o1) = if g0 == g1 { (groups * R, oc) } else { (g0 * R, g1 * R) };
        let w = &w16[o0 * c..o1 * c];
        for r in 0..n {
            // SAFETY: this task alone writes outputs o0..o1 of each row; bounds asserted.
            let dst = unsafe { std::slice::from_raw_parts_mut(out_p.get().add(r * oc + o0), o1 - o0) };
            let x = &inp[r * c..(r + 1) * c];
            if g0 == g1 {
                plain_rows(dst, x, w);
            } else {
                tiles(dst, x, w);
            }
            if let Some(b) = bias {
                dst.iter_mut().zip(&b[o0..o1]).for_each(|(d, &b)| *d += b);
            }
        }
    });
}

/// `dst = W x` for whole tiles `w` (`dst.len()` a multiple of `R`).
fn tiles(dst: &mut [f32], x: &[f32], w: &[u16]) {
    #[cfg(target_arch = "x86_64")]
    if super::simd::level() == super::simd::Level::V4 {
        // SAFETY: level() found AVX-512 F/BW/DQ/VL on this CPU.
        return unsafe { avx512::tiles(dst, x, w) };
    }
    tiles_portable(dst, x, w)
}

multiversion! {
    /// `tiles` in plain Rust that LLVM vectorises: one row of a tile at a time.
    fn tiles_portable(dst: &mut [f32], x: &[f32], w: &[u16]) {
        let c = x.len();
        let (q, t) = (c / K, c % K);
        for (d4, tile) in dst.chunks_exact_mut(R).zip(w.chunks_exact(R * c)) {
            for (r, d) in d4.iter_mut().enumerate() {
                let mut acc = [0f32; K];
                for (k, xa) in x.chunks_exact(K).enumerate() {
                    let wb = &tile[(k * R + r) * K..][..K];
                    for i in 0..K {
                        acc[i] += xa[i] * bf16(wb[i]);
                    }
                }
                let tail = x[q * K..].iter().zip(&tile[q * R * K + r * t..][..t]).map(|(&a, &b)| a * bf16(b)).sum::<f32>();
                *d = fold_lanes(acc) + tail;
            }
        }
    }
}

multiversion! {
    /// `dst = W x` for plain bf16 rows `w` of `x.len()` each.
    fn plain_rows(dst: &mut [f32], x: &[f32], w: &[u16]) {
        let c = x.len();
        for (d, row) in dst.iter_mut().zip(w.chunks_exact(c)) {
            let mut acc = [0f32; K];
            let (xs, ws) = (x.chunks_exact(K), row.chunks_exact(K));
            let tail = xs.remainder().iter().zip(ws.remainder()).map(|(&a, &b)| a * bf16(b)).sum::<f32>();
            for (xa, wb) in xs.zip(ws) {
                for i in 0..K {
                    acc[i] += xa[i] * bf16(wb[i]);
                }
            }
            *d = fold_lanes(acc) + tail;
        }
    }
}

/// The AVX-512 tile kernel, written with intrinsics: LLVM's vectoriser spills four 16-lane
/// accumulators to the stack, and has no way to say "prefetch".
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{bf16, K, R};
    use std::arch::x86_64::*;

    /// Elements ahead of the current chunk to prefetch into L2: 4 KiB. Measured on the 124M
    /// model's products (2 threads): no prefetch 16 GB/s; into L1 at 1-8 KiB at best 23.5 GB/s;
    /// into L2 at 2/4/8/16 KiB 24/30/30/28 GB/s, the speed of a plain streaming read.
    const AHEAD: usize = 2048;

    /// 16 bf16 weights at `p` as f32: widen to 32 bits and shift into the top half.
    #[inline(always)]
    unsafe fn load(p: *const u16) -> __m512 {
        _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(_mm256_loadu_si256(p.cast()))))
    }

    /// See `super::tiles`.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
    pub(super) unsafe fn tiles(dst: &mut [f32], x: &[f32], w: &[u16]) {
        let c = x.len();
        let (q, t) = (c / K, c % K);
        assert!(R == 4 && w.len() >= dst.len() * c && dst.len().is_multiple_of(R));
        for (g, d4) in dst.chunks_exact_mut(R).enumerate() {
            let tile = &w[g * R * c..(g + 1) * R * c];
            let mut acc = [_mm512_setzero_ps(); R];
            for k in 0..q {
                // SAFETY: chunk k of the tile is R * K elements inside `tile`; x has c >= (k + 1) K.
                unsafe {
                    let p = tile.as_ptr().add(k * R * K);
                    // A prefetch never faults, so running past the end is harmless.
                    _mm_prefetch::<_MM_HINT_T1>(p.wrapping_add(AHEAD).cast());
                    _mm_prefetch::<_MM_HINT_T1>(p.wrapping_add(AHEAD + R * K / 2).cast());
                    let xv = _mm512_loadu_ps(x.as_ptr().add(k * K));
                    for (r, a) in acc.iter_mut().enumerate() {
                        *a = _mm512_fmadd_ps(xv, load(p.add(r * K)), *a);
                    }
                }
            }
            for (r, d) in d4.iter_mut().enumerate() {
                let tail =
                    x[q * K..].iter().zip(&tile[q * R * K + r * t..][..t]).map(|(&a, &b)| a * bf16(b)).sum::<f32>();
                *d = _mm512_reduce_add_ps(acc[r]) + tail;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::random;
    use crate::cpu::linear::forward_ref;

    /// The f64 product of the bf16-rounded weights: what every kernel path must give.
    fn exact(inp: &[f32], w: &[f32], bias: &[f32], n: usize, c: usize, oc: usize) -> Vec<f64> {
        let mut out = vec![0f64; n * oc];
        for r in 0..n {
            for o in 0..oc {
                out[r * oc + o] = bias[o] as f64
                    + (0..c).map(|i| inp[r * c + i] as f64 * bf16(to_bf16(w[o * c + i])) as f64).sum::<f64>();
            }
        }
        out
    }

    #[test]
    fn tiled_bf16_product_equals_the_rounded_weights_product() {
        let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        // Whole tiles and chunks; leftover rows; tail columns; fewer rows than a tile.
        for (n, c, oc) in [(1, 64, 8), (2, 100, 71), (4, 16, 3), (3, 37, 9), (1, 768, 130)] {
            let (inp, w, b) = (f(random(n * c, 51)), f(random(oc * c, 52)), f(random(oc, 53)));
            let mut w16 = vec![0u16; oc * c];
            tile(&mut w16, &w, c, oc);
            let want = exact(&inp, &w, &b, n, c, oc);
            let close = |got: &[f32]| want.iter().zip(got).all(|(a, &b)| (a - b as f64).abs() < 1e-5 * (1.0 + a.abs()));
            let mut got = vec![f32::NAN; n * oc];
            forward(&mut got, &inp, &w16, Some(&b), n, c, oc);
            assert!(close(&got), "{n} {c} {oc}: {want:?} {got:?}");
            // The portable kernel (what CPUs without AVX-512 run) on the same tiles.
            let whole = oc / R * R;
            for r in 0..n {
                let mut row = vec![f32::NAN; oc];
                tiles_portable(&mut row[..whole], &inp[r * c..(r + 1) * c], &w16[..whole * c]);
                plain_rows(&mut row[whole..], &inp[r * c..(r + 1) * c], &w16[whole * c..]);
                row.iter_mut().zip(&b).for_each(|(x, b)| *x += b);
                let want_r = &want[r * oc..(r + 1) * oc];
                assert!(want_r.iter().zip(&row).all(|(a, &b)| (a - b as f64).abs() < 1e-5 * (1.0 + a.abs())));
            }
            // And within bf16's rounding of the f32 product.
            let mut full = vec![0f32; n * oc];
            forward_ref(&mut full, &inp, &w, Some(&b), n, c, oc);
            let scale = full.iter().map(|x| x.abs()).fold(0.0, f32::max);
            assert!(full.iter().zip(&got).all(|(a, b)| (a - b).abs() < 2e-2 * scale));
        }
    }

    #[test]
    fn rounds_to_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        assert_eq!(to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80); // tie to even
        assert_eq!(to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82);
        assert!(bf16(to_bf16(f32::NAN)).is_nan());
    }
}
