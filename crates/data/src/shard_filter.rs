//! The chain's stages after extraction (URL filter, language, the quality filters, PII), any of
//! them alone, over document shards instead of WARC files (`data filter`): each stage can be
//! rerun or tried on its own output, as datatrove's blocks can.
//!
//! ```text
//! OUT/output/NAME.jsonl.gz (or .parquet)    each shard's kept documents, in its own format,
//!                                           other columns kept (JSON rows)
//! OUT/removed/STAGE/NAME.jsonl.gz           with exclusions: the dropped rows and the reason
//! OUT/stats/filter-RANK.json                per chosen stage: in, out, dropped, seconds
//! OUT/completions/filter-RANK               written last: a completed rank is skipped
//! ```
//!
//! Rank `r` of `world` takes shards `r, r + world, ...`; outputs are named after their input,
//! so two inputs may not share a name.

use crate::pipeline::{Doc, Pipeline, RunStats, Stage, StageStats};
use crate::stats::Counts;
use crate::Error;
use minichat_corpus::format::stem;
use minichat_corpus::shards::{self, Row};
use minichat_corpus::writers::{JsonlGzWriter, ParquetWriter};
use minichat_corpus::Format;
use rayon::prelude::*;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which stages, where to, and which part of the work.
#[derive(Clone, Debug)]
pub struct Options {
    pub out: PathBuf,
    /// The stages to run, in the chain's order whatever the order here.
    pub stages: Vec<Stage>,
    /// Also write the dropped rows with their stage and reason.
    pub exclusions: bool,
    pub rank: usize,
    pub world: usize,
}

/// How a filter rank ended.
pub enum Outcome {
    /// It completed before (its marker is there): nothing done.
    Completed(PathBuf),
    /// The counts of the chosen stages and the documents kept.
    Done { stats: RunStats, kept: u64 },
}

/// The stages named (all text stages when none is): an unknown name, or extraction (which
/// needs HTML), is an error listing the stages.
pub fn stages_named(pipeline: &Pipeline, names: &[String]) -> Result<Vec<Stage>, Error> {
    let text_stages: Vec<Stage> = pipeline.stages().into_iter().filter(|&s| s != Stage::Extract).collect();
    if names.is_empty() {
        return Ok(text_stages);
    }
    names
        .iter()
        .map(|n| {
            pipeline.stage(n).filter(|s| text_stages.contains(s)).ok_or_else(|| {
                let known: Vec<&str> = text_stages.iter().map(|&s| pipeline.name(s)).collect();
                Error::Input(format!("no stage {n:?} (stages: {})", known.join(", ")))
            })
        })
        .collect()
}

/// Runs the chosen stages over this rank's shards.
pub fn filter(pipeline: &Pipeline, shards: &[PathBuf], opts: &Options) -> Result<Outcome, Error> {
    if opts.world == 0 || opts.rank >= opts.world {
        return Err(Error::Input(format!("rank {} must be below the world size {}", opts.rank, opts.world)));
    }
    let mut stems = std::collections::HashSet::new();
    if let Some(dup) = shards.iter().find(|p| !stems.insert(stem(p))) {
        return Err(Error::Input(format!(
            "{}: two input shards share this name, and outputs are named after their input",
            dup.display()
        )));
    }
    let marker = opts.out.join("completions").join(format!("filter-{:05}", opts.rank));
    if marker.exists() {
        return Ok(Outcome::Completed(marker));
    }
    let mut stats = empty_stats(pipeline, 0);
    let mut kept = 0;
    for path in shards.iter().skip(opts.rank).step_by(opts.world) {
        let (k, s) = filter_shard(path, pipeline, opts)?;
        stats.merge(&s);
        kept += k;
    }
    stats.stages.retain(|s| opts.stages.iter().any(|&c| pipeline.name(c) == s.name));
    let json = serde_json::to_string_pretty(&stats).expect("stats serialise");
    minichat_corpus::atomic_write(
        &opts.out.join("stats").join(format!("filter-{:05}.json", opts.rank)),
        json.as_bytes(),
    )?;
    minichat_corpus::atomic_write(&marker, b"")?;
    Ok(Outcome::Done { stats, kept })
}

fn empty_stats(pipeline: &Pipeline, files: u64) -> RunStats {
    let stages = pipeline.stage_names().into_iter().map(|n| StageStats { name: n.to_string(), ..Default::default() });
    RunStats { files, reader: Counts::default(), stages: stages.collect() }
}

