//! Linear layers with bf16 weights for decoding: one token's products read every weight once,
//! so they are bound by memory bandwidth, and bf16 storage (the top half of each f32, 8 bits of
//! mantissa) halves the bytes per token. Arithmetic stays f32. Used for inference only, from a
//! packed copy of the weights (`Backend::pack`).
//!
//! The packed copy stores each weight matrix tiled (`tile`), so that the kernel reads one
//! sequential stream while keeping four output rows' sums going at once, and prefetches ahead of
//! it: measured on the 124M model's decoding products, 15.2 -> 8.2 ms per token of weights
//! (16 -> 30 GB/s on 2 threads, the speed of a plain streaming read) against plain rows.
//! Inside a tile, each 16 weights of a row are stored as 8 pairs (`w[i]`, `w[8 + i]`): one
//! 32-bit lane holds both, so AVX2 turns 16 of them into two f32 vectors with one shift and one
//! mask, instead of two widening loads and two shifts (124M model, one row, 2 threads, AVX2:
//! 11.8 -> 8.8 ms of products per token, 21 -> 28 GB/s).
//!
//! Several rows (a server's batch of decoding sequences) go over the weights a cache-sized
//! block at a time, so the weights are read from memory once per batch; on AVX2 two rows share
//! each widened weight vector. Measured on the 124M model's products (2 threads, AVX2): 16 rows
//! 53.9 -> 18.4 ms, 64 rows 199 -> 59 ms, below gemm's f32 at every row count. Every row is
//! summed alike at any row count (one kernel per CPU level), so a batch changes no row's result.

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
/// The column (within its chunk) of each stored weight of a chunk: pairs of columns `i` and
/// `8 + i`, so that 32-bit lane `i` of a chunk holds both (see the header).
const PAIRED: [usize; K] = [0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15];

/// Writes the `[oc][c]` matrix `w` into `out` (same length) as bf16 tiles: each group of
/// `R` rows is laid out chunk by chunk, `[c / K][R][K]`, each chunk's `K` weights in `PAIRED`
/// order, then the group's last `c % K` columns `[R][c % K]`; the last `oc % R` rows stay plain
/// rows after the groups. The same size as the plain matrix, so every matrix keeps its offset
/// in the packed buffer.
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
                for (i, &col) in PAIRED.iter().enumerate() {
                    dst[(k * R + r) * K + i] = to_bf16(row[k * K + col]);
                }
            }
            for (i, &x) in row[q * K..].iter().enumerate() {
                dst[q * R * K + r * t + i] = to_bf16(x);
            }
        }
    });
}

/// `out[n×oc] = inp[n×c] · W^T (+ bias)` for decoding rows, `W` tiled by `tile`. Threads take
/// contiguous runs of tiles, each read from memory once for all `n` rows.
pub fn forward(out: &mut [f32], inp: &[f32], w16: &[u16], bias: Option<&[f32]>, n: usize, c: usize, oc: usize) {
    assert!(out.len() >= n * oc && inp.len() >= n * c && w16.len() >= oc * c && bias.is_none_or(|b| b.len() >= oc));
    let groups = oc / R;
    // About four tasks per thread; the leftover rows (oc % R) are one more task.
    let per = groups.div_ceil(4 * rayon::current_num_threads()).max(1);
    let tasks = groups.div_ceil(per) + usize::from(!oc.is_multiple_of(R));
    let out_p = Shared(out.as_mut_ptr());
    // Tiles a block at a time, every row over a block before the next: the block is read from
    // memory once and from cache for the other rows (a batch of decoding rows costs little
    // more memory traffic than one row). Each row's sums are the same whatever `n`.
    let block = (BLOCK_BYTES / (2 * R * c)).clamp(1, MAX_BLOCK / R) * R;
    (0..tasks).into_par_iter().for_each(|task| {
        let (g0, g1) = ((task * per).min(groups), ((task + 1) * per).min(groups));
        let (o0, o1) = if g0 == g1 { (groups * R, oc) } else { (g0 * R, g1 * R) };
        let mut sums = [0f32; XR * MAX_BLOCK];
        for b0 in (o0..o1).step_by(block) {
            let b1 = (b0 + block).min(o1);
            let (w, outs) = (&w16[b0 * c..b1 * c], b1 - b0);
            for r0 in (0..n).step_by(XR) {
                let r1 = (r0 + XR).min(n);
                let (x, sums) = (&inp[r0 * c..r1 * c], &mut sums[..(r1 - r0) * outs]);
                if g0 == g1 {
                    plain_rows(sums, x, w, c);
                } else {
                    tiles(sums, x, w, c);
                }
                // SAFETY: this task alone writes outputs o0..o1 (so b0..b1) of each row;
                // bounds asserted.
                unsafe { out_p.put_rows(oc, r0, b0, sums, outs, bias) };
            }
        }
    });
}

