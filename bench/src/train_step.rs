//! One GPT-2 training step (forward + backward + AdamW, f32) in minichat's engine, on the
//! configs of issue 3: A (vocab 4096, 4 layers, 4 heads, C=256, T=256, B=8), B (vocab 512,
//! 2 layers, 4 heads, C=128, T=128, B=16) and 124M (GPT-2 small: vocab 50257, 12 layers, 12
//! heads, C=768, T=1024, B=1), and L (config A as a Llama with grouped-query attention).
//! `bench/train_step.py` runs the same in PyTorch.
//!
//! Prints, per config: the median ms/step after warm-up, tokens/s, phase times, achieved
//! GFLOP/s of the step's matrix products (dense count, see `matmul_flops`) against the f32 FMA
//! peak of the threads in use (measured here with AVX-512 FMAs), peak RSS, and RSS growth
//! between the first timed step and the last (0 means no allocation per step).
//! Usage: train-step-bench CONFIG... (run one config per process for a meaningful peak RSS).

use minichat_model::adamw::AdamW;
use minichat_model::config::{Family, ModelConfig};
use minichat_model::cpu::peak::fma_peak_gflops;
use minichat_model::net::Net;
use std::time::Instant;

/// (config, batch, sequence length, warm-up steps, timed steps).
fn config(name: &str) -> (ModelConfig, usize, usize, usize, usize) {
    let (v, l, h, c, t, b, warm, steps) = match name {
        "A" | "L" => (4096, 4, 4, 256, 256, 8, 3, 20),
        "B" => (512, 2, 4, 128, 128, 16, 3, 20),
        "124M" => (50257, 12, 12, 768, 1024, 1, 2, 6),
        _ => panic!("configs: A, B, 124M, L"),
    };
    let family = if name == "L" { Family::Llama } else { Family::Gpt2 };
    let mut cfg = ModelConfig::from_depth(family, l, v);
    cfg.n_head = h;
    cfg.n_embd = c;
    // L: config A as a Llama (RoPE, RMSNorm, SwiGLU 8/3 x 256 -> 704, 2 key/value heads).
    (cfg.n_kv_head, cfg.intermediate_size) = if name == "L" { (2, 704) } else { (h, 4 * c) };
    cfg.block_size = t;
    (cfg, b, t, warm, steps)
}

/// Multiply-adds ×2 of one training step's matrix products (forward ×3 for backward): every
/// linear layer including the LM head, plus attention's QK^T and PV counted dense (as PaLM's
/// MFU formula does; the engine skips most of the masked half, so this slightly flatters it).
fn matmul_flops(cfg: &ModelConfig, b: usize, t: usize) -> f64 {
    let (n, c, f, v, l) = (b * t, cfg.n_embd, cfg.intermediate_size, cfg.vocab_size, cfg.n_layer);
    let linear = (l * (4 * c * c + 2 * c * f) + v * c) as f64;
    let attention = (l * 2 * t * c) as f64; // per token: QK^T and PV over t positions
    6.0 * n as f64 * (linear + attention)
}

fn main() {
    let peak = fma_peak_gflops(std::time::Duration::from_millis(200)).unwrap_or(f64::NAN);
    for name in std::env::args().skip(1) {
        run(&name, peak);
    }
}

fn run(name: &str, peak: f64) {
    let (cfg, b, t, warm, steps) = config(name);
    let mut model = Net::new(cfg.clone()).unwrap();
    let table = model.params().to_vec();
    minichat_model::init::gpt2_init(&table, model.buffers().0, cfg.n_layer, 42);
    let ids: Vec<u32> = (0..b * t).map(|i| (i * 7919 % cfg.vocab_size) as u32).collect();
    let targets: Vec<u32> = (0..b * t).map(|i| ((i + 1) * 7919 % cfg.vocab_size) as u32).collect();
    let mut acts = model.acts(b, t).unwrap();
    let decayed = minichat_model::params::decayed_ranges(model.params());
    let mut opt = AdamW::new(model.weights().len(), 1e-3, (0.9, 0.95), 1e-8, 0.1);
    let dlogp = vec![-1.0 / (b * t) as f32; b * t];
    let (mut times, mut rss_first, mut loss) = (Vec::new(), 0, 0.0);
    for step in 0..warm + steps {
        if step == warm {
            rss_first = rss_kb("VmRSS");
        }
        let t0 = Instant::now();
        model.buffers().1.fill(0.0);
        model.forward(&mut acts, &ids, &targets).unwrap();
        loss = -acts.logp().iter().sum::<f32>() / (b * t) as f32;
        let t1 = Instant::now();
        model.backward(&mut acts, &ids, &targets, &dlogp);
        let t2 = Instant::now();
        let (weights, grads) = model.buffers();
        opt.update(weights, grads, &decayed);
        let t3 = Instant::now();
        if step >= warm {
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            times.push((ms(t3 - t0), ms(t1 - t0), ms(t2 - t1), ms(t3 - t2)));
        }
    }
    let growth = rss_kb("VmRSS") as i64 - rss_first as i64;
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (total, f, bw, o) = times[times.len() / 2];
    let gflops = matmul_flops(&cfg, b, t) / total / 1e6;
    println!(
        "config {name}: minichat {total:.1} ms/step (fwd {f:.1} / bwd {bw:.1} / opt {o:.1}), {:.0} tokens/s, \
         {gflops:.0} GFLOP/s = {:.0}% of {peak:.0} peak, peak RSS {} MB, RSS growth {} kB, {} threads, loss {loss:.3}",
        (b * t) as f64 / total * 1e3,
        100.0 * gflops / peak,
        rss_kb("VmHWM") / 1024,
        growth,
        rayon::current_num_threads()
    );
}

/// A field of /proc/self/status in kB (0 where there is none).
fn rss_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or("");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}