/// The row to write for a kept document: a JSON row keeps its other columns and gets the
/// columns the stages set.
fn kept_row(row: Row, doc: &Doc, stages: &[Stage]) -> Row {
    match row {
        Row::Doc(_) => Row::Doc(doc.clone()),
        Row::Json(mut v) => {
            v["text"] = doc.text.clone().into();
            if stages.contains(&Stage::Language) {
                v["language"] = doc.language.clone().into();
                v["language_score"] = doc.language_score.into();
            }
            if stages.contains(&Stage::Pii) {
                v["token_count"] = doc.token_count.into();
            }
            Row::Json(v)
        }
    }
}

/// One row after the stages: the row, the document, the stage and reason that dropped it,
/// PII replaced, and seconds per stage.
struct Filtered {
    row: Row,
    doc: Doc,
    result: Result<(), (Stage, &'static str)>,
    pii: Counts,
    seconds: Vec<f64>,
}

/// Filters one shard; returns the documents kept and the counts.
fn filter_shard(path: &Path, pipeline: &Pipeline, opts: &Options) -> Result<(u64, RunStats), Error> {
    let order = pipeline.stages();
    let chosen: Vec<Stage> = order.iter().copied().filter(|s| opts.stages.contains(s)).collect();
    let results: Vec<Filtered> = shards::read(path)?
        .into_par_iter()
        .map(|row| {
            let mut doc = row.to_doc();
            let mut pii = Counts::default();
            let mut seconds = vec![0.0; order.len()];
            let result = chosen.iter().try_for_each(|&s| {
                let clock = std::time::Instant::now();
                let r = pipeline.text_stage(s, &mut doc, &mut pii).map_err(|reason| (s, reason));
                seconds[pipeline.index(s)] = clock.elapsed().as_secs_f64();
                r
            });
            Filtered { row, doc, result, pii, seconds }
        })
        .collect();
    let mut stats = empty_stats(pipeline, 1);
    stats.reader.add("documents", results.len() as u64);
    let name = stem(path);
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| Error::Io { path: p.clone(), source }
    };
    let out = opts.out.join("output");
    let (mut jsonl, mut parquet) = match Format::of(path) {
        Format::Parquet => {
            let dst = out.join(format!("{name}.parquet"));
            (None, Some(ParquetWriter::create(&dst).map_err(io(&dst))?))
        }
        _ => {
            let dst = out.join(format!("{name}.jsonl.gz"));
            (Some(JsonlGzWriter::create(&dst).map_err(io(&dst))?), None)
        }
    };
    let mut removed: BTreeMap<&str, JsonlGzWriter> = BTreeMap::new();
    let mut kept = 0;
    for Filtered { row, doc, result, pii, seconds } in results {
        stats.stages.last_mut().expect("the pii stage").changed.merge(&pii);
        for (stage, t) in stats.stages.iter_mut().zip(seconds) {
            stage.seconds += t;
        }
        let reached = result.map_or_else(|(s, _)| pipeline.index(s), |_| order.len());
        for s in chosen.iter().map(|&s| pipeline.index(s)).filter(|&i| i < reached) {
            stats.stages[s].docs_in += 1;
            stats.stages[s].docs_out += 1;
        }
        match result {
            Ok(()) => {
                kept += 1;
                match kept_row(row, &doc, &chosen) {
                    Row::Json(v) => jsonl.as_mut().expect("JSONL input, JSONL output").write(&v).map_err(io(&out))?,
                    Row::Doc(d) => {
                        parquet.as_mut().expect("Parquet input, Parquet output").write(&d).map_err(io(&out))?
                    }
                }
            }
            Err((s, reason)) => {
                let (i, stage) = (pipeline.index(s), pipeline.name(s));
                stats.stages[i].docs_in += 1;
                stats.stages[i].dropped.inc(reason);
                if opts.exclusions {
                    let dst = opts.out.join("removed").join(stage).join(format!("{name}.jsonl.gz"));
                    let w = match removed.entry(stage) {
                        Entry::Occupied(e) => e.into_mut(),
                        Entry::Vacant(e) => e.insert(JsonlGzWriter::create(&dst).map_err(io(&dst))?),
                    };
                    let mut v = row.to_json();
                    v["filter_stage"] = stage.into();
                    v["filter_reason"] = reason.into();
                    w.write(&v).map_err(io(&dst))?;
                }
            }
        }
    }
    if let Some(w) = jsonl {
        w.finish().map_err(io(path))?;
    }
    if let Some(w) = parquet {
        w.finish().map_err(io(path))?;
    }
    for (_, w) in removed {
        w.finish().map_err(io(&opts.out))?;
    }
    Ok((kept, stats))
}
