//! Flags that several commands share, and what they resolve to in the libraries.

use clap::Args;
use minichat_chat::sampler::SamplerConfig;
use minichat_train::preference_loader::Method;
use minichat_train::preference_run::{NewPreference, PreferenceSource, PreferenceStart};
use std::path::PathBuf;

/// The flags of a run that learns from preference pairs (`dpo`, `rm train`).
#[derive(Args)]
pub struct PreferenceArgs {
    /// The fine-tuned run to start from.
    #[arg(long, required_unless_present = "resume")]
    base: Option<PathBuf>,
    /// A checkpoint directory of the base run (default: its latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Preference-pair files (JSONL: {"prompt", "chosen", "rejected"} as text or messages, or
    /// whole conversations, or Anthropic HH transcripts; `pairs` and `feedback export` write them).
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
    /// Peak learning rate (default: DPO 2e-5, a reward model 1e-4).
    #[arg(long)]
    lr: Option<f32>,
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
    pub strict: bool,
}

impl PreferenceArgs {
    /// The run these flags name: a new one learning by `method`, or the one to resume.
    pub fn start(self, method: Method) -> PreferenceStart {
        match self.resume {
            Some(dir) => PreferenceStart::Resume(dir),
            None => PreferenceStart::New(Box::new(NewPreference {
                base: self.base.expect("clap requires --base"),
                checkpoint: self.checkpoint,
                out: self.out.expect("clap requires --out"),
                steps: self.steps,
                lr: self.lr.unwrap_or(method.default_lr()),
                batch_pairs: self.batch_pairs,
                micro_pairs: self.micro_pairs,
                eval_every: self.eval_every,
                seed: self.seed,
                source: PreferenceSource {
                    base_checkpoint: PathBuf::new(),
                    pairs: self.pairs,
                    val_fraction: self.val_fraction,
                    method,
                },
            })),
        }
    }
}

/// The sampler flags (`generate`, `chat`).
#[derive(Args, Clone)]
pub struct SamplerArgs {
    /// Temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Keep the K most likely tokens (0 = off).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Keep the most likely tokens up to this total probability (1 = off).
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    /// Keep tokens at least this fraction as likely as the best one (0 = off).
    #[arg(long, default_value_t = 0.0)]
    min_p: f32,
    /// Divide positive logits (multiply negative ones) of tokens already in the text (1 = off).
    #[arg(long, default_value_t = 1.0)]
    repetition_penalty: f32,
    /// Subtract count × this from generated tokens' logits (OpenAI's frequency_penalty).
    #[arg(long, default_value_t = 0.0)]
    frequency_penalty: f32,
    /// Subtract this from the logits of tokens generated at least once.
    #[arg(long, default_value_t = 0.0)]
    presence_penalty: f32,
    /// Add a bias to a token's logit: ID=BIAS (repeatable; -inf bans the token).
    #[arg(long, value_parser = parse_bias)]
    logit_bias: Vec<(u32, f32)>,
    /// Seed of the sampler: the same seed gives the same text.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn parse_bias(s: &str) -> Result<(u32, f32), String> {
    let (id, bias) = s.split_once('=').ok_or_else(|| format!("{s:?}: expected ID=BIAS"))?;
    let id = id.trim().parse().map_err(|_| format!("{id:?} is not a token id"))?;
    let bias = bias.trim().parse().map_err(|_| format!("{bias:?} is not a number"))?;
    Ok((id, bias))
}

impl SamplerArgs {
    pub fn config(&self) -> SamplerConfig {
        SamplerConfig {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repetition_penalty: self.repetition_penalty,
            frequency_penalty: self.frequency_penalty,
            presence_penalty: self.presence_penalty,
            logit_bias: self.logit_bias.clone(),
            seed: self.seed,
        }
    }
}

/// `--rank/--world-size` of a multi-task stage (default: a Slurm job array's).
#[derive(Args, Clone, Copy)]
pub struct TaskArgs {
    /// This task's rank (default: $SLURM_ARRAY_TASK_ID, else 0).
    #[arg(long)]
    pub rank: Option<usize>,
    /// Number of tasks (default: $SLURM_ARRAY_TASK_COUNT, else 1).
    #[arg(long)]
    pub world_size: Option<usize>,
}

impl TaskArgs {
    pub fn resolve(&self) -> anyhow::Result<(usize, usize)> {
        Ok(minichat_data::slurm::task_from_env(self.rank, self.world_size)?)
    }
}
