//! `minichat speedrun`: every stage on the embedded data, on a CPU, one after the other: the
//! web-data pipeline on the demo crawl (with deduplication and the search index), a tokenizer,
//! pretraining on the embedded corpus and the cleaned crawl, generated conversations, SFT, RL
//! (with `--preferences` also DPO, a reward model and RLHF), and the exam of the models with a
//! report card. The stages and their folder are
//! `minichat_train::speedrun`'s plan; each is this binary's own command, run here.

use anyhow::{bail, Context, Result};
use clap::Args;
use minichat_train::preset::{preset, Preset};
use minichat_train::speedrun::{plan, Layout, Options};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct SpeedrunArgs {
    /// Output folder for every stage.
    #[arg(short, long, default_value = "out/speedrun")]
    output: PathBuf,
    /// The embedded data folder (data/web/demo.warc.gz, data/corpus.jsonl).
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// More pretraining text (text, JSONL or Parquet: say `data run` shards of a real crawl),
    /// for the bigger presets: the embedded corpus is a few MB.
    #[arg(long, num_args = 1..)]
    corpus: Vec<PathBuf>,
    /// Sizes for the machine: tiny (2 CPU cores, about 20 minutes) or small (many cores and
    /// hours; wants more text than the embedded, see --corpus). The flags below override it.
    #[arg(long, default_value = "tiny")]
    preset: String,
    /// Tokenizer vocabulary.
    #[arg(long)]
    vocab_size: Option<usize>,
    /// Pretraining steps.
    #[arg(long)]
    pretrain_steps: Option<u64>,
    /// Model depth and context.
    #[arg(long)]
    depth: Option<usize>,
    #[arg(long)]
    context: Option<usize>,
    /// Fine-tuning steps (16 conversations each).
    #[arg(long)]
    sft_steps: Option<u64>,
    /// Pieces of pretraining text (a context each) mixed into fine-tuning, so that it does not
    /// forget the base model's language.
    #[arg(long)]
    sft_text_pieces: Option<usize>,
    /// Reinforcement-learning steps (16 arithmetic questions x 8 replies each).
    #[arg(long)]
    rl_steps: Option<u64>,
    /// Learn from preference pairs too: pairs from the chat model's right and wrong replies to
    /// arithmetic (OUT/pairs.jsonl; one already there is used), DPO on them, and a reward model
    /// with RLHF on it; both in the report card beside RL.
    #[arg(long)]
    preferences: bool,
    /// DPO's and the reward model's steps (16 pairs each).
    #[arg(long)]
    preference_steps: Option<u64>,
    /// Generated conversations per task for fine-tuning.
    #[arg(long)]
    conversations: Option<usize>,
    /// Questions per task in the exam.
    #[arg(long)]
    exam_questions: Option<usize>,
}

impl SpeedrunArgs {
    /// The preset with the flags' overrides.
    fn sizes(&self) -> Result<Preset> {
        let mut p = preset(&self.preset)?.clone();
        p.vocab_size = self.vocab_size.unwrap_or(p.vocab_size);
        p.depth = self.depth.unwrap_or(p.depth);
        p.context = self.context.unwrap_or(p.context);
        p.pretrain_steps = self.pretrain_steps.unwrap_or(p.pretrain_steps);
        p.sft_steps = self.sft_steps.unwrap_or(p.sft_steps);
        p.sft_text_pieces = self.sft_text_pieces.unwrap_or(p.sft_text_pieces);
        p.rl_steps = self.rl_steps.unwrap_or(p.rl_steps);
        p.preference_steps = self.preference_steps.unwrap_or(p.preference_steps);
        p.conversations = self.conversations.unwrap_or(p.conversations);
        p.exam_questions = self.exam_questions.unwrap_or(p.exam_questions);
        Ok(p)
    }
}

/// Runs `minichat ARGS`, streaming its output; fails naming the stage.
fn stage(name: &str, args: &[String]) -> Result<()> {
    let started = Instant::now();
    eprintln!("\n== {name}: minichat {}", args.join(" "));
    let exe = std::env::current_exe().context("locating the minichat binary")?;
    let status = std::process::Command::new(exe).args(args).status().with_context(|| format!("starting {name}"))?;
    if !status.success() {
        bail!("{name} failed ({status}); fix the cause and run the speedrun again: finished stages are kept");
    }
    eprintln!("== {name}: done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

pub fn run(a: SpeedrunArgs) -> Result<()> {
    let started = Instant::now();
    let layout = Layout { out: a.output.clone() };
    let options = Options { corpus: a.corpus.clone(), preferences: a.preferences };
    for s in plan(&a.sizes()?, &a.data, &options, &layout).context("--data and --corpus")? {
        stage(s.name, &s.args)?;
    }
    eprintln!(
        "\nspeedrun done in {:.1} min. Report card: {}/report.md (and report.svg)\nchat with the model: minichat chat {} --search-index {}",
        started.elapsed().as_secs_f64() / 60.0,
        layout.report().display(),
        layout.chat_rl().display(),
        layout.index().display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: SpeedrunArgs,
    }

    #[test]
    fn flags_override_the_preset() {
        let sizes = |args: &[&str]| Cli::parse_from([&["x"], args].concat()).a.sizes();
        assert_eq!(&sizes(&[]).unwrap(), preset("tiny").unwrap());
        let small = sizes(&["--preset", "small", "--depth", "6"]).unwrap();
        assert_eq!((small.depth, small.context, small.name), (6, 512, "small"));
        assert!(sizes(&["--preset", "huge"]).unwrap_err().to_string().contains("known: tiny, small"));
    }
}
