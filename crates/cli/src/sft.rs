//! `minichat sft`: supervised fine-tuning of a pretrained run on conversation files, into a
//! run directory of its own (`minichat_train::sft`: same checkpoints, resume, metrics and loss
//! curve as pretraining).

use crate::progress::train_with_bar;
use anyhow::Result;
use clap::Args;
use minichat_train::sft::{self, NewSft, SftStart};
use std::path::PathBuf;

#[derive(Args)]
pub struct SftArgs {
    /// The pretrained run to start from.
    #[arg(long, required_unless_present = "resume")]
    base: Option<PathBuf>,
    /// A checkpoint directory of the base run (default: its latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Conversation files (JSONL: OpenAI messages, ShareGPT or Alpaca; `tasks make` writes them).
    /// A file given N times counts N times: the weights of a mixture.
    #[arg(long, num_args = 1.., required_unless_present = "resume")]
    conversations: Vec<PathBuf>,
    /// The fine-tuning run's directory (created).
    #[arg(short, long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue this fine-tuning run from its latest checkpoint.
    #[arg(long, conflicts_with_all = ["base", "out"])]
    resume: Option<PathBuf>,
    /// Optimizer steps.
    #[arg(long, default_value_t = 300)]
    steps: u64,
    /// Peak learning rate (lower than pretraining's).
    #[arg(long, default_value_t = 3e-4)]
    lr: f32,
    /// Conversations per optimizer step.
    #[arg(long, default_value_t = 16)]
    micro_batch: usize,
    /// Share of conversations held out for validation.
    #[arg(long, default_value_t = 0.05)]
    val_fraction: f64,
    /// Pieces of the base run's pretraining text (a context each, every token trained) mixed
    /// into the conversations, so that fine-tuning does not forget the base model's language.
    #[arg(long, default_value_t = 0)]
    text_pieces: usize,
    /// Steps between validation passes and checkpoints (0 = at the end only).
    #[arg(long, default_value_t = 100)]
    eval_every: u64,
    #[arg(long)]
    seed: Option<u64>,
    /// Stop at the first malformed conversation instead of skipping it (and reporting its line).
    #[arg(long)]
    strict: bool,
}

pub fn run(a: SftArgs) -> Result<()> {
    let stop = crate::ctrl_c::stop_flag("finishing this step and saving a checkpoint")?;
    let start = match a.resume {
        Some(dir) => SftStart::Resume(dir),
        None => SftStart::New(NewSft {
            base: a.base.expect("clap requires --base"),
            checkpoint: a.checkpoint,
            conversations: a.conversations,
            out: a.out.expect("clap requires --out"),
            steps: a.steps,
            lr: a.lr,
            micro_batch: a.micro_batch,
            val_fraction: a.val_fraction,
            text_pieces: a.text_pieces,
            eval_every: a.eval_every,
            seed: a.seed,
        }),
    };
    let prepared = sft::prepare(start, a.strict, |problem| eprintln!("skipped: {problem}"))?;
    let run = prepared.run.clone();
    let outcome = train_with_bar(&run, "minichat sft --resume", |bar| sft::train(prepared, &stop, bar))?;
    if let Some((loss, bpb)) = outcome.val {
        eprintln!(
            "step {}: validation loss {loss:.4} nats/token on the assistant's tokens ({bpb:.4} bits/byte); checkpoint {}",
            outcome.step,
            outcome.checkpoint.display()
        );
    }
    if !outcome.interrupted {
        eprintln!("chat with it: minichat chat {}", run.path().display());
    }
    Ok(())
}
