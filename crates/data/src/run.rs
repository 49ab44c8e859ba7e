//! One rank of FineWeb's stage-1 chain over WARC files (`data run`): rank `r` of `world` takes
//! files `r, r + world, ...` of the sorted inputs through the `pipeline`, resumably.
//!
//! ```text
//! OUT/output/RANK.jsonl.gz (or .parquet)   the kept documents, FineWeb's columns
//! OUT/removed/STAGE/RANK.jsonl.gz          with exclusions: dropped documents and the reason
//! OUT/stats/RANK.json                      per stage: in, out, dropped by reason, seconds
//! OUT/completions/RANK                     written last: a completed rank is skipped
//! OUT/partial/RANK.json                    an interrupted rank's progress (files done, then
//! OUT/partial/output/..., removed/...      pages of the next) and its shards so far
//! ```
//!
//! When `stop` is raised the pages in flight finish, the shards so far are closed under
//! `partial/` with a progress file, and opening the same rank again resumes from there: the
//! rows the progress file counts are carried over (so a crash between writing shards and the
//! progress file cannot duplicate rows) and the next pages are skipped to. A finished rank's
//! shards are moved into place, then its stats and marker are written and its partial state
//! removed, so the result is the same as a run never interrupted.

use crate::pipeline::{Doc, Pipeline, RunStats};
use crate::Error;
use minichat_corpus::shards::{self, Row};
use minichat_corpus::writers::{JsonlGzWriter, ShardWriter};
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// What a rank writes, and which.
#[derive(Clone, Debug)]
pub struct Options {
    pub out: PathBuf,
    pub rank: usize,
    pub world: usize,
    /// Kept documents as Parquet instead of gzipped JSON Lines.
    pub parquet: bool,
    /// Also write the dropped documents with their stage and reason.
    pub exclusions: bool,
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

/// The files of one rank.
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
    fn stats(&self) -> PathBuf {
        self.out.join("stats").join(format!("{}.json", self.name))
    }
}

/// A rank ready to run.
pub struct Rank {
    paths: Paths,
    opts: Options,
    progress: Progress,
}

/// What opening a rank found.
pub enum Opened {
    /// It completed before (its marker is there): nothing to do.
    Completed(PathBuf),
    Ready(Box<Rank>),
}

/// How a run of a rank ended.
pub enum Outcome {
    /// Stopped: the files finished, the pages done of the next, the documents kept so far.
    Stopped { files_done: usize, pages_done: u64, kept: u64 },
    /// Every file done: the counts and the documents kept.
    Finished { stats: RunStats, kept: u64 },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.display().to_string(), source }
}

impl Rank {
    /// Opens rank `opts.rank` over `all` (every input WARC file, sorted): a new run, the
    /// resumption of an interrupted one (which must have had the same files and flags), or
    /// nothing to do.
    pub fn open(all: &[PathBuf], opts: Options) -> Result<Opened, Error> {
        if opts.world == 0 || opts.rank >= opts.world {
            return Err(Error::Input(format!("rank {} must be below the world size {}", opts.rank, opts.world)));
        }
        let files: Vec<PathBuf> = all.iter().skip(opts.rank).step_by(opts.world).cloned().collect();
        let paths = Paths { name: format!("{:05}", opts.rank), out: opts.out.clone() };
        if paths.marker().exists() {
            return Ok(Opened::Completed(paths.marker()));
        }
        let progress = match std::fs::read(paths.progress()) {
            Ok(bytes) => {
                let p: Progress = serde_json::from_slice(&bytes).map_err(|e| {
                    Error::Input(format!("{}: unreadable progress file: {e}", paths.progress().display()))
                })?;
                if p.files != files || p.parquet != opts.parquet || p.exclusions != opts.exclusions {
                    return Err(Error::Input(format!(
                        "{}: an interrupted run of rank {} had other input files or flags; rerun it as before, \
                         or delete {} to start over",
                        paths.progress().display(),
                        opts.rank,
                        paths.partial().display()
                    )));
                }
                p
            }
            Err(_) => Progress { files, parquet: opts.parquet, exclusions: opts.exclusions, ..Progress::default() },
        };
        Ok(Opened::Ready(Box::new(Rank { paths, opts, progress })))
    }

    /// This rank's files.
    pub fn files(&self) -> &[PathBuf] {
        &self.progress.files
    }

    /// Where an interrupted run stopped (files done, pages of the next), when resuming.
    pub fn resumed(&self) -> Option<(usize, u64)> {
        let p = &self.progress;
        (p.files_done > 0 || p.pages_done > 0).then_some((p.files_done, p.pages_done))
    }

