//! Linear layers with bf16 weights for decoding: one token's products read every weight once,
//! so they are bound by memory bandwidth, and bf16 storage (the top half of each f32, 8 bits of
//! mantissa) halves the bytes per token. Arithmetic stays f32. Used for inference only, from a
//! packed copy of the weights (`Backend::pack`).
//!
//! The packed copy stores each weight matrix in panels of 16 outputs (`pack`): a panel is its
//! `c` input columns in order, each column's 16 weights side by side, so that an 8-lane vector
//! of sums holds 8 outputs and every sum is one chain of fused multiply-adds over the inputs in
//! order, `s = fma(x[k], w[k], s)` for k = 0, 1, ... (the outer-product form that BLAS
//! micro-kernels use, as in BLIS and the `gemm` crate). The order is the same in every tile
//! shape, so a server's batch of decoding rows can be cut into whatever tiles suit it and each
//! row still gets exactly the sums it would get alone (batch invariance: a seed means the same
//! text under any load).
//!
//! The tiles (AVX2): several rows share each weight vector (6 rows by one panel: 12 sums in
//! registers, two weight vectors and a broadcast input), which makes a batch compute-bound
//! instead of load-bound; one row takes 4 panels at once, 8 independent chains to cover the
//! multiply-add latency, and prefetches its 4 weight streams. The dot-product form this
//! replaces (8-lane sums per output, folded at the end) shared a weight vector between 2 rows
//! only and spent a horizontal fold per output. A decoding step's products, 2 threads, AVX2,
//! old and new alternated 4 times (`bench/src/rows.rs`, best of 100): tiny model 16 rows 1.70 ->
//! 1.38 ms, 64 rows 7.9 -> 3.9 ms; 124M 16 rows 33.6 -> 28.3 ms, 64 rows 121 -> 93 ms; one row
//! level (tiny 0.34 -> 0.31 ms, 124M 8.1 -> 8.3 ms, read from memory at 30 GB/s).
//!
//! Inside a panel's column the 16 weights are stored as 8 pairs (outputs `i`, `8 + i`): one
//! 32-bit lane holds both, so AVX2 turns them into two f32 vectors with one shift and one mask.
//! CPUs with AVX-512 run the AVX2 kernel too; others a portable one (each CPU one kernel, so
//! the invariance holds on every machine).

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

/// Outputs per panel: two 8-lane vectors.
const P: usize = 16;
/// The output (within its panel) of each stored weight of a column: pairs of outputs `i` and
/// `8 + i`, so that 32-bit lane `i` holds both (see the header).
const PAIRED: [usize; P] = [0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15];
/// Panels that one row takes at once (8 chains of sums, 4 weight streams).
const ONE_ROW: usize = 4;
/// Bytes of inputs per pass over a run of panels: half of a 512 KiB L2.
const PASS_BYTES: usize = 256 << 10;
/// Rows per tile at most: 12 sums, 2 weight vectors and one broadcast input in AVX2's 16
/// registers.
const MR: usize = 6;

/// Writes the `[oc][c]` matrix `w` into `out` (same length) as bf16 panels: each group of `P`
/// outputs is laid out column by column, `[c][P]`, each column's weights in `PAIRED` order; the
/// last `oc % P` outputs stay plain rows after the panels. The same size as the plain matrix,
/// so every matrix keeps its offset in the packed buffer.
pub fn pack(out: &mut [u16], w: &[f32], c: usize, oc: usize) {
    assert!(out.len() == oc * c && w.len() == oc * c);
    let panels = oc / P;
    out.par_chunks_mut(P * c).zip(w.par_chunks(P * c)).enumerate().for_each(|(g, (dst, src))| {
        if g == panels {
            // The leftover outputs: plain rows.
            dst.iter_mut().zip(src).for_each(|(d, &x)| *d = to_bf16(x));
            return;
        }
        for (k, column) in dst.chunks_exact_mut(P).enumerate() {
            for (d, &o) in column.iter_mut().zip(&PAIRED) {
                *d = to_bf16(src[o * c + k]);
            }
        }
    });
}

