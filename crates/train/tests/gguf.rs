//! `export gguf` read by llama.cpp itself: llama-cpp-python (PyPI; `scripts/setup_test_python.sh`
//! installs it in target/test-venv, building llama.cpp) loads the file for a GPT-2 and a Llama
//! (grouped-query attention), f32 and f16, and its next-token logits and greedy tokens equal
//! minichat's on the same ids (tests/gguf_check.py).

use minichat_chat::sampler::argmax;
use minichat_model::init::gpt2_init;
use minichat_model::kv_cache::KvCache;
use minichat_model::net::Net;
use minichat_model::{Family, ModelConfig};
use minichat_tokenizer::train::{TrainConfig, Trainer};
use minichat_tokenizer::{Tokenizer, CHAT_SPECIAL_TOKENS};
use minichat_train::gguf::{render, Dtype};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("MINICHAT_TEST_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/python");
    assert!(venv.exists(), "no test Python at {}: run scripts/setup_test_python.sh", venv.display());
    venv
}

fn tokenizer() -> Tokenizer {
    let config = TrainConfig {
        vocab_size: 400,
        pattern: "gpt4".into(),
        special_tokens: CHAT_SPECIAL_TOKENS.iter().map(|s| s.to_string()).collect(),
        max_doc_chars: None,
        name: "gguf-test".into(),
        number_tokens: false,
    };
    let mut trainer = Trainer::new(config).unwrap();
    let text = "The quick brown fox jumps over the lazy dog. Zwölf Boxkämpfer jagen Viktor quer über den Sylter Deich.";
    trainer.add_documents(&vec![text.to_string(); 40]);
    trainer.finish(|_, _| {}).unwrap().0
}

/// A model of random weights (larger than GPT-2's init, so the logits are far apart).
fn model(family: Family, tok: &Tokenizer) -> Net {
    let mut cfg = ModelConfig::from_depth(family, 2, tok.n_vocab());
    (cfg.n_embd, cfg.n_head, cfg.n_kv_head, cfg.intermediate_size, cfg.block_size) = match family {
        Family::Gpt2 => (128, 4, 4, 512, 128),
        Family::Llama => (128, 4, 2, 320, 128),
    };
    let mut net = Net::new(cfg).unwrap();
    let params = net.params().to_vec();
    let n_layer = net.config().n_layer;
    let (weights, _) = net.buffers();
    gpt2_init(&params, weights, n_layer, 11);
    for p in &params {
        if p.shape.len() == 2 {
            weights[p.offset..p.offset + p.len()].iter_mut().for_each(|w| *w *= 4.0);
        }
    }
    net
}

/// minichat's logits after `ids` and its greedy continuation.
fn ours(net: &Net, ids: &[u32], n: usize) -> (Vec<f32>, Vec<u32>) {
    let mut cache = KvCache::new(net.config(), ids.len() + n + 1).unwrap();
    net.extend(&mut cache, ids).unwrap();
    let first = cache.logits.clone();
    let mut greedy = Vec::new();
    for _ in 0..n {
        let t = argmax(&cache.logits);
        greedy.push(t);
        net.extend(&mut cache, &[t]).unwrap();
    }
    (first, greedy)
}

fn llama_cpp(file: &PathBuf, ids: &[u32], n: usize) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/gguf_check.py");
    let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
    let out = Command::new(python()).arg(script).arg(file).arg(ids.join(" ")).arg(n.to_string()).output().unwrap();
    assert!(out.status.success(), "gguf_check.py: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn llama_cpp_runs_the_export_with_our_logits_and_greedy_tokens() {
    let tok = tokenizer();
    let text = "The quick brown fox jumps over the lazy";
    let mut ids = vec![tok.bos_id().unwrap()];
    ids.extend(tok.encode_ordinary(text));
    let dir = std::env::temp_dir().join(format!("minichat-gguf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for family in [Family::Gpt2, Family::Llama] {
        let net = model(family, &tok);
        let (logits, greedy) = ours(&net, &ids, 12);
        for (dtype, tolerance) in [(Dtype::F32, 1e-3), (Dtype::F16, 3e-2)] {
            let file = dir.join(format!("{family:?}-{dtype:?}.gguf"));
            std::fs::write(&file, render(&net, &tok, dtype, "test").unwrap()).unwrap();
            let theirs = llama_cpp(&file, &ids, 12);
            let what = format!("{family:?} {dtype:?}");
            assert_eq!(theirs["n_vocab"].as_u64(), Some(tok.n_vocab() as u64), "{what}");
            let got: Vec<f32> =
                theirs["logits"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
            let scale = logits.iter().fold(0f32, |m, x| m.max(x.abs()));
            let worst = got.iter().zip(&logits).map(|(a, b)| (a - b).abs() / scale).fold(0f32, f32::max);
            eprintln!("{what}: logits within {worst:.2e} of the largest");
            assert!(worst < tolerance, "{what}: logits differ by {worst} (relative to {scale})");
            if dtype == Dtype::F32 {
                let theirs: Vec<u32> =
                    theirs["greedy"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as u32).collect();
                assert_eq!(theirs, greedy, "{what}: greedy tokens");
            }
            // The vocabulary reads back: each prompt token's text is ours.
            let pieces: Vec<String> =
                ids[1..].iter().map(|&t| String::from_utf8_lossy(tok.token_bytes(t).unwrap()).into_owned()).collect();
            let back: Vec<String> =
                theirs["tokens"].as_array().unwrap()[1..].iter().map(|t| t.as_str().unwrap().to_string()).collect();
            assert_eq!(back, pieces, "{what}: token texts");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
