//! End-to-end pretraining on a small generated corpus: a run resumed from a checkpoint repeats
//! the uninterrupted run bit for bit, and bad input (too little data, corrupt checkpoints,
//! divergence, a different tokenizer) stops with a clear error.

use minichat_tokenizer::{pretrained, Tokenizer};
use minichat_train::config::{OptimizerKind, TrainConfig};
use minichat_train::metrics::{self, Record};
use minichat_train::pretrain;
use minichat_train::run::Run;
use minichat_train::tokenize::{tokenize_corpus, TokenizeConfig};
use minichat_train::trainer::Observer;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("minichat-pretrain-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A corpus of simple sentences, one JSONL document each.
fn corpus(dir: &std::path::Path, docs: usize) -> PathBuf {
    let words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "house", "big", "red"];
    let mut text = String::new();
    for d in 0..docs {
        let sentence: Vec<&str> = (0..12 + d % 7).map(|i| words[(d * 7 + i * i * 3 + i) % words.len()]).collect();
        text += &format!("{{\"text\": \"{}.\"}}\n", sentence.join(" "));
    }
    let path = dir.join("corpus.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn tiny_config(corpus: PathBuf) -> TrainConfig {
    let mut cfg = TrainConfig::preset("tiny", vec![corpus], "r50k_base".into()).unwrap();
    cfg.model.depth = 1;
    cfg.model.n_embd = Some(32);
    cfg.model.n_head = Some(2);
    cfg.model.context = 16;
    cfg.data.val_fraction = 0.2;
    let t = &mut cfg.train;
    (t.micro_batch, t.batch_tokens, t.steps, t.warmup_steps, t.lr, t.peak_gflops) = (2, 64, 8, 2, 1e-2, 100.0);
    cfg.eval.every = 4;
    cfg.eval.tokens = 64;
    cfg.sample.every = 4;
    cfg.sample.prompts = vec!["the cat".into()];
    cfg.sample.max_tokens = 5;
    cfg.checkpoint.every = 4;
    cfg
}

fn prepare(dir: &std::path::Path, cfg: &TrainConfig, tok: &Tokenizer) -> Run {
    let run = Run::new(dir);
    let tc = TokenizeConfig { val_fraction: cfg.data.val_fraction, ..Default::default() };
    tokenize_corpus(&cfg.data.corpus, tok, &run.shards(), &tc, |_| {}).unwrap();
    run
}

/// Raises `stop` once training reports `at`.
struct StopAt<'a> {
    at: u64,
    stop: &'a AtomicBool,
}

impl Observer for StopAt<'_> {
    fn start(&mut self, _: u64, _: u64, _: usize) {}
    fn record(&mut self, r: &Record) {
        if r.step() >= self.at {
            self.stop.store(true, Ordering::SeqCst);
        }
    }
    fn message(&mut self, _: &str) {}
}

fn losses(run: &Run) -> Vec<String> {
    metrics::read(&run.metrics())
        .unwrap()
        .iter()
        .filter_map(|r| match r {
            Record::Step { step, loss, grad_norm, .. } => Some(format!("{step} {loss} {grad_norm}")),
            Record::Eval { step, val_loss, val_bpb } => Some(format!("{step} val {val_loss} {val_bpb}")),
            Record::Sample { .. }
            | Record::Rollouts { .. }
            | Record::Heldout { .. }
            | Record::Preference { .. }
            | Record::HeldoutPairs { .. } => None,
        })
        .collect()
}

#[test]
fn resumed_run_is_bit_identical_to_an_uninterrupted_one() {
    resumes_bit_for_bit(OptimizerKind::Adamw, "resume");
}

#[test]
fn resumed_muon_run_is_bit_identical_too() {
    // Muon's momentum is in the checkpoint; without it the resumed steps would differ.
    resumes_bit_for_bit(OptimizerKind::Muon, "resume-muon");
}

