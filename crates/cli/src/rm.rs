//! `minichat rm`: reward models. `train` learns a score for conversations from preference pairs
//! (Bradley-Terry, `minichat_train::reward_model`), into a run directory of its own (same
//! checkpoints, resume, metrics and loss curve as the other stages); `score` scores pairs (the
//! share the model ranks right) or conversations with a trained one.

use crate::progress::TrainBar;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use minichat_chat::{dataset, preference};
use minichat_train::preference_loader::Method;
use minichat_train::preference_run::{self, NewPreference, PreferenceSource, PreferenceStart};
use minichat_train::reward_model;
use minichat_train::run::Run;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum Command {
    /// Train a reward model from a chat run on preference pairs.
    Train(TrainArgs),
    /// Score preference pairs (prints each pair's scores and the share ranked right) or
    /// conversations (each one's score) with a reward model.
    Score(ScoreArgs),
}

#[derive(Args)]
pub struct TrainArgs {
    /// The fine-tuned run to start from.
    #[arg(long, required_unless_present = "resume")]
    base: Option<PathBuf>,
    /// A checkpoint directory of the base run (default: its latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Preference-pair files (JSONL in TRL's formats, or Anthropic HH transcripts).
    #[arg(long, num_args = 1.., required_unless_present = "resume")]
    pairs: Vec<PathBuf>,
    /// The reward model's run directory (created).
    #[arg(short, long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue this run from its latest checkpoint.
    #[arg(long, conflicts_with_all = ["base", "out"])]
    resume: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    steps: u64,
    #[arg(long, default_value_t = 1e-4)]
    lr: f32,
    /// Pairs per optimizer step.
    #[arg(long, default_value_t = 16)]
    batch_pairs: usize,
    /// Pairs per micro-batch (two rows each); batch-pairs must be a multiple.
    #[arg(long, default_value_t = 8)]
    micro_pairs: usize,
    /// Share of pairs held out for evaluation.
    #[arg(long, default_value_t = 0.1)]
    val_fraction: f64,
    /// Steps between evaluations and checkpoints (0 = at the end only).
    #[arg(long, default_value_t = 25)]
    eval_every: u64,
    #[arg(long)]
    seed: Option<u64>,
    /// Stop at the first malformed pair instead of skipping it (and reporting its line).
    #[arg(long)]
    strict: bool,
}

#[derive(Args)]
pub struct ScoreArgs {
    /// The reward model's run.
    run: PathBuf,
    /// Preference pairs to score: one `{"line", "chosen", "rejected"}` per pair.
    #[arg(long, conflicts_with = "conversations", required_unless_present = "conversations")]
    pairs: Option<PathBuf>,
    /// Conversations to score (JSONL: OpenAI messages, ShareGPT or Alpaca): one `{"line", "score"}` each.
    #[arg(long)]
    conversations: Option<PathBuf>,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Train(a) => train(a),
        Command::Score(a) => score(a),
    }
}

fn train(a: TrainArgs) -> Result<()> {
    let stop = crate::ctrl_c::stop_flag("finishing this step and saving a checkpoint")?;
    let start = match a.resume {
        Some(dir) => PreferenceStart::Resume(dir),
        None => PreferenceStart::New(Box::new(NewPreference {
            base: a.base.expect("clap requires --base"),
            checkpoint: a.checkpoint,
            out: a.out.expect("clap requires --out"),
            steps: a.steps,
            lr: a.lr,
            batch_pairs: a.batch_pairs,
            micro_pairs: a.micro_pairs,
            eval_every: a.eval_every,
            seed: a.seed,
            source: PreferenceSource {
                base_checkpoint: PathBuf::new(),
                pairs: a.pairs,
                val_fraction: a.val_fraction,
                method: Method::RewardModel,
            },
        })),
    };
    let prepared = preference_run::prepare(start, a.strict, |problem| eprintln!("skipped: {problem}"))?;
    if prepared.source.method != Method::RewardModel {
        bail!("{} is a DPO run: resume it with minichat dpo --resume", prepared.run.path().display());
    }
    let run = prepared.run.clone();
    eprintln!("run {} (config in {})", run.path().display(), run.config().display());
    let mut bar = TrainBar::new();
    let outcome = preference_run::train(prepared, &stop, &mut bar);
    bar.bar.finish_and_clear();
    let plotted = run.plot_loss();
    let outcome = outcome?;
    if let Err(e) = plotted {
        eprintln!("warning: no loss curve: {e:#}");
    }
    if outcome.interrupted {
        eprintln!("resume with: minichat rm train --resume {}", run.path().display());
    } else {
        eprintln!("step {}: checkpoint {}", outcome.step, outcome.checkpoint.display());
        eprintln!("score with it: minichat rm score {} --pairs FILE", run.path().display());
    }
    Ok(())
}

fn score(a: ScoreArgs) -> Result<()> {
    let model = Run::open(&a.run)?.load_model(None, false)?;
    if let Some(path) = &a.pairs {
        let read = preference::read_file(path, false)?;
        read.problems.iter().for_each(|p| eprintln!("skipped: {p}"));
        let scores = reward_model::score_pairs(&model.net, &model.tok, &read.pairs)
            .with_context(|| format!("scoring {}", path.display()))?;
        for (pair, [c, r]) in read.pairs.iter().zip(&scores) {
            println!("{}", serde_json::json!({"line": pair.line, "chosen": c, "rejected": r}));
        }
        let right = scores.iter().filter(|[c, r]| c > r).count();
        eprintln!(
            "{} pairs ({} lines skipped): the chosen reply scored higher in {right} ({:.1}%)",
            scores.len(),
            read.skipped,
            100.0 * right as f64 / scores.len().max(1) as f64
        );
    } else if let Some(path) = &a.conversations {
        let read = dataset::read_file(path, false)?;
        read.problems.iter().for_each(|p| eprintln!("skipped: {p}"));
        let scores = reward_model::score_conversations(&model.net, &model.tok, &read.conversations)
            .with_context(|| format!("scoring {}", path.display()))?;
        for (i, s) in scores.iter().enumerate() {
            println!("{}", serde_json::json!({"conversation": i + 1, "score": s}));
        }
        eprintln!("{} conversations scored ({} lines skipped)", scores.len(), read.skipped);
    }
    Ok(())
}
