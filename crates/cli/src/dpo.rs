//! `minichat dpo`: direct preference optimisation of a fine-tuned run on preference pairs (TRL's
//! JSONL formats; `minichat pairs` and `minichat feedback export` write them), into a run
//! directory of its own (`minichat_train::preference_run`: same checkpoints, resume, metrics and loss
//! curve as the other stages, plus implicit rewards and held-out pair accuracy in the log).

use crate::args::PreferenceArgs;
use crate::progress::train_with_bar;
use anyhow::Result;
use clap::Args;
use minichat_train::dpo::Objective;
use minichat_train::preference_loader::Method;
use minichat_train::preference_run;

#[derive(Args)]
pub struct DpoArgs {
    #[command(flatten)]
    run: PreferenceArgs,
    /// How far the policy may move from the reference: larger keeps it closer (TRL's beta).
    #[arg(long, default_value_t = 0.1)]
    beta: f64,
    /// The probability that a pair's label is wrong (conservative DPO; 0 = plain DPO).
    #[arg(long, default_value_t = 0.0)]
    label_smoothing: f64,
    /// The weight of the chosen replies' own log-likelihood beside DPO's loss (RPO, TRL's
    /// rpo_alpha): it keeps DPO from lowering the chosen replies along with the rejected ones.
    #[arg(long, default_value_t = 0.0)]
    rpo_alpha: f64,
}

pub fn run(a: DpoArgs) -> Result<()> {
    let stop = crate::ctrl_c::stop_flag("finishing this step and saving a checkpoint")?;
    let strict = a.run.strict;
    let start = a.run.start(Method::Dpo(Objective {
        beta: a.beta,
        label_smoothing: a.label_smoothing,
        rpo_alpha: a.rpo_alpha,
    }));
    let prepared = preference_run::prepare(start, strict, |problem| eprintln!("skipped: {problem}"))?;
    if prepared.source.method == Method::RewardModel {
        anyhow::bail!(
            "{} is a reward model's run: resume it with minichat rm train --resume",
            prepared.run.path().display()
        );
    }
    let run = prepared.run.clone();
    let outcome = train_with_bar(&run, "minichat dpo --resume", |bar| preference_run::train(prepared, &stop, bar))?;
    if !outcome.interrupted {
        eprintln!("step {}: checkpoint {}", outcome.step, outcome.checkpoint.display());
        eprintln!("chat with it: minichat chat {}", run.path().display());
    }
    Ok(())
}
