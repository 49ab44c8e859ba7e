//! `minichat data ...`: the web-data pipeline's commands.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use minichat_data::stats::Counts;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

mod extract;
mod filter;
mod index;
mod run;

#[derive(Subcommand)]
pub enum Command {
    /// Read WARC files (gzip, zstd or plain) and count what they hold: records by type, HTML
    /// pages, and every kind of damage skipped (garbage, truncation, wrong lengths, ...).
    Inspect(InspectArgs),
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
    Dedup(DedupArgs),
    /// Build a BM25 search index over document shards (passages of about 120 words), for
    /// `data search` and the assistant's search tool.
    Index(index::IndexArgs),
    /// Search an index made by `data index`: the best passages for a query.
    Search(index::SearchArgs),
    /// Write Slurm batch scripts for a cluster run: a job array of `data run` tasks (one rank
    /// each), then the four `data dedup` stages as dependent jobs (OUT/slurm/submit.sh).
    Slurm(SlurmArgs),
}

#[derive(Args)]
pub struct SlurmArgs {
    /// WARC files, or folders of them (as for `data run`).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder of the run (the scripts go to OUT/slurm/).
    #[arg(short, long)]
    output: PathBuf,
    /// Tasks in the `data run` job array (each takes every TASKS-th file).
    #[arg(long)]
    tasks: usize,
    /// Slurm partition.
    #[arg(long)]
    partition: Option<String>,
    /// Time limit per task (Slurm's format).
    #[arg(long, default_value = "10:00:00")]
    time: String,
    /// CPUs per `data run` task.
    #[arg(long, default_value_t = 4)]
    cpus_per_task: usize,
    /// Memory per CPU, GB.
    #[arg(long, default_value_t = 2)]
    mem_per_cpu_gb: usize,
    /// Tasks in each deduplication job array (default: --tasks).
    #[arg(long)]
    dedup_tasks: Option<usize>,
    /// Extra arguments for `data run` (e.g. "--url-lists /data/lists --parquet").
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    run_args: String,
}

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
    stage: DedupStage,
    /// Also write removed documents with the place of the one kept to OUT/removed/dedup/.
    #[arg(long)]
    exclusions: bool,
    /// Seed of the MinHash permutations (the same for every shard of a dataset).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// This task's rank (default: $SLURM_ARRAY_TASK_ID, else 0).
    #[arg(long)]
    rank: Option<usize>,
    /// Number of tasks of this stage (default: $SLURM_ARRAY_TASK_COUNT, else 1).
    #[arg(long)]
    world_size: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DedupStage {
    All,
    Signatures,
    Buckets,
    Clusters,
    Filter,
}

#[derive(Args)]
pub struct InspectArgs {
    /// WARC files, or folders of them (*.warc, *.warc.gz, *.warc.zst).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Records larger than this many MiB are skipped unread.
    #[arg(long, default_value_t = 64)]
    max_record_mib: usize,
    /// Print the counts as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Inspect(a) => inspect(a),
        Command::Run(a) => run::run(a),
        Command::Dedup(a) => dedup(a),
        Command::Extract(a) => extract::extract(a),
        Command::Filter(a) => filter::filter(a),
        Command::Index(a) => index::index(a),
        Command::Search(a) => index::search(a),
        Command::Slurm(a) => slurm(a),
    }
}

/// The WARC files named by `inputs` (folders: their WARC files, sorted).
pub fn warc_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    files_in(inputs, &[".warc", ".warc.gz", ".warc.zst"], "WARC files")
}

/// The files named by `inputs`; a folder stands for its files whose names end in one of
/// `endings` (sorted), and must have some.
fn files_in(inputs: &[PathBuf], endings: &[&str], what: &str) -> Result<Vec<PathBuf>> {
    let wanted = |p: &PathBuf| {
        let name = p.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        endings.iter().any(|e| name.ends_with(e))
    };
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("reading folder {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && wanted(p))
                .collect();
            if found.is_empty() {
                bail!("{}: no {what} ({}) in this folder", input.display(), endings.join(", "));
            }
            found.sort();
            files.extend(found);
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            bail!("{}: no such file or folder", input.display());
        }
    }
    Ok(files)
}

