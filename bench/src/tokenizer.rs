//! Encode throughput of minichat vs tiktoken-rs and bpe-openai on the same corpus, in one run,
//! with exactness checked (same token stream hash). Usage: tokenizer-bench CORPUS.jsonl
//! Printed: MB/s per implementation, best of 3, 1 and 2 threads; ratios ours / peer.

use minichat_tokenizer::pretokenize::Pretokenizer;
use minichat_tokenizer::pretrained;
use rayon::prelude::*;
use std::time::Instant;

fn fnv(ids: &[u32], mut h: u64) -> u64 {
    for id in ids {
        for b in id.to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
    }
    h
}

/// Best-of-3 seconds of encoding every document, and (tokens, order-independent hash).
fn time(docs: &[String], threads: usize, encode: &(dyn Fn(&str) -> Vec<u32> + Sync)) -> (f64, usize, u64) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let mut best = f64::MAX;
    let mut result = (0, 0);
    for _ in 0..3 {
        let t = Instant::now();
        let (n, h) = pool.install(|| {
            if threads == 1 {
                docs.iter().fold((0usize, 0u64), |(n, h), d| {
                    let ids = encode(d);
                    (n + ids.len(), h.wrapping_add(fnv(&ids, 0xcbf29ce484222325)))
                })
            } else {
                docs.par_iter()
                    .map(|d| {
                        let ids = encode(d);
                        (ids.len(), fnv(&ids, 0xcbf29ce484222325))
                    })
                    .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1.wrapping_add(b.1)))
            }
        });
        best = best.min(t.elapsed().as_secs_f64());
        result = (n, h);
    }
    (best, result.0, result.1)
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "bench/corpus.jsonl".into());
    let docs: Vec<String> = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run bench/make_corpus.py)"))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let mb = docs.iter().map(|d| d.len()).sum::<usize>() as f64 / 1e6;
    println!("corpus: {path}, {} documents, {mb:.2} MB", docs.len());

    for enc in ["cl100k_base", "o200k_base"] {
        let t = Instant::now();
        let ours = pretrained::load(enc).unwrap();
        let ours_init = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let tk = if enc == "cl100k_base" { tiktoken_rs::cl100k_base() } else { tiktoken_rs::o200k_base() }.unwrap();
        let tk_init = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let bpe = if enc == "cl100k_base" { bpe_openai::cl100k_base() } else { bpe_openai::o200k_base() };
        let bpe_init = t.elapsed().as_secs_f64();
        println!("\n{enc} (init: minichat {ours_init:.3}s, tiktoken-rs {tk_init:.3}s, bpe-openai {bpe_init:.3}s)");
        println!(
            "{:<14} {:>7} {:>9} {:>10} {:>10}  exact",
            "implementation", "threads", "MB/s", "tokens", "minichat x"
        );
        for threads in [1, 2] {
            let (t_ours, n_ours, h_ours) = time(&docs, threads, &|d| ours.encode_ordinary(d));
            let (t_tk, n_tk, h_tk) = time(&docs, threads, &|d| tk.encode_ordinary(d));
            let (t_bpe, n_bpe, h_bpe) = time(&docs, threads, &|d| bpe.encode(d));
            for (name, t, n, h) in [
                ("minichat", t_ours, n_ours, h_ours),
                ("tiktoken-rs", t_tk, n_tk, h_tk),
                ("bpe-openai", t_bpe, n_bpe, h_bpe),
            ] {
                let exact = if (n, h) == (n_tk, h_tk) { "yes" } else { "NO" };
                println!("{name:<14} {threads:>7} {:>9.1} {n:>10} {:>9.2}x  {exact}", mb / t, t / t_ours);
            }
        }
        // Where the time goes: pre-tokenization alone, scanner vs the regex engine tiktoken uses.
        let scanner = ours.pretokenizer().clone();
        let regex = Pretokenizer::new_regex(scanner.pattern()).unwrap();
        for (name, p) in [("scanner", &scanner), ("fancy-regex", &regex)] {
            let t = Instant::now();
            let mut pieces = 0usize;
            for d in &docs {
                p.split(d, |_| pieces += 1);
            }
            println!("pre-tokenize only, {name:<12} {:>7.1} MB/s ({pieces} pieces)", mb / t.elapsed().as_secs_f64());
        }
    }

    // Worst cases: one long piece with no pre-tokenizer split point. Best of 3 runs; minichat's
    // first call also builds its prefix trie (reported separately).
    let ours = pretrained::load("cl100k_base").unwrap();
    let tk = tiktoken_rs::cl100k_base().unwrap();
    let bpe = bpe_openai::cl100k_base();
    let mut seed = 1u64;
    let random_az: String = (0..100_000)
        .map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (b'a' + ((seed >> 33) % 26) as u8) as char
        })
        .collect();
    let t = Instant::now();
    ours.encode_ordinary(&"x".repeat(5000));
    println!(
        "\nworst cases, one piece (cl100k; minichat's one-off prefix-trie build: {:.1} ms)",
        t.elapsed().as_secs_f64() * 1e3
    );
    for (label, text) in
        [("'x' x 1M", "x".repeat(1 << 20)), ("'a' x 100k", "a".repeat(100_000)), ("random a-z x 100k", random_az)]
    {
        let encoders: [(&str, Box<dyn Fn(&str) -> Vec<u32>>); 3] = [
            ("minichat", Box::new(|s| ours.encode_ordinary(s))),
            ("tiktoken-rs", Box::new(|s| tk.encode_ordinary(s))),
            ("bpe-openai", Box::new(|s| bpe.encode(s))),
        ];
        let mut line = format!("{label:<18}");
        let mut reference = None;
        for (name, f) in encoders {
            let mut best = f64::MAX;
            let mut ids = Vec::new();
            for _ in 0..3 {
                let t = Instant::now();
                ids = f(&text);
                best = best.min(t.elapsed().as_secs_f64());
            }
            let exact = *reference.get_or_insert_with(|| ids.clone()) == ids;
            line += &format!("  {name} {:.1} ms{}", best * 1e3, if exact { "" } else { " (NOT EXACT)" });
        }
        println!("{line}");
    }
}