/// Bytes of weights per block: half of a 48 KiB L1 data cache (24 KiB: 8 tiles at 768 columns).
const BLOCK_BYTES: usize = 24 << 10;
/// Outputs per block at most (narrow matrices: the sums of a pass stay a small stack array).
const MAX_BLOCK: usize = 64;
/// Input rows per pass over a block.
const XR: usize = 4;

/// `dst[r] = W x_r` for the rows of `x` (`c` each; `dst` is `[rows][outputs]`), `w` whole
/// tiles. One kernel per CPU level, so every row of every batch is summed alike on a machine.
fn tiles(dst: &mut [f32], x: &[f32], w: &[u16], c: usize) {
    let outs = w.len() / c;
    #[cfg(target_arch = "x86_64")]
    match super::simd::level() {
        super::simd::Level::V4 => {
            for (d, x) in dst.chunks_exact_mut(outs).zip(x.chunks_exact(c)) {
                // SAFETY: level() found AVX-512 F/BW/DQ/VL on this CPU.
                unsafe { avx512::tiles(d, x, w) };
            }
            return;
        }
        super::simd::Level::V3 => {
            for (d, x) in dst.chunks_mut(2 * outs).zip(x.chunks(2 * c)) {
                // SAFETY: level() found AVX2 and FMA on this CPU; the shapes are the kernel's.
                unsafe {
                    if x.len() == 2 * c {
                        avx2::tiles::<2>(d, x, w, c)
                    } else {
                        avx2::tiles::<1>(d, x, w, c)
                    }
                }
            }
            return;
        }
        super::simd::Level::Base => {}
    }
    for (d, x) in dst.chunks_exact_mut(outs).zip(x.chunks_exact(c)) {
        tiles_portable(d, x, w);
    }
}

multiversion! {
    /// `tiles` for one row in plain Rust that LLVM vectorises: one row of a tile at a time.
    fn tiles_portable(dst: &mut [f32], x: &[f32], w: &[u16]) {
        let c = x.len();
        let (q, t) = (c / K, c % K);
        for (d4, tile) in dst.chunks_exact_mut(R).zip(w.chunks_exact(R * c)) {
            for (r, d) in d4.iter_mut().enumerate() {
                let mut acc = [0f32; K];
                for (k, xa) in x.chunks_exact(K).enumerate() {
                    let wb = &tile[(k * R + r) * K..][..K];
                    for i in 0..K {
                        acc[i] += xa[PAIRED[i]] * bf16(wb[i]);
                    }
                }
                let tail = x[q * K..].iter().zip(&tile[q * R * K + r * t..][..t]).map(|(&a, &b)| a * bf16(b)).sum::<f32>();
                *d = fold_lanes(acc) + tail;
            }
        }
    }
}

/// `dst[r] = W x_r` for plain bf16 rows `w` of `c` each (a matrix's last `oc % R` outputs).
fn plain_rows(dst: &mut [f32], x: &[f32], w: &[u16], c: usize) {
    let outs = w.len() / c;
    for (d, x) in dst.chunks_exact_mut(outs).zip(x.chunks_exact(c)) {
        plain_row(d, x, w);
    }
}

