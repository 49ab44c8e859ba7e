//! f32 matrix multiply candidates for the model engine, on the shapes a GPT training step
//! runs: `gemm` 0.19 (pure Rust, runtime AVX-512/AVX2 dispatch with `x86-v4`) and
//! `matrixmultiply` 0.3 (pure Rust, AVX2/FMA). `bench/matmul.py` runs the same shapes in
//! PyTorch (MKL/oneDNN) for the side-by-side. Prints GFLOP/s per shape, 1 and 2 threads.
//! Usage: matmul-bench [threads...]

mod fill;

use fill::fill;
use std::time::Instant;

/// (name, m, k, n, a transposed, b transposed): C[m,n] = A[m,k] B[k,n].
const SHAPES: &[(&str, usize, usize, usize, bool, bool)] = &[
    ("A qkv fwd   2048x256 * 256x768", 2048, 256, 768, false, true),
    ("A fc fwd    2048x256 * 256x1024", 2048, 256, 1024, false, true),
    ("A proj fwd  2048x1024 * 1024x256", 2048, 1024, 256, false, true),
    ("A lm_head   2048x256 * 256x4096", 2048, 256, 4096, false, true),
    ("A dW fc     1024x2048 * 2048x256", 1024, 2048, 256, true, false),
    ("A attn      256x64 * 64x256", 256, 64, 256, false, true),
    ("B fc fwd    2048x128 * 128x512", 2048, 128, 512, false, true),
    ("124M fc fwd 1024x768 * 768x3072", 1024, 768, 3072, false, true),
    ("124M lm_head 1024x768 * 768x50304", 1024, 768, 50304, false, true),
];

/// Strides (row, col) for an m x k matrix stored row-major, or its transpose stored row-major.
fn strides(rows: usize, cols: usize, transposed: bool) -> (isize, isize) {
    if transposed {
        (1, rows as isize)
    } else {
        (cols as isize, 1)
    }
}

fn run_gemm(m: usize, k: usize, n: usize, ta: bool, tb: bool, a: &[f32], b: &[f32], c: &mut [f32], threads: usize) {
    let (a_rs, a_cs) = strides(m, k, ta);
    let (b_rs, b_cs) = strides(k, n, tb);
    let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

fn run_mm(m: usize, k: usize, n: usize, ta: bool, tb: bool, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (a_rs, a_cs) = strides(m, k, ta);
    let (b_rs, b_cs) = strides(k, n, tb);
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            a_rs,
            a_cs,
            b.as_ptr(),
            b_rs,
            b_cs,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

fn best_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    best
}

fn main() {
    let threads: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let threads = if threads.is_empty() { vec![1, 2] } else { threads };
    println!("{:<36} {:>3} {:>13} {:>13}", "shape", "thr", "gemm GF/s", "mmul GF/s");
    for &t in &threads {
        rayon::ThreadPoolBuilder::new().num_threads(t).build_global().ok();
        // matrixmultiply reads its thread count from the environment once.
        std::env::set_var("MATMUL_NUM_THREADS", t.to_string());
        for &(name, m, k, n, ta, tb) in SHAPES {
            let a = fill(m * k, 1);
            let b = fill(k * n, 2);
            let mut c1 = vec![0f32; m * n];
            let mut c2 = vec![0f32; m * n];
            let g = best_ms(|| run_gemm(m, k, n, ta, tb, &a, &b, &mut c1, t));
            let mm = best_ms(|| run_mm(m, k, n, ta, tb, &a, &b, &mut c2));
            let err = c1.iter().zip(&c2).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(err < 1e-2, "{name}: results differ by {err}");
            let gflop = 2.0 * (m * k * n) as f64 / 1e9;
            println!("{name:<36} {t:>3} {:>13.1} {:>13.1}", gflop / g * 1e3, gflop / mm * 1e3);
        }
    }
}
