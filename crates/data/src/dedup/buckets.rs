//! Stage 2: per band and key range, merge every shard's sorted signature file; each run of
//! equal keys becomes pairs (first document, other document).

use super::{records, share, Work, BANDS};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Work units of a run with `world` tasks: every band, its key space cut into `parts` ranges
/// so that each task has at least one unit.
fn parts(world: usize) -> usize {
    world.div_ceil(BANDS).max(1)
}

/// The name of a unit's pairs file; the parts count is in it so that the clusters stage can
/// tell a complete set from leftovers of a run with another task count.
pub(super) fn pairs_name(band: usize, part: usize, parts: usize) -> String {
    format!("{band:02}-{part:04}-of-{parts:04}.pairs")
}

/// Finds the candidate pairs of this task's units. Returns the pairs written.
pub fn buckets(work: &Work, rank: usize, world: usize) -> Result<u64, crate::Error> {
    if work.done("buckets", rank, world) {
        return Ok(0);
    }
    let shards = work.shards()?.len();
    let parts = parts(world);
    let units: Vec<usize> = share(BANDS * parts, rank, world).collect();
    let written = units
        .par_iter()
        .map(|&u| unit_pairs(work, shards, u % BANDS, u / BANDS, parts))
        .collect::<Result<Vec<u64>, _>>()?;
    work.complete("buckets", rank, world)?;
    Ok(written.iter().sum())
}

/// Merges band `band`'s keys in range `part` of `parts` over all shards.
fn unit_pairs(work: &Work, shards: usize, band: usize, part: usize, parts: usize) -> Result<u64, crate::Error> {
    let bound = |p: usize| ((p as u128) << 64) / parts as u128;
    let (lo, hi) = (bound(part) as u64, bound(part + 1));
    let mut readers = Vec::with_capacity(shards);
    let mut heap = BinaryHeap::new();
    for s in 0..shards {
        let mut r = records::Reader::open(&work.signature_file(band, s), records::SIGNATURES)?;
        r.seek_to(lo)?;
        if let Some(rec) = r.next()?.filter(|&(k, _)| (k as u128) < hi) {
            heap.push(Reverse((rec, readers.len())));
        }
        readers.push(r);
    }
    let mut pairs: Vec<records::Record> = Vec::new();
    let mut run: Option<(u64, u64)> = None; // (key, first document)
    while let Some(Reverse(((key, doc), i))) = heap.pop() {
        match run {
            Some((k, first)) if k == key => pairs.push((first, doc)),
            _ => run = Some((key, doc)),
        }
        if let Some(rec) = readers[i].next()?.filter(|&(k, _)| (k as u128) < hi) {
            heap.push(Reverse((rec, i)));
        }
    }
    let path = work.pairs_dir().join(pairs_name(band, part, parts));
    records::write(&path, records::PAIRS, &pairs)?;
    Ok(pairs.len() as u64)
}
