//! Runs as the library opens them: a pretraining run made by `pretrain::start`, opened and its
//! model loaded by `Run` (with the errors a user meets: no run, no tokenizer, a tokenizer of
//! another vocabulary), a fine-tuning run prepared from it (`sft.json`, resumable, and its held
//! out text found in the base run), the training loop's data source seeing the model, and a
//! reinforcement-learning run (rewards and held-out pass rates logged, resumed bit for bit), and
//! a DPO run (bad pairs reported by line, implicit rewards logged, resumed bit for bit), and a
//! reward model that learns to rank the chosen reply first, then stands in for the checker in
//! RLHF (the gold reward logged beside it, the reward-hacking picture drawn).

use minichat_chat::generate::{generate, GenerateConfig};
use minichat_chat::sampler::SamplerConfig;
use minichat_model::net::Net;
use minichat_tokenizer::tokenizer_file;
use minichat_train::config::TrainConfig;
use minichat_train::grpo::{Objective, ScaleRewards};
use minichat_train::loader::Position;
use minichat_train::metrics::Record;
use minichat_train::preference_loader::Method;
use minichat_train::preference_run::{self, NewPreference, PreferenceSource, PreferenceStart};
use minichat_train::pretrain::{self, Start};
use minichat_train::rl::{self, NewRl, RlSource, RlStart};
use minichat_train::run::Run;
use minichat_train::sft::{self, NewSft, SftStart};
use minichat_train::trainer::{Batches, Loop, Observer};
use minichat_train::{heldout, Error};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("minichat-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Quiet;

impl Observer for Quiet {
    fn start(&mut self, _: u64, _: u64, _: usize) {}
    fn record(&mut self, _: &Record) {}
    fn message(&mut self, _: &str) {}
}

/// A chat tokenizer and a corpus of short sentences in `dir`.
fn corpus_and_tokenizer(dir: &Path) -> (PathBuf, PathBuf) {
    let words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "house", "big", "red"];
    let docs: Vec<String> = (0..300)
        .map(|d| (0..12 + d % 7).map(|i| words[(d * 7 + i * i * 3 + i) % words.len()]).collect::<Vec<_>>().join(" "))
        .collect();
    let corpus = dir.join("corpus.jsonl");
    std::fs::write(&corpus, docs.iter().map(|d| format!("{{\"text\": \"{d}.\"}}\n")).collect::<String>()).unwrap();
    let config = minichat_tokenizer::train::TrainConfig {
        vocab_size: 300,
        pattern: "gpt4".into(),
        special_tokens: minichat_tokenizer::CHAT_SPECIAL_TOKENS.iter().map(|s| s.to_string()).collect(),
        max_doc_chars: None,
        name: "run-test".into(),
        number_tokens: false,
    };
    let mut trainer = minichat_tokenizer::train::Trainer::new(config).unwrap();
    trainer.add_documents(&docs);
    let tok = dir.join("tok.mctok");
    std::fs::write(&tok, tokenizer_file::render(&trainer.finish(|_, _| {}).unwrap().0)).unwrap();
    (corpus, tok)
}

fn tiny_config(corpus: &Path, tok: &Path) -> TrainConfig {
    let mut cfg = TrainConfig::preset("tiny", vec![corpus.to_path_buf()], tok.display().to_string()).unwrap();
    // GPT-2, as these fixtures were sized on it (the untrained reward model below must not rank
    // every pair right by chance); the CLI's speedrun test runs the preset's Llama end to end.
    cfg.model.family = "gpt2".into();
    (cfg.model.depth, cfg.model.n_embd, cfg.model.n_head, cfg.model.context) = (1, Some(32), Some(2), 32);
    cfg.data.val_fraction = 0.2;
    let t = &mut cfg.train;
    (t.micro_batch, t.batch_tokens, t.steps, t.warmup_steps, t.lr, t.peak_gflops) = (2, 64, 4, 1, 1e-2, 100.0);
    (cfg.eval.every, cfg.eval.tokens, cfg.sample.every, cfg.checkpoint.every) = (2, 64, 0, 2);
    cfg
}

