//! minichat's training stages and their run directories.
//!
//! Owns the run directory and the one way to open a run and load its model (`run`), run
//! configs and the one preset table every stage sizes itself by (`config`, `preset`), corpus
//! to token shards (`tokenize`, `shard`), seeded, resumable batches (`loader`; one
//! conversation per row with its assistant mask: `sft_loader`), the learning-rate schedule
//! (`schedule`), the training loop every stage shares, whose data source sees the model
//! (`trainer`), with its metrics log, loss curve and checkpoints that resume bit for bit
//! (`metrics`, `plot`, `checkpoint`); on that loop, pretraining (`pretrain`: making a run
//! from a corpus) and supervised fine-tuning (`sft`: a run from a base run and conversation
//! files, with pretraining text mixed in by `text_mix`); GRPO's objective as per-token gradients (`grpo`), groups of replies sampled with
//! the tools running and scored (`rollout`), and reinforcement learning on tasks with
//! checkable answers as a data source of the same loop (`rl`); DPO's objective (`dpo`), reward
//! models' scores and loss (`reward_model`), batches of preference pairs for either
//! (`preference_loader`) and their runs (`preference_run`), and preference pairs from a
//! model's own checked replies (`pairs`); bits per byte on held-out text
//! for the exam (`heldout`); Hugging Face export (`export`) and GGUF export for llama.cpp
//! (`gguf`); and the speedrun's stages and folder (`speedrun`).

pub mod checkpoint;
pub mod config;
pub mod dpo;
pub mod export;
pub mod gguf;
pub mod grpo;
pub mod heldout;
pub mod loader;
pub mod metrics;
pub mod pairs;
pub mod plot;
pub mod preference_loader;
pub mod preference_run;
pub mod preset;
pub mod pretrain;
pub mod reward_model;
pub mod rl;
pub mod rl_loader;
pub mod rollout;
pub mod run;
pub mod schedule;
pub mod sft;
pub mod sft_loader;
pub mod shard;
pub mod speedrun;
pub mod text_mix;
pub mod tokenize;
pub mod trainer;

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
    #[error(transparent)]
    Corpus(#[from] minichat_corpus::Error),
}

impl Error {
    /// An I/O error on `path`, for `map_err`.
    pub(crate) fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> Error + '_ {
        move |source| Error::Io { path: path.display().to_string(), source }
    }
}
