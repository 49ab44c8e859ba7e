//! Vector code without `unsafe` intrinsics: elementwise loops are written plainly (so LLVM
//! vectorises them), `multiversion!` compiles such a loop once per x86-64 level (AVX-512,
//! AVX2+FMA, baseline) and picks the best the running CPU has, and `exp_f32`/`exp_f64` are
//! branch-free polynomials that vectorise where libm's `exp` is a scalar call.
//!
//! Runtime dispatch (as the `gemm` crate does) keeps one binary portable; building with
//! `-C target-cpu=native` would be faster to write but crash on an older CPU.
//!
//! A few decoding kernels are the exception, where the vectoriser's code was measured well
//! short of memory or compute speed: one row's attention (`attention_row`) has AVX-512 and
//! AVX2 intrinsics versions beside its portable one, and the row-invariant products
//! (`linear_rows`, `linear_bf16`) AVX2 ones.

use super::float::Float;

/// The best instruction-set level of this CPU, detected once (std caches the cpuid probe).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// x86-64-v4: AVX-512 F/BW/DQ/VL.
    V4,
    /// x86-64-v3: AVX2 + FMA.
    V3,
    /// Whatever the target was compiled for (SSE2 on x86-64, NEON on aarch64).
    Base,
}

#[inline(always)]
pub fn level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            return Level::V4;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Level::V3;
        }
    }
    Level::Base
}

/// Defines `fn name<T: Float>(args) body` (or `fn name(args) body`) compiled three times (AVX-512, AVX2+FMA, baseline)
/// and dispatching on `level()` at each call, so call it on chunks of work (a row, a few
/// thousand elements), not per element. Everything the body calls must be `#[inline(always)]`
/// to be compiled for the same level.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident<T: Float>($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name<T: Float>($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn v4<T: Float>($($arg: $ty),*) $(-> $ret)? $body
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn v3<T: Float>($($arg: $ty),*) $(-> $ret)? $body
                match $crate::cpu::simd::level() {
                    // SAFETY: level() found AVX-512 (F, BW, DQ, VL), AVX2 and FMA on this CPU.
                    $crate::cpu::simd::Level::V4 => return unsafe { v4::<T>($($arg),*) },
                    // SAFETY: level() found AVX2 and FMA on this CPU.
                    $crate::cpu::simd::Level::V3 => return unsafe { v3::<T>($($arg),*) },
                    $crate::cpu::simd::Level::Base => {}
                }
            }
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn base<T: Float>($($arg: $ty),*) $(-> $ret)? $body
            base::<T>($($arg),*)
        }
    };
    // The same for a function with no type parameter.
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn v4($($arg: $ty),*) $(-> $ret)? $body
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn v3($($arg: $ty),*) $(-> $ret)? $body
                match $crate::cpu::simd::level() {
                    // SAFETY: level() found AVX-512 (F, BW, DQ, VL), AVX2 and FMA on this CPU.
                    $crate::cpu::simd::Level::V4 => return unsafe { v4($($arg),*) },
                    // SAFETY: level() found AVX2 and FMA on this CPU.
                    $crate::cpu::simd::Level::V3 => return unsafe { v3($($arg),*) },
                    $crate::cpu::simd::Level::Base => {}
                }
            }
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn base($($arg: $ty),*) $(-> $ret)? $body
            base($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// The 8 lanes of an AVX vector added in one fixed order (the AVX2 kernels' fold). Only for
/// functions compiled with AVX, into which it is inlined.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn hsum8(v: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    // SAFETY: inlined only into functions compiled with AVX2 (the AVX2 kernels).
    unsafe {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
    }
}

/// `e^x` for f32 without a libm call, so loops over it vectorise: Cephes' `expf` (range
/// reduction by ln 2 in two parts, degree-6 polynomial), within 2 ulp of the correctly rounded
/// result on [-87.3, 88.3]. Below that it returns 0, above it +inf, and NaN stays NaN (the
/// comparisons are false for NaN, which then flows through the arithmetic).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to an integer in the low mantissa bits (round to nearest even).
    const MAGIC: f32 = 12_582_912.0;
    const LO: f32 = -87.336_55;
    // 127.5 ln 2: the largest input whose 2^n still fits (true overflow is at 88.72).
    const HI: f32 = 88.376_26;
    let xc = x.clamp(LO, HI);
    let t = xc * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * (r * r) + r + 1.0;
    // 2^n: n + 127 in the exponent field; t's low mantissa bits hold n + 0x400000.
    let pow2 = f32::from_bits((t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127)) << 23);
    let out = y * pow2;
    if x < LO {
        0.0
    } else if x > HI {
        f32::INFINITY
    } else {
        out
    }
}