    /// Runs the rank's files through `pipeline` from where it is; `on_page` is called for each
    /// page done (kept or dropped). Raising `stop` ends it after the pages in flight.
    pub fn run(mut self, pipeline: &Pipeline, stop: &AtomicBool, on_page: impl Fn()) -> Result<Outcome, Error> {
        let (paths, opts) = (&self.paths, &self.opts);
        let partial = paths.partial();
        let mut out =
            ShardWriter::create(&partial.join("output").join(&paths.name), opts.parquet).map_err(Error::Write)?;
        let mut removed: BTreeMap<String, JsonlGzWriter> = BTreeMap::new();
        if self.resumed().is_some() {
            carry_over(paths, &self.progress, &mut out, &mut removed)?;
        }
        let progress = &mut self.progress;
        let (mut keep_error, mut drop_error): (Option<std::io::Error>, Option<std::io::Error>) = (None, None);
        let mut interrupted = false;
        let files = progress.files.clone();
        for (i, file) in files.iter().enumerate().skip(progress.files_done) {
            let skip = if i == progress.files_done { progress.pages_done } else { 0 };
            let r = pipeline.run_file(
                file,
                skip,
                stop,
                |doc| {
                    on_page();
                    if let Err(e) = out.write(doc) {
                        keep_error.get_or_insert(e);
                    }
                },
                |stage, reason, doc| {
                    on_page();
                    if !opts.exclusions {
                        return;
                    }
                    let w = match removed.entry(stage.to_string()) {
                        Entry::Occupied(e) => e.into_mut(),
                        Entry::Vacant(e) => match JsonlGzWriter::create(&paths.removed(&partial, stage)) {
                            Ok(w) => e.insert(w),
                            Err(err) => {
                                drop_error.get_or_insert(err);
                                return;
                            }
                        },
                    };
                    if let Err(e) = w.write(&Excluded { doc, filter_stage: stage, filter_reason: reason }) {
                        drop_error.get_or_insert(e);
                    }
                },
            )?;
            if let Some(e) = keep_error.take().or(drop_error.take()) {
                return Err(Error::Write(e));
            }
            progress.stats.merge(&r.stats);
            if !r.finished {
                (progress.files_done, progress.pages_done, interrupted) = (i, r.pages, true);
                break;
            }
            (progress.files_done, progress.pages_done) = (i + 1, 0);
        }
        progress.kept = out.written();
        out.finish().map_err(Error::Write)?;
        for (stage, w) in removed {
            progress.removed.insert(stage, w.written);
            w.finish().map_err(Error::Write)?;
        }
        if interrupted {
            let json = serde_json::to_vec_pretty(&progress).expect("progress serialises");
            minichat_corpus::atomic_write(&paths.progress(), &json)?;
            let p = &self.progress;
            return Ok(Outcome::Stopped { files_done: p.files_done, pages_done: p.pages_done, kept: p.kept });
        }
        publish(paths, progress, opts.parquet)?;
        Ok(Outcome::Finished { stats: std::mem::take(&mut self.progress.stats), kept: self.progress.kept })
    }
}

/// Copies the rows an interrupted run kept into this run's writers (as many as its progress
/// file counted).
fn carry_over(
    paths: &Paths,
    progress: &Progress,
    out: &mut ShardWriter,
    removed: &mut BTreeMap<String, JsonlGzWriter>,
) -> Result<(), Error> {
    let partial = paths.partial();
    let rows = shards::read(&paths.output(&partial, progress.parquet))?;
    for row in rows.into_iter().take(progress.kept as usize) {
        let doc = match row {
            Row::Doc(d) => d,
            Row::Json(v) => serde_json::from_value(v)
                .map_err(|e| Error::Input(format!("a row of the partial output of {}: {e}", partial.display())))?,
        };
        out.write(&doc).map_err(Error::Write)?;
    }
    for (stage, &n) in &progress.removed {
        let path = paths.removed(&partial, stage);
        let rows = shards::read(&path)?;
        let mut w = JsonlGzWriter::create(&path).map_err(Error::Write)?;
        for row in rows.into_iter().take(n as usize) {
            w.write(&row.to_json()).map_err(Error::Write)?;
        }
        removed.insert(stage.clone(), w);
    }
    Ok(())
}

/// Moves a completed rank's shards into place, writes its stats and completion marker, and
/// removes its partial state.
fn publish(paths: &Paths, progress: &Progress, parquet: bool) -> Result<(), Error> {
    let partial = paths.partial();
    let moves = std::iter::once((paths.output(&partial, parquet), paths.output(&paths.out, parquet)))
        .chain(progress.removed.keys().map(|stage| (paths.removed(&partial, stage), paths.removed(&paths.out, stage))));
    for (from, to) in moves {
        std::fs::create_dir_all(to.parent().expect("a folder")).map_err(io(&to))?;
        std::fs::rename(&from, &to).map_err(io(&from))?;
    }
    let stats = serde_json::to_string_pretty(&progress.stats).expect("stats serialise");
    minichat_corpus::atomic_write(&paths.stats(), stats.as_bytes())?;
    minichat_corpus::atomic_write(&paths.marker(), b"")?;
    let _ = std::fs::remove_file(paths.progress());
    Ok(())
}
