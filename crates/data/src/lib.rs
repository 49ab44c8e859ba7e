//! The web-data pipeline (FineWeb-style): WARC files -> HTML pages -> clean, deduplicated text
//! shards, and a search index over them.
//!
//! This crate owns reading WARC files robustly (`warc`: gzip members, zstd or plain; garbage,
//! truncation and wrong lengths are counted and skipped, never fatal), turning records into
//! decoded HTML documents, or WET text (`page`, `charset`; the HTTP messages as every common
//! writer stores them, `http`), main-text extraction (`extract`, with a bound on the parser's work, `nesting`),
//! the URL blocklist filter (`url_filter`), FineWeb's quality filters (`filters`, on `words`
//! and `text`), personal-information removal (`pii`), language identification (`lid`,
//! `fasttext`), the chain of all of them with its stages by name (`pipeline`), and the
//! file-based, resumable, multi-task stages built on it: one rank of the chain over WARC files
//! (`run`), its text stages alone over shards (`shard_filter`), exact and near-duplicate
//! removal (`minhash`, `dedup`), and Slurm job arrays for all of them (`slurm`); a BM25 search
//! index over shards with the search tool's snippets (`index`), and the counters every stage
//! reports (`stats`). Shard formats (FineWeb's columns, JSON Lines, Parquet) are
//! `minichat-corpus`'s.

pub mod charset;
pub mod dedup;
pub mod extract;
pub mod fasttext;
pub mod filters;
pub mod http;
pub mod index;
pub mod lid;
pub mod minhash;
pub mod nesting;
pub mod page;
pub mod pii;
pub mod pipeline;
pub mod run;
pub mod shard_filter;
pub mod slurm;
pub mod stats;
pub mod text;
pub mod url_filter;
pub mod warc;
pub mod words;

/// Errors of the data pipeline: only what stops a whole file (it cannot be opened or read);
/// bad records are counted in `stats`, not returned as errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Input(String),
    /// Writing a shard failed (full disk, read-only folder); the message names the shard.
    #[error("{0}")]
    Write(std::io::Error),
    /// Reading or writing document shards.
    #[error(transparent)]
    Corpus(#[from] minichat_corpus::Error),
}

pub use minichat_corpus::Doc;
