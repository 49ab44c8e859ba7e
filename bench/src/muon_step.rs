//! One Muon update (`minichat_model::muon`, f32 Newton-Schulz iterations) over the hidden
//! matrices of a model, as pretraining takes it every step: `tiny` (the tiny preset's Llama,
//! depth 4, 28 matrices) and `124M` (GPT-2 small, 48 matrices). `bench/muon_step.py` runs
//! `torch.optim.Muon` on the same shapes.
//!
//! Prints, per config: the median ms per update after warm-up, the GFLOP/s of its products
//! (per matrix and iteration, m = the smaller side, n = the larger: `2m²n` for the Gram matrix,
//! `2m³` for its square, `2m²n` for the update), and the shapes as JSON for the Python side.
//! Usage: muon-step-bench CONFIG...

use minichat_model::config::{Family, ModelConfig};
use minichat_model::muon::Muon;
use minichat_model::net::Net;
use minichat_model::params::hidden_matrices;
use minichat_model::rng::SplitMix64;
use std::time::Instant;

fn main() {
    let names: Vec<String> = std::env::args().skip(1).collect();
    for name in if names.is_empty() { vec!["tiny".into(), "124M".into()] } else { names } {
        run(&name);
    }
}

fn run(name: &str) {
    let (cfg, warm, timed) = match name {
        "tiny" => {
            let mut cfg = ModelConfig::from_depth(Family::Llama, 4, 8192);
            cfg.block_size = 256;
            (cfg, 3, 20)
        }
        "124M" => (ModelConfig::from_depth(Family::Gpt2, 12, 50257), 1, 5),
        _ => panic!("configs: tiny, 124M"),
    };
    let net = Net::new(cfg).unwrap();
    let matrices = hidden_matrices(net.params());
    let n = net.weights().len();
    drop(net);
    let mut rng = SplitMix64::new(1);
    let mut normal = |scale: f32| (0..n).map(|_| rng.gaussian_pair().0 as f32 * scale).collect::<Vec<f32>>();
    let (mut params, grads) = (normal(0.02), normal(1.0));
    let mut opt = Muon::new(matrices.clone(), 0.02, 0.95, 0.0);
    let mut times = Vec::new();
    for i in 0..warm + timed {
        let start = Instant::now();
        opt.update(&mut params, &grads);
        if i >= warm {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    let ms = times[times.len() / 2];
    let flops: f64 = matrices
        .iter()
        .map(|m| {
            let (a, b) = (m.rows.min(m.cols) as f64, m.rows.max(m.cols) as f64);
            5.0 * (4.0 * a * a * b + 2.0 * a * a * a)
        })
        .sum();
    let shapes: Vec<String> = matrices.iter().map(|m| format!("[{}, {}]", m.rows, m.cols)).collect();
    println!(
        "config {name}: minichat {ms:.2} ms/update, {:.0} GFLOP/s, {} matrices; shapes [{}]",
        flops / ms / 1e6,
        matrices.len(),
        shapes.join(", ")
    );
}
