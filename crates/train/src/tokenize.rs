//! Corpus -> token shards: reads text, JSONL or Parquet documents (`minichat-corpus`'s
//! streaming reader), encodes batches in parallel, puts each document whole into the train or
//! the validation split by a hash of its text (deterministic: the same document lands in the
//! same split whatever the file order or batch size), prefixes it with the bos token, and
//! writes shards of at most `shard_tokens` tokens: `train_00000.tok`, ..., `val_00000.tok`, ...

use crate::{shard, Error};
use minichat_corpus::documents::{self, InputStats};
use minichat_tokenizer::Tokenizer;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// How to split and cut the token stream.
#[derive(Clone, Debug)]
pub struct TokenizeConfig {
    /// Fraction of documents held out for validation.
    pub val_fraction: f64,
    /// Tokens per shard file at most.
    pub shard_tokens: usize,
}

impl Default for TokenizeConfig {
    fn default() -> Self {
        TokenizeConfig { val_fraction: 0.01, shard_tokens: 100_000_000 }
    }
}

/// What tokenizing produced.
#[derive(Clone, Debug, Default)]
pub struct TokenizeStats {
    pub input: InputStats,
    pub train_docs: u64,
    pub val_docs: u64,
    pub train_tokens: u64,
    pub val_tokens: u64,
    pub shards: Vec<PathBuf>,
}

/// FNV-1a: a stable 64-bit hash (std's hasher may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// Whether a document goes to the validation split.
pub fn is_val(text: &str, val_fraction: f64) -> bool {
    (fnv1a(text.as_bytes()) % 1_000_000) < (val_fraction * 1_000_000.0) as u64
}

/// One split's pending tokens and the shards written so far.
struct Split {
    name: &'static str,
    buf: Vec<u32>,
    written: usize,
}

impl Split {
    fn flush(&mut self, out: &Path, tok: &Tokenizer, bos: u32, stats: &mut TokenizeStats) -> Result<(), Error> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let path = out.join(format!("{}_{:05}.tok", self.name, self.written));
        shard::write(&path, &self.buf, tok.n_vocab() as u32, bos)?;
        stats.shards.push(path);
        self.written += 1;
        self.buf.clear();
        Ok(())
    }
}

/// Tokenizes `paths` into shards in `out` (created if missing); `progress(file bytes read)`.
pub fn tokenize_corpus(
    paths: &[PathBuf],
    tok: &Tokenizer,
    out: &Path,
    cfg: &TokenizeConfig,
    mut progress: impl FnMut(u64),
) -> Result<TokenizeStats, Error> {
    if !(0.0..1.0).contains(&cfg.val_fraction) || cfg.shard_tokens == 0 {
        return Err(Error::Data(format!(
            "validation fraction {} must be in [0, 1) and shard size {} positive",
            cfg.val_fraction, cfg.shard_tokens
        )));
    }
    let bos = tok.bos_id()?;
    std::fs::create_dir_all(out).map_err(|e| Error::Io { path: out.display().to_string(), source: e })?;
    let mut stats = TokenizeStats::default();
    let mut splits =
        [Split { name: "train", buf: Vec::new(), written: 0 }, Split { name: "val", buf: Vec::new(), written: 0 }];
    let mut failure = None;
    let input = documents::for_each_batch(paths, 8 << 20, |docs, consumed| {
        let encoded: Vec<(bool, Vec<u32>)> =
            docs.par_iter().map(|d| (is_val(d, cfg.val_fraction), tok.encode_ordinary(d))).collect();
        for (val, ids) in encoded {
            let split = &mut splits[val as usize];
            split.buf.push(bos);
            split.buf.extend_from_slice(&ids);
            if val {
                (stats.val_docs, stats.val_tokens) = (stats.val_docs + 1, stats.val_tokens + 1 + ids.len() as u64);
            } else {
                (stats.train_docs, stats.train_tokens) =
                    (stats.train_docs + 1, stats.train_tokens + 1 + ids.len() as u64);
            }
            if split.buf.len() >= cfg.shard_tokens {
                // Cut at the limit; the rest starts the next shard.
                let rest = split.buf.split_off(cfg.shard_tokens);
                if let Err(e) = split.flush(out, tok, bos, &mut stats) {
                    failure = Some(e);
                    return false;
                }
                split.buf = rest;
            }
        }
        progress(consumed);
        true
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    for split in &mut splits {
        split.flush(out, tok, bos, &mut stats)?;
    }
    stats.input = input;
    Ok(stats)
}

/// All tokens of one split (`train` or `val`) in `dir`, shards in name order; the header's
/// vocabulary and bos must match the tokenizer's.
pub fn load_split(dir: &Path, split: &str, vocab_size: usize, bos: u32) -> Result<Vec<u32>, Error> {
    let io = |e: std::io::Error| Error::Io { path: dir.display().to_string(), source: e };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            name.starts_with(&format!("{split}_")) && name.ends_with(".tok")
        })
        .collect();
    files.sort();
    let mut tokens = Vec::new();
    for f in &files {
        let (info, t) = shard::read(f)?;
        if info.vocab_size as usize != vocab_size || info.bos != bos {
            return Err(Error::Data(format!(
                "{}: written by a tokenizer with {} tokens and bos {}, but this run's has {vocab_size} and bos {bos}",
                f.display(),
                info.vocab_size,
                info.bos
            )));
        }
        tokens.extend(t);
    }
    Ok(tokens)
}

/// Entropy of the token frequencies, in nats per token: the loss of the best model that ignores
/// context (a unigram model), the bar a trained model has to clear.
pub fn unigram_entropy(tokens: &[u32]) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for &t in tokens {
        *counts.entry(t).or_insert(0u64) += 1;
    }
    let n = tokens.len().max(1) as f64;
    counts.values().map(|&c| c as f64 / n).map(|p| -p * p.ln()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unigram_entropy_of_known_distributions() {
        assert_eq!(unigram_entropy(&[3, 3, 3]), 0.0);
        assert!((unigram_entropy(&[1, 2, 1, 2]) - std::f64::consts::LN_2).abs() < 1e-12);
    }

    #[test]
    fn split_is_by_content_not_position() {
        let docs: Vec<String> = (0..2000).map(|i| format!("document number {i}")).collect();
        let val = docs.iter().filter(|d| is_val(d, 0.1)).count();
        assert!((150..250).contains(&val), "{val}");
        assert!(docs.iter().all(|d| is_val(d, 0.1) == is_val(&d.clone(), 0.1)));
        assert!(!docs.iter().any(|d| is_val(d, 0.0)));
    }
}