multiversion! {
    /// `dst = W x` for plain bf16 rows `w` of `x.len()` each.
    fn plain_row(dst: &mut [f32], x: &[f32], w: &[u16]) {
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

/// The AVX2 tile kernel, written with intrinsics: two input rows at a time share each widened
/// weight vector (LLVM's vectoriser, given the same loop, vectorised across rows and spilled).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::super::simd::hsum8 as hsum;
    use super::{bf16, K, R};
    use std::arch::x86_64::*;

    /// Elements ahead of the current chunk to prefetch (2 KiB). Measured on one row, 2 threads:
    /// the tiny model's products (in L3) 0.53 -> 0.37 ms; the 124M model's (from memory) level
    /// within the noise, where 4 KiB and more, or a prefetch in the f32 kernel, cost 5-10%.
    const AHEAD: usize = 1024;

    /// A chunk's 16 bf16 weights at `p` (stored in `PAIRED` order) as two f32 vectors, columns
    /// 0..8 and 8..16: lane `i` holds columns `i` (low half) and `8 + i` (high half), so a
    /// shift moves the first into place and a mask leaves the second.
    #[inline(always)]
    unsafe fn load(p: *const u16) -> [__m256; 2] {
        // SAFETY: the caller's promise that 16 elements at `p` are readable.
        unsafe {
            let v = _mm256_loadu_si256(p.cast());
            let high = _mm256_and_si256(v, _mm256_set1_epi32(0xffff_0000_u32 as i32));
            [_mm256_castsi256_ps(_mm256_slli_epi32::<16>(v)), _mm256_castsi256_ps(high)]
        }
    }

    /// `dst[r][o] = x_r . w_o` for the `N` rows of `x` (`c` each) and whole tiles `w`; `dst`
    /// is `[N][outputs]`. Each sum is formed alike whatever `N`: 8-lane fused multiply-adds over
    /// the chunks in order (columns 0..8 of a chunk, then 8..16), `hsum`, plus the tail. One
    /// tile at a time: its four sums per row are enough to cover the multiply-adds' latency at
    /// the speed memory feeds them (two tiles at once, one sequential stream fewer, measured
    /// 5-10% slower on one row).
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tiles<const N: usize>(dst: &mut [f32], x: &[f32], w: &[u16], c: usize) {
        let outs = w.len() / c;
        let (q, t) = (c / K, c % K);
        assert!(R == 4 && K == 16 && x.len() == N * c && dst.len() == N * outs && outs.is_multiple_of(R));
        for (g, tile) in w.chunks_exact(R * c).enumerate() {
            let mut acc = [[_mm256_setzero_ps(); R]; N];
            for k in 0..q {
                // SAFETY: AVX2 and FMA (the caller's promise); chunk k of the tile is R * K
                // elements inside it (k < q = c / K); row r's chunk ends at
                // r * c + (k + 1) * K <= N * c = x.len(). A prefetch never faults, so running
                // past the end is harmless.
                unsafe {
                    let p = tile.as_ptr().add(k * R * K);
                    _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(AHEAD).cast());
                    _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(AHEAD + R * K / 2).cast());
                    let mut wv = [[_mm256_setzero_ps(); 2]; R];
                    for (o, v) in wv.iter_mut().enumerate() {
                        *v = load(p.add(o * K));
                    }
                    for (r, acc_r) in acc.iter_mut().enumerate() {
                        let xp = x.as_ptr().add(r * c + k * K);
                        let xv = [_mm256_loadu_ps(xp), _mm256_loadu_ps(xp.add(K / 2))];
                        for (a, v) in acc_r.iter_mut().zip(&wv) {
                            *a = _mm256_fmadd_ps(xv[0], v[0], *a);
                            *a = _mm256_fmadd_ps(xv[1], v[1], *a);
                        }
                    }
                }
            }
            for (r, acc_r) in acc.iter().enumerate() {
                let xt = &x[r * c + q * K..(r + 1) * c];
                for (o, &a) in acc_r.iter().enumerate() {
                    let tail = xt.iter().zip(&tile[q * R * K + o * t..][..t]).map(|(&a, &b)| a * bf16(b)).sum::<f32>();
                    dst[r * outs + g * R + o] = hsum(a) + tail;
                }
            }
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
        let paired = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
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
                    // The chunk's inputs in the weights' `PAIRED` order.
                    let xv = _mm512_permutexvar_ps(paired, _mm512_loadu_ps(x.as_ptr().add(k * K)));
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
                plain_row(&mut row[whole..], &inp[r * c..(r + 1) * c], &w16[whole * c..]);
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
    fn each_row_is_the_same_in_any_batch() {
        // Tiles, leftover outputs and tail columns; more rows than one call of the kernel takes.
        let (n, c, oc) = (11, 70, 103);
        let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let (inp, w, b) = (f(random(n * c, 61)), f(random(oc * c, 62)), f(random(oc, 63)));
        let mut w16 = vec![0u16; oc * c];
        tile(&mut w16, &w, c, oc);
        let mut all = vec![0.0; n * oc];
        forward(&mut all, &inp, &w16, Some(&b), n, c, oc);
        for r in 0..n {
            let mut one = vec![0.0; oc];
            forward(&mut one, &inp[r * c..(r + 1) * c], &w16, Some(&b), 1, c, oc);
            assert_eq!(one, all[r * oc..(r + 1) * oc], "row {r} alone");
        }
        for m in 1..n {
            let mut some = vec![0.0; m * oc];
            forward(&mut some, &inp[..m * c], &w16, Some(&b), m, c, oc);
            assert_eq!(some, all[..m * oc], "the first {m} rows");
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
