//! `minichat data dedup`: exact and near-duplicate removal in datatrove's four file-based
//! stages (`minichat_data::dedup`), all at once or one task of one stage.

use crate::args::TaskArgs;
use anyhow::{bail, Result};
use clap::Args;
use minichat_data::dedup::{self, Found, Work};
use std::path::PathBuf;

#[derive(Args)]
pub struct DedupArgs {
    /// Document shards (*.jsonl.gz, *.jsonl, *.parquet), or folders of them; needed by the
    /// signatures and filter stages, which must be given the same list.
    inputs: Vec<PathBuf>,
    /// Output folder: OUT/output/ (the same shard names and formats), OUT/stats/dedup.json,
    /// OUT/work/ (intermediate files and completion markers).
    #[arg(short, long)]
    output: PathBuf,
    /// One stage as one task of many (signatures, buckets, filter: --rank/--world-size, from
    /// a Slurm job array by default; clusters: one task), or all of them in this process.
    #[arg(long, value_enum, default_value = "all")]
    stage: Stage,
    /// Also write removed documents with the place of the one kept to OUT/removed/dedup/.
    #[arg(long)]
    exclusions: bool,
    /// Seed of the MinHash permutations (the same for every shard of a dataset).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    task: TaskArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stage {
    All,
    Signatures,
    Buckets,
    Clusters,
    Filter,
}

fn print_found(found: &Found) {
    println!(
        "{} shards, {} documents: {} exact and {} near duplicates to remove ({} clusters), {} kept",
        found.shards,
        found.documents,
        found.exact,
        found.near,
        found.clusters,
        found.documents - found.exact - found.near
    )
}

pub fn run(a: DedupArgs) -> Result<()> {
    let work = Work::new(&a.output);
    let minhash = minichat_data::minhash::MinHash::new(a.seed);
    let shards = || minichat_corpus::files_in(&a.inputs, &minichat_corpus::format::SHARD_ENDINGS, "document shards");
    let (rank, world) = match a.stage {
        Stage::All | Stage::Clusters => {
            if a.task.rank.is_some_and(|r| r > 0) || a.task.world_size.is_some_and(|w| w > 1) {
                bail!("--stage all and --stage clusters run as one task; give --rank/--world-size to the other stages");
            }
            (0, 1)
        }
        _ => a.task.resolve()?,
    };
    let needs_inputs = matches!(a.stage, Stage::All | Stage::Signatures | Stage::Filter);
    if needs_inputs && a.inputs.is_empty() {
        bail!("this stage reads the document shards: name them (the same ones for every stage)");
    }
    if !needs_inputs && !a.inputs.is_empty() {
        bail!("this stage reads only OUT/work/; it takes no input shards");
    }
    match a.stage {
        Stage::All => match dedup::all(&shards()?, &minhash, &work, a.exclusions)? {
            (Some(found), _) => print_found(&found),
            (None, f) if f.kept + f.removed == 0 => {
                println!("already deduplicated; counts in {}", a.output.join("stats/dedup.json").display())
            }
            (None, f) => println!("filtered: {} kept, {} removed", f.kept, f.removed),
        },
        Stage::Signatures => {
            let docs = dedup::signatures(&shards()?, rank, world, &minhash, &work)?;
            println!("signatures: task {rank} of {world}: {docs} documents");
        }
        Stage::Buckets => {
            let pairs = dedup::buckets(&work, rank, world)?;
            println!("buckets: task {rank} of {world}: {pairs} candidate pairs");
        }
        Stage::Clusters => {
            if let Some(found) = dedup::clusters(&work)? {
                print_found(&found);
            }
        }
        Stage::Filter => {
            let f = dedup::filter(&shards()?, rank, world, &work, a.exclusions)?;
            println!("filter: task {rank} of {world}: {} documents kept, {} removed", f.kept, f.removed);
        }
    }
    Ok(())
}
