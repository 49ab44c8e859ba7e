//! `minichat data run`: one rank of FineWeb's stage-1 chain over WARC files
//! (`minichat_data::run`). Ctrl-C stops at the next page and keeps what is done under
//! OUT/partial/; the same command resumes from there.

use crate::args::TaskArgs;
use anyhow::Result;
use clap::Args;
use minichat_data::run::{Opened, Options, Outcome, Rank};
use std::path::PathBuf;

#[derive(Args)]
pub struct RunArgs {
    /// WARC files, or folders of them (a rank takes files rank, rank + world size, ... of them);
    /// Common Crawl's WET files (`*.warc.wet.gz`) give their text without extraction.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder.
    #[arg(short, long)]
    output: PathBuf,
    /// The `dump` column of the output (FineWeb: the crawl's name).
    #[arg(long, default_value = "minichat-demo")]
    dump: String,
    /// URL lists folder (datatrove/UT1 format, e.g. from scripts/fetch_url_blocklist.sh);
    /// default: minichat's small built-in lists.
    #[arg(long)]
    url_lists: Option<PathBuf>,
    /// A fastText language-identification model (e.g. data/lid/lid.176.ftz, FineWeb's
    /// lid.176 quantized; scripts/fetch_lid_model.sh): FineWeb's exact language decisions.
    /// Default: the built-in whatlang detector.
    #[arg(long)]
    lid_model: Option<PathBuf>,
    /// Compare trafilatura's external fallbacks (readability, justext) with each extraction,
    /// as FineWeb did: twice the extraction time, no change in measured F1 (docs/data.md).
    #[arg(long)]
    extract_fallback: bool,
    /// Also write dropped documents, with their stage and reason, to OUT/removed/STAGE/.
    #[arg(long)]
    exclusions: bool,
    /// Write the kept documents as Parquet (FineWeb's format) instead of gzipped JSONL.
    #[arg(long)]
    parquet: bool,
    #[command(flatten)]
    task: TaskArgs,
}

pub fn run(a: RunArgs) -> Result<()> {
    let (rank, world) = a.task.resolve()?;
    let all = minichat_data::warc::files(&a.inputs)?;
    let opts = Options { out: a.output.clone(), rank, world, parquet: a.parquet, exclusions: a.exclusions };
    let rank_run = match Rank::open(&all, opts)? {
        Opened::Completed(marker) => {
            eprintln!("rank {rank} of {world} already completed ({}); nothing to do", marker.display());
            return Ok(());
        }
        Opened::Ready(r) => r,
    };
    if let Some((files, pages)) = rank_run.resumed() {
        eprintln!("resuming rank {rank}: {files} files done, then {pages} pages of the next");
    }
    let mut pipeline =
        minichat_data::pipeline::Pipeline::with_models(&a.dump, a.url_lists.as_deref(), a.lid_model.as_deref())?;
    pipeline.extractor = minichat_data::extract::Extractor::default().with_fallback(a.extract_fallback);
    let stop = crate::ctrl_c::stop_flag("saving what is done")?;
    let bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} rank {msg}: {pos} pages ({per_sec}, {elapsed})")
            .expect("valid template"),
    );
    bar.set_message(format!("{rank}/{world}, {} files", rank_run.files().len()));
    let outcome = rank_run.run(&pipeline, &stop, || bar.inc(1));
    bar.finish_and_clear();
    match outcome? {
        Outcome::Stopped { files_done, pages_done, kept } => eprintln!(
            "stopped rank {rank} after {files_done} files and {pages_done} pages of the next ({kept} documents kept \
             so far); run the same command again to resume"
        ),
        Outcome::Finished { stats, kept } => {
            let (records, pages) = (stats.reader.get("records"), stats.reader.get("pages"));
            let texts = stats.reader.get("from_conversion");
            let what =
                if texts == 0 { format!("{pages} HTML pages") } else { format!("{pages} pages ({texts} WET texts)") };
            println!("{} files, {records} records, {what} -> {kept} documents kept", stats.files);
            super::print_stages(&stats);
        }
    }
    Ok(())
}
