//! The web-data pipeline (FineWeb-style): WARC files -> HTML pages -> clean text shards.
//!
//! This crate owns reading WARC files robustly (`warc`: gzip members, zstd or plain; garbage,
//! truncation and wrong lengths are counted and skipped, never fatal), turning HTTP response
//! records into decoded HTML documents (`page`, `charset`), main-text extraction
//! (`extract`), the URL blocklist filter
//! (`url_filter`), FineWeb's quality filters (`filters`, on `words` and `text`), personal-information
//! removal (`pii`), language identification (`lid`, `fasttext`), the chain of all of them (`pipeline`),
//! output shards (`output`) and reading them back (`shards`), exact and near-duplicate removal
//! as file-based multi-task stages (`minhash`, `dedup`), and the counters every stage reports
//! (`stats`).

pub mod charset;
pub mod dedup;
pub mod extract;
pub mod fasttext;
pub mod filters;
pub mod index;
pub mod lid;
pub mod minhash;
pub mod output;
pub mod page;
pub mod pii;
pub mod pipeline;
pub mod shards;
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
}
