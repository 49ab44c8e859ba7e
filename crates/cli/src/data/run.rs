//! `minichat data run`: FineWeb's stage-1 chain over WARC files, one rank of many. Ctrl-C
//! stops at the next page, keeps what is done under OUT/partial/ with a progress file, and
//! the same command resumes from there.

use anyhow::{bail, Context, Result};
use clap::Args;
use minichat_data::output::{JsonlGzWriter, ShardWriter};
use minichat_data::pipeline::{Doc, Pipeline, RunStats};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct RunArgs {
    /// WARC files, or folders of them.
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
    /// This task's rank: it takes files rank, rank + world size, ... of the sorted inputs
    /// (default: $SLURM_ARRAY_TASK_ID, else 0).
    #[arg(long)]
    rank: Option<usize>,
    /// Number of tasks (default: $SLURM_ARRAY_TASK_COUNT, else 1).
    #[arg(long)]
    world_size: Option<usize>,
}

/// A dropped document, as the exclusion files hold it.
#[derive(serde::Serialize)]
struct Excluded<'a> {
    #[serde(flatten)]
    doc: &'a Doc,
    filter_stage: &'a str,
    filter_reason: &'a str,
}

/// Where an interrupted rank stopped: OUT/partial/RANK.json.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Progress {
    files: Vec<PathBuf>,
    parquet: bool,
    exclusions: bool,
    /// Files finished, then pages done of the next one.
    files_done: usize,
    pages_done: u64,
    /// Rows in the partial output and exclusion shards when this was written.
    kept: u64,
    removed: BTreeMap<String, u64>,
    stats: RunStats,
}

/// The files of one rank's run.
struct Paths {
    name: String,
    out: PathBuf,
}

impl Paths {
    fn partial(&self) -> PathBuf {
        self.out.join("partial")
    }
    fn progress(&self) -> PathBuf {
        self.partial().join(format!("{}.json", self.name))
    }
    fn output(&self, root: &Path, parquet: bool) -> PathBuf {
        root.join("output").join(format!("{}.{}", self.name, if parquet { "parquet" } else { "jsonl.gz" }))
    }
    fn removed(&self, root: &Path, stage: &str) -> PathBuf {
        root.join("removed").join(stage).join(format!("{}.jsonl.gz", self.name))
    }
    fn marker(&self) -> PathBuf {
        self.out.join("completions").join(&self.name)
    }
}

pub fn run(a: RunArgs) -> Result<()> {
    let (rank, world) = super::rank_and_world(a.rank, a.world_size)?;
    let all = super::warc_files(&a.inputs)?;
    let files: Vec<PathBuf> = all.iter().skip(rank).step_by(world).cloned().collect();
    let paths = Paths { name: format!("{rank:05}"), out: a.output.clone() };
    if paths.marker().exists() {
        eprintln!("rank {rank} of {world} already completed ({}); nothing to do", paths.marker().display());
        return Ok(());
    }
    let mut progress = match std::fs::read(paths.progress()) {
        Ok(bytes) => {
            let p: Progress = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: unreadable progress file", paths.progress().display()))?;
            if p.files != files || p.parquet != a.parquet || p.exclusions != a.exclusions {
                bail!(
                    "{}: an interrupted run of rank {rank} had other input files or flags; rerun it as before, \
                     or delete {} to start over",
                    paths.progress().display(),
                    paths.partial().display()
                );
            }
            eprintln!("resuming rank {rank}: {} files done, then {} pages of the next", p.files_done, p.pages_done);
            p
        }
        Err(_) => {
            Progress { files: files.clone(), parquet: a.parquet, exclusions: a.exclusions, ..Progress::default() }
        }
    };
    let mut pipeline = Pipeline::fineweb(&a.dump);
    if let Some(dir) = &a.url_lists {
        pipeline.url_filter = minichat_data::url_filter::UrlFilter::from_dir(dir)?;
    }
    pipeline.extractor = minichat_data::extract::Extractor::default().with_fallback(a.extract_fallback);
    if let Some(path) = &a.lid_model {
        pipeline.lid = minichat_data::lid::Lid::FastText(Box::new(minichat_data::fasttext::Model::load(path)?));
    }
    let stop = crate::ctrl_c::stop_flag("saving what is done")?;
    let progress_bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} rank {msg}: {pos} pages ({per_sec}, {elapsed})")
            .expect("valid template"),
    );
    progress_bar.set_message(format!("{rank}/{world}, {} files", files.len()));
    let partial = paths.partial();
    let mut out = ShardWriter::create(&partial.join("output").join(&paths.name), a.parquet)?;
    let mut removed: BTreeMap<String, JsonlGzWriter> = BTreeMap::new();
    if progress.files_done > 0 || progress.pages_done > 0 {
        carry_over(&paths, &progress, &mut out, &mut removed)?;
    }
    let (mut keep_error, mut drop_error): (Option<std::io::Error>, Option<std::io::Error>) = (None, None);
    let mut interrupted = false;
    for (i, file) in files.iter().enumerate().skip(progress.files_done) {
        let skip = if i == progress.files_done { progress.pages_done } else { 0 };
        let r = pipeline.run_file(
            file,
            skip,
            &stop,
            |doc| {
                progress_bar.inc(1);
                if let Err(e) = out.write(doc) {
                    keep_error.get_or_insert(e);
                }
            },
            |stage, reason, doc| {
                progress_bar.inc(1);
                if !a.exclusions {
                    return;
                }
                let w = match removed.entry(stage.to_string()) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => {
                        match JsonlGzWriter::create(&paths.removed(&partial, stage)) {
                            Ok(w) => e.insert(w),
                            Err(err) => {
                                drop_error.get_or_insert(err);
                                return;
                            }
                        }
                    }
                };
                if let Err(e) = w.write(&Excluded { doc, filter_stage: stage, filter_reason: reason }) {
                    drop_error.get_or_insert(e);
                }
            },
        )?;
        if let Some(e) = keep_error.take().or(drop_error.take()) {
            return Err(e).context("writing the output");
        }
        progress.stats.merge(&r.stats);
        if !r.finished {
            (progress.files_done, progress.pages_done, interrupted) = (i, r.pages, true);
            break;
        }
        (progress.files_done, progress.pages_done) = (i + 1, 0);
    }
    progress_bar.finish_and_clear();
    progress.kept = out.written();
    out.finish().context("finishing the output shard")?;
    for (stage, w) in removed {
        progress.removed.insert(stage, w.written);
        w.finish().context("finishing an exclusion shard")?;
    }
    if interrupted {
        minichat_tokenizer::atomic_write(&paths.progress(), &serde_json::to_vec_pretty(&progress)?)?;
        eprintln!(
            "stopped rank {rank} after {} files and {} pages of the next ({} documents kept so far); \
             run the same command again to resume",
            progress.files_done, progress.pages_done, progress.kept
        );
        return Ok(());
    }
    publish(&paths, &progress, a.parquet)?;
    print_summary(&progress.stats, progress.kept);
    Ok(())
}

