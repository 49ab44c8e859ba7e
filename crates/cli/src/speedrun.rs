//! `minichat speedrun`: every stage on the embedded data, on a CPU, one after the other: the
//! web-data pipeline on the demo crawl (with deduplication and the search index), a tokenizer,
//! pretraining on the embedded corpus and the cleaned crawl, generated conversations, SFT, and
//! the exam of both models with a report card. Each stage is this binary's own command, and a
//! stage whose output is already there is skipped (or resumed), so a rerun after a stop, a
//! crash or Ctrl-C carries on.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::Command;
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
    /// Generated conversations per task for fine-tuning.
    #[arg(long)]
    conversations: Option<usize>,
    /// Questions per task in the exam.
    #[arg(long)]
    exam_questions: Option<usize>,
}

/// The sizes of a speedrun.
#[derive(Clone, Debug, PartialEq)]
struct Sizes {
    /// `pretrain`'s preset, sized by `depth`.
    pretrain_preset: &'static str,
    vocab_size: usize,
    depth: usize,
    context: usize,
    pretrain_steps: u64,
    sft_steps: u64,
    sft_lr: f32,
    conversations: usize,
    exam_questions: usize,
}

/// The presets: `tiny` is measured in docs/posttraining.md; `small` is a GPT-style model of
/// 8 layers (about 34M parameters with its 16,384 tokens) at a context of 512.
fn preset(name: &str) -> Result<Sizes> {
    Ok(match name {
        "tiny" => Sizes {
            pretrain_preset: "tiny",
            vocab_size: 8192,
            depth: 4,
            context: 256,
            pretrain_steps: 1500,
            sft_steps: 2000,
            sft_lr: 1e-3,
            conversations: 2000,
            exam_questions: 50,
        },
        "small" => Sizes {
            pretrain_preset: "small",
            vocab_size: 16384,
            depth: 8,
            context: 512,
            pretrain_steps: 10_000,
            sft_steps: 4000,
            sft_lr: 3e-4,
            conversations: 10_000,
            exam_questions: 200,
        },
        other => bail!("unknown preset {other:?} (known: tiny, small)"),
    })
}

impl SpeedrunArgs {
    /// The preset with the flags' overrides.
    fn sizes(&self) -> Result<Sizes> {
        let mut s = preset(&self.preset)?;
        s.vocab_size = self.vocab_size.unwrap_or(s.vocab_size);
        s.depth = self.depth.unwrap_or(s.depth);
        s.context = self.context.unwrap_or(s.context);
        s.pretrain_steps = self.pretrain_steps.unwrap_or(s.pretrain_steps);
        s.sft_steps = self.sft_steps.unwrap_or(s.sft_steps);
        s.conversations = self.conversations.unwrap_or(s.conversations);
        s.exam_questions = self.exam_questions.unwrap_or(s.exam_questions);
        Ok(s)
    }
}

/// The fine-tuning mixture: each task's training file and how many times it is given.
const MIXTURE: [(&str, usize); 4] = [("arithmetic", 3), ("spelling", 1), ("identity", 1), ("search", 4)];

