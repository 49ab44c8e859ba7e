//! `minichat data slurm`: Slurm batch scripts for a cluster run (`minichat_data::slurm`).

use anyhow::{Context, Result};
use clap::Args;
use minichat_data::slurm::{write_scripts, Cluster};
use std::path::PathBuf;

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

pub fn run(a: SlurmArgs) -> Result<()> {
    let files = minichat_data::warc::files(&a.inputs)?;
    let exe = std::env::current_exe().context("locating the minichat binary")?;
    let cluster = Cluster {
        tasks: a.tasks,
        dedup_tasks: a.dedup_tasks.unwrap_or(a.tasks),
        partition: a.partition,
        time: a.time,
        cpus_per_task: a.cpus_per_task,
        mem_per_cpu_gb: a.mem_per_cpu_gb,
        run_args: a.run_args,
    };
    let dir = write_scripts(&exe, &files, &a.output, &cluster).context("--tasks and --dedup-tasks")?;
    println!(
        "wrote {}/{{data-run.sbatch, dedup-{{signatures,buckets,clusters,filter}}.sbatch, submit.sh}}: {} files over {} tasks; submit with: bash {}/submit.sh",
        dir.display(),
        files.len(),
        cluster.tasks,
        dir.display()
    );
    Ok(())
}
