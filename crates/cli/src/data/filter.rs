//! `minichat data filter`: the chain's stages after extraction (URL filter, language, the
//! quality filters, PII), any of them alone, over document shards instead of WARC files.

use anyhow::{bail, Context, Result};
use clap::Args;
use minichat_data::output::{JsonlGzWriter, ParquetWriter};
use minichat_data::pipeline::{Doc, Pipeline, RunStats, StageStats};
use minichat_data::shards::{Format, Row};
use minichat_data::stats::Counts;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct FilterArgs {
    /// Document shards (*.jsonl.gz, *.jsonl, *.parquet) with a `text` column, or folders of them.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder: OUT/output/NAME (each shard's kept documents, same format and columns),
    /// OUT/stats/filter-RANK.json, OUT/removed/STAGE/NAME.jsonl.gz with --exclusions.
    #[arg(short, long)]
    output: PathBuf,
    /// Stages to run, comma-separated, always in the chain's order: url_filter, language,
    /// gopher_repetition, gopher_quality, c4_quality, fineweb_quality, pii (default: all).
    #[arg(long, value_delimiter = ',')]
    stages: Vec<String>,
    /// A fastText language-identification model (as for `data run`); default: whatlang.
    #[arg(long)]
    lid_model: Option<PathBuf>,
    /// URL lists folder (as for `data run`); default: minichat's built-in lists.
    #[arg(long)]
    url_lists: Option<PathBuf>,
    /// Also write dropped documents, with their stage and reason, to OUT/removed/STAGE/.
    #[arg(long)]
    exclusions: bool,
    /// This task's rank: it takes shards rank, rank + world size, ... (default:
    /// $SLURM_ARRAY_TASK_ID, else 0).
    #[arg(long)]
    rank: Option<usize>,
    /// Number of tasks (default: $SLURM_ARRAY_TASK_COUNT, else 1).
    #[arg(long)]
    world_size: Option<usize>,
}

/// A shard's row as a document (missing columns empty).
fn doc_of(row: &Row) -> Doc {
    match row {
        Row::Doc(d) => d.clone(),
        Row::Json(_) => {
            let s = |k: &str| row.field(k).unwrap_or_default().to_string();
            Doc { text: s("text"), id: s("id"), url: s("url"), dump: s("dump"), date: s("date"), ..Doc::default() }
        }
    }
}

/// The row to write for a kept document: a JSON row keeps its other columns.
fn kept_row(row: Row, doc: &Doc, ran: &[bool], pipeline: &Pipeline) -> Row {
    match row {
        Row::Doc(_) => Row::Doc(doc.clone()),
        Row::Json(mut v) => {
            v["text"] = doc.text.clone().into();
            if ran[2] {
                v["language"] = doc.language.clone().into();
                v["language_score"] = doc.language_score.into();
            }
            if ran[pipeline.stage_names().len() - 1] {
                v["token_count"] = doc.token_count.into();
            }
            Row::Json(v)
        }
    }
}

pub fn filter(a: FilterArgs) -> Result<()> {
    let (rank, world) = super::rank_and_world(a.rank, a.world_size)?;
    let shards = super::files_in(&a.inputs, &minichat_data::shards::ENDINGS, "document shards")?;
    let mut pipeline = Pipeline::fineweb("");
    if let Some(dir) = &a.url_lists {
        pipeline.url_filter = minichat_data::url_filter::UrlFilter::from_dir(dir)?;
    }
    if let Some(path) = &a.lid_model {
        pipeline.lid = minichat_data::lid::Lid::FastText(Box::new(minichat_data::fasttext::Model::load(path)?));
    }
    let names = pipeline.stage_names();
    let ran: Vec<bool> =
        names.iter().map(|n| *n != "extract" && (a.stages.is_empty() || a.stages.iter().any(|s| s == n))).collect();
    for s in &a.stages {
        if s == "extract" || !names.contains(&s.as_str()) {
            bail!(
                "--stages: no stage {s:?} (stages: {})",
                names.iter().filter(|n| **n != "extract").copied().collect::<Vec<_>>().join(", ")
            );
        }
    }
    let mut stems = std::collections::HashSet::new();
    if let Some(dup) = shards.iter().find(|p| !stems.insert(minichat_data::shards::stem(p))) {
        bail!("{}: two input shards share this name, and outputs are named after their input", dup.display());
    }
    let marker = a.output.join("completions").join(format!("filter-{rank:05}"));
    if marker.exists() {
        eprintln!("filter rank {rank} of {world} already completed ({}); nothing to do", marker.display());
        return Ok(());
    }
    let mut stats = RunStats {
        files: 0,
        reader: Counts::default(),
        stages: names.iter().map(|n| StageStats { name: n.to_string(), ..Default::default() }).collect(),
    };
    let mut kept_total = 0;
    for path in shards.iter().skip(rank).step_by(world) {
        let (kept, s) = filter_shard(path, &pipeline, &ran, &a)?;
        stats.merge(&s);
        kept_total += kept;
    }
    stats.stages.retain(|s| ran[names.iter().position(|n| *n == s.name).expect("a stage")]);
    minichat_tokenizer::atomic_write(
        &a.output.join("stats").join(format!("filter-{rank:05}.json")),
        serde_json::to_string_pretty(&stats)?.as_bytes(),
    )?;
    minichat_tokenizer::atomic_write(&marker, b"")?;
    println!("{} shards, {} documents -> {kept_total} kept", stats.files, stats.reader.get("documents"));
    super::run::print_stages(&stats);
    Ok(())
}

