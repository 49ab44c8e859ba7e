//! Running the pipeline on a Slurm cluster: batch scripts that run `data run` as a job array
//! (one rank per array task), then the four `data dedup` stages as dependent jobs, each
//! waiting for the previous one to succeed whole; and the rank of a task from the environment
//! a job array sets (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`).
//!
//! ```text
//! OUT/slurm/data-run.sbatch            job array of `data run` tasks
//! OUT/slurm/dedup-signatures.sbatch    job arrays of the dedup stages
//! OUT/slurm/dedup-buckets.sbatch
//! OUT/slurm/dedup-clusters.sbatch      one task
//! OUT/slurm/dedup-filter.sbatch
//! OUT/slurm/submit.sh                  submits them all, chained with afterok
//! OUT/slurm/logs/                      the jobs' output
//! ```
//!
//! A rank that already completed exits at once, so a requeued or resubmitted job is safe.

use crate::Error;
use std::path::{Path, PathBuf};

/// The cluster's settings for a run.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// Tasks of the `data run` job array (each takes every `tasks`-th file).
    pub tasks: usize,
    /// Tasks of each deduplication job array.
    pub dedup_tasks: usize,
    pub partition: Option<String>,
    /// Time limit per task (Slurm's format).
    pub time: String,
    pub cpus_per_task: usize,
    pub mem_per_cpu_gb: usize,
    /// Extra arguments for `data run` (already shell words).
    pub run_args: String,
}

/// This task's (rank, world size): the given ones, else a Slurm job array's, else (0, 1).
pub fn task_from_env(rank: Option<usize>, world_size: Option<usize>) -> Result<(usize, usize), Error> {
    let env = |name: &str| -> Result<Option<usize>, Error> {
        match std::env::var(name) {
            Ok(v) => v.trim().parse().map(Some).map_err(|_| Error::Input(format!("${name} = {v:?} is not a number"))),
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
        return Err(Error::Input(format!("--rank {rank} must be below --world-size {world}")));
    }
    Ok((rank, world))
}

/// Quotes a path or word for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Writes the scripts for running `exe` (the minichat binary) over the WARC `files` into
/// `out` (`OUT/slurm/`, see above); returns the scripts' folder.
pub fn write_scripts(exe: &Path, files: &[PathBuf], out: &Path, c: &Cluster) -> Result<PathBuf, Error> {
    if c.tasks == 0 || c.dedup_tasks == 0 {
        return Err(Error::Input("the job arrays need at least 1 task each".into()));
    }
    let abs = |p: &Path| std::path::absolute(p).map_err(|source| Error::Io { path: p.display().to_string(), source });
    let out = abs(out)?;
    let inputs: Vec<String> =
        files.iter().map(|f| abs(f).map(|p| sh_quote(&p.display().to_string()))).collect::<Result<_, _>>()?;
    let (exe_q, out_q) = (sh_quote(&exe.display().to_string()), sh_quote(&out.display().to_string()));
    let partition = c.partition.as_ref().map(|p| format!("#SBATCH --partition={p}\n")).unwrap_or_default();
    let logs = out.join("slurm/logs");
    let header = |name: &str, array: Option<usize>| {
        let array_line = array.map(|n| format!("#SBATCH --array=0-{}\n", n - 1)).unwrap_or_default();
        let log = if array.is_some() { "%A_%a" } else { "%j" };
        format!(
            "#!/bin/bash\n#SBATCH --job-name=minichat-{name}\n{array_line}{partition}#SBATCH --cpus-per-task={}\n\
             #SBATCH --mem-per-cpu={}G\n#SBATCH --time={}\n#SBATCH --output={}/{name}-{log}.out\nset -euo pipefail\n",
            c.cpus_per_task,
            c.mem_per_cpu_gb,
            c.time,
            logs.display()
        )
    };
    let threads = format!("--threads \"${{SLURM_CPUS_PER_TASK:-{}}}\"", c.cpus_per_task);
    let run = format!(
        "{}# Rank = SLURM_ARRAY_TASK_ID; a rank that already completed exits at once (safe to requeue).\n\
         {exe_q} {threads} data run {} -o {out_q} --world-size {} {}\n",
        header("data-run", Some(c.tasks)),
        inputs.join(" "),
        c.tasks,
        c.run_args
    );
    // Deduplication: three job arrays and one single task, each stage waiting for the last.
    let dedup_stage = |stage: &str, tasks: Option<usize>| {
        let inputs = if matches!(stage, "signatures" | "filter") { format!(" {out_q}/output") } else { String::new() };
        let world = tasks.map(|n| format!(" --world-size {n}")).unwrap_or_default();
        let exclusions = if stage == "filter" { " --exclusions" } else { "" };
        format!(
            "{}{exe_q} {threads} data dedup{inputs} -o {out_q}/dedup --stage {stage}{world}{exclusions}\n",
            header(&format!("dedup-{stage}"), tasks)
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
        ("dedup-signatures.sbatch", dedup_stage("signatures", Some(c.dedup_tasks))),
        ("dedup-buckets.sbatch", dedup_stage("buckets", Some(c.dedup_tasks))),
        ("dedup-clusters.sbatch", dedup_stage("clusters", None)),
        ("dedup-filter.sbatch", dedup_stage("filter", Some(c.dedup_tasks))),
        ("submit.sh", submit),
    ];
    for (name, text) in scripts {
        minichat_corpus::atomic_write(&dir.join(name), text.as_bytes())?;
    }
    Ok(dir)
}
