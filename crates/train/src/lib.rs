//! minichat's pretraining stage: turns a corpus into token shards (`tokenize`, `shard`),
//! draws seeded, resumable batches (`loader`; for fine-tuning, one conversation per row with
//! its assistant mask: `sft_loader`), schedules the learning rate (`schedule`), runs
//! the training loop with evaluation, samples and metrics (`trainer`, `metrics`), and keeps
//! run directories with checkpoints that resume bit for bit (`run`, `checkpoint`), and exports
//! them as Hugging Face model directories (`export`). Supervised fine-tuning (`sft`) runs the
//! same loop on conversations.

pub mod checkpoint;
pub mod config;
pub mod export;
pub mod loader;
pub mod metrics;
pub mod plot;
pub mod run;
pub mod schedule;
pub mod sft;
pub mod sft_loader;
pub mod shard;
pub mod tokenize;
pub mod trainer;

use std::path::Path;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// Bad or insufficient data: shards, corpus, loader position.
    #[error("{0}")]
    Data(String),
    /// A config that cannot run.
    #[error("config: {0}")]
    Config(String),
    /// A corrupt, truncated or mismatched checkpoint.
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },
    #[error(transparent)]
    Model(#[from] minichat_model::Error),
    #[error(transparent)]
    Tokenizer(#[from] minichat_tokenizer::Error),
    #[error(transparent)]
    Generate(#[from] minichat_chat::Error),
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader (or a crash) never sees half a file.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::Io { path: path.display().to_string(), source: e };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}
