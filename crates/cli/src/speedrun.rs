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
    /// Tokenizer vocabulary.
    #[arg(long, default_value_t = 8192)]
    vocab_size: usize,
    /// Pretraining steps (the tiny preset's 1,500 take about 10 minutes on 2 cores).
    #[arg(long, default_value_t = 1500)]
    pretrain_steps: u64,
    /// Model depth (the tiny preset's 4) and context (256).
    #[arg(long, default_value_t = 4)]
    depth: usize,
    #[arg(long, default_value_t = 256)]
    context: usize,
    /// Fine-tuning steps (16 conversations each).
    #[arg(long, default_value_t = 200)]
    sft_steps: u64,
    /// Generated conversations per task for fine-tuning.
    #[arg(long, default_value_t = 2000)]
    conversations: usize,
    /// Questions per task in the exam.
    #[arg(long, default_value_t = 50)]
    exam_questions: usize,
}

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
        let v = a.vocab_size.to_string();
        stage(
            "tokenizer",
            &["tokenizer".into(), "train".into(), s(&corpus), s(&cleaned), "-v".into(), v, "-o".into(), s(&tok)],
        )?;
    }
    let pretrain: Vec<String> = match base.join("config.toml").exists() {
        true => vec!["pretrain".into(), "--resume".into(), s(&base)],
        false => [
            "pretrain",
            "--corpus",
            &s(&corpus),
            &s(&cleaned),
            "-t",
            &s(&tok),
            "-o",
            &s(&base),
            "--depth",
            &a.depth.to_string(),
            "--context",
            &a.context.to_string(),
            "--steps",
            &a.pretrain_steps.to_string(),
        ]
        .map(String::from)
        .to_vec(),
    };
    stage("pretraining", &pretrain)?;
    if !tasks.join("identity-test.jsonl").exists() {
        let n = a.conversations.to_string();
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
            ],
        )?;
    }
    let sft: Vec<String> = match chat.join("config.toml").exists() {
        true => vec!["sft".into(), "--resume".into(), s(&chat)],
        false => {
            let mut args =
                vec!["sft".into(), "--base".into(), s(&base), "-o".into(), s(&chat), "--conversations".into()];
            args.extend(["arithmetic", "spelling", "identity"].map(|t| s(&tasks.join(format!("{t}-train.jsonl")))));
            args.extend([
                "--steps".into(),
                a.sft_steps.to_string(),
                "--eval-every".into(),
                (a.sft_steps / 4).max(1).to_string(),
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
            a.exam_questions.to_string(),
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
