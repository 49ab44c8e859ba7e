//! Stage 1: per shard, its documents' band keys, one sorted file per band.

use super::{doc_ref, records, share, ShardEntry, Work, EXACT_BAND};
use crate::minhash::MinHash;
use rayon::prelude::*;
use std::path::PathBuf;

/// Computes the signatures of this task's shards of `shards` (the whole run's list, in its
/// order: a shard's index is its place in it). Returns the documents it read.
pub fn signatures(
    shards: &[PathBuf],
    rank: usize,
    world: usize,
    minhash: &MinHash,
    work: &Work,
) -> Result<usize, crate::Error> {
    if work.done("signatures", rank, world) {
        return Ok(0);
    }
    if shards.len() >= 1 << 31 {
        return Err(crate::Error::Input(format!("{} shards: at most 2^31 are supported", shards.len())));
    }
    let mine: Vec<usize> = share(shards.len(), rank, world).collect();
    let docs =
        mine.par_iter().map(|&s| shard_signatures(s, shards, minhash, work)).collect::<Result<Vec<usize>, _>>()?;
    work.complete("signatures", rank, world)?;
    Ok(docs.iter().sum())
}

fn shard_signatures(s: usize, shards: &[PathBuf], minhash: &MinHash, work: &Work) -> Result<usize, crate::Error> {
    let path = &shards[s];
    let rows = minichat_corpus::shards::read(path)?;
    if rows.len() > u32::MAX as usize {
        return Err(crate::Error::Input(format!("{}: more than 2^32 documents in one shard", path.display())));
    }
    let keys: Vec<(u64, Option<[u64; crate::minhash::BANDS]>)> = rows
        .par_iter()
        .map(|r| (twox_hash::XxHash64::oneshot(0, r.text().as_bytes()), minhash.band_keys(r.text())))
        .collect();
    for band in 0..super::BANDS {
        let mut recs: Vec<records::Record> = keys
            .iter()
            .enumerate()
            .filter_map(|(i, (exact, bands))| {
                let key = if band == EXACT_BAND { Some(*exact) } else { bands.map(|k| k[band]) };
                key.map(|k| (k, doc_ref(s, i)))
            })
            .collect();
        recs.sort_unstable();
        records::write(&work.signature_file(band, s), records::SIGNATURES, &recs)?;
    }
    let entry = ShardEntry { index: s, of: shards.len(), path: path.clone(), documents: rows.len() };
    let json = serde_json::to_vec_pretty(&entry).expect("a manifest entry serializes");
    super::write_atomic(&work.manifest(s), &json)?;
    Ok(rows.len())
}