/// `e^x` for f64 without a libm call, so loops over it vectorise (a sampler's softmax over the
/// vocabulary was one libm call per token: 90 us per draw at 8,192 tokens, 555 us at 50,257;
/// now 20 and 125). fdlibm's range reduction by ln 2 in two parts, then Taylor's series to
/// degree 13 (the first term left out is below 1e-17 on |r| <= ln 2 / 2); within 2 ulp of libm
/// on [-708, 709]. Below that it returns 0 (e^-708 is 3e-308), above it +inf, and NaN stays
/// NaN. Fused multiply-adds round once on every instruction-set level (a libm call where the
/// CPU has none), so every level gives the same bits.
#[inline(always)]
pub fn exp_f64(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // fdlibm's ln 2 in two parts: its top bits (the low 21 of the mantissa zero, so n * LN2_HI
    // is exact) and the rest.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    // Adding 1.5 * 2^52 rounds to an integer in the low mantissa bits (round to nearest even).
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    const LO: f64 = -708.0;
    const HI: f64 = 709.0;
    let xc = x.clamp(LO, HI);
    let t = xc * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    // e^r = sum r^i / i! for i <= 13, by Estrin's scheme (pairs, then powers r^2, r^4, r^8):
    // the chain of dependent operations is 6 long, not Horner's 13.
    let pair = |i: usize| INV_FACTORIAL[i + 1].mul_add(r, INV_FACTORIAL[i]);
    let (r2, r4) = (r * r, (r * r) * (r * r));
    let low = r2.mul_add(pair(2), r + 1.0);
    let mid = r2.mul_add(pair(6), pair(4));
    let high = r4.mul_add(pair(12), r2.mul_add(pair(10), pair(8)));
    let y = (r4 * r4).mul_add(high, r4.mul_add(mid, low));
    // 2^n: n + 1023 in the exponent field; t's low mantissa bits hold n + 2^51.
    let pow2 = f64::from_bits((t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(1023)) << 52);
    let out = y * pow2;
    if x < LO {
        0.0
    } else if x > HI {
        f64::INFINITY
    } else {
        out
    }
}

/// `1 / i!` for i = 0..=13, `exp_f64`'s coefficients (each factorial is exact in f64, so each
/// entry is correctly rounded).
const INV_FACTORIAL: [f64; 14] = {
    let (mut table, mut factorial, mut i) = ([1.0; 14], 1.0, 1);
    while i < 14 {
        factorial *= i as f64;
        table[i] = 1.0 / factorial;
        i += 1;
    }
    table
};

multiversion! {
    /// `out[i] = e^((l[i] - max) / t)` (`out` as long as `l`), a sampler's softmax before it is
    /// normalised; returns their sum (lane-wise, `sum_map`).
    pub fn exp_scaled(out: &mut [f64], l: &[f32], max: f64, t: f64) -> f64 {
        assert_eq!(out.len(), l.len());
        for (o, &x) in out.iter_mut().zip(l) {
            *o = exp_f64((x as f64 - max) / t);
        }
        sum_map(out, |v| v)
    }
}

/// Independent accumulators in reductions: LLVM does not reorder a float sum by itself, so
/// one accumulator per lane of a 512-bit vector lets it vectorise (and changes the rounding
/// order, as every BLAS does).
pub(crate) const LANES: usize = 16;

/// `sum f(x_i)`, vectorisable.
#[inline(always)]
pub fn sum_map<T: Float>(x: &[T], f: impl Fn(T) -> T) -> T {
    let mut acc = [T::default(); LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += f(c[i]);
        }
    }
    let mut s = T::default();
    for &v in tail {
        s += f(v);
    }
    fold_lanes(acc) + s
}

/// `sum a_i b_i`, vectorisable.
#[inline(always)]
pub fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [T::default(); LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let mut s = T::default();
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    for (ca, cb) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += ca[i] * cb[i];
        }
    }
    fold_lanes(acc) + s
}

/// `sum a_i b_i c_i`, vectorisable.
#[inline(always)]
pub fn dot3<T: Float>(a: &[T], b: &[T], c: &[T]) -> T {
    let n = a.len().min(b.len()).min(c.len());
    let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
    let mut acc = [T::default(); LANES];
    let (ca, cb, cc) = (a.chunks_exact(LANES), b.chunks_exact(LANES), c.chunks_exact(LANES));
    let mut s = T::default();
    for ((&x, &y), &z) in ca.remainder().iter().zip(cb.remainder()).zip(cc.remainder()) {
        s += x * y * z;
    }
    for ((ca, cb), cc) in ca.zip(cb).zip(cc) {
        for i in 0..LANES {
            acc[i] += ca[i] * cb[i] * cc[i];
        }
    }
    fold_lanes(acc) + s
}

