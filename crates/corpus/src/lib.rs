//! The files of text every stage of minichat reads and writes, in one place.
//!
//! Owns the corpus and shard formats (`format`: plain text, JSON Lines, Parquet, gzipped or
//! not, told apart by name), one reader of documents for everything that trains or measures on
//! text (`documents`: streamed in bounded batches; plain text cut into documents of at most 64
//! KiB, so a tokenizer, pretraining and the exam all see the same documents), whole rows of
//! document shards with every column for the data stages (`shards`), FineWeb's columns (`doc`)
//! and the shard writers (`writers`), and the file helpers every crate shares (`fs`: finding
//! input files, writing a file atomically).

pub mod doc;
pub mod documents;
pub mod format;
pub mod fs;
mod parquet_read;
pub mod shards;
pub mod writers;

pub use doc::Doc;
pub use format::Format;
pub use fs::{atomic_write, files_in};

/// Everything that can go wrong reading or writing document files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// A file that cannot be used as it is; the message names the file (and line or row).
    #[error("{0}")]
    Bad(String),
}

impl Error {
    pub(crate) fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> Error + '_ {
        move |source| Error::Io { path: path.display().to_string(), source }
    }
}
