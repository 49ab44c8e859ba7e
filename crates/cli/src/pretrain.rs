//! `minichat pretrain` and `minichat plot`: a run directory from a corpus and a tokenizer,
//! trained with a progress bar, resumable, stopped cleanly by Ctrl-C.

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use minichat_tokenizer::{tokenizer_file, Tokenizer};
use minichat_train::config::TrainConfig;
use minichat_train::metrics::{self, Record};
use minichat_train::run::Run;
use minichat_train::tokenize::{tokenize_corpus, TokenizeConfig};
use minichat_train::trainer::{self, Observer};
use std::path::PathBuf;

#[derive(Args)]
pub struct PretrainArgs {
    /// Run directory (created; holds config, tokenizer, shards, metrics, checkpoints).
    #[arg(short, long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue the run in this directory from its latest checkpoint.
    #[arg(long, conflicts_with_all = ["out", "config", "preset"])]
    resume: Option<PathBuf>,
    /// A preset sized by --depth: tiny (minutes on 2 CPU cores) or small (GPT-2-small-like).
    #[arg(long, default_value = "tiny")]
    preset: String,
    /// A TOML run config (as written to RUN/config.toml) instead of a preset.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Corpus files: text, JSONL (`text` field) or Parquet (`text` column).
    #[arg(long, num_args = 1..)]
    corpus: Vec<PathBuf>,
    /// Tokenizer: a minichat tokenizer file, a .tiktoken file or a built-in name.
    #[arg(short, long)]
    tokenizer: Option<String>,
    /// Model family: gpt2 or llama.
    #[arg(long)]
    family: Option<String>,
    /// Layers (and width 64 × depth): the one dial.
    #[arg(long)]
    depth: Option<usize>,
    /// Context length in tokens.
    #[arg(long)]
    context: Option<usize>,
    /// Optimizer steps.
    #[arg(long)]
    steps: Option<u64>,
    /// Sequences per forward/backward pass.
    #[arg(long)]
    micro_batch: Option<usize>,
    /// Tokens per optimizer step (a multiple of micro-batch × context; accumulates gradients).
    #[arg(long)]
    batch_tokens: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    lr: Option<f32>,
    /// Steps between validation passes / samples / checkpoints (0 = at the end only).
    #[arg(long)]
    eval_every: Option<u64>,
    #[arg(long)]
    sample_every: Option<u64>,
    #[arg(long)]
    checkpoint_every: Option<u64>,
    #[arg(long)]
    seed: Option<u64>,
}

