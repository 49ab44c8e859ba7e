//! `minichat rl`: reinforcement learning (GRPO) of a fine-tuned run on generated tasks with
//! checkable answers, into a run directory of its own (`minichat_train::rl`: same checkpoints,
//! resume, metrics and loss curve as pretraining and fine-tuning, plus rewards and held-out
//! pass rates in the metrics log).

use crate::progress::train_with_bar;
use anyhow::Result;
use clap::Args;
use minichat_train::grpo::Objective;
use minichat_train::rl::{self, NewRl, RlSource, RlStart};
use std::path::PathBuf;

#[derive(Args)]
pub struct RlArgs {
    /// The fine-tuned run to start from.
    #[arg(long, required_unless_present = "resume")]
    base: Option<PathBuf>,
    /// A checkpoint directory of the base run (default: its latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Task files to learn from (`tasks make`'s TASK-train.jsonl: conversations with an answer).
    #[arg(long, num_args = 1.., required_unless_present = "resume")]
    tasks: Vec<PathBuf>,
    /// Held-out task files to ask before training and at each evaluation (TASK-test.jsonl).
    #[arg(long, num_args = 1..)]
    heldout: Vec<PathBuf>,
    /// Held-out questions asked per file at most.
    #[arg(long, default_value_t = 200)]
    heldout_questions: usize,
    /// The run's directory (created).
    #[arg(short, long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue this run from its latest checkpoint.
    #[arg(long, conflicts_with_all = ["base", "out"])]
    resume: Option<PathBuf>,
    /// Optimizer steps (one round of replies each).
    #[arg(long, default_value_t = 100)]
    steps: u64,
    #[arg(long, default_value_t = 5e-5)]
    lr: f32,
    /// Prompts per step.
    #[arg(long, default_value_t = 8)]
    prompts: usize,
    /// Replies sampled per prompt (GRPO's group).
    #[arg(long, default_value_t = 8)]
    group: usize,
    /// Replies per micro-batch (prompts x group must be a multiple).
    #[arg(long, default_value_t = 16)]
    micro_batch: usize,
    /// Tokens the model may draw per reply (tool results not counted).
    #[arg(long, default_value_t = 64)]
    max_tokens: usize,
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// The clip range of the importance ratio, below and above (DAPO's clip-higher: a larger high).
    #[arg(long, default_value_t = 0.2)]
    epsilon_low: f64,
    #[arg(long, default_value_t = 0.2)]
    epsilon_high: f64,
    /// The weight of the KL penalty to the starting model (0: none, TRL's default).
    #[arg(long, default_value_t = 0.0)]
    beta: f64,
    /// How per-token terms are averaged: grpo, dr_grpo or dapo (TRL's loss_type).
    #[arg(long, default_value = "dapo")]
    loss: String,
    /// How rewards become advantages: group, batch or none (Dr. GRPO) (TRL's scale_rewards).
    #[arg(long, default_value = "group")]
    scale_rewards: String,
    /// Added to a reply's reward (1 for the exact answer) when its calculator call is made of
    /// the question's numbers: credit for copying the operands (0 = none; below 1).
    #[arg(long, default_value_t = 0.0)]
    format_reward: f32,
    /// RLHF: a reward model's run (`minichat rm train`) whose score is the reward; the task's
    /// checker is then logged as the gold score (RUN/rlhf.svg plots both against the KL).
    #[arg(long, conflicts_with = "format_reward")]
    reward_model: Option<PathBuf>,
    /// Steps between evaluations and checkpoints (0 = at the end only).
    #[arg(long, default_value_t = 25)]
    eval_every: u64,
    #[arg(long)]
    seed: Option<u64>,
}

pub fn run(a: RlArgs) -> Result<()> {
    let stop = crate::ctrl_c::stop_flag("finishing this step and saving a checkpoint")?;
    let start = match a.resume {
        Some(dir) => RlStart::Resume(dir),
        None => {
            let objective = Objective {
                epsilon_low: a.epsilon_low,
                epsilon_high: a.epsilon_high,
                beta: a.beta,
                loss: rl::loss_type(&a.loss, a.max_tokens)?,
            };
            RlStart::New(Box::new(NewRl {
                base: a.base.expect("clap requires --base"),
                checkpoint: a.checkpoint,
                out: a.out.expect("clap requires --out"),
                steps: a.steps,
                lr: a.lr,
                micro_batch: a.micro_batch,
                eval_every: a.eval_every,
                seed: a.seed,
                source: RlSource {
                    base_checkpoint: PathBuf::new(),
                    tasks: a.tasks,
                    heldout: a.heldout,
                    heldout_questions: a.heldout_questions,
                    prompts: a.prompts,
                    group: a.group,
                    max_tokens: a.max_tokens,
                    temperature: a.temperature,
                    objective,
                    scale: rl::scale_rewards(&a.scale_rewards)?,
                    format_reward: a.format_reward,
                    reward_model: a.reward_model,
                },
            }))
        }
    };
    let prepared = rl::prepare(start)?;
    let run = prepared.run.clone();
    let outcome = train_with_bar(&run, "minichat rl --resume", |bar| rl::train(prepared, &stop, bar))?;
    if !outcome.interrupted {
        eprintln!("step {}: checkpoint {}", outcome.step, outcome.checkpoint.display());
        eprintln!("chat with it: minichat chat {}", run.path().display());
    }
    Ok(())
}