/// Copies the rows an interrupted run kept into this run's writers (as many as its progress
/// file counted, so a crash between writing shards and progress cannot duplicate rows).
fn carry_over(
    paths: &Paths,
    progress: &Progress,
    out: &mut ShardWriter,
    removed: &mut BTreeMap<String, JsonlGzWriter>,
) -> Result<()> {
    let partial = paths.partial();
    let rows = minichat_data::shards::read(&paths.output(&partial, progress.parquet))?;
    for row in rows.into_iter().take(progress.kept as usize) {
        let doc: Doc = match row {
            minichat_data::shards::Row::Doc(d) => d,
            minichat_data::shards::Row::Json(v) => serde_json::from_value(v).context("a row of the partial output")?,
        };
        out.write(&doc)?;
    }
    for (stage, &n) in &progress.removed {
        let path = paths.removed(&partial, stage);
        let rows = minichat_data::shards::read(&path)?;
        let mut w = JsonlGzWriter::create(&path)?;
        for row in rows.into_iter().take(n as usize) {
            w.write(&row.to_json())?;
        }
        removed.insert(stage.clone(), w);
    }
    Ok(())
}

/// Moves a completed rank's shards into place, writes its stats and completion marker, and
/// removes its partial state.
fn publish(paths: &Paths, progress: &Progress, parquet: bool) -> Result<()> {
    let partial = paths.partial();
    let moves = std::iter::once((paths.output(&partial, parquet), paths.output(&paths.out, parquet)))
        .chain(progress.removed.keys().map(|stage| (paths.removed(&partial, stage), paths.removed(&paths.out, stage))));
    for (from, to) in moves {
        std::fs::create_dir_all(to.parent().expect("a folder"))
            .with_context(|| format!("creating {}", to.display()))?;
        std::fs::rename(&from, &to).with_context(|| format!("moving {} to {}", from.display(), to.display()))?;
    }
    minichat_tokenizer::atomic_write(
        &paths.out.join("stats").join(format!("{}.json", paths.name)),
        serde_json::to_string_pretty(&progress.stats)?.as_bytes(),
    )?;
    minichat_tokenizer::atomic_write(&paths.marker(), b"")?;
    let _ = std::fs::remove_file(paths.progress());
    Ok(())
}

fn print_summary(stats: &RunStats, kept: u64) {
    let pages = stats.reader.get("pages");
    println!(
        "{} files, {} records, {pages} HTML pages -> {kept} documents kept",
        stats.files,
        stats.reader.get("records")
    );
    print_stages(stats);
}

/// The per-stage table: in, out, seconds, drops by reason (or replacements).
pub(super) fn print_stages(stats: &RunStats) {
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
