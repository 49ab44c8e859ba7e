//! A BM25 search index over document shards, for the assistant's search tool and for people:
//! documents are cut into passages of about `passage_words` words (on line boundaries), each
//! passage is a bag of lowercased alphanumeric terms, and a query scores passages with Okapi
//! BM25 (Robertson & Zaragoza 2009) in Lucene's form: idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
//! k1 = 1.2, b = 0.75 (Lucene's defaults). The whole index, passages' text included, is one
//! file (`file.rs`), loaded into memory.

mod file;
mod snippet;
mod terms;

pub use terms::terms;

use minichat_corpus::shards::Row;
use rayon::prelude::*;
use std::collections::HashMap;

/// Lucene's BM25 defaults: term-frequency saturation and length normalisation.
pub const K1: f32 = 1.2;
pub const B: f32 = 0.75;

/// A searchable piece of a document.
#[derive(Clone, Debug, PartialEq)]
pub struct Passage {
    /// The document's `id` column (else `SHARD:LINE`).
    pub doc_id: String,
    /// The document's `url` column (else empty).
    pub url: String,
    pub text: String,
}

/// A search result.
#[derive(Clone, Debug)]
pub struct Hit<'a> {
    pub passage: &'a Passage,
    pub score: f32,
}

#[derive(Debug, Default)]
pub struct Index {
    pub passages: Vec<Passage>,
    /// Terms per passage.
    lengths: Vec<u32>,
    /// Per term: (passage, term frequency), by passage.
    postings: HashMap<String, Vec<(u32, u32)>>,
}

/// A passage with its terms counted.
struct Analysed {
    passage: Passage,
    /// (term, frequency), sorted by term.
    counts: Vec<(String, u32)>,
    /// Terms in the passage.
    len: u32,
}

/// A document's passages, analysed.
fn analyse(place: &str, row: &Row, passage_words: usize) -> Vec<Analysed> {
    let doc_id = row.field("id").unwrap_or(place).to_string();
    let url = row.field("url").unwrap_or_default().to_string();
    passages(row.text(), passage_words)
        .into_iter()
        .map(|text| {
            let t = terms(&text);
            let mut counts: HashMap<String, u32> = HashMap::new();
            for term in &t {
                *counts.entry(term.clone()).or_default() += 1;
            }
            let mut counts: Vec<(String, u32)> = counts.into_iter().collect();
            counts.sort();
            Analysed {
                passage: Passage { doc_id: doc_id.clone(), url: url.clone(), text },
                counts,
                len: t.len() as u32,
            }
        })
        .collect()
}

/// Cuts `text` into passages of about `words` words: whole lines while they fit, a line longer
/// than that on its own cut by words.
pub fn passages(text: &str, words: usize) -> Vec<String> {
    let words = words.max(1);
    let mut out = Vec::new();
    let (mut cur, mut n) = (String::new(), 0);
    let mut flush = |cur: &mut String, n: &mut usize| {
        if !cur.trim().is_empty() {
            out.push(std::mem::take(cur).trim_end().to_string());
        }
        cur.clear();
        *n = 0;
    };
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if n > 0 && n + w.len() > words {
            flush(&mut cur, &mut n);
        }
        if w.len() > words {
            for piece in w.chunks(words) {
                cur.push_str(&piece.join(" "));
                n = piece.len();
                flush(&mut cur, &mut n);
            }
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        n += w.len();
    }
    flush(&mut cur, &mut n);
    out
}

impl Index {
    /// Indexes `docs` (rows of shards, with where they came from for documents without an id).
    pub fn build(docs: &[(String, Row)], passage_words: usize) -> Index {
        // Passages and their term counts in parallel; then the postings, in passage order.
        let per_doc: Vec<Vec<Analysed>> =
            docs.par_iter().map(|(place, row)| analyse(place, row, passage_words)).collect();
        let mut index = Index::default();
        for a in per_doc.into_iter().flatten() {
            let p = index.passages.len() as u32;
            for (term, tf) in a.counts {
                index.postings.entry(term).or_default().push((p, tf));
            }
            index.passages.push(a.passage);
            index.lengths.push(a.len);
        }
        index
    }

    pub fn terms(&self) -> usize {
        self.postings.len()
    }

    /// BM25's inverse document frequency of `term` (0 for a term in no passage).
    fn idf(&self, term: &str) -> f32 {
        let Some(list) = self.postings.get(term) else { return 0.0 };
        let (n, df) = (self.passages.len() as f32, list.len() as f32);
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn average_length(&self) -> f32 {
        let total: u64 = self.lengths.iter().map(|&l| l as u64).sum();
        (total as f64 / self.lengths.len().max(1) as f64) as f32
    }

    /// The `k` best passages for `query`, best first (ties: index order); passages without
    /// any query term are not returned.
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit<'_>> {
        let avg = self.average_length().max(1.0);
        let mut q = terms(query);
        q.sort();
        q.dedup();
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for term in &q {
            let Some(list) = self.postings.get(term) else { continue };
            let idf = self.idf(term);
            for &(p, tf) in list {
                let (tf, len) = (tf as f32, self.lengths[p as usize] as f32);
                let s = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg));
                *scores.entry(p).or_default() += s;
            }
        }
        let mut ranked: Vec<(u32, f32)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked.into_iter().map(|(p, score)| Hit { passage: &self.passages[p as usize], score }).collect()
    }
}

#[cfg(test)]
mod tests;