fn inspect(a: InspectArgs) -> Result<()> {
    let files = warc_files(&a.inputs)?;
    let progress = crate::tokenizer::input_progress(&files, "reading");
    let per_file: Vec<Result<Counts>> = files
        .par_iter()
        .map(|f| {
            let counts = minichat_data::page::for_each_page(f, a.max_record_mib << 20, |_| true)?;
            progress.inc(std::fs::metadata(f).map(|m| m.len()).unwrap_or(0));
            Ok(counts)
        })
        .collect();
    progress.finish_and_clear();
    let mut total = Counts::default();
    for c in per_file {
        total.merge(&c?);
    }
    total.add("files", files.len() as u64);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&total)?);
        return Ok(());
    }
    let width = total.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (kind, n) in total.iter() {
        println!("{kind:<width$}  {n:>10}");
    }
    Ok(())
}

/// `--rank/--world-size`, defaulting from a Slurm job array's environment.
pub fn rank_and_world(rank: Option<usize>, world_size: Option<usize>) -> Result<(usize, usize)> {
    let env = |name: &str| -> Result<Option<usize>> {
        match std::env::var(name) {
            Ok(v) => Ok(Some(v.trim().parse().with_context(|| format!("${name} = {v:?} is not a number"))?)),
            Err(_) => Ok(None),
        }
    };
    let rank = match rank {
        Some(r) => r,
        None => env("SLURM_ARRAY_TASK_ID")?.unwrap_or(0),
    };
    let world = match world_size {
        Some(w) => w,
        None => env("SLURM_ARRAY_TASK_COUNT")?.unwrap_or(1),
    };
    if world == 0 || rank >= world {
        bail!("--rank {rank} must be below --world-size {world}");
    }
    Ok((rank, world))
}

fn dedup(a: DedupArgs) -> Result<()> {
    use minichat_data::dedup::{self, Work};
    let work = Work::new(&a.output);
    let minhash = minichat_data::minhash::MinHash::new(a.seed);
    let shards = || files_in(&a.inputs, &minichat_data::shards::ENDINGS, "document shards");
    let (rank, world) = match a.stage {
        DedupStage::All | DedupStage::Clusters => {
            if a.rank.is_some_and(|r| r > 0) || a.world_size.is_some_and(|w| w > 1) {
                bail!("--stage all and --stage clusters run as one task; give --rank/--world-size to the other stages");
            }
            (0, 1)
        }
        _ => rank_and_world(a.rank, a.world_size)?,
    };
    let needs_inputs = matches!(a.stage, DedupStage::All | DedupStage::Signatures | DedupStage::Filter);
    if needs_inputs && a.inputs.is_empty() {
        bail!("this stage reads the document shards: name them (the same ones for every stage)");
    }
    if !needs_inputs && !a.inputs.is_empty() {
        bail!("this stage reads only OUT/work/; it takes no input shards");
    }
    let print_found = |found: &dedup::Found| {
        println!(
            "{} shards, {} documents: {} exact and {} near duplicates to remove ({} clusters), {} kept",
            found.shards,
            found.documents,
            found.exact,
            found.near,
            found.clusters,
            found.documents - found.exact - found.near
        )
    };
    match a.stage {
        DedupStage::All => {
            let (found, filtered) = dedup::all(&shards()?, &minhash, &work, a.exclusions)?;
            match found {
                Some(found) => print_found(&found),
                None if filtered.kept + filtered.removed == 0 => {
                    println!("already deduplicated; counts in {}", a.output.join("stats/dedup.json").display())
                }
                None => println!("filtered: {} kept, {} removed", filtered.kept, filtered.removed),
            }
        }
        DedupStage::Signatures => {
            let docs = dedup::signatures(&shards()?, rank, world, &minhash, &work)?;
            println!("signatures: task {rank} of {world}: {docs} documents");
        }
        DedupStage::Buckets => {
            let pairs = dedup::buckets(&work, rank, world)?;
            println!("buckets: task {rank} of {world}: {pairs} candidate pairs");
        }
        DedupStage::Clusters => {
            if let Some(found) = dedup::clusters(&work)? {
                print_found(&found);
            }
        }
        DedupStage::Filter => {
            let f = dedup::filter(&shards()?, rank, world, &work, a.exclusions)?;
            println!("filter: task {rank} of {world}: {} documents kept, {} removed", f.kept, f.removed);
        }
    }
    Ok(())
}

