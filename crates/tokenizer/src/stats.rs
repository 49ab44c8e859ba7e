//! Compression statistics: how many bytes of text each token carries on a corpus.

use crate::Tokenizer;
use rayon::prelude::*;

/// Totals for one tokenizer over a corpus.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Compression {
    pub documents: u64,
    pub bytes: u64,
    pub tokens: u64,
}

impl Compression {
    /// Adds a batch of documents (encoded in parallel, `encode_ordinary`).
    pub fn add(&mut self, tok: &Tokenizer, docs: &[String]) {
        let tokens: usize = docs.par_iter().map(|d| tok.count(d)).sum();
        self.documents += docs.len() as u64;
        self.bytes += docs.iter().map(|d| d.len() as u64).sum::<u64>();
        self.tokens += tokens as u64;
    }

    /// Bytes per token (0 for an empty corpus).
    pub fn bytes_per_token(&self) -> f64 {
        if self.tokens == 0 {
            0.0
        } else {
            self.bytes as f64 / self.tokens as f64
        }
    }
}
