//! `minichat speedrun`: every stage on the embedded data, on a CPU, one after the other: the
//! web-data pipeline on the demo crawl (with deduplication and the search index), a tokenizer,
//! pretraining on the embedded corpus and the cleaned crawl, generated conversations, SFT, and
//! the exam of both models with a report card. Each stage is this binary's own command (as
//! nanochat's speedrun.sh runs its scripts), sized by the preset table
//! (`minichat_train::preset`), and a stage whose output is already there is skipped (or
//! resumed), so a rerun after a stop, a crash or Ctrl-C carries on.

use anyhow::{bail, Context, Result};
use clap::Args;
use minichat_chat::tasks::file::{test_path, train_path};
use minichat_train::preset::{preset, Preset};
use std::path::{Path, PathBuf};
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

impl SpeedrunArgs {
    /// The preset with the flags' overrides.
    fn sizes(&self) -> Result<Preset> {
        let mut p = preset(&self.preset)?.clone();
        p.vocab_size = self.vocab_size.unwrap_or(p.vocab_size);
        p.depth = self.depth.unwrap_or(p.depth);
        p.context = self.context.unwrap_or(p.context);
        p.pretrain_steps = self.pretrain_steps.unwrap_or(p.pretrain_steps);
        p.sft_steps = self.sft_steps.unwrap_or(p.sft_steps);
        p.conversations = self.conversations.unwrap_or(p.conversations);
        p.exam_questions = self.exam_questions.unwrap_or(p.exam_questions);
        Ok(p)
    }
}

/// The fine-tuning mixture: each task's training file and how many times it is given. A file
/// given N times weighs N times (nanochat repeats tasks in its mixture too): arithmetic three
/// times, as copying the numbers into the call and the answer is slow to learn; search four
/// times, as its facts are few (a few hundred conversations).
const MIXTURE: [(&str, usize); 4] = [("arithmetic", 3), ("spelling", 1), ("identity", 1), ("search", 4)];

/// Command-line words from text, numbers and paths.
fn word(w: impl std::fmt::Display) -> String {
    w.to_string()
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
    let size = a.sizes()?;
    let (warc, corpus) = (a.data.join("web/demo.warc.gz"), a.data.join("corpus.jsonl"));
    for f in [&warc, &corpus] {
        if !f.exists() {
            bail!("{}: missing (run from the repository root, or pass --data)", f.display());
        }
    }
    if let Some(f) = a.corpus.iter().find(|f| !f.exists()) {
        bail!("{}: no such corpus file", f.display());
    }
    let at = |name: &str| a.output.join(name);
    let (web, dedup, index, tok) = (at("web"), at("web-dedup"), at("web.idx"), at("tokenizer.mctok"));
    let (base, chat, tasks, report) = (at("base"), at("chat"), at("tasks"), at("report"));
    let p = |path: &Path| path.display().to_string();
    let cleaned = dedup.join("output");
    stage("web data", &[word("data"), word("run"), p(&warc), word("-o"), p(&web)])?;
    stage("deduplication", &[word("data"), word("dedup"), p(&web.join("output")), word("-o"), p(&dedup)])?;
    if !index.exists() {
        stage("search index", &[word("data"), word("index"), p(&cleaned), word("-o"), p(&index)])?;
    }
    if !tok.exists() {
        let v = word(size.vocab_size);
        stage(
            "tokenizer",
            &[word("tokenizer"), word("train"), p(&corpus), p(&cleaned), word("-v"), v, word("-o"), p(&tok)],
        )?;
    }
    let pretrain = match base.join("config.toml").exists() {
        true => vec![word("pretrain"), word("--resume"), p(&base)],
        false => [
            vec![word("pretrain"), word("--preset"), word(size.name), word("--corpus"), p(&corpus), p(&cleaned)],
            a.corpus.iter().map(|c| p(c)).collect(),
            vec![word("-t"), p(&tok), word("-o"), p(&base), word("--depth"), word(size.depth)],
            vec![word("--context"), word(size.context), word("--steps"), word(size.pretrain_steps)],
        ]
        .concat(),
    };
    stage("pretraining", &pretrain)?;
    if !test_path(&tasks, "search").exists() {
        let (n, words) = (word(size.conversations), p(&corpus));
        let args =
            [word("tasks"), word("make"), word("-o"), p(&tasks), word("--train"), n, word("--words-from"), words];
        stage("conversations", &[&args[..], &[word("--search-index"), p(&index)]].concat())?;
    }
    let sft = match chat.join("config.toml").exists() {
        true => vec![word("sft"), word("--resume"), p(&chat)],
        false => {
            let files =
                MIXTURE.iter().flat_map(|&(task, times)| std::iter::repeat_n(p(&train_path(&tasks, task)), times));
            let steps = [word("--steps"), word(size.sft_steps), word("--lr"), word(size.sft_lr)];
            let every = [word("--eval-every"), word((size.sft_steps / 4).max(1))];
            let head = [word("sft"), word("--base"), p(&base), word("-o"), p(&chat), word("--conversations")];
            [&head[..], &files.collect::<Vec<_>>(), &steps, &every].concat()
        }
    };
    stage("fine-tuning", &sft)?;
    let exam =
        [word("eval"), p(&base), p(&chat), word("--tasks"), p(&tasks), word("--limit"), word(size.exam_questions)];
    stage("exam", &[&exam[..], &[word("--search-index"), p(&index), word("-o"), p(&report)]].concat())?;
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
        assert_eq!(&sizes(&[]).unwrap(), preset("tiny").unwrap());
        let small = sizes(&["--preset", "small", "--depth", "6"]).unwrap();
        assert_eq!((small.depth, small.context, small.name), (6, 512, "small"));
        assert!(sizes(&["--preset", "huge"]).unwrap_err().to_string().contains("known: tiny, small"));
    }
}
