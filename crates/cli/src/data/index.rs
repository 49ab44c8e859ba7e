//! `minichat data index` and `minichat data search`: a BM25 index over document shards.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct IndexArgs {
    /// Document shards (*.jsonl.gz, *.jsonl, *.parquet), or folders of them.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The index file to write.
    #[arg(short, long)]
    output: PathBuf,
    /// Words per passage (the unit a search returns): lines are kept together up to this.
    #[arg(long, default_value_t = 120)]
    passage_words: usize,
}

#[derive(Args)]
pub struct SearchArgs {
    /// An index made by `minichat data index`.
    index: PathBuf,
    /// What to look for.
    query: String,
    /// Number of results.
    #[arg(short, default_value_t = 5)]
    k: usize,
    /// Print the results as JSON lines (score, doc_id, url, text).
    #[arg(long)]
    json: bool,
}

pub fn index(a: IndexArgs) -> Result<()> {
    use minichat_data::index::Index;
    let shards = minichat_corpus::files_in(&a.inputs, &minichat_corpus::format::SHARD_ENDINGS, "document shards")?;
    let progress = crate::progress::input_bar(&shards, "reading");
    let mut docs = Vec::new();
    for path in &shards {
        let rows = minichat_corpus::shards::read(path)?;
        docs.extend(rows.into_iter().enumerate().map(|(i, r)| (format!("{}:{}", path.display(), i + 1), r)));
        progress.inc(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
    }
    progress.finish_and_clear();
    let started = std::time::Instant::now();
    let index = Index::build(&docs, a.passage_words);
    index.save(&a.output).with_context(|| format!("writing {}", a.output.display()))?;
    println!(
        "{} documents -> {} passages, {} terms in {:.2} s; wrote {} ({:.1} MB)",
        docs.len(),
        index.passages.len(),
        index.terms(),
        started.elapsed().as_secs_f64(),
        a.output.display(),
        std::fs::metadata(&a.output).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );
    Ok(())
}

pub fn search(a: SearchArgs) -> Result<()> {
    let index = minichat_data::index::Index::load(&a.index)?;
    let hits = index.search(&a.query, a.k);
    if hits.is_empty() && !a.json {
        println!("no passage contains any term of {:?}", a.query);
    }
    for (rank, hit) in hits.iter().enumerate() {
        let p = hit.passage;
        if a.json {
            let row = serde_json::json!({ "score": hit.score, "doc_id": p.doc_id, "url": p.url, "text": p.text });
            println!("{row}");
            continue;
        }
        println!("{}. {:.3}  {}  {}", rank + 1, hit.score, p.url, p.doc_id);
        for line in p.text.lines().take(6) {
            println!("    {line}");
        }
    }
    Ok(())
}
