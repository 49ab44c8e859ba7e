//! A run directory: everything one training run reads and writes, in one place.
//!
//! ```text
//! RUN/config.toml        the fully resolved config
//! RUN/tokenizer.mctok    the tokenizer (so the run is self-contained)
//! RUN/shards/            token shards (train_*.tok, val_*.tok)
//! RUN/metrics.jsonl      the metrics log
//! RUN/loss.svg           the loss curve
//! RUN/checkpoints/       checkpoints (see `checkpoint`)
//! ```

use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Run {
    pub dir: PathBuf,
}

impl Run {
    pub fn new(dir: impl Into<PathBuf>) -> Run {
        Run { dir: dir.into() }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    pub fn tokenizer(&self) -> PathBuf {
        self.dir.join("tokenizer.mctok")
    }

    pub fn shards(&self) -> PathBuf {
        self.dir.join("shards")
    }

    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.jsonl")
    }

    pub fn plot(&self) -> PathBuf {
        self.dir.join("loss.svg")
    }

    pub fn checkpoints(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}
