//! The machine's f32 FMA peak, measured: independent FMA chains (enough to cover the latency on
//! both FMA ports) on every rayon thread for a fraction of a second. The denominator of MFU.

use rayon::prelude::*;
use std::time::{Duration, Instant};

/// GFLOP/s of all rayon threads together, or None where no AVX-512/AVX2 FMA is available.
pub fn fma_peak_gflops(duration: Duration) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = std::arch::is_x86_feature_detected!("avx512f");
        let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
        if avx512 || avx2 {
            let per_thread: Vec<f64> = rayon::broadcast(|_| {
                // SAFETY: the instruction set was detected above.
                unsafe {
                    if avx512 {
                        avx512_loop(duration)
                    } else {
                        avx2_loop(duration)
                    }
                }
            });
            return Some(per_thread.par_iter().sum());
        }
    }
    let _ = duration;
    None
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512_loop(duration: Duration) -> f64 {
    use std::arch::x86_64::*;
    let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); 12];
    let (t0, mut iters) = (Instant::now(), 0u64);
    while t0.elapsed() < duration {
        for _ in 0..10_000 {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        iters += 10_000;
    }
    let secs = t0.elapsed().as_secs_f64();
    std::hint::black_box(acc.iter().map(|&x| _mm512_reduce_add_ps(x)).sum::<f32>());
    (iters * 12 * 16 * 2) as f64 / secs / 1e9
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_loop(duration: Duration) -> f64 {
    use std::arch::x86_64::*;
    let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); 12];
    let (t0, mut iters) = (Instant::now(), 0u64);
    while t0.elapsed() < duration {
        for _ in 0..10_000 {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        iters += 10_000;
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut out = [0f32; 8];
    for x in acc {
        _mm256_storeu_ps(out.as_mut_ptr(), x);
        std::hint::black_box(out);
    }
    (iters * 12 * 8 * 2) as f64 / secs / 1e9
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_is_positive_where_measurable() {
        if let Some(p) = super::fma_peak_gflops(std::time::Duration::from_millis(20)) {
            assert!(p > 1.0, "{p}");
        }
    }
}