impl PretrainArgs {
    /// The preset or config file with the command-line overrides applied.
    fn config(&self) -> Result<TrainConfig> {
        let mut cfg = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                TrainConfig::from_toml(&text, &path.display().to_string())?
            }
            None => TrainConfig::preset(&self.preset, Vec::new(), "cl100k_base".into())?,
        };
        if !self.corpus.is_empty() {
            cfg.data.corpus = self.corpus.clone();
        }
        if let Some(t) = &self.tokenizer {
            cfg.data.tokenizer = t.clone();
        }
        if let Some(f) = &self.family {
            cfg.model.family = f.clone();
        }
        if let Some(d) = self.depth {
            cfg.model.depth = d;
        }
        let t = &mut cfg.train;
        let old_micro_tokens = t.micro_batch * cfg.model.context;
        let follows_micro = t.batch_tokens == old_micro_tokens;
        if let Some(c) = self.context {
            cfg.model.context = c;
        }
        if let Some(m) = self.micro_batch {
            t.micro_batch = m;
        }
        // Without an explicit batch size, one micro-batch per step stays one micro-batch.
        t.batch_tokens = match self.batch_tokens {
            Some(n) => n,
            None if follows_micro => t.micro_batch * cfg.model.context,
            None => t.batch_tokens,
        };
        if let Some(s) = self.steps {
            t.steps = s;
            t.warmup_steps = t.warmup_steps.min(s);
        }
        if let Some(lr) = self.lr {
            t.lr = lr;
        }
        if let Some(s) = self.seed {
            t.seed = s;
        }
        if let Some(e) = self.eval_every {
            cfg.eval.every = e;
        }
        if let Some(e) = self.sample_every {
            cfg.sample.every = e;
        }
        if let Some(e) = self.checkpoint_every {
            cfg.checkpoint.every = e;
        }
        if cfg.data.corpus.is_empty() {
            bail!("no corpus: pass --corpus FILE... (text, JSONL or Parquet)");
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

/// A run directory's resolved config (RUN/config.toml).
pub(crate) fn run_config(run: &Run) -> Result<TrainConfig> {
    let text = std::fs::read_to_string(run.config()).with_context(|| format!("reading {}", run.config().display()))?;
    Ok(TrainConfig::from_toml(&text, &run.config().display().to_string())?)
}

pub fn run(a: PretrainArgs) -> Result<()> {
    let stop = crate::ctrl_c::stop_flag("finishing this step and saving a checkpoint")?;
    let (run, cfg, tok, resume) = match &a.resume {
        Some(dir) => {
            let run = Run::new(dir);
            let cfg = run_config(&run)?;
            let tok = tokenizer_file::load(&run.tokenizer().display().to_string(), "gpt4")?;
            (run, cfg, tok, true)
        }
        None => {
            let cfg = a.config()?;
            let run = Run::new(a.out.clone().expect("clap requires --out without --resume"));
            if run.config().exists() {
                bail!(
                    "{} already holds a run: resume it with --resume {0}, or pick another --out",
                    run.path().display()
                );
            }
            let tok = tokenizer_file::load(&cfg.data.tokenizer, "gpt4")
                .with_context(|| format!("loading tokenizer {}", cfg.data.tokenizer))?;
            std::fs::create_dir_all(run.path()).with_context(|| format!("creating {}", run.path().display()))?;
            tokenizer_file::save(&tok, &run.tokenizer())?;
            tokenize(&run, &cfg, &tok)?;
            minichat_train::atomic_write(&run.config(), cfg.to_toml().as_bytes())?;
            (run, cfg, tok, false)
        }
    };
    eprintln!("run {} (config in {})", run.path().display(), run.config().display());
    let mut bar = Bar::new();
    let outcome = trainer::train(&run, &cfg, &tok, resume, &stop, &mut bar);
    bar.bar.finish_and_clear();
    let plotted = plot_run(&run);
    let outcome = outcome?;
    if let Err(e) = plotted {
        eprintln!("warning: no loss curve: {e:#}");
    }
    match outcome.val {
        Some((loss, bpb)) => eprintln!(
            "step {}: validation loss {loss:.4} nats/token, {bpb:.4} bits/byte; checkpoint {}; curve {}",
            outcome.step,
            outcome.checkpoint.display(),
            run.plot().display()
        ),
        None => eprintln!("step {}: checkpoint {}", outcome.step, outcome.checkpoint.display()),
    }
    if outcome.interrupted {
        eprintln!("resume with: minichat pretrain --resume {}", run.path().display());
    }
    Ok(())
}

/// Corpus -> RUN/shards, with a progress bar over the input bytes.
fn tokenize(run: &Run, cfg: &TrainConfig, tok: &Tokenizer) -> Result<()> {
    let bar = crate::tokenizer::input_progress(&cfg.data.corpus, "tokenizing");
    let tc = TokenizeConfig { val_fraction: cfg.data.val_fraction, ..Default::default() };
    let stats = tokenize_corpus(&cfg.data.corpus, tok, &run.shards(), &tc, |done| bar.set_position(done))?;
    bar.finish_and_clear();
    eprintln!(
        "tokenized {} documents ({} bytes): train {} docs / {} tokens, validation {} docs / {} tokens{}",
        stats.input.documents,
        stats.input.bytes,
        stats.train_docs,
        stats.train_tokens,
        stats.val_docs,
        stats.val_tokens,
        if stats.input.skipped > 0 { format!("; {} records skipped", stats.input.skipped) } else { String::new() }
    );
    for p in &stats.input.problems {
        eprintln!("  skipped: {p}");
    }
    Ok(())
}

/// The training progress bar: steps, loss, learning rate, throughput, MFU; evaluations and
/// samples printed above it.
pub(crate) struct Bar {
    pub(crate) bar: ProgressBar,
    val: String,
}

impl Bar {
    pub(crate) fn new() -> Bar {
        let style = ProgressStyle::with_template("{bar:24} {pos}/{len} steps ({per_sec}, eta {eta}) {msg}")
            .expect("valid template");
        Bar { bar: ProgressBar::new(0).with_style(style), val: String::new() }
    }
}

impl Bar {
    /// A line above the bar; on stderr directly when there is no terminal to draw the bar on.
    fn say(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}

impl Observer for Bar {
    fn start(&mut self, step: u64, total: u64, parameters: usize) {
        self.bar.set_length(total);
        self.bar.set_position(step);
        self.say(format!("{:.2}M parameters, steps {step}..{total}", parameters as f64 / 1e6));
    }

    fn record(&mut self, record: &Record) {
        match record {
            Record::Step { step, loss, lr, grad_norm, tokens_per_s, mfu, .. } => {
                self.bar.set_position(*step);
                self.bar.set_message(format!(
                    "loss {loss:.3} lr {lr:.2e} |g| {grad_norm:.2} {tokens_per_s:.0} tok/s MFU {:.0}%{}",
                    mfu * 100.0,
                    self.val
                ));
            }
            Record::Eval { step, val_loss, val_bpb } => {
                self.val = format!(" val {val_loss:.3}");
                self.say(format!("step {step}: validation loss {val_loss:.4}, {val_bpb:.4} bits/byte"));
            }
            Record::Sample { step, prompt, greedy, sampled } => {
                self.say(format!("step {step}: {prompt:?} -> greedy {greedy:?} | sampled {sampled:?}"));
            }
        }
    }

    fn message(&mut self, text: &str) {
        self.say(text.to_string());
    }
}

#[derive(Args)]
pub struct PlotArgs {
    /// A run directory.
    run: PathBuf,
}

/// `minichat plot RUN`: (re)draws RUN/loss.svg from RUN/metrics.jsonl.
pub fn plot(a: PlotArgs) -> Result<()> {
    let run = Run::new(a.run);
    plot_run(&run)?;
    eprintln!("wrote {}", run.plot().display());
    Ok(())
}

pub(crate) fn plot_run(run: &Run) -> Result<()> {
    let records = metrics::read(&run.metrics())?;
    let title = format!("{}", run.path().file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
    minichat_train::plot::loss_curve(&records, &title, &run.plot())?;
    Ok(())
}