/// Adds the lanes pairwise, in a fixed order.
#[inline(always)]
pub(crate) fn fold_lanes<T: Float>(mut acc: [T; LANES]) -> T {
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            acc[i] += acc[i + w];
        }
    }
    acc[0]
}

/// The largest element (NaN-propagating, -inf for an empty slice), vectorisable.
#[inline(always)]
pub fn max<T: Float>(x: &[T]) -> T {
    let ninf = T::from_f64(f64::NEG_INFINITY);
    let mut acc = [ninf; LANES];
    let chunks = x.chunks_exact(LANES);
    let mut m = ninf;
    for &v in chunks.remainder() {
        m = max2(m, v);
    }
    for c in chunks {
        for i in 0..LANES {
            acc[i] = max2(acc[i], c[i]);
        }
    }
    for a in acc {
        m = max2(m, a);
    }
    m
}

/// The larger of `a` and `b`, NaN if either is (so a NaN is never silently dropped).
#[inline(always)]
#[allow(clippy::eq_op)]
fn max2<T: Float>(a: T, b: T) -> T {
    // `a != a` is NaN.
    if a >= b || a != a {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_is_within_two_ulp_of_f64() {
        let mut worst = 0;
        let mut x = -87.3f32;
        while x < 88.3 {
            let want = (x as f64).exp() as f32;
            worst = worst.max(ulps(exp_f32(x), want));
            x += 0.0137;
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn exp_saturates_and_keeps_nan() {
        assert_eq!(exp_f32(-100.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn exp_f64_is_within_two_ulp_of_libm() {
        let ulps = |a: f64, b: f64| (a.to_bits() as i128 - b.to_bits() as i128).unsigned_abs();
        let mut worst = 0;
        let mut x = -708.0f64;
        while x < 709.0 {
            worst = worst.max(ulps(exp_f64(x), x.exp()));
            x += 0.001_37;
        }
        for x in [-1e-300, 1e-300, -0.346, 0.346, -0.3466, 0.3466, 1.0, -1.0] {
            worst = worst.max(ulps(exp_f64(x), x.exp()));
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        assert_eq!(exp_f64(0.0), 1.0);
        assert_eq!(exp_f64(-0.0), 1.0);
    }

    #[test]
    fn exp_f64_saturates_and_keeps_nan() {
        assert_eq!(exp_f64(-709.0), 0.0);
        assert_eq!(exp_f64(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_f64(710.0), f64::INFINITY);
        assert_eq!(exp_f64(f64::INFINITY), f64::INFINITY);
        assert!(exp_f64(f64::NAN).is_nan());
    }

    #[test]
    fn exp_scaled_is_the_elementwise_exp_and_its_sum() {
        let l: Vec<f32> = (0..1000).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
        let max = l.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let mut out = vec![0.0; l.len()];
        let z = exp_scaled(&mut out, &l, max, 0.7);
        for (o, &x) in out.iter().zip(&l) {
            assert_eq!(*o, exp_f64((x as f64 - max) / 0.7));
        }
        assert!((z - out.iter().sum::<f64>()).abs() < 1e-12 * z);
    }

    #[test]
    fn reductions_match_plain_loops() {
        for n in [0usize, 1, 15, 16, 17, 100] {
            let x: Vec<f64> = (0..n).map(|i| ((i * 37 % 11) as f64 - 5.0) * 0.5).collect();
            let y: Vec<f64> = (0..n).map(|i| (i as f64).sin()).collect();
            assert!((sum_map(&x, |v| v * v) - x.iter().map(|v| v * v).sum::<f64>()).abs() < 1e-12);
            assert!((dot(&x, &y) - x.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>()).abs() < 1e-12);
            let want3: f64 = x.iter().zip(&y).map(|(a, b)| a * b * b).sum();
            assert!((dot3(&x, &y, &y) - want3).abs() < 1e-12);
            assert_eq!(max(&x), x.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        }
        assert!(max(&[1.0f32, f32::NAN, 3.0]).is_nan());
        assert!(max(&[1.0f32; 40].iter().chain([f32::NAN].iter()).copied().collect::<Vec<_>>()).is_nan());
    }

    #[test]
    fn dispatch_runs_the_same_code_at_every_level() {
        multiversion! {
            fn sum_exp<T: Float>(x: &[T]) -> T {
                let mut s = T::default();
                for &v in x {
                    s += v.exp();
                }
                s
            }
        }
        let x: Vec<f32> = (0..100).map(|i| i as f32 * 0.01).collect();
        let want: f64 = x.iter().map(|&v| (v as f64).exp()).sum();
        assert!((sum_exp(&x) as f64 - want).abs() < 1e-4 * want);
    }
}
