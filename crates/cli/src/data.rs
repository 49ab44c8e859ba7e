//! `minichat data ...`: the web-data pipeline's commands.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use minichat_data::stats::Counts;
use rayon::prelude::*;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum Command {
    /// Read WARC files (gzip, zstd or plain) and count what they hold: records by type, HTML
    /// pages, and every kind of damage skipped (garbage, truncation, wrong lengths, ...).
    Inspect(InspectArgs),
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
    }
}

/// The WARC files named by `inputs` (folders: their WARC files, sorted).
pub fn warc_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let is_warc = |p: &PathBuf| {
        let name = p.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        [".warc", ".warc.gz", ".warc.zst"].iter().any(|ext| name.ends_with(ext))
    };
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("reading folder {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_warc(p))
                .collect();
            if found.is_empty() {
                bail!("{}: no WARC files (*.warc, *.warc.gz, *.warc.zst) in this folder", input.display());
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
            let counts = minichat_data::page::for_each_page(f, a.max_record_mib << 20, |_| {})?;
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
