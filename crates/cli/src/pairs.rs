//! `minichat pairs`: preference pairs from a chat model's own replies to task questions with
//! exact answers (`minichat_train::pairs`): per question a group of sampled replies, the
//! calculator running, a right reply preferred to a wrong one; TRL's JSONL, for `minichat dpo`
//! and reward models.

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use minichat_chat::assistant::Assistant;
use minichat_chat::conversation::ChatTokens;
use minichat_chat::sampler::SamplerConfig;
use minichat_chat::tasks::file::questions;
use minichat_chat::tools::Tools;
use minichat_train::pairs;
use minichat_train::rollout::Sampling;
use minichat_train::run::Run;
use std::path::PathBuf;

#[derive(Args)]
pub struct PairsArgs {
    /// The chat run whose replies are paired.
    #[arg(long)]
    base: PathBuf,
    /// A checkpoint directory of the run (default: its latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Task files (`tasks make`'s TASK-train.jsonl: conversations with an exact `answer`).
    #[arg(long, num_args = 1.., required = true)]
    tasks: Vec<PathBuf>,
    /// Questions taken from each file at most.
    #[arg(long, default_value_t = 1000)]
    questions: usize,
    /// The pairs file (JSONL, written whole at the end).
    #[arg(short, long)]
    out: PathBuf,
    /// Replies sampled per question.
    #[arg(long, default_value_t = 8)]
    group: usize,
    /// Pairs kept per question at most.
    #[arg(long, default_value_t = 2)]
    per_question: usize,
    /// Tokens the model may draw per reply (tool results not counted).
    #[arg(long, default_value_t = 64)]
    max_tokens: usize,
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(a: PairsArgs) -> Result<()> {
    let model = Run::open(&a.base)?.load_model(a.checkpoint.as_deref(), false)?;
    let mut asked = Vec::new();
    for path in &a.tasks {
        asked.extend(questions(path, a.questions).with_context(|| format!("reading {}", path.display()))?);
    }
    let tools = Tools { search: None };
    let assistant =
        Assistant { net: &model.net, tok: &model.tok, ct: ChatTokens::of(&model.tok)?, tools: Some(&tools) };
    let sampling = Sampling {
        sampler: SamplerConfig { temperature: a.temperature, ..Default::default() },
        group: a.group,
        max_tokens: a.max_tokens,
        seed: a.seed,
    };
    let bar = ProgressBar::new(asked.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} questions ({per_sec}, eta {eta})").expect("valid template"),
    );
    let (lines, made) = pairs::make(&assistant, &asked, &sampling, a.per_question, &mut |n| bar.inc(n as u64))?;
    bar.finish_and_clear();
    let text: String = lines.iter().map(|v| v.to_string() + "\n").collect();
    minichat_corpus::atomic_write(&a.out, text.as_bytes())?;
    println!(
        "{} questions, {} replies ({:.1}% right): {} pairs from {} questions with both a right and a wrong reply",
        made.questions,
        made.replies,
        100.0 * made.right as f64 / made.replies.max(1) as f64,
        made.pairs,
        made.with_pairs
    );
    println!("wrote {}", a.out.display());
    Ok(())
}
