//! Deduplication over document shards: exact duplicates (same text, by a 64-bit hash) and near
//! duplicates (MinHash bands, `minhash`), as four file-based stages in the manner of datatrove's
//! `MinhashDedup*` blocks, each of which runs as many independent tasks (`rank` of `world`):
//!
//! 1. `signatures`: per input shard, one sorted file of (key, document) per band, plus the
//!    exact-text hash as one more band; a task takes shards `rank, rank + world, ...`.
//! 2. `buckets`: per band and key range, a merge of every shard's sorted file that writes
//!    each equal-key run as pairs (first document, other document); `world` tasks split the
//!    15 bands and, past 15 tasks, their key ranges.
//! 3. `clusters`: union-find over the pairs (only documents that have a duplicate take memory),
//!    keeping each cluster's first document in shard and line order, so the result does not
//!    depend on how the work was split; one removal list per shard.
//! 4. `filter`: per input shard, the documents not removed (same format, same name), and
//!    optionally the removed ones with the document they duplicate.
//!
//! Intermediate files live under `OUT/work/`; each is written whole to a temporary name and
//! renamed, starts with a magic number and is checked for length when read, so a rerun after
//! a crash never reads a half-written file. A task writes a completion marker and a relaunched
//! task that finds its marker does nothing.

mod buckets;
mod clusters;
mod filter;
mod records;
mod signatures;

pub use buckets::buckets;
pub use clusters::{clusters, Found};
pub use filter::{filter, Filtered};
pub use signatures::signatures;

use std::path::{Path, PathBuf};

/// Bands of the index: MinHash's 14, then the exact-text hash.
pub const BANDS: usize = crate::minhash::BANDS + 1;
/// The band that holds the hash of the whole text.
pub const EXACT_BAND: usize = crate::minhash::BANDS;

/// A document's place, packed: shard index in the high 32 bits, line (row) in the low 32.
pub type DocRef = u64;

pub fn doc_ref(shard: usize, line: usize) -> DocRef {
    ((shard as u64) << 32) | line as u64
}

pub fn shard_of(d: DocRef) -> usize {
    (d >> 32) as usize
}

pub fn line_of(d: DocRef) -> usize {
    (d & 0xffff_ffff) as usize
}

/// The folders of a deduplication run under its output folder.
#[derive(Clone, Debug)]
pub struct Work {
    pub out: PathBuf,
}

impl Work {
    pub fn new(out: &Path) -> Work {
        Work { out: out.to_path_buf() }
    }

    fn dir(&self) -> PathBuf {
        self.out.join("work")
    }

    /// Shard `s`'s entry in the manifest (its path and number of documents).
    fn manifest(&self, shard: usize) -> PathBuf {
        self.dir().join("shards").join(format!("{shard:05}.json"))
    }

    fn signature_file(&self, band: usize, shard: usize) -> PathBuf {
        self.dir().join("signatures").join(format!("{band:02}")).join(format!("{shard:05}.sig"))
    }

    fn pairs_dir(&self) -> PathBuf {
        self.dir().join("pairs")
    }

    fn removal_file(&self, shard: usize) -> PathBuf {
        self.dir().join("removals").join(format!("{shard:05}.rm"))
    }

    fn marker(&self, stage: &str, rank: usize, world: usize) -> PathBuf {
        self.dir().join("completions").join(stage).join(format!("{rank:05}-of-{world:05}"))
    }

    /// True (and a note on stderr) when this task already completed.
    fn done(&self, stage: &str, rank: usize, world: usize) -> bool {
        let marker = self.marker(stage, rank, world);
        let done = marker.exists();
        if done {
            eprintln!("dedup {stage}: task {rank} of {world} already completed ({})", marker.display());
        }
        done
    }

    fn complete(&self, stage: &str, rank: usize, world: usize) -> Result<(), crate::Error> {
        write_atomic(&self.marker(stage, rank, world), b"")
    }

    /// The manifest the signature tasks wrote: every shard's path and document count, which
    /// must be complete (all shards 0..n present).
    pub fn shards(&self) -> Result<Vec<ShardEntry>, crate::Error> {
        let dir = self.dir().join("shards");
        let names = match std::fs::read_dir(&dir) {
            Ok(entries) => entries.filter_map(|e| e.ok()).filter(|e| e.path().extension().is_some_and(|x| x == "json")),
            Err(_) => {
                return Err(crate::Error::Input(format!(
                    "{}: no shard manifest; run the signatures stage first",
                    dir.display()
                )))
            }
        };
        let mut entries: Vec<ShardEntry> = Vec::new();
        for e in names {
            let bytes = std::fs::read(e.path()).map_err(|source| io_error(&e.path(), source))?;
            let entry: ShardEntry = serde_json::from_slice(&bytes)
                .map_err(|err| crate::Error::Input(format!("{}: {err}", e.path().display())))?;
            entries.push(entry);
        }
        entries.sort_by_key(|e| e.index);
        let total = entries.first().map_or(0, |e| e.of);
        let complete = entries.len() == total && entries.iter().enumerate().all(|(i, e)| e.index == i && e.of == total);
        if !complete || total == 0 {
            return Err(crate::Error::Input(format!(
                "{}: {} of {total} shards have signatures; finish every signatures task first",
                dir.display(),
                entries.len()
            )));
        }
        Ok(entries)
    }
}

/// A shard of the run, as the manifest records it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ShardEntry {
    pub index: usize,
    /// Shards in the whole run.
    pub of: usize,
    pub path: PathBuf,
    pub documents: usize,
}

fn io_error(path: &Path, source: std::io::Error) -> crate::Error {
    crate::Error::Io { path: path.display().to_string(), source }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), crate::Error> {
    minichat_corpus::atomic_write(path, bytes).map_err(crate::Error::from)
}

/// Every stage in this process, as one task: what `minichat data dedup` does by default.
pub fn all(
    shards: &[PathBuf],
    minhash: &crate::minhash::MinHash,
    work: &Work,
    exclusions: bool,
) -> Result<(Option<Found>, Filtered), crate::Error> {
    signatures(shards, 0, 1, minhash, work)?;
    buckets(work, 0, 1)?;
    let found = clusters(work)?;
    Ok((found, filter(shards, 0, 1, work, exclusions)?))
}

/// This task's share of `n` items: `rank, rank + world, ...`.
fn share(n: usize, rank: usize, world: usize) -> impl Iterator<Item = usize> {
    (rank..n).step_by(world.max(1))
}

#[cfg(test)]
mod tests;
