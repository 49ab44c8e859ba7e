//! Training a byte-level BPE vocabulary from text.
//!
//! Two phases: `count` streams the corpus through the pre-tokenizer (parallel over cores) into
//! counts of distinct pieces; `merge` learns the merges. Ranks are the 256 bytes (rank = byte
//! value), then one token per merge in order, then the special tokens at the end of the
//! vocabulary. The result encodes with tiktoken's rule (lowest-rank pair first), like nanochat's
//! rustbpe + tiktoken pairing. Same input and settings give the same merges.

mod count;
mod merge;

pub use count::PieceCounts;

use crate::pretokenize::Pretokenizer;
use crate::{Error, Tokenizer};
use std::time::Instant;

/// What to train.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Total vocabulary size, special tokens included (the model's embedding size).
    pub vocab_size: usize,
    /// Split pattern: preset name or regex.
    pub pattern: String,
    /// Special tokens, appended after the merges.
    pub special_tokens: Vec<String>,
    /// Each document is truncated to this many chars (nanochat uses 10,000).
    pub max_doc_chars: Option<usize>,
    /// Name recorded in the tokenizer file.
    pub name: String,
    /// Every run of digits the pattern can cut (1 to 3 for GPT-4's and o200k's, 1 to 2 for
    /// nanochat's) is one token, ranked before the learned merges, as in cl100k_base: a number
    /// is then always cut the same way ("380" one token, not "38" "0" beside "3" "81"), which
    /// a small model needs to copy numbers exactly.
    pub number_tokens: bool,
}

/// Numbers from one training run.
#[derive(Clone, Debug, Default)]
pub struct TrainReport {
    pub pieces: u64,
    pub distinct_pieces: usize,
    pub merges: usize,
    pub count_seconds: f64,
    pub merge_seconds: f64,
}

/// Streaming trainer: feed batches of documents, then `finish`.
pub struct Trainer {
    config: TrainConfig,
    pretokenizer: Pretokenizer,
    counts: PieceCounts,
    started: Instant,
}

impl Trainer {
    pub fn new(config: TrainConfig) -> Result<Trainer, Error> {
        let min = 256 + config.special_tokens.len();
        if config.vocab_size < min {
            return Err(Error::Invalid(format!(
                "vocab size {} is too small: 256 byte tokens + {} special tokens need at least {min}",
                config.vocab_size,
                config.special_tokens.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = config.special_tokens.iter().find(|t| !seen.insert(*t)) {
            return Err(Error::Invalid(format!("special token {dup} is listed twice")));
        }
        let pretokenizer = Pretokenizer::new(&config.pattern)?;
        if config.number_tokens && pretokenizer.max_digits().is_none() {
            return Err(Error::Invalid(format!(
                "number tokens need a split pattern that cuts digit runs to a bounded length (gpt4, o200k, nanochat), not {}",
                config.pattern
            )));
        }
        Ok(Trainer { pretokenizer, config, counts: PieceCounts::default(), started: Instant::now() })
    }

    /// Counts the pieces of a batch of documents (parallel over the rayon pool).
    pub fn add_documents(&mut self, docs: &[String]) {
        self.counts.add_batch(&self.pretokenizer, docs, self.config.max_doc_chars);
    }

    /// Number of distinct pieces counted so far.
    pub fn distinct_pieces(&self) -> usize {
        self.counts.counts.len()
    }

    /// Learns the merges and builds the tokenizer. `on_merge(done, total)` reports progress.
    pub fn finish(self, mut on_merge: impl FnMut(usize, usize)) -> Result<(Tokenizer, TrainReport), Error> {
        let count_seconds = self.started.elapsed().as_secs_f64();
        let t = Instant::now();
        let n_merges = self.config.vocab_size - 256 - self.config.special_tokens.len();
        let mut report = TrainReport {
            pieces: self.counts.pieces,
            distinct_pieces: self.counts.counts.len(),
            count_seconds,
            ..TrainReport::default()
        };
        // Sorted so that word indices, and with them every tie, are independent of hashing.
        let mut words: Vec<(Box<[u8]>, u64)> = self.counts.counts.into_iter().filter(|(w, _)| w.len() > 1).collect();
        words.sort_unstable();
        let forced = match self.config.number_tokens {
            true => number_merges(self.pretokenizer.max_digits().unwrap_or(1)),
            false => Vec::new(),
        };
        if forced.len() > n_merges {
            return Err(Error::Invalid(format!(
                "vocab size {} leaves {n_merges} merges, fewer than the {} number tokens",
                self.config.vocab_size,
                forced.len()
            )));
        }
        let merges = merge::learn_merges(words, n_merges, &forced, |done| on_merge(done, n_merges));
        report.merges = merges.len();
        report.merge_seconds = t.elapsed().as_secs_f64();

        let mut ranks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        for &(a, b) in &merges {
            let mut bytes = ranks[a as usize].0.clone();
            bytes.extend_from_slice(&ranks[b as usize].0);
            let rank = ranks.len() as u32;
            ranks.push((bytes, rank));
        }
        let first_special = ranks.len() as u32;
        let special = self.config.special_tokens.iter().enumerate().map(|(i, s)| (s.clone(), first_special + i as u32));
        let tok = Tokenizer::new(&self.config.name, &ranks, self.pretokenizer.pattern(), special)?;
        Ok((tok, report))
    }
}

/// The merges that make every string of 2 to `max_digits` ASCII digits a token: all of length
/// 2 (each of two digit bytes), then all of length 3 (each of its first two digits' token and
/// its last digit), and so on; token `256 + i` is merge `i`.
fn number_merges(max_digits: usize) -> Vec<(u32, u32)> {
    let mut merges = Vec::new();
    // The tokens of the previous length, in order: the digits themselves first.
    let mut previous: Vec<u32> = (b'0'..=b'9').map(u32::from).collect();
    for _ in 2..=max_digits {
        let first = 256 + merges.len() as u32;
        merges.extend(previous.iter().flat_map(|&p| (b'0'..=b'9').map(move |d| (p, d as u32))));
        previous = (first..256 + merges.len() as u32).collect();
    }
    merges
}