/// Runs `minichat ARGS`, streaming its output; fails naming the stage.
fn stage(name: &str, args: &[String]) -> Result<()> {
    let started = Instant::now();
    eprintln!("\n== {name}: minichat {}", args.join(" "));
    let exe = std::env::current_exe().context("locating the minichat binary")?;
    let status = Command::new(exe).args(args).status().with_context(|| format!("starting {name}"))?;
    if !status.success() {
        bail!("{name} failed ({status}); fix the cause and run the speedrun again: finished stages are kept");
    }
    eprintln!("== {name}: done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

pub fn run(a: SpeedrunArgs) -> Result<()> {
    let started = Instant::now();
    let z = a.sizes()?;
    for f in &a.corpus {
        if !f.exists() {
            bail!("{}: no such corpus file", f.display());
        }
    }
    let (warc, corpus) = (a.data.join("web/demo.warc.gz"), a.data.join("corpus.jsonl"));
    for f in [&warc, &corpus] {
        if !f.exists() {
            bail!("{}: missing (run from the repository root, or pass --data)", f.display());
        }
    }
    let o = &a.output;
    let (web, dedup, index, tok) = (o.join("web"), o.join("web-dedup"), o.join("web.idx"), o.join("tokenizer.mctok"));
    let (base, chat, tasks, report) = (o.join("base"), o.join("chat"), o.join("tasks"), o.join("report"));
    let cleaned = dedup.join("output/00000.jsonl.gz");
    stage("web data", &["data".into(), "run".into(), s(&warc), "-o".into(), s(&web)])?;
    stage("deduplication", &["data".into(), "dedup".into(), s(&web.join("output")), "-o".into(), s(&dedup)])?;
    if !index.exists() {
        stage("search index", &["data".into(), "index".into(), s(&dedup.join("output")), "-o".into(), s(&index)])?;
    }
    if !tok.exists() {
        let v = z.vocab_size.to_string();
        stage(
            "tokenizer",
            &["tokenizer".into(), "train".into(), s(&corpus), s(&cleaned), "-v".into(), v, "-o".into(), s(&tok)],
        )?;
    }
    let pretrain: Vec<String> = match base.join("config.toml").exists() {
        true => vec!["pretrain".into(), "--resume".into(), s(&base)],
        false => {
            let mut args: Vec<String> = vec!["pretrain".into(), "--preset".into(), z.pretrain_preset.into()];
            args.extend(["--corpus".into(), s(&corpus), s(&cleaned)]);
            args.extend(a.corpus.iter().map(|p| s(p)));
            args.extend([
                "-t".into(),
                s(&tok),
                "-o".into(),
                s(&base),
                "--depth".into(),
                z.depth.to_string(),
                "--context".into(),
                z.context.to_string(),
                "--steps".into(),
                z.pretrain_steps.to_string(),
            ]);
            args
        }
    };
    stage("pretraining", &pretrain)?;
    if !tasks.join("search-test.jsonl").exists() {
        let n = z.conversations.to_string();
        stage(
            "conversations",
            &[
                "tasks".into(),
                "make".into(),
                "-o".into(),
                s(&tasks),
                "--train".into(),
                n,
                "--words-from".into(),
                s(&corpus),
                "--search-index".into(),
                s(&index),
            ],
        )?;
    }
    let sft: Vec<String> = match chat.join("config.toml").exists() {
        true => vec!["sft".into(), "--resume".into(), s(&chat)],
        false => {
            let mut args =
                vec!["sft".into(), "--base".into(), s(&base), "-o".into(), s(&chat), "--conversations".into()];
            // A file given N times weighs N times (nanochat repeats tasks in its mixture too):
            // arithmetic three times, as copying the numbers into the call and the answer is slow to
            // learn; search four times, as its facts are few (a few hundred conversations).
            for (task, times) in MIXTURE {
                args.extend(std::iter::repeat_n(s(&tasks.join(format!("{task}-train.jsonl"))), times));
            }
            args.extend([
                "--steps".into(),
                z.sft_steps.to_string(),
                "--lr".into(),
                z.sft_lr.to_string(),
                "--eval-every".into(),
                (z.sft_steps / 4).max(1).to_string(),
            ]);
            args
        }
    };
    stage("fine-tuning", &sft)?;
    stage(
        "exam",
        &[
            "eval".into(),
            s(&base),
            s(&chat),
            "--tasks".into(),
            s(&tasks),
            "--text".into(),
            s(&corpus),
            "--val-fraction".into(),
            "0.02".into(),
            "--limit".into(),
            z.exam_questions.to_string(),
            "--search-index".into(),
            s(&index),
            "-o".into(),
            s(&report),
        ],
    )?;
    eprintln!(
        "\nspeedrun done in {:.1} min. Report card: {}/report.md (and report.svg)\nchat with the model: minichat chat {} --search-index {}",
        started.elapsed().as_secs_f64() / 60.0,
        report.display(),
        chat.display(),
        index.display()
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
        assert_eq!(sizes(&[]).unwrap(), preset("tiny").unwrap());
        let small = sizes(&["--preset", "small", "--depth", "6"]).unwrap();
        assert_eq!((small.depth, small.context, small.pretrain_preset), (6, 512, "small"));
        assert!(sizes(&["--preset", "huge"]).unwrap_err().to_string().contains("known: tiny, small"));
    }
}
