//! `minichat rm`: reward models. `train` learns a score for conversations from preference pairs
//! (Bradley-Terry, `minichat_train::reward_model`), into a run directory of its own (same
//! checkpoints, resume, metrics and loss curve as the other stages); `score` scores pairs (the
//! share the model ranks right) or conversations with a trained one.

use crate::args::PreferenceArgs;
use crate::progress::train_with_bar;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use minichat_chat::{dataset, preference};
use minichat_train::preference_loader::Method;
use minichat_train::preference_run;
use minichat_train::reward_model;
use minichat_train::run::Run;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum Command {
    /// Train a reward model from a chat run on preference pairs.
    Train(PreferenceArgs),
    /// Score preference pairs (prints each pair's scores and the share ranked right) or
    /// conversations (each one's score) with a reward model.
    Score(ScoreArgs),
}

#[derive(Args)]
pub struct ScoreArgs {
    /// The reward model's run.
    run: PathBuf,
    /// Preference pairs to score: one `{"line", "chosen", "rejected"}` per pair.
    #[arg(long, conflicts_with = "conversations", required_unless_present = "conversations")]
    pairs: Option<PathBuf>,
    /// Conversations to score (JSONL: OpenAI messages, ShareGPT or Alpaca): one
    /// `{"conversation", "score"}` each, numbered from 1 among those read.
    #[arg(long)]
    conversations: Option<PathBuf>,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Train(a) => train(a),
        Command::Score(a) => score(a),
    }
}

fn train(a: PreferenceArgs) -> Result<()> {
    let stop = crate::ctrl_c::stop_flag("finishing this step and saving a checkpoint")?;
    let strict = a.strict;
    let start = a.start(Method::RewardModel);
    let prepared = preference_run::prepare(start, strict, |problem| eprintln!("skipped: {problem}"))?;
    if prepared.source.method != Method::RewardModel {
        bail!("{} is a DPO run: resume it with minichat dpo --resume", prepared.run.path().display());
    }
    let run = prepared.run.clone();
    let outcome =
        train_with_bar(&run, "minichat rm train --resume", |bar| preference_run::train(prepared, &stop, bar))?;
    if !outcome.interrupted {
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