fn resumes_bit_for_bit(optimizer: OptimizerKind, name: &str) {
    let dir = temp_dir(name);
    let mut cfg = tiny_config(corpus(&dir, 200));
    cfg.train.optimizer = optimizer;
    let tok = pretrained::load("r50k_base").unwrap();
    let never = AtomicBool::new(false);
    let straight = prepare(&dir.join("straight"), &cfg, &tok);
    let out =
        pretrain::train(&straight, &cfg, &tok, false, &never, &mut StopAt { at: u64::MAX, stop: &never }).unwrap();
    assert_eq!((out.step, out.interrupted), (8, false));

    let split = prepare(&dir.join("split"), &cfg, &tok);
    let stop = AtomicBool::new(false);
    let out = pretrain::train(&split, &cfg, &tok, false, &stop, &mut StopAt { at: 4, stop: &stop }).unwrap();
    assert_eq!((out.step, out.interrupted), (4, true));
    let stop = AtomicBool::new(false);
    let out = pretrain::train(&split, &cfg, &tok, true, &stop, &mut StopAt { at: u64::MAX, stop: &stop }).unwrap();
    assert_eq!((out.step, out.interrupted), (8, false));

    let (a, b) = (losses(&straight), losses(&split));
    assert_eq!(a.len(), 8 + 2);
    assert_eq!(a, b, "loss sequences differ");
    let weights = |run: &Run| std::fs::read(run.checkpoints().join("step_000008/model.safetensors")).unwrap();
    assert!(weights(&straight) == weights(&split), "final weights differ");
    // The loss went down, and only the newest checkpoints are kept.
    let first: f32 = a[0].split(' ').nth(1).unwrap().parse().unwrap();
    let last: f32 = a[8].split(' ').nth(1).unwrap().parse().unwrap();
    assert!(last < first, "{first} -> {last}");
    let kept: Vec<_> =
        std::fs::read_dir(split.checkpoints()).unwrap().filter_map(|e| e.ok()).filter(|e| e.path().is_dir()).collect();
    assert_eq!(kept.len(), cfg.checkpoint.keep);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = temp_dir("bad");
    let tok = pretrained::load("r50k_base").unwrap();
    let never = AtomicBool::new(false);
    let mut quiet = StopAt { at: u64::MAX, stop: &never };

    // Too little data for one sequence of the validation split.
    let cfg = tiny_config(corpus(&dir, 3));
    let run = prepare(&dir.join("small"), &cfg, &tok);
    let err = pretrain::train(&run, &cfg, &tok, false, &never, &mut quiet).unwrap_err().to_string();
    assert!(err.contains("validation split") || err.contains("too few"), "{err}");

    // A corrupt checkpoint is refused on resume, naming the file.
    let mut cfg = tiny_config(corpus(&dir, 200));
    cfg.train.steps = 4;
    let run = prepare(&dir.join("corrupt"), &cfg, &tok);
    pretrain::train(&run, &cfg, &tok, false, &never, &mut quiet).unwrap();
    let model = run.checkpoints().join("step_000004/model.safetensors");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let err = pretrain::train(&run, &cfg, &tok, true, &never, &mut quiet).unwrap_err().to_string();
    assert!(err.contains("model.safetensors") && err.contains("corrupt or truncated"), "{err}");

    // Shards from another tokenizer.
    let other = pretrained::load("cl100k_base").unwrap();
    let err = pretrain::train(&run, &cfg, &other, false, &never, &mut quiet).unwrap_err().to_string();
    assert!(err.contains("written by a tokenizer"), "{err}");

    // Divergence stops at the step, naming the last good checkpoint.
    let mut cfg = tiny_config(corpus(&dir, 200));
    (cfg.train.lr, cfg.train.grad_clip, cfg.train.steps) = (1e30, 0.0, 8);
    let run = prepare(&dir.join("nan"), &cfg, &tok);
    let err = pretrain::train(&run, &cfg, &tok, false, &never, &mut quiet).unwrap_err().to_string();
    assert!(err.contains("step") && err.contains("last good checkpoint"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
