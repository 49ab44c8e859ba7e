//! Stage 4: rewrite each shard without its removed documents (same format, same name), and
//! optionally write the removed ones, each naming the document it duplicates.

use super::{records, share, Work};
use minichat_corpus::shards::Row;
use minichat_corpus::writers::{JsonlGzWriter, ParquetWriter};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Documents kept and removed by this task.
#[derive(Debug, Default)]
pub struct Filtered {
    pub kept: u64,
    pub removed: u64,
}

/// Filters this task's shards of `shards` (the list the signatures stage was given) into
/// OUT/output/, and with `exclusions` the removed documents into OUT/removed/dedup/.
pub fn filter(
    shards: &[PathBuf],
    rank: usize,
    world: usize,
    work: &Work,
    exclusions: bool,
) -> Result<Filtered, crate::Error> {
    if work.done("filter", rank, world) {
        return Ok(Filtered::default());
    }
    let manifest = work.shards()?;
    if manifest.len() != shards.len() {
        return Err(crate::Error::Input(format!(
            "{} input shards, but the signatures stage was run on {}; give the same inputs to every stage",
            shards.len(),
            manifest.len()
        )));
    }
    let mut stems = std::collections::HashSet::new();
    for path in shards {
        if !stems.insert(minichat_corpus::format::stem(path)) {
            return Err(crate::Error::Input(format!("{}: two input shards share this name", path.display())));
        }
    }
    let mine: Vec<usize> = share(shards.len(), rank, world).collect();
    let counts = mine
        .par_iter()
        .map(|&s| filter_shard(s, shards, &manifest, work, exclusions))
        .collect::<Result<Vec<Filtered>, _>>()?;
    work.complete("filter", rank, world)?;
    Ok(Filtered { kept: counts.iter().map(|c| c.kept).sum(), removed: counts.iter().map(|c| c.removed).sum() })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn filter_shard(
    s: usize,
    shards: &[PathBuf],
    manifest: &[super::ShardEntry],
    work: &Work,
    exclusions: bool,
) -> Result<Filtered, crate::Error> {
    let path = &shards[s];
    if !same_file(path, &manifest[s].path) {
        return Err(crate::Error::Input(format!(
            "{}: shard {s} of the signatures stage was {}; give the same inputs to every stage",
            path.display(),
            manifest[s].path.display()
        )));
    }
    let removed: HashMap<usize, u64> = records::read_all(&work.removal_file(s), records::REMOVALS)?
        .into_iter()
        .map(|(line, kept)| ((line & !(1 << 63)) as usize, kept))
        .collect();
    let rows = minichat_corpus::shards::read(path)?;
    if rows.len() != manifest[s].documents {
        return Err(crate::Error::Input(format!(
            "{}: {} documents, but {} when its signatures were made; the shard changed",
            path.display(),
            rows.len(),
            manifest[s].documents
        )));
    }
    let io = |e| super::io_error(path, e);
    let stem = minichat_corpus::format::stem(path);
    let out_dir = work.out.join("output");
    let mut out = match minichat_corpus::Format::of(path) {
        minichat_corpus::Format::Parquet => {
            Writer::Parquet(ParquetWriter::create(&out_dir.join(format!("{stem}.parquet"))).map_err(io)?)
        }
        _ => Writer::Jsonl(JsonlGzWriter::create(&out_dir.join(format!("{stem}.jsonl.gz"))).map_err(io)?),
    };
    let mut dropped = match exclusions {
        true => {
            Some(JsonlGzWriter::create(&work.out.join("removed/dedup").join(format!("{stem}.jsonl.gz"))).map_err(io)?)
        }
        false => None,
    };
    let mut counts = Filtered::default();
    for (i, row) in rows.iter().enumerate() {
        match removed.get(&i) {
            None => {
                counts.kept += 1;
                out.write(row).map_err(io)?;
            }
            Some(&kept) => {
                counts.removed += 1;
                if let Some(w) = dropped.as_mut() {
                    let mut v = row.to_json();
                    let shard = &manifest[super::shard_of(kept)].path;
                    v["duplicate_of"] = serde_json::json!({
                        "shard": shard.display().to_string(),
                        "line": super::line_of(kept) + 1,
                    });
                    w.write(&v).map_err(io)?;
                }
            }
        }
    }
    out.finish().map_err(io)?;
    if let Some(w) = dropped {
        w.finish().map_err(io)?;
    }
    Ok(counts)
}

enum Writer {
    Jsonl(JsonlGzWriter),
    Parquet(ParquetWriter),
}

impl Writer {
    fn write(&mut self, row: &Row) -> std::io::Result<()> {
        match (self, row) {
            (Writer::Jsonl(w), Row::Json(v)) => w.write(v),
            (Writer::Jsonl(w), Row::Doc(d)) => w.write(d),
            (Writer::Parquet(w), Row::Doc(d)) => w.write(d),
            (Writer::Parquet(_), Row::Json(_)) => unreachable!("Parquet output is only made from Parquet input"),
        }
    }

    fn finish(self) -> std::io::Result<PathBuf> {
        match self {
            Writer::Jsonl(w) => w.finish(),
            Writer::Parquet(w) => w.finish(),
        }
    }
}
