//! The decoding step's products at a server's batch sizes: minichat's row-invariant kernels
//! (`linear_rows` on f32 weights, `linear_bf16` on the packed bf16 copy) against `gemm` 0.19 on
//! the same f32 shapes, for 1, 4, 16 and 64 rows. Each model's linear layers are run as one
//! decoding step runs them (every layer's matrices, then the output layer); prints ms per step
//! and GFLOP/s, best of `REPS` (7) after a warm-up, and the ratio to gemm.
//!   Usage: rows-bench [tiny|124M]... [--rows 1,4,16,64]

mod fill;

use fill::fill;
use minichat_model::cpu::{linear_bf16, linear_rows};
use std::time::Instant;

/// (c, oc) of one layer's products, layers, the output layer's (c, vocab).
fn shapes(name: &str) -> (Vec<(usize, usize)>, usize, (usize, usize)) {
    let d = match name {
        "tiny" => 256,
        "124M" => 768,
        _ => panic!("models: tiny, 124M"),
    };
    let (layers, vocab) = if name == "tiny" { (4, 8192) } else { (12, 50257) };
    (vec![(d, 3 * d), (d, d), (d, 4 * d), (4 * d, d)], layers, (d, vocab))
}

/// Best of `REPS` runs (env, default 7) after a warm-up: this shared machine's neighbours slow
/// single runs by up to 2x.
fn best_ms(mut f: impl FnMut()) -> f64 {
    f();
    let reps = std::env::var("REPS").ok().and_then(|r| r.parse().ok()).unwrap_or(7);
    let mut best = f64::MAX;
    for _ in 0..reps {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    best
}

/// `out[n×oc] = inp[n×c] · w[oc×c]^T` through gemm (what the plain pass runs).
fn gemm_rows(out: &mut [f32], inp: &[f32], w: &[f32], n: usize, c: usize, oc: usize) {
    // SAFETY: the slices hold n×c, oc×c and n×oc elements, with the strides given.
    unsafe {
        gemm::gemm(
            n,
            oc,
            c,
            out.as_mut_ptr(),
            1,
            oc as isize,
            false,
            inp.as_ptr(),
            1,
            c as isize,
            w.as_ptr(),
            c as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(rayon::current_num_threads()),
        );
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut rows = vec![1, 4, 16, 64];
    if let Some(i) = args.iter().position(|a| a == "--rows") {
        rows = args[i + 1].split(',').map(|r| r.parse().unwrap()).collect();
        args.drain(i..i + 2);
    }
    if args.is_empty() {
        args = vec!["tiny".into(), "124M".into()];
    }
    println!(
        "{:<6} {:>4} {:>22} {:>22} {:>14} {:>10} {:>10}",
        "model", "rows", "rows f32 ms (GF/s)", "bf16 ms (GF/s)", "gemm ms", "f32/gemm", "bf16/gemm"
    );
    for name in &args {
        let (layer, layers, head) = shapes(name);
        // Each matrix once per layer (its own weights, so the step reads what a model reads).
        let mats: Vec<(usize, usize)> = (0..layers).flat_map(|_| layer.clone()).chain([head]).collect();
        let ws: Vec<Vec<f32>> = mats.iter().enumerate().map(|(i, &(c, oc))| fill(c * oc, i as u32 + 7)).collect();
        let packed: Vec<Vec<u16>> = ws
            .iter()
            .zip(&mats)
            .map(|(w, &(c, oc))| {
                let mut p = vec![0u16; c * oc];
                linear_bf16::pack(&mut p, w, c, oc);
                p
            })
            .collect();
        let cached = linear_rows::fits_in_cache(ws.iter().map(|w| w.len() * 4).sum());
        let max_c = mats.iter().map(|m| m.0).max().unwrap();
        let max_oc = mats.iter().map(|m| m.1).max().unwrap();
        for &n in &rows {
            let inp = fill(n * max_c, 3);
            let mut out = vec![0f32; n * max_oc];
            let flop: f64 = mats.iter().map(|&(c, oc)| 2.0 * (n * c * oc) as f64).sum::<f64>() / 1e9;
            let f32_ms = best_ms(|| {
                for (w, &(c, oc)) in ws.iter().zip(&mats) {
                    linear_rows::forward(&mut out, &inp[..n * c], w, None, n, c, oc, cached);
                }
            });
            let bf16_ms = best_ms(|| {
                for (w, &(c, oc)) in packed.iter().zip(&mats) {
                    linear_bf16::forward(&mut out, &inp[..n * c], w, None, n, c, oc);
                }
            });
            let gemm_ms = best_ms(|| {
                for (w, &(c, oc)) in ws.iter().zip(&mats) {
                    gemm_rows(&mut out, &inp[..n * c], w, n, c, oc);
                }
            });
            let gf = |ms: f64| flop / ms * 1e3;
            println!(
                "{name:<6} {n:>4} {:>11.3} ({:>7.1}) {:>11.3} ({:>7.1}) {:>14.3} {:>9.2}x {:>9.2}x",
                f32_ms,
                gf(f32_ms),
                bf16_ms,
                gf(bf16_ms),
                gemm_ms,
                gemm_ms / f32_ms,
                gemm_ms / bf16_ms
            );
        }
    }
}