/// `out[n×oc] = inp[n×c] · W^T (+ bias)` for decoding rows, `W` packed by `pack`. Threads take
/// runs of panels; each panel is read from memory once and from cache for the other rows.
pub fn forward(out: &mut [f32], inp: &[f32], w16: &[u16], bias: Option<&[f32]>, n: usize, c: usize, oc: usize) {
    assert!(out.len() >= n * oc && inp.len() >= n * c && w16.len() >= oc * c && bias.is_none_or(|b| b.len() >= oc));
    if n == 0 || oc == 0 {
        return;
    }
    let panels = oc / P;
    // About four runs per thread, each whole one-row steps; the leftover outputs one more task.
    let per = panels.div_ceil(4 * rayon::current_num_threads()).max(1).next_multiple_of(ONE_ROW);
    let tasks = panels.div_ceil(per) + usize::from(!oc.is_multiple_of(P));
    let out_p = Shared(out.as_mut_ptr());
    (0..tasks).into_par_iter().for_each(|task| {
        let (p0, p1) = ((task * per).min(panels), ((task + 1) * per).min(panels));
        if p0 == p1 {
            let o0 = panels * P;
            for r in 0..n {
                // SAFETY: this task alone writes outputs o0..oc of each row; bounds asserted.
                let dst = unsafe { std::slice::from_raw_parts_mut(out_p.get().add(r * oc + o0), oc - o0) };
                plain_rows(dst, &inp[r * c..(r + 1) * c], &w16[o0 * c..oc * c], bias.map(|b| &b[o0..oc]));
            }
            return;
        }
        // Rows a pass at a time, so that a pass's inputs stay in L2 over the run's panels (a
        // prompt's hundreds of rows would otherwise stream from L3 once per panel).
        let pass = (PASS_BYTES / (4 * c)).next_multiple_of(MR);
        for q0 in (0..n).step_by(pass) {
            let q1 = (q0 + pass).min(n);
            for g0 in (p0..p1).step_by(ONE_ROW) {
                let g1 = (g0 + ONE_ROW).min(p1);
                let (w, bias) = (&w16[g0 * P * c..g1 * P * c], bias.map(|b| &b[g0 * P..g1 * P]));
                let mut r = q0;
                while r < q1 {
                    let rows = (q1 - r).min(MR);
                    let x = &inp[r * c..(r + rows) * c];
                    // SAFETY: this task alone writes outputs g0 * P..g1 * P of each row; the
                    // rows r..r + rows are inside `out` (asserted).
                    unsafe { panels_of(out_p.get().add(r * oc + g0 * P), oc, x, w, c, bias) };
                    r += rows;
                }
            }
        }
    });
}

/// `out[i * oc + o] = x_i . w_o (+ bias[o])` for the rows of `x` (at most `MR`, `c` each) and
/// the outputs of the whole panels `w`, with this CPU's kernel.
///
/// # Safety
/// `out` addresses rows of `oc` elements with room for `x.len() / c` rows of `w.len() / c`
/// outputs, and no other thread writes those elements meanwhile.
unsafe fn panels_of(out: *mut f32, oc: usize, x: &[f32], w: &[u16], c: usize, bias: Option<&[f32]>) {
    #[cfg(target_arch = "x86_64")]
    if super::simd::level() != super::simd::Level::Base {
        // SAFETY: level() found AVX2 and FMA (V3, or V4 which has both); the caller's promise.
        return unsafe { avx2::panels(out, oc, x, w, c, bias) };
    }
    let outs = w.len() / c;
    for (r, x) in x.chunks_exact(c).enumerate() {
        // SAFETY: the caller's promise, for row r.
        let dst = unsafe { std::slice::from_raw_parts_mut(out.add(r * oc), outs) };
        panels_portable(dst, x, w);
        if let Some(b) = bias {
            dst.iter_mut().zip(b).for_each(|(d, b)| *d += b);
        }
    }
}

/// `dst = W x` for whole panels `w`, one row, in plain Rust (CPUs without AVX2): each output's
/// sum over the inputs in order, 16 outputs side by side so that LLVM vectorises across them.
fn panels_portable(dst: &mut [f32], x: &[f32], w: &[u16]) {
    let c = x.len();
    for (d, panel) in dst.chunks_exact_mut(P).zip(w.chunks_exact(P * c)) {
        let mut acc = [0f32; P];
        for (&xk, column) in x.iter().zip(panel.chunks_exact(P)) {
            for (a, &b) in acc.iter_mut().zip(column) {
                *a += xk * bf16(b);
            }
        }
        for (&a, &o) in acc.iter().zip(&PAIRED) {
            d[o] = a;
        }
    }
}

