//! `minichat data ...`: the web-data pipeline's commands, one file each.

use anyhow::Result;
use clap::Subcommand;

mod dedup;
mod extract;
mod filter;
mod index;
mod inspect;
mod run;
mod slurm;

#[derive(Subcommand)]
pub enum Command {
    /// Read WARC files (gzip, zstd or plain) and count what they hold: records by type, HTML
    /// pages, and every kind of damage skipped (garbage, truncation, wrong lengths, ...).
    Inspect(inspect::InspectArgs),
    /// FineWeb's stage-1 chain over WARC files: URL filter, text extraction, language filter,
    /// Gopher/C4/FineWeb quality filters, PII removal; writes OUT/output/RANK.jsonl.gz (or .parquet),
    /// OUT/stats/RANK.json and a completion marker (a completed rank is skipped on relaunch).
    Run(run::RunArgs),
    /// The extraction stage alone: the main text of HTML files (trafilatura's algorithm, as in
    /// `data run`), for checking what a page becomes.
    Extract(extract::ExtractArgs),
    /// The chain's stages after extraction (URL filter, language, Gopher/C4/FineWeb quality,
    /// PII), all or some (`--stages`), over document shards: each stage run alone.
    Filter(filter::FilterArgs),
    /// Remove exact and near duplicates (MinHash, FineWeb's 5-grams and 14 bands of 8) from
    /// document shards (`data run` output, JSONL or Parquet); keeps the first document of each
    /// cluster. Four file-based stages (signatures, buckets, clusters, filter), each of which
    /// can run as many tasks (`--stage`, `--rank/--world-size`), or all of them at once.
    Dedup(dedup::DedupArgs),
    /// Build a BM25 search index over document shards (passages of about 120 words), for
    /// `data search` and the assistant's search tool.
    Index(index::IndexArgs),
    /// Search an index made by `data index`: the best passages for a query.
    Search(index::SearchArgs),
    /// Write Slurm batch scripts for a cluster run: a job array of `data run` tasks (one rank
    /// each), then the four `data dedup` stages as dependent jobs (OUT/slurm/submit.sh).
    Slurm(slurm::SlurmArgs),
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Inspect(a) => inspect::run(a),
        Command::Run(a) => run::run(a),
        Command::Dedup(a) => dedup::run(a),
        Command::Extract(a) => extract::run(a),
        Command::Filter(a) => filter::run(a),
        Command::Index(a) => index::index(a),
        Command::Search(a) => index::search(a),
        Command::Slurm(a) => slurm::run(a),
    }
}

/// The per-stage table: in, out, seconds, drops by reason (or replacements).
fn print_stages(stats: &minichat_data::pipeline::RunStats) {
    println!("{:<18} {:>7} {:>7} {:>9}  dropped by reason", "stage", "in", "out", "seconds");
    for s in &stats.stages {
        let mut reasons: Vec<(&str, u64)> = s.dropped.iter().collect();
        reasons.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        let reasons: Vec<String> = reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let changed: Vec<String> = s.changed.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let note = if changed.is_empty() { reasons.join(", ") } else { format!("replaced: {}", changed.join(", ")) };
        println!("{:<18} {:>7} {:>7} {:>9.2}  {note}", s.name, s.docs_in, s.docs_out, s.seconds);
    }
}
