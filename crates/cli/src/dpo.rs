//! `minichat dpo`: direct preference optimisation of a fine-tuned run on preference pairs (TRL's
//! JSONL formats; `minichat pairs` and `minichat feedback export` write them), into a run
//! directory of its own (`minichat_train::preference_run`: same checkpoints, resume, metrics and loss
//! curve as the other stages, plus implicit rewards and held-out pair accuracy in the log).

use crate::progress::TrainBar;
use anyhow::Result;
use clap::Args;
use minichat_train::dpo::Objective;
use minichat_train::preference_loader::Method;
use minichat_train::preference_run::{self, NewPreference, PreferenceSource, PreferenceStart};
use std::path::PathBuf;

#[derive(Args)]
pub struct DpoArgs {
    /// The fine-tuned run to start from (also the reference model).
    #[arg(long, required_unless_present = "resume")]
    base: Option<PathBuf>,
    /// A checkpoint directory of the base run (default: its latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Preference-pair files (JSONL: {"prompt", "chosen", "rejected"} as text or messages, or
    /// whole conversations, or Anthropic HH transcripts).
    #[arg(long, num_args = 1.., required_unless_present = "resume")]
    pairs: Vec<PathBuf>,
    /// The run's directory (created).
    #[arg(short, long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue this run from its latest checkpoint.
    #[arg(long, conflicts_with_all = ["base", "out"])]
    resume: Option<PathBuf>,
    /// Optimizer steps.
    #[arg(long, default_value_t = 100)]
    steps: u64,
    /// Peak learning rate (DPO wants a small one; TRL's default is 1e-6 for large models).
    #[arg(long, default_value_t = 2e-5)]
    lr: f32,
    /// Pairs per optimizer step.
    #[arg(long, default_value_t = 16)]
    batch_pairs: usize,
    /// Pairs per micro-batch (two rows each); batch-pairs must be a multiple.
    #[arg(long, default_value_t = 8)]
    micro_pairs: usize,
    /// How far the policy may move from the reference: larger keeps it closer (TRL's beta).
    #[arg(long, default_value_t = 0.1)]
    beta: f64,
    /// The probability that a pair's label is wrong (conservative DPO; 0 = plain DPO).
    #[arg(long, default_value_t = 0.0)]
    label_smoothing: f64,
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

pub fn run(a: DpoArgs) -> Result<()> {
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
                method: Method::Dpo(Objective { beta: a.beta, label_smoothing: a.label_smoothing }),
            },
        })),
    };
    let prepared = preference_run::prepare(start, a.strict, |problem| eprintln!("skipped: {problem}"))?;
    if prepared.source.method == Method::RewardModel {
        anyhow::bail!(
            "{} is a reward model's run: resume it with minichat rm train --resume",
            prepared.run.path().display()
        );
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
        eprintln!("resume with: minichat dpo --resume {}", run.path().display());
    } else {
        eprintln!("step {}: checkpoint {}", outcome.step, outcome.checkpoint.display());
        eprintln!("chat with it: minichat chat {}", run.path().display());
    }
    Ok(())
}