/// `dst[o] = w_o . x (+ bias[o])` for plain bf16 rows `w` of `x.len()` each (a matrix's last
/// `oc % P` outputs): one sum over the inputs in order, as in the panels.
fn plain_rows(dst: &mut [f32], x: &[f32], w: &[u16], bias: Option<&[f32]>) {
    for (o, (d, row)) in dst.iter_mut().zip(w.chunks_exact(x.len())).enumerate() {
        let s = x.iter().zip(row).fold(0f32, |s, (&a, &b)| a.mul_add(bf16(b), s));
        *d = s + bias.map_or(0.0, |b| b[o]);
    }
}

/// The AVX2 kernel, written with intrinsics (tiles of rows by panels, sums in registers).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{MR, ONE_ROW, P};
    use std::arch::x86_64::*;

    /// Bytes ahead of each of one row's 4 weight streams to prefetch.
    const AHEAD: usize = 512;

    /// A column's 16 bf16 weights at `p` (stored in `PAIRED` order) as two f32 vectors, outputs
    /// 0..8 and 8..16: lane `i` holds outputs `i` (low half) and `8 + i` (high half), so a
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

    /// See `super::panels_of`: cuts the rows and panels into tiles.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; as `super::panels_of`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn panels(out: *mut f32, oc: usize, x: &[f32], w: &[u16], c: usize, bias: Option<&[f32]>) {
        let (rows, np) = (x.len() / c, w.len() / (P * c));
        assert!(rows <= MR && x.len() == rows * c && w.len() == np * P * c && bias.is_none_or(|b| b.len() == np * P));
        // SAFETY: AVX2 and FMA, and `out` as the caller promised; each `K` divides `np`.
        unsafe {
            match (rows, np) {
                (1, ONE_ROW) => tiles::<1, 4, true>(out, oc, x, w, c, bias),
                (1, _) => tiles::<1, 1, true>(out, oc, x, w, c, bias),
                (2, 2 | 4) => tiles::<2, 2, false>(out, oc, x, w, c, bias),
                (2, _) => tiles::<2, 1, false>(out, oc, x, w, c, bias),
                (3, _) => tiles::<3, 1, false>(out, oc, x, w, c, bias),
                (4, _) => tiles::<4, 1, false>(out, oc, x, w, c, bias),
                (5, _) => tiles::<5, 1, false>(out, oc, x, w, c, bias),
                _ => tiles::<6, 1, false>(out, oc, x, w, c, bias),
            }
        }
    }

    /// The panels of `w`, `K` at a time (`K` divides their number), each over all the rows.
    ///
    /// # Safety
    /// As `panels`, with `x` holding `R` rows.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tiles<const R: usize, const K: usize, const PREFETCH: bool>(
        out: *mut f32,
        oc: usize,
        x: &[f32],
        w: &[u16],
        c: usize,
        bias: Option<&[f32]>,
    ) {
        assert!(x.len() == R * c && w.len().is_multiple_of(K * P * c));
        for q in (0..w.len() / (P * c)).step_by(K) {
            // SAFETY: AVX2 and FMA; panels q..q + K are inside `w` (asserted), outputs
            // q * P..(q + K) * P of the R rows inside `out` and `bias` (the caller's promise).
            unsafe {
                let bias = bias.map(|b| b[q * P..].as_ptr());
                tile::<R, K, PREFETCH>(out.add(q * P), oc, x.as_ptr(), c, w.as_ptr().add(q * P * c), bias)
            }
        }
    }

    /// `out[i * oc + o] = x_i . w_o (+ bias[o])` for `R` rows of `x` (`c` each) and `K`
    /// panels at `w` (`P * c` each): every sum one chain of fused multiply-adds over the
    /// inputs in order, whatever `R` and `K`.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; `x` holds `R` rows, `w` `K` panels, `bias` (if any) `K *
    /// P` elements, and `out` has room for `R` rows of `K * P` outputs at stride `oc`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const R: usize, const K: usize, const PREFETCH: bool>(
        out: *mut f32,
        oc: usize,
        x: *const f32,
        c: usize,
        w: *const u16,
        bias: Option<*const f32>,
    ) {
        let mut acc = [[[_mm256_setzero_ps(); 2]; K]; R];
        for k in 0..c {
            // SAFETY: k < c, so column k of each panel and input k of each row are inside
            // (the caller's promise). A prefetch never faults, so running past the end is
            // harmless.
            unsafe {
                if PREFETCH && k % 4 == 0 {
                    // One 64-byte line per stream every two columns; every fourth column,
                    // two lines, so the check costs less than the prefetch it guards.
                    for q in 0..K {
                        let p = w.wrapping_add(q * P * c + k * P).cast::<u8>().wrapping_add(AHEAD);
                        _mm_prefetch::<_MM_HINT_T0>(p.cast());
                        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64).cast());
                    }
                }
                for (q, acc_q) in (0..K).zip(0..) {
                    let [w0, w1] = load(w.add(q * P * c + k * P));
                    for (i, acc_i) in acc.iter_mut().enumerate() {
                        let xb = _mm256_broadcast_ss(&*x.add(i * c + k));
                        let a: &mut [__m256; 2] = &mut acc_i[acc_q];
                        a[0] = _mm256_fmadd_ps(xb, w0, a[0]);
                        a[1] = _mm256_fmadd_ps(xb, w1, a[1]);
                    }
                }
            }
        }
        for (i, acc_i) in acc.iter().enumerate() {
            for (q, a) in acc_i.iter().enumerate() {
                for (h, &v) in a.iter().enumerate() {
                    let o = q * P + h * 8;
                    // SAFETY: output o..o + 8 of row i is inside (the caller's promise).
                    unsafe {
                        let v = match bias {
                            Some(b) => _mm256_add_ps(v, _mm256_loadu_ps(b.add(o))),
                            None => v,
                        };
                        _mm256_storeu_ps(out.add(i * oc + o), v);
                    }
                }
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

    fn f(v: Vec<f64>) -> Vec<f32> {
        v.into_iter().map(|x| x as f32).collect()
    }

    #[test]
    fn packed_bf16_product_equals_the_rounded_weights_product() {
        // Whole panels and one-row steps; leftover outputs; fewer outputs than a panel; every
        // tile height and more rows than one tile; more rows than one pass (32 at 2048 inputs).
        let shapes = [
            (1, 64, 64),
            (2, 100, 71),
            (4, 16, 3),
            (3, 37, 9),
            (1, 768, 130),
            (7, 33, 96),
            (16, 40, 50),
            (40, 2048, 35),
        ];
        for (n, c, oc) in shapes {
            let (inp, w, b) = (f(random(n * c, 51)), f(random(oc * c, 52)), f(random(oc, 53)));
            let mut w16 = vec![0u16; oc * c];
            pack(&mut w16, &w, c, oc);
            let want = exact(&inp, &w, &b, n, c, oc);
            // f32 rounding of one chain of c terms (the longest here, 2048, is off by 1.6e-5).
            let tol = 1e-5 * (1.0 + c as f64 / 1024.0);
            let close = |got: &[f32]| want.iter().zip(got).all(|(a, &b)| (a - b as f64).abs() < tol * (1.0 + a.abs()));
            let mut got = vec![f32::NAN; n * oc];
            forward(&mut got, &inp, &w16, Some(&b), n, c, oc);
            let worst = want.iter().zip(&got).map(|(a, &b)| (a - b as f64).abs() / (1.0 + a.abs())).fold(0.0, f64::max);
            assert!(close(&got), "{n} {c} {oc}: worst {worst}");
            // The portable kernel (what CPUs without AVX2 run) on the same panels.
            let whole = oc / P * P;
            for r in 0..n {
                let mut row = vec![f32::NAN; oc];
                panels_portable(&mut row[..whole], &inp[r * c..(r + 1) * c], &w16[..whole * c]);
                row[..whole].iter_mut().zip(&b).for_each(|(x, b)| *x += b);
                plain_rows(&mut row[whole..], &inp[r * c..(r + 1) * c], &w16[whole * c..], Some(&b[whole..]));
                let want_r = &want[r * oc..(r + 1) * oc];
                assert!(want_r.iter().zip(&row).all(|(a, &b)| (a - b as f64).abs() < tol * (1.0 + a.abs())));
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
        // Every tile height and width, leftover outputs; more rows than one tile takes.
        let (n, c, oc) = (15, 70, 16 * 9 + 7);
        let (inp, w, b) = (f(random(n * c, 61)), f(random(oc * c, 62)), f(random(oc, 63)));
        let mut w16 = vec![0u16; oc * c];
        pack(&mut w16, &w, c, oc);
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
            // Another thread count cuts the panels into other runs.
            let mut other = vec![0.0; m * oc];
            rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .unwrap()
                .install(|| forward(&mut other, &inp[..m * c], &w16, Some(&b), m, c, oc));
            assert_eq!(other, some, "the first {m} rows on 3 threads");
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