/// One document after the stages: the row, the document, the stage and reason that dropped
/// it, PII replaced, and seconds per stage.
struct Outcome {
    row: Row,
    doc: Doc,
    result: Result<(), (usize, &'static str)>,
    pii: Counts,
    seconds: Vec<f64>,
}

/// Filters one shard; returns the documents kept and the counts.
fn filter_shard(path: &Path, pipeline: &Pipeline, ran: &[bool], a: &FilterArgs) -> Result<(u64, RunStats)> {
    let names = pipeline.stage_names();
    let rows = minichat_data::shards::read(path)?;
    let results: Vec<Outcome> = rows
        .into_par_iter()
        .map(|row| {
            let mut doc = doc_of(&row);
            let mut pii = Counts::default();
            let mut seconds = vec![0.0; names.len()];
            let result = (0..names.len()).filter(|&s| ran[s]).try_for_each(|s| {
                let clock = std::time::Instant::now();
                let r = pipeline.text_stage(s, &mut doc, &mut pii).map_err(|reason| (s, reason));
                seconds[s] = clock.elapsed().as_secs_f64();
                r
            });
            Outcome { row, doc, result, pii, seconds }
        })
        .collect();
    let mut stats = RunStats {
        files: 1,
        reader: Counts::default(),
        stages: names.iter().map(|n| StageStats { name: n.to_string(), ..Default::default() }).collect(),
    };
    stats.reader.add("documents", results.len() as u64);
    let stem = minichat_data::shards::stem(path);
    let out_dir = a.output.join("output");
    let parquet = Format::of(path) == Format::Parquet;
    let (mut jsonl, mut pq) = match parquet {
        true => (None, Some(ParquetWriter::create(&out_dir.join(format!("{stem}.parquet")))?)),
        false => (Some(JsonlGzWriter::create(&out_dir.join(format!("{stem}.jsonl.gz")))?), None),
    };
    let mut removed: std::collections::BTreeMap<&str, JsonlGzWriter> = Default::default();
    let mut kept = 0;
    for Outcome { row, doc, result, pii, seconds } in results {
        stats.stages.last_mut().expect("the pii stage").changed.merge(&pii);
        for (stage, t) in stats.stages.iter_mut().zip(seconds) {
            stage.seconds += t;
        }
        let reached = result.map_or_else(|(s, _)| s, |_| names.len());
        for s in (0..reached).filter(|&s| ran[s]) {
            stats.stages[s].docs_in += 1;
            stats.stages[s].docs_out += 1;
        }
        match result {
            Ok(()) => {
                kept += 1;
                match kept_row(row, &doc, ran, pipeline) {
                    Row::Json(v) => jsonl.as_mut().expect("JSONL input, JSONL output").write(&v)?,
                    Row::Doc(d) => pq.as_mut().expect("Parquet input, Parquet output").write(&d)?,
                }
            }
            Err((s, reason)) => {
                stats.stages[s].docs_in += 1;
                stats.stages[s].dropped.inc(reason);
                if a.exclusions {
                    let w = match removed.entry(names[s]) {
                        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::btree_map::Entry::Vacant(e) => e.insert(JsonlGzWriter::create(
                            &a.output.join("removed").join(names[s]).join(format!("{stem}.jsonl.gz")),
                        )?),
                    };
                    let mut v = row.to_json();
                    v["filter_stage"] = names[s].into();
                    v["filter_reason"] = reason.into();
                    w.write(&v)?;
                }
            }
        }
    }
    if let Some(w) = jsonl {
        w.finish().with_context(|| format!("finishing the output of {}", path.display()))?;
    }
    if let Some(w) = pq {
        w.finish().with_context(|| format!("finishing the output of {}", path.display()))?;
    }
    for (_, w) in removed {
        w.finish()?;
    }
    Ok((kept, stats))
}
