//! `minichat tasks make`: the generated conversations with exact answers (arithmetic with the
//! calculator, spelling and letter counting, identity, and with a search index, questions
//! answered through the search tool) as train and test JSONL files.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use minichat_chat::tasks::{self, identity::Identity, Item};
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
    /// Test conversations per task (never also in the training files; identity has one per
    /// held-out phrasing).
    #[arg(long, default_value_t = 200)]
    test: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where spelling words come from: a text or JSONL corpus (words of 3-14 lowercase letters).
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

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Make(a) => make(a),
    }
}

fn write(path: &std::path::Path, items: &[Item]) -> Result<()> {
    let mut text = String::new();
    for item in items {
        let mut v = minichat_chat::dataset::to_json(&item.messages);
        v["answer"] = item.answer.clone().into();
        text.push_str(&v.to_string());
        text.push('\n');
    }
    minichat_tokenizer::atomic_write(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

fn make(a: MakeArgs) -> Result<()> {
    let corpus =
        std::fs::read_to_string(&a.words_from).with_context(|| format!("reading {}", a.words_from.display()))?;
    // From JSONL, the `text` of each line (English lines only when they say their `lang`);
    // else the whole file.
    let text: String = match corpus.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('{')) {
        true => corpus
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["lang"].as_str().is_none_or(|l| l == "en"))
            .filter_map(|v| v["text"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
            .join("\n"),
        false => corpus,
    };
    let words = tasks::spelling::words_of(&text);
    if words.len() < 50 {
        bail!("{}: only {} usable words for spelling (need 50)", a.words_from.display(), words.len());
    }
    let id = Identity { name: a.name.clone(), maker: a.maker.clone() };
    let mut made = vec![
        ("arithmetic", tasks::split(a.train, a.test, a.seed, tasks::arithmetic::item)),
        ("spelling", tasks::split(a.train, a.test, a.seed, |rng| tasks::spelling::item(rng, &words))),
        ("identity", tasks::identity::split(a.train, a.seed, &id)),
    ];
    if let Some(path) = &a.search_index {
        let index = minichat_data::index::Index::load(path)?;
        let search = crate::chat::search_tool(&index);
        let (facts, dropped) = tasks::search::facts(index.passages.iter().map(|p| p.text.as_str()), &search);
        println!(
            "search: {} facts in {} ({dropped} left out: the search does not find their answer)",
            facts.len(),
            path.display()
        );
        if facts.len() < 2 {
            bail!(
                "{}: {} facts found; the search task needs at least 2 (it looks for the Python documentation's \"Source code: Lib/...\" lines)",
                path.display(),
                facts.len()
            );
        }
        made.push(("search", tasks::search::split(&facts, a.train, a.test, a.seed, &search)));
    }
    for (name, (train, test)) in &made {
        write(&a.output.join(format!("{name}-train.jsonl")), train)?;
        write(&a.output.join(format!("{name}-test.jsonl")), test)?;
        println!("{name}: {} train, {} test conversations", train.len(), test.len());
    }
    println!("wrote {}", a.output.display());
    Ok(())
}
