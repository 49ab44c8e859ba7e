//! `minichat data inspect`: what WARC files hold, and every kind of damage skipped.

use anyhow::Result;
use clap::Args;
use minichat_data::stats::Counts;
use rayon::prelude::*;
use std::path::PathBuf;

#[derive(Args)]
pub struct InspectArgs {
    /// WARC files, or folders of them (*.warc, *.warc.gz, *.warc.zst, WET *.warc.wet.gz).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Records larger than this many MiB are skipped unread.
    #[arg(long, default_value_t = 64)]
    max_record_mib: usize,
    /// Print the counts as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: InspectArgs) -> Result<()> {
    let files = minichat_data::warc::files(&a.inputs)?;
    let progress = crate::progress::input_bar(&files, "reading");
    let per_file: Vec<Result<Counts, minichat_data::Error>> = files
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