/// Quotes a path or word for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn slurm(a: SlurmArgs) -> Result<()> {
    if a.tasks == 0 {
        bail!("--tasks must be at least 1");
    }
    let files = warc_files(&a.inputs)?;
    let abs = |p: &Path| std::path::absolute(p).with_context(|| format!("resolving {}", p.display()));
    let exe = std::env::current_exe().context("locating the minichat binary")?;
    let out = abs(&a.output)?;
    let inputs: Vec<String> =
        files.iter().map(|f| abs(f).map(|p| sh_quote(&p.display().to_string()))).collect::<Result<_>>()?;
    let (exe_q, out_q) = (sh_quote(&exe.display().to_string()), sh_quote(&out.display().to_string()));
    let partition = a.partition.as_ref().map(|p| format!("#SBATCH --partition={p}\n")).unwrap_or_default();
    let logs = out.join("slurm/logs");
    let header = |name: &str, cpus: usize, array: Option<usize>| {
        let array = array.map(|n| format!("#SBATCH --array=0-{}\n", n - 1)).unwrap_or_default();
        let log = if array.is_empty() { "%j" } else { "%A_%a" };
        format!(
            "#!/bin/bash\n#SBATCH --job-name=minichat-{name}\n{array}{partition}#SBATCH --cpus-per-task={cpus}\n\
             #SBATCH --mem-per-cpu={}G\n#SBATCH --time={}\n#SBATCH --output={}/{name}-{log}.out\nset -euo pipefail\n",
            a.mem_per_cpu_gb,
            a.time,
            logs.display()
        )
    };
    let run = format!(
        "{}# Rank = SLURM_ARRAY_TASK_ID; a rank that already completed exits at once (safe to requeue).\n\
         {exe_q} --threads \"${{SLURM_CPUS_PER_TASK:-{}}}\" data run {} -o {out_q} --world-size {} {}\n",
        header("data-run", a.cpus_per_task, Some(a.tasks)),
        a.cpus_per_task,
        inputs.join(" "),
        a.tasks,
        a.run_args
    );
    // Deduplication: three job arrays and one single task, each stage waiting for the last.
    let dedup_tasks = a.dedup_tasks.unwrap_or(a.tasks);
    if dedup_tasks == 0 {
        bail!("--dedup-tasks must be at least 1");
    }
    let dedup_stage = |stage: &str, tasks: Option<usize>| {
        let inputs = if matches!(stage, "signatures" | "filter") { format!(" {out_q}/output") } else { String::new() };
        let world = tasks.map(|n| format!(" --world-size {n}")).unwrap_or_default();
        let exclusions = if stage == "filter" { " --exclusions" } else { "" };
        format!(
            "{}{exe_q} --threads \"${{SLURM_CPUS_PER_TASK:-{}}}\" data dedup{inputs} -o {out_q}/dedup --stage {stage}{world}{exclusions}\n",
            header(&format!("dedup-{stage}"), a.cpus_per_task, tasks),
            a.cpus_per_task
        )
    };
    let dir = out.join("slurm");
    let submit = format!(
        "#!/bin/bash\n# Submits the data-run job array, then the deduplication stages, each once the previous one has\n\
         # fully succeeded.\nset -euo pipefail\nmkdir -p {logs}\ncd {dir}\njob=$(sbatch --parsable data-run.sbatch)\n\
         for stage in signatures buckets clusters filter; do\n  \
         job=$(sbatch --parsable --dependency=afterok:\"${{job%%;*}}\" dedup-$stage.sbatch)\ndone\necho \"submitted; last job $job\"\n",
        logs = sh_quote(&logs.display().to_string()),
        dir = sh_quote(&dir.display().to_string())
    );
    let scripts = [
        ("data-run.sbatch", run),
        ("dedup-signatures.sbatch", dedup_stage("signatures", Some(dedup_tasks))),
        ("dedup-buckets.sbatch", dedup_stage("buckets", Some(dedup_tasks))),
        ("dedup-clusters.sbatch", dedup_stage("clusters", None)),
        ("dedup-filter.sbatch", dedup_stage("filter", Some(dedup_tasks))),
        ("submit.sh", submit),
    ];
    for (name, text) in scripts {
        minichat_tokenizer::atomic_write(&dir.join(name), text.as_bytes())?;
    }
    println!(
        "wrote {}/{{data-run.sbatch, dedup-{{signatures,buckets,clusters,filter}}.sbatch, submit.sh}}: {} files over {} tasks; submit with: bash {}/submit.sh",
        dir.display(),
        files.len(),
        a.tasks,
        dir.display()
    );
    Ok(())
}
