//! `minichat pretrain`: a run directory from a corpus and a tokenizer (`minichat_train::pretrain`),
//! trained with a progress bar, resumable, stopped cleanly by Ctrl-C.

use crate::progress::{input_bar, train_with_bar};
use anyhow::{Context, Result};
use clap::Args;
use minichat_train::config::{OptimizerKind, Overrides, TrainConfig};
use minichat_train::pretrain::{self, Start};
use std::path::PathBuf;

#[derive(Args)]
pub struct PretrainArgs {
    /// Run directory (created; holds config, tokenizer, shards, metrics, checkpoints).
    #[arg(short, long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue the run in this directory from its latest checkpoint.
    #[arg(long, conflicts_with_all = ["out", "config", "preset"])]
    resume: Option<PathBuf>,
    /// A preset sized by --depth: tiny (minutes on 2 CPU cores) or small (8 layers, context 512).
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
    /// Peak learning rate (AdamW's).
    #[arg(long)]
    lr: Option<f32>,
    /// adamw, or muon: Muon for the blocks' matrices, AdamW for embeddings, head and norms.
    #[arg(long)]
    optimizer: Option<OptimizerKind>,
    /// Muon's peak learning rate (default 0.02).
    #[arg(long)]
    muon_lr: Option<f32>,
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
    /// The preset or config file with the flags applied.
    fn config(&self) -> Result<TrainConfig> {
        let base = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                TrainConfig::from_toml(&text, &path.display().to_string())?
            }
            None => TrainConfig::preset(&self.preset, Vec::new(), "cl100k_base".into())?,
        };
        let o = Overrides {
            corpus: self.corpus.clone(),
            tokenizer: self.tokenizer.clone(),
            family: self.family.clone(),
            depth: self.depth,
            context: self.context,
            steps: self.steps,
            micro_batch: self.micro_batch,
            batch_tokens: self.batch_tokens,
            lr: self.lr,
            optimizer: self.optimizer,
            muon_lr: self.muon_lr,
            eval_every: self.eval_every,
            sample_every: self.sample_every,
            checkpoint_every: self.checkpoint_every,
            seed: self.seed,
        };
        Ok(base.with(&o)?)
    }
}

pub fn run(a: PretrainArgs) -> Result<()> {
    let stop = crate::ctrl_c::stop_flag("finishing this step and saving a checkpoint")?;
    let start = match &a.resume {
        Some(dir) => Start::Resume(dir.clone()),
        None => Start::New {
            out: a.out.clone().expect("clap requires --out without --resume"),
            config: Box::new(a.config()?),
        },
    };
    let corpus = match &start {
        Start::New { config, .. } => config.data.corpus.clone(),
        Start::Resume(_) => Vec::new(),
    };
    let bar = input_bar(&corpus, "tokenizing");
    let started = pretrain::start(start, |done| bar.set_position(done));
    bar.finish_and_clear();
    let s = started?;
    if let Some(t) = &s.tokenized {
        eprintln!(
            "tokenized {} documents ({} bytes): train {} docs / {} tokens, validation {} docs / {} tokens{}",
            t.input.documents,
            t.input.bytes,
            t.train_docs,
            t.train_tokens,
            t.val_docs,
            t.val_tokens,
            if t.input.skipped > 0 { format!("; {} records skipped", t.input.skipped) } else { String::new() }
        );
        for p in &t.input.problems {
            eprintln!("  skipped: {p}");
        }
    }
    let outcome = train_with_bar(&s.run, "minichat pretrain --resume", |bar| {
        pretrain::train(&s.run, &s.config, &s.tok, s.resume, &stop, bar)
    })?;
    match outcome.val {
        Some((loss, bpb)) => eprintln!(
            "step {}: validation loss {loss:.4} nats/token, {bpb:.4} bits/byte; checkpoint {}; curve {}",
            outcome.step,
            outcome.checkpoint.display(),
            s.run.plot().display()
        ),
        None => eprintln!("step {}: checkpoint {}", outcome.step, outcome.checkpoint.display()),
    }
    Ok(())
}