/// A pretrained run in `dir/base`.
fn pretrained(dir: &Path) -> Run {
    let (corpus, tok) = corpus_and_tokenizer(dir);
    let config = Box::new(tiny_config(&corpus, &tok));
    let s = pretrain::start(Start::New { out: dir.join("base"), config }, |_| {}).unwrap();
    assert!(s.tokenized.as_ref().unwrap().val_docs > 0);
    pretrain::train(&s.run, &s.config, &s.tok, s.resume, &AtomicBool::new(false), &mut Quiet).unwrap();
    s.run
}

#[test]
fn a_run_opens_and_loads_its_model_or_says_what_is_wrong() {
    let dir = temp_dir("open");
    let made = pretrained(&dir);
    let run = Run::open(made.path()).unwrap();
    assert_eq!(run.read_config().unwrap().train.steps, 4);
    let model = run.load_model(None, false).unwrap();
    assert_eq!(model.checkpoint, run.checkpoints().join("step_000004"));
    assert_eq!(model.net.config().vocab_size, model.tok.n_vocab());
    assert_eq!(model.tok.bos_id().unwrap(), model.tok.special_id("<|bos|>").unwrap());
    // An older checkpoint by name, packed for decoding.
    let older = run.checkpoints().join("step_000002");
    let packed = run.load_model(Some(&older), true).unwrap();
    assert_eq!(packed.checkpoint, older);
    assert!(packed.net.weights() != model.net.weights());
    // Restarting a finished run is refused; so is opening what is not a run.
    let again =
        pretrain::start(Start::New { out: made.path().into(), config: Box::new(run.read_config().unwrap()) }, |_| {});
    assert!(again.err().unwrap().to_string().contains("already holds a run"));
    let err = |r: Result<Run, Error>| r.err().unwrap().to_string();
    assert!(err(Run::open(dir.join("nowhere"))).contains("does not exist"));
    assert!(err(Run::open(&dir)).contains("has no config.toml"));
    // A tokenizer of another vocabulary, then none at all.
    let gpt2 = minichat_tokenizer::pretrained::load("r50k_base").unwrap();
    std::fs::write(run.tokenizer(), tokenizer_file::render(&gpt2)).unwrap();
    let e = run.load_model(None, false).err().unwrap().to_string();
    assert!(e.contains("vocabulary (300) differs from the run's tokenizer (50257)"), "{e}");
    std::fs::remove_file(run.tokenizer()).unwrap();
    assert!(run.load_model(None, false).err().unwrap().to_string().contains("has no tokenizer"));
    std::fs::remove_dir_all(run.checkpoints()).unwrap();
    assert!(run.checkpoint(None).unwrap_err().to_string().contains("has no checkpoint yet"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_fine_tuning_run_is_prepared_resumed_and_measured_on_its_base_text() {
    let dir = temp_dir("sft");
    let base = pretrained(&dir);
    let chats = dir.join("chats.jsonl");
    let line = |q: &str, a: &str| {
        format!("{{\"messages\": [{{\"role\": \"user\", \"content\": \"{q}\"}}, {{\"role\": \"assistant\", \"content\": \"{a}\"}}]}}\n")
    };
    let lines: String = (0..40).map(|i| line(&format!("the cat {i}"), "sat on a mat")).collect();
    std::fs::write(&chats, lines + "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n").unwrap();
    let new = NewSft {
        base: base.path().into(),
        checkpoint: None,
        conversations: vec![chats.clone(), chats.clone()],
        out: dir.join("chat"),
        steps: 2,
        lr: 1e-3,
        micro_batch: 2,
        val_fraction: 0.2,
        text_pieces: 3,
        eval_every: 1,
        seed: None,
    };
    // --strict: the bad line stops it before anything is made.
    let strict = sft::prepare(SftStart::New(new.clone()), true, |_| {});
    assert!(strict.err().unwrap().to_string().contains("chats.jsonl:41"));
    assert!(!new.out.exists());
    let mut skipped = Vec::new();
    let p = sft::prepare(SftStart::New(new.clone()), false, |s| skipped.push(s.to_string())).unwrap();
    assert_eq!(skipped.len(), 2, "the bad line, once per time the file is given: {skipped:?}");
    let (train, val) = (p.data.0.len(), p.data.1.len());
    assert_eq!(train + val, 83, "80 conversations and 3 pieces of text");
    // The text: pieces of a full context from the base run's training split, all trained.
    let t = p.config.model.context;
    let base_train =
        minichat_train::tokenize::load_split(&base.shards(), "train", p.tok.n_vocab(), p.tok.bos_id().unwrap())
            .unwrap();
    for (ids, mask) in &p.data.0[train - 3..] {
        assert!(ids.len() == t + 1 && mask.iter().all(|&m| m == 1));
        assert!(base_train.windows(t + 1).any(|w| w == &ids[..]));
    }
    assert_eq!(p.source.base_checkpoint, std::path::absolute(base.checkpoints().join("step_000004")).unwrap());
    let (run, rows) = (p.run.clone(), p.data.0.clone());
    sft::train(p, &AtomicBool::new(false), &mut Quiet).unwrap();
    // Resuming reads sft.json back: the same conversations and text, nothing more to do.
    let resumed = sft::prepare(SftStart::Resume(run.path().into()), false, |_| {}).unwrap();
    assert!(resumed.resume && resumed.data.0 == rows);
    let outcome = sft::train(resumed, &AtomicBool::new(false), &mut Quiet).unwrap();
    assert_eq!((outcome.step, outcome.interrupted), (2, false));
    // The exam's held-out text of the fine-tuned model is its base run's validation split.
    assert_eq!(heldout::pretraining_run(&run).unwrap().path(), std::path::absolute(base.path()).unwrap());
    let model = Run::open(run.path()).unwrap().load_model(None, false).unwrap();
    let tokens = heldout::validation_tokens(&run, &model.tok).unwrap();
    assert_eq!(tokens, heldout::validation_tokens(&base, &model.tok).unwrap());
    let bpb = heldout::bits_per_byte(&model.net, &model.tok, &tokens).unwrap().unwrap();
    assert!(bpb.is_finite() && bpb > 0.0);
    // The same documents read from the corpus file again, split as pretraining split them.
    let corpus = dir.join("corpus.jsonl");
    assert_eq!(heldout::corpus_tokens(&[corpus], &model.tok, 0.2).unwrap(), tokens);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A data source that samples its rows from the model being trained (as GRPO's rollouts will)
/// and keeps, per call, a fingerprint of the weights it was shown.
struct SelfSampled {
    seen: Vec<f64>,
    t: usize,
}

impl Batches for SelfSampled {
    fn next(&mut self, net: &Net, ids: &mut [u32], targets: &mut [u32], weights: &mut [f32]) -> Result<usize, Error> {
        self.seen.push(net.weights().iter().map(|&w| w as f64).sum());
        let greedy = SamplerConfig { temperature: 0.0, ..Default::default() };
        let cfg = GenerateConfig { max_new_tokens: self.t, stop_tokens: vec![], samples: 1, show: 0, slide: false };
        let rows = ids.len() / self.t;
        for r in 0..rows {
            let prompt = [1 + r as u32];
            let out = generate(net, &prompt, &greedy, &cfg, None, &mut |_, _, _| {})?.remove(0).tokens;
            let seq: Vec<u32> = prompt.iter().chain(&out).copied().collect();
            let n = (seq.len() - 1).min(self.t);
            let row = r * self.t..(r + 1) * self.t;
            ids[row.clone()].fill(0);
            targets[row.clone()].fill(minichat_model::cpu::cross_entropy::IGNORE);
            weights[row.clone()].fill(0.0);
            ids[r * self.t..r * self.t + n].copy_from_slice(&seq[..n]);
            targets[r * self.t..r * self.t + n].copy_from_slice(&seq[1..n + 1]);
            weights[r * self.t..r * self.t + n].fill(1.0);
        }
        Ok(self.t)
    }

    fn position(&self) -> Position {
        Position { epoch: 0, window: self.seen.len() as u64 }
    }
}

#[test]
fn the_loops_data_source_sees_the_model_as_it_trains() {
    let dir = temp_dir("source");
    let base = pretrained(&dir);
    let (cfg, tok) = (base.read_config().unwrap(), base.load_tokenizer().unwrap());
    let run = Run::new(dir.join("self"));
    let mut net = Net::load_dir(&base.checkpoints().join("step_000004")).unwrap();
    let mut opt = cfg.optimizer(&net);
    let mut source = SelfSampled { seen: Vec::new(), t: cfg.model.context };
    let mut validate = |_: &Net, _: &mut minichat_model::net::NetActs| Ok((0.0, 0.0));
    let stop = AtomicBool::new(false);
    let parts = Loop { run: &run, cfg: &cfg, tok: &tok, resume: false, stop: &stop, bos: None };
    let state = Default::default();
    let out = parts.run(&mut net, &mut opt, state, None, &mut source, Some(&mut validate), &mut Quiet).unwrap();
    assert_eq!(out.step, 4);
    // One micro-batch per step, each drawn from the weights as the previous step left them.
    assert_eq!(source.seen.len(), 4);
    assert!(source.seen.windows(2).all(|w| w[0] != w[1]), "{:?}", source.seen);
    let saved: minichat_train::checkpoint::TrainerState =
        serde_json::from_slice(&std::fs::read(out.checkpoint.join("trainer.json")).unwrap()).unwrap();
    assert_eq!(saved.loader, Position { epoch: 0, window: 4 });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Stops the loop after step `at` (as Ctrl-C would) and keeps every record.
struct StopAt<'a> {
    at: u64,
    stop: &'a AtomicBool,
    records: Vec<Record>,
}

impl Observer for StopAt<'_> {
    fn start(&mut self, _: u64, _: u64, _: usize) {}
    fn record(&mut self, r: &Record) {
        if let Record::Step { step, .. } = r {
            if *step == self.at {
                self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        self.records.push(r.clone());
    }
    fn message(&mut self, _: &str) {}
}

/// A task file to learn from and a held-out one, in `dir`.
fn task_files(dir: &Path) -> (PathBuf, PathBuf) {
    let task = |q: &str, a: &str| {
        format!("{{\"messages\": [{{\"role\": \"user\", \"content\": \"{q}\"}}, {{\"role\": \"assistant\", \"content\": \"{a}\"}}], \"answer\": \"{a}\"}}\n")
    };
    let (train, test) = (dir.join("words-train.jsonl"), dir.join("words-test.jsonl"));
    std::fs::write(&train, ["the cat", "a dog", "big mat", "red house"].map(|q| task(q, "sat")).concat()).unwrap();
    std::fs::write(&test, task("the dog", "ran") + &task("a cat", "sat")).unwrap();
    (train, test)
}

fn new_rl(base: &Run, out: &Path, train: &Path, test: &Path) -> NewRl {
    NewRl {
        base: base.path().into(),
        checkpoint: None,
        out: out.into(),
        steps: 4,
        lr: 1e-3,
        micro_batch: 2,
        eval_every: 2,
        seed: Some(5),
        source: RlSource {
            base_checkpoint: PathBuf::new(),
            tasks: vec![train.into()],
            heldout: vec![test.into()],
            heldout_questions: 10,
            prompts: 2,
            group: 2,
            max_tokens: 4,
            temperature: 1.0,
            objective: Objective { beta: 0.05, ..Objective::default() },
            scale: ScaleRewards::Group,
            format_reward: 0.1,
            reward_model: None,
        },
    }
}

#[test]
fn a_reinforcement_learning_run_logs_rewards_and_pass_rates_and_resumes_bit_for_bit() {
    let dir = temp_dir("rl");
    let base = pretrained(&dir);
    let (train, test) = task_files(&dir);
    let new = |out: &str| new_rl(&base, &dir.join(out), &train, &test);
    // A task file that is not one stops it before anything is made.
    let mut bad = new("bad");
    bad.source.tasks = vec![dir.join("corpus.jsonl")];
    assert!(rl::prepare(RlStart::New(Box::new(bad))).err().unwrap().to_string().contains("corpus.jsonl:1"));
    assert!(!dir.join("bad").exists());
    // Straight through.
    let whole = rl::prepare(RlStart::New(Box::new(new("whole")))).unwrap();
    let whole_run = whole.run.clone();
    rl::train(whole, &AtomicBool::new(false), &mut Quiet).unwrap();
    let records = minichat_train::metrics::read(&whole_run.metrics()).unwrap();
    let steps_of = |f: &dyn Fn(&Record) -> bool| records.iter().filter(|r| f(r)).map(Record::step).collect::<Vec<_>>();
    assert_eq!(steps_of(&|r| matches!(r, Record::Rollouts { .. })), [1, 2, 3, 4]);
    assert_eq!(steps_of(&|r| matches!(r, Record::Heldout { task, questions: 2, .. } if task == "words")), [0, 2, 4]);
    // Each step's rollouts are timed apart from its update, and left out of its utilisation.
    let mut last = 0.0;
    for r in &records {
        if let Record::Step { data_seconds, seconds, mfu, .. } = r {
            assert!(*data_seconds > 0.0 && *data_seconds < seconds - last && mfu.is_finite(), "{r:?}");
            last = *seconds;
        }
    }
    // Stopped after step 2 and resumed: the same weights as straight through.
    let halves = rl::prepare(RlStart::New(Box::new(new("halves")))).unwrap();
    let halves_run = halves.run.clone();
    let stop = AtomicBool::new(false);
    let out = rl::train(halves, &stop, &mut StopAt { at: 2, stop: &stop, records: Vec::new() }).unwrap();
    assert_eq!((out.step, out.interrupted), (2, true));
    let resumed = rl::prepare(RlStart::Resume(halves_run.path().into())).unwrap();
    assert!(resumed.resume);
    assert_eq!(rl::train(resumed, &AtomicBool::new(false), &mut Quiet).unwrap().step, 4);
    let weights = |run: &Run| std::fs::read(run.checkpoints().join("step_000004/model.safetensors")).unwrap();
    assert!(weights(&whole_run) == weights(&halves_run), "a resumed run continues bit for bit");
    assert_ne!(weights(&whole_run), std::fs::read(base.checkpoints().join("step_000004/model.safetensors")).unwrap());
    let same_log = |r: &Run| {
        let mut v = minichat_train::metrics::read(&r.metrics()).unwrap();
        v.iter_mut().for_each(|r| {
            if let Record::Step { tokens_per_s, mfu, seconds, data_seconds, .. } = r {
                (*tokens_per_s, *mfu, *seconds, *data_seconds) = (0.0, 0.0, 0.0, 0.0);
            }
        });
        v
    };
    assert_eq!(same_log(&whole_run), same_log(&halves_run));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A preference-pair in the standard format.
fn pair(q: &str, c: &str, r: &str) -> String {
    format!("{{\"prompt\": \"{q}\", \"chosen\": \"{c}\", \"rejected\": \"{r}\"}}\n")
}

/// 16 pairs and, on line 17, one with the same reply twice.
fn pairs_file(dir: &Path) -> PathBuf {
    let prompts = ["the cat", "a dog", "big mat", "red house", "the mat", "a big dog", "the red cat", "a house"];
    let mut text: String = prompts.iter().map(|q| pair(q, "sat on a mat", "ran")).collect();
    text += &prompts.iter().map(|q| pair(q, "the dog sat", "big red")).collect::<String>();
    text += &pair("the cat", "sat", "sat");
    let path = dir.join("pairs.jsonl");
    std::fs::write(&path, &text).unwrap();
    path
}

fn new_preference(base: &Run, out: &Path, file: &Path, method: Method) -> NewPreference {
    NewPreference {
        base: base.path().into(),
        checkpoint: None,
        out: out.into(),
        steps: 4,
        lr: 1e-2,
        batch_pairs: 4,
        micro_pairs: 2,
        eval_every: 2,
        seed: Some(3),
        source: PreferenceSource {
            base_checkpoint: PathBuf::new(),
            pairs: vec![file.into()],
            val_fraction: 0.25,
            method,
        },
    }
}

#[test]
fn a_dpo_run_reports_bad_pairs_logs_implicit_rewards_and_resumes_bit_for_bit() {
    let dir = temp_dir("dpo");
    let base = pretrained(&dir);
    let pair =
        |q: &str, c: &str, r: &str| format!("{{\"prompt\": \"{q}\", \"chosen\": \"{c}\", \"rejected\": \"{r}\"}}\n");
    let prompts = ["the cat", "a dog", "big mat", "red house", "the mat", "a big dog", "the red cat", "a house"];
    let mut text: String = prompts.iter().map(|q| pair(q, "sat on a mat", "ran")).collect();
    text += &prompts.iter().map(|q| pair(q, "the dog sat", "big red")).collect::<String>();
    text += &pair("the cat", "sat", "sat");
    let pairs = dir.join("pairs.jsonl");
    std::fs::write(&pairs, &text).unwrap();
    let new = |out: &str, file: &Path| NewPreference {
        base: base.path().into(),
        checkpoint: None,
        out: dir.join(out),
        steps: 4,
        lr: 1e-2,
        batch_pairs: 4,
        micro_pairs: 2,
        eval_every: 2,
        seed: Some(3),
        source: PreferenceSource {
            base_checkpoint: PathBuf::new(),
            pairs: vec![file.to_path_buf()],
            val_fraction: 0.25,
            method: Method::Dpo(minichat_train::dpo::Objective { beta: 0.5, ..Default::default() }),
        },
    };
    // A prompt that leaves no room for a reply stops it, naming the file and line, before
    // anything is made.
    let long = dir.join("long.jsonl");
    std::fs::write(&long, pair("the cat", "sat", "ran") + &pair(&["the big red dog"; 12].join(" "), "sat", "ran"))
        .unwrap();
    let err = preference_run::prepare(PreferenceStart::New(Box::new(new("bad", &long))), false, |_| {})
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("long.jsonl") && err.contains("line 2") && err.contains("no room"), "{err}");
    assert!(!dir.join("bad").exists());
    // The pair with the same reply twice is skipped and named; with --strict it stops the run.
    let mut skipped = Vec::new();
    let whole = preference_run::prepare(PreferenceStart::New(Box::new(new("whole", &pairs))), false, |p| {
        skipped.push(p.to_string())
    });
    let whole = whole.unwrap();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].contains("pairs.jsonl:17") && skipped[0].contains("same reply"), "{skipped:?}");
    assert!(preference_run::prepare(PreferenceStart::New(Box::new(new("strict", &pairs))), true, |_| {}).is_err());
    let (train, heldout) = (whole.pairs.0.len(), whole.pairs.1.len());
    assert_eq!(train + heldout, 16);
    assert!(heldout > 0 && train > heldout, "{train} training pairs, {heldout} held out");
    let whole_run = whole.run.clone();
    preference_run::train(whole, &AtomicBool::new(false), &mut Quiet).unwrap();
    // The exam's held-out text is the pretraining run's, found back through preference.json.
    assert_eq!(heldout::pretraining_run(&whole_run).unwrap().path(), std::path::absolute(base.path()).unwrap());
    let records = minichat_train::metrics::read(&whole_run.metrics()).unwrap();
    let margins: Vec<(u64, f32)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Preference { step, reward_margin, .. } => Some((*step, *reward_margin)),
            _ => None,
        })
        .collect();
    assert_eq!(margins.iter().map(|m| m.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    // The first step's policy is the reference: no margin yet; training opens one.
    assert!(margins[0].1.abs() < 1e-3 && margins[3].1 > 0.05, "{margins:?}");
    let held: Vec<u64> = records
        .iter()
        .filter(|r| matches!(r, Record::HeldoutPairs { pairs, .. } if *pairs == heldout))
        .map(Record::step)
        .collect();
    assert_eq!(held, [2, 4]);
    // Stopped after step 2 and resumed: the same weights as straight through.
    let halves = preference_run::prepare(PreferenceStart::New(Box::new(new("halves", &pairs))), false, |_| {}).unwrap();
    let halves_run = halves.run.clone();
    let stop = AtomicBool::new(false);
    let out = preference_run::train(halves, &stop, &mut StopAt { at: 2, stop: &stop, records: Vec::new() }).unwrap();
    assert_eq!((out.step, out.interrupted), (2, true));
    let resumed = preference_run::prepare(PreferenceStart::Resume(halves_run.path().into()), false, |_| {}).unwrap();
    assert!(resumed.resume);
    assert_eq!(preference_run::train(resumed, &AtomicBool::new(false), &mut Quiet).unwrap().step, 4);
    let weights = |run: &Run| std::fs::read(run.checkpoints().join("step_000004/model.safetensors")).unwrap();
    assert!(weights(&whole_run) == weights(&halves_run), "a resumed run continues bit for bit");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_reward_model_learns_to_rank_the_chosen_reply_first_and_rewards_rlhf() {
    let dir = temp_dir("rm");
    let base = pretrained(&dir);
    let pairs = pairs_file(&dir);
    let new = new_preference(&base, &dir.join("rm"), &pairs, Method::RewardModel);
    let p = preference_run::prepare(PreferenceStart::New(Box::new(new)), false, |_| {}).unwrap();
    let run = p.run.clone();
    let heldout = p.pairs.1.len();
    preference_run::train(p, &AtomicBool::new(false), &mut Quiet).unwrap();
    let records = minichat_train::metrics::read(&run.metrics()).unwrap();
    let held: Vec<(u64, f32)> = records
        .iter()
        .filter_map(|r| match r {
            Record::HeldoutPairs { step, heldout_accuracy, pairs, .. } if *pairs == heldout => {
                Some((*step, *heldout_accuracy))
            }
            _ => None,
        })
        .collect();
    assert_eq!(held.iter().map(|h| h.0).collect::<Vec<_>>(), [2, 4]);
    // The trained scorer ranks every pair of the file right (one reply in each set is always
    // preferred), the base model's output row does not yet.
    let read = minichat_chat::preference::read_file(&pairs, false).unwrap();
    let right = |run: &Run| {
        let m = run.load_model(None, false).unwrap();
        let s = minichat_train::reward_model::score_pairs(&m.net, &m.tok, &read.pairs).unwrap();
        s.iter().filter(|[c, r]| c > r).count()
    };
    assert_eq!(right(&run), 16, "held out: {held:?}");
    assert!(right(&base) < 16);
    // RLHF: the reward model's score is the reward, the checker's the gold score beside it.
    let (train, test) = task_files(&dir);
    let mut rlhf = new_rl(&base, &dir.join("rlhf"), &train, &test);
    (rlhf.source.reward_model, rlhf.source.format_reward, rlhf.steps) = (Some(run.path().into()), 0.0, 2);
    let p = rl::prepare(RlStart::New(Box::new(rlhf.clone()))).unwrap();
    let rlhf_run = p.run.clone();
    rl::train(p, &AtomicBool::new(false), &mut Quiet).unwrap();
    let records = minichat_train::metrics::read(&rlhf_run.metrics()).unwrap();
    let golds: Vec<(f32, f32)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Rollouts { reward, gold: Some(gold), .. } => Some((*reward, *gold)),
            _ => None,
        })
        .collect();
    assert_eq!(golds.len(), 2);
    // Scores are log-probabilities; the gold reward is the share of right answers.
    assert!(golds.iter().all(|&(r, g)| r < 0.0 && (0.0..=1.0).contains(&g)), "{golds:?}");
    rlhf_run.plot_loss().unwrap();
    assert!(std::fs::read_to_string(rlhf_run.reward_hacking_plot()).unwrap().contains("<svg"));
    // A reward model that reads another tokenizer is refused, naming both.
    let other = dir.join("other-rm");
    std::fs::create_dir_all(&other).unwrap();
    for f in ["config.toml", "tokenizer.mctok"] {
        std::fs::copy(run.path().join(f), other.join(f)).unwrap();
    }
    std::fs::write(other.join("tokenizer.mctok"), std::fs::read(dir.join("tok.mctok")).unwrap().repeat(2)).unwrap();
    let mut bad = rlhf;
    (bad.out, bad.source.reward_model) = (dir.join("rlhf-bad"), Some(other));
    let err = rl::prepare(RlStart::New(Box::new(bad))).err().unwrap().to_string();
    assert!(err.contains("another tokenizer") && err.contains("other-rm"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
