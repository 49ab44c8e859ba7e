//! `minichat tasks make`: the generated conversations with exact answers
//! (`minichat_chat::tasks`: arithmetic with the calculator, spelling and letter counting,
//! identity, and with a search index, questions answered through the search tool) as train and
//! test JSONL files.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use minichat_chat::tasks::{self, identity::Identity};
use minichat_chat::tools::Search;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum Command {
    /// Write OUT/TASK-train.jsonl and OUT/TASK-test.jsonl for arithmetic, spelling, identity
    /// and (with --search-index) search: OpenAI-format conversations, each with its exact
    /// `answer`.
    Make(MakeArgs),
}

#[derive(Args)]
pub struct MakeArgs {
    /// Output folder.
    #[arg(short, long)]
    output: PathBuf,
    /// Training conversations per task.
    #[arg(long, default_value_t = 2000)]
    train: usize,
    /// Another number of training conversations for one task, as TASK=N (repeatable):
    /// `--train-for arithmetic=6000`.
    #[arg(long, value_parser = task_count)]
    train_for: Vec<(String, usize)>,
    /// Test conversations per task (never also in the training files; identity has one per
    /// held-out phrasing).
    #[arg(long, default_value_t = 200)]
    test: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where spelling words come from: a text, JSONL or Parquet corpus (words of 3-14 lowercase
    /// letters, from its English documents).
    #[arg(long, default_value = "data/corpus.jsonl")]
    words_from: PathBuf,
    /// A search index (`minichat data index`): questions about facts in its documents, answered
    /// with the search tool's real results.
    #[arg(long)]
    search_index: Option<PathBuf>,
    /// The assistant's name, for the identity conversations.
    #[arg(long, default_value = "minichat")]
    name: String,
    /// Who made it, for the identity conversations.
    #[arg(long, default_value = "its user, with the minichat toolkit")]
    maker: String,
}

/// `TASK=N`.
fn task_count(s: &str) -> Result<(String, usize), String> {
    let (task, n) = s.split_once('=').ok_or_else(|| format!("{s:?}: expected TASK=N"))?;
    Ok((task.to_string(), n.parse().map_err(|e| format!("{s:?}: {e}"))?))
}

pub fn run(cmd: Command) -> Result<()> {
    let Command::Make(a) = cmd;
    let words = tasks::spelling::words_from(std::slice::from_ref(&a.words_from))?;
    let opts = tasks::Options {
        train: a.train,
        train_for: a.train_for.clone(),
        test: a.test,
        seed: a.seed,
        identity: Identity { name: a.name.clone(), maker: a.maker.clone() },
    };
    let index = a.search_index.as_ref().map(|p| minichat_data::index::Index::load(p)).transpose()?;
    let search: Option<Search> = index.as_ref().map(|i| Box::new(|q: &str| i.tool_result(q)) as _);
    let passages: Vec<&str> = index.iter().flat_map(|i| i.passages.iter().map(|p| p.text.as_str())).collect();
    let from = match &a.search_index {
        Some(p) => format!("{} and {}", a.words_from.display(), p.display()),
        None => a.words_from.display().to_string(),
    };
    let made = tasks::make(&opts, &words, search.as_ref().map(|s| (&passages[..], s)))
        .with_context(|| format!("making the tasks from {from}"))?;
    if let (Some(path), Some((facts, dropped))) = (&a.search_index, made.search_facts) {
        println!(
            "search: {facts} facts in {} ({dropped} left out: the search does not find their answer)",
            path.display()
        );
    }
    made.write(&a.output)?;
    for (name, train, test) in &made.tasks {
        println!("{name}: {} train, {} test conversations", train.len(), test.len());
    }
    println!("wrote {}", a.output.display());
    Ok(())
}
