//! `minichat data filter`: the chain's stages after extraction (URL filter, language, the
//! quality filters, PII), any of them alone, over document shards (`minichat_data::shard_filter`).

use crate::args::TaskArgs;
use anyhow::{Context, Result};
use clap::Args;
use minichat_data::shard_filter::{self, Options, Outcome};
use std::path::PathBuf;

#[derive(Args)]
pub struct FilterArgs {
    /// Document shards (*.jsonl.gz, *.jsonl, *.parquet) with a `text` column, or folders of them.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder: OUT/output/NAME (each shard's kept documents, same format and columns),
    /// OUT/stats/filter-RANK.json, OUT/removed/STAGE/NAME.jsonl.gz with --exclusions.
    #[arg(short, long)]
    output: PathBuf,
    /// Stages to run, comma-separated, always in the chain's order: url_filter, language,
    /// gopher_repetition, gopher_quality, c4_quality, fineweb_quality, pii (default: all).
    #[arg(long, value_delimiter = ',')]
    stages: Vec<String>,
    /// A fastText language-identification model (as for `data run`); default: whatlang.
    #[arg(long)]
    lid_model: Option<PathBuf>,
    /// URL lists folder (as for `data run`); default: minichat's built-in lists.
    #[arg(long)]
    url_lists: Option<PathBuf>,
    /// Also write dropped documents, with their stage and reason, to OUT/removed/STAGE/.
    #[arg(long)]
    exclusions: bool,
    #[command(flatten)]
    task: TaskArgs,
}

pub fn run(a: FilterArgs) -> Result<()> {
    let (rank, world) = a.task.resolve()?;
    let shards = minichat_corpus::files_in(&a.inputs, &minichat_corpus::format::SHARD_ENDINGS, "document shards")?;
    let pipeline = minichat_data::pipeline::Pipeline::with_models("", a.url_lists.as_deref(), a.lid_model.as_deref())?;
    let stages = shard_filter::stages_named(&pipeline, &a.stages).context("--stages")?;
    let opts = Options { out: a.output.clone(), stages, exclusions: a.exclusions, rank, world };
    match shard_filter::filter(&pipeline, &shards, &opts)? {
        Outcome::Completed(marker) => {
            eprintln!("filter rank {rank} of {world} already completed ({}); nothing to do", marker.display())
        }
        Outcome::Done { stats, kept } => {
            println!("{} shards, {} documents -> {kept} kept", stats.files, stats.reader.get("documents"));
            super::print_stages(&stats);
        }
    }
    Ok(())
}
