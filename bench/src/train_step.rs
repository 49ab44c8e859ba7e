//! One GPT-2 training step (forward + backward + AdamW, f32) in minichat's engine, on the
//! configs of issue 3: A (vocab 4096, 4 layers, 4 heads, C=256, T=256, B=8) and B (vocab 512,
//! 2 layers, 4 heads, C=128, T=128, B=16). `bench/train_step.py` runs the same in PyTorch.
//! Prints the median ms/step of 20 steps after 3 warm-up steps, tokens/s and phase times.

use minichat_model::adamw::AdamW;
use minichat_model::config::{Family, ModelConfig};
use minichat_model::gpt::{Activations, Gpt};
use std::time::Instant;

fn config(name: &str) -> (ModelConfig, usize, usize) {
    let (v, l, h, c, t, b) = match name {
        "A" => (4096, 4, 4, 256, 256, 8),
        "B" => (512, 2, 4, 128, 128, 16),
        _ => panic!("config A or B"),
    };
    let mut cfg = ModelConfig::from_depth(Family::Gpt2, l, v);
    cfg.n_head = h;
    cfg.n_kv_head = h;
    cfg.n_embd = c;
    cfg.intermediate_size = 4 * c;
    cfg.block_size = t;
    (cfg, b, t)
}

fn main() {
    for name in std::env::args().skip(1).collect::<Vec<_>>().iter().map(String::as_str).chain(None) {
        run(name);
    }
}

fn run(name: &str) {
    let (cfg, b, t) = config(name);
    let mut model = Gpt::new(cfg.clone()).unwrap();
    let mut s = 42u64;
    for w in model.weights.iter_mut() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *w = ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.04;
    }
    let ids: Vec<u32> = (0..b * t).map(|i| (i * 7919 % cfg.vocab_size) as u32).collect();
    let targets: Vec<u32> = (0..b * t).map(|i| ((i + 1) * 7919 % cfg.vocab_size) as u32).collect();
    let mut acts = Activations::new(&cfg, b, t).unwrap();
    let decayed = minichat_model::params::decayed_ranges(&model.params);
    let mut opt = AdamW::new(model.weights.len(), 1e-3, (0.9, 0.95), 1e-8, 0.1);
    let dlogp = vec![-1.0 / (b * t) as f32; b * t];
    let mut times = Vec::new();
    for step in 0..23 {
        let t0 = Instant::now();
        model.grads.fill(0.0);
        model.forward(&mut acts, &ids, &targets).unwrap();
        let t1 = Instant::now();
        model.backward(&mut acts, &ids, &targets, &dlogp);
        let t2 = Instant::now();
        opt.update(&mut model.weights, &model.grads, &decayed);
        let t3 = Instant::now();
        if step >= 3 {
            times.push(((t3 - t0).as_secs_f64() * 1e3, (t1 - t0).as_secs_f64() * 1e3, (t2 - t1).as_secs_f64() * 1e3, (t3 - t2).as_secs_f64() * 1e3));
        }
    }
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (total, f, bw, o) = times[times.len() / 2];
    let loss = -acts.logp.iter().sum::<f32>() / (b * t) as f32;
    println!(
        "config {name}: minichat {total:.1} ms/step (fwd {f:.1} / bwd {bw:.1} / opt {o:.1}), {:.0} tokens/s, {} threads, loss {loss:.3}",
        (b * t) as f64 / total * 1e3,
        rayon::current_num_threads()
    );
}
