//! Phase 1 of training: pre-tokenize the corpus and count each distinct piece.
//!
//! BPE never merges across piece boundaries, so the corpus reduces to a multiset of pieces
//! (a few hundred thousand distinct ones for tens of MB of text). Batches of documents are
//! split and counted in parallel, one hash map per rayon task, then folded into the global map,
//! so memory is one batch plus the distinct pieces.

use crate::pretokenize::Pretokenizer;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Distinct pieces and how often each occurs.
#[derive(Default)]
pub struct PieceCounts {
    pub counts: FxHashMap<Box<[u8]>, u64>,
    /// Total pieces seen (with repetition).
    pub pieces: u64,
}

impl PieceCounts {
    /// Splits and counts a batch of documents in parallel, each truncated to `max_chars` chars.
    pub fn add_batch(&mut self, pretokenizer: &Pretokenizer, docs: &[String], max_chars: Option<usize>) {
        let batch = docs
            .par_iter()
            .with_min_len(8)
            .fold(
                || (FxHashMap::<&[u8], u64>::default(), 0u64),
                |(mut map, mut n), doc| {
                    let doc = max_chars.map_or(doc.as_str(), |m| truncate_chars(doc, m));
                    pretokenizer.split(doc, |piece| {
                        *map.entry(piece.as_bytes()).or_insert(0) += 1;
                        n += 1;
                    });
                    (map, n)
                },
            )
            .reduce(
                || (FxHashMap::default(), 0),
                |(mut a, na), (b, nb)| {
                    let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, std::mem::take(&mut a)) };
                    for (k, v) in small {
                        *big.entry(k).or_insert(0) += v;
                    }
                    (big, na + nb)
                },
            );
        self.pieces += batch.1;
        for (piece, n) in batch.0 {
            match self.counts.get_mut(piece) {
                Some(c) => *c += n,
                None => {
                    self.counts.insert(piece.into(), n);
                }
            }
        }
    }
}

/// Truncates `text` to at most `max_chars` chars (nanochat's `doc_text[:doc_cap]`).
fn truncate_chars(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
