//! Prefill and decode speed of minichat's KV-cache inference (GPT-2 family, greedy), on the
//! tiny preset's shape and GPT-2 small (124M); writes each model as a Hugging Face directory
//! (bench/models/NAME) so `bench/generate.py` times transformers on the same weights.
//! Each is timed twice: through the plain pass (gemm) and through the row-invariant pass that
//! `minichat serve` decodes with (`-invariant`). Prints the median of 3 runs.
//!   Usage: generate-bench CONFIG...  (tiny, 124M)

use minichat_chat::sampler::argmax;
use minichat_model::config::{Family, ModelConfig};
use minichat_model::kv_cache::{Batch, KvCache, Segment};
use minichat_model::net::Net;
use std::time::Instant;

/// (config, prompt tokens, decoded tokens)
fn config(name: &str) -> (ModelConfig, usize, usize) {
    let (v, l, c, t, prompt, decode) = match name {
        "tiny" => (8192, 4, 256, 256, 128, 120),
        "124M" => (50257, 12, 768, 1024, 512, 128),
        _ => panic!("configs: tiny, 124M"),
    };
    let mut cfg = ModelConfig::from_depth(Family::Gpt2, l, v);
    cfg.n_embd = c;
    cfg.n_head = c / 64;
    cfg.n_kv_head = c / 64;
    cfg.intermediate_size = 4 * c;
    cfg.block_size = t;
    (cfg, prompt, decode)
}

fn main() {
    for name in std::env::args().skip(1) {
        let (cfg, p, d) = config(&name);
        let mut net = Net::new(cfg.clone()).unwrap();
        let table = net.params().to_vec();
        minichat_model::init::gpt2_init(&table, net.buffers().0, cfg.n_layer, 1);
        let dir = std::path::Path::new("models").join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, bytes) in net.hf_files() {
            std::fs::write(dir.join(file), bytes).unwrap();
        }
        let prompt: Vec<u32> = (0..p).map(|i| ((i * 7919 + 13) % cfg.vocab_size) as u32).collect();
        measure(&name, "minichat", &net, &cfg, &prompt, d, false);
        measure(&name, "minichat-invariant", &net, &cfg, &prompt, d, true);
        net.pack_for_inference();
        measure(&name, "minichat-bf16", &net, &cfg, &prompt, d, false);
        measure(&name, "minichat-bf16-invariant", &net, &cfg, &prompt, d, true);
    }
}

/// Prefill then greedy decode, median of 3; prints one line. `invariant`: through the
/// row-invariant pass `minichat serve` decodes with (each row as it would be alone).
fn measure(name: &str, label: &str, net: &Net, cfg: &ModelConfig, prompt: &[u32], d: usize, invariant: bool) {
    let mut batch = Batch::new(invariant);
    let p = prompt.len();
    {
        let (mut prefill, mut decode, mut tokens) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            let mut cache = KvCache::new(cfg, p + d).unwrap();
            let t0 = Instant::now();
            net.extend_batch(&mut batch, &mut [Segment { cache: &mut cache, tokens: prompt }]).unwrap();
            prefill.push(t0.elapsed().as_secs_f64());
            let t1 = Instant::now();
            tokens.clear();
            for _ in 0..d {
                let next = argmax(&cache.logits);
                tokens.push(next);
                net.extend_batch(&mut batch, &mut [Segment { cache: &mut cache, tokens: &[next] }]).unwrap();
            }
            decode.push(t1.elapsed().as_secs_f64());
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (tp, td) = (median(&mut prefill), median(&mut decode));
        println!(
            "config {name}: {label} prefill {:.0} tokens/s ({p} tokens in {:.1} ms), decode {:.1} tokens/s ({d} tokens, {:.2} ms/token), {} threads, first tokens {:?}",
            p as f64 / tp,
            tp * 1e3,
            d as f64 / td,
            td * 1e3 / d as f64,
            rayon::current_num_threads(),
            &tokens[..5]
        );
    }
}
