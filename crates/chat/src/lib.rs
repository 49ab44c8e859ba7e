//! minichat's inference stage: turning next-token scores into text. Owns the sampler chain
//! (`sampler`: penalties, logit bias, temperature, top-k, top-p, min-p, seeded draws) and the
//! generation engine (`generate`: one prefill shared by N samples, KV-cache decoding, stop
//! conditions, a tool-call hook that forces tokens into the sequence), conversations in the
//! chat format with tool calls (`conversation`) and conversation files in the public formats
//! (`dataset`), the tools the assistant calls (`tools`), and generated tasks with exact answers
//! for fine-tuning and the exam (`tasks`), and the exam itself: generative tasks scored by exact
//! answer, multiple choice by log-likelihood (`exam`).

pub mod conversation;
pub mod dataset;
pub mod exam;
pub mod generate;
pub mod sampler;
pub mod tasks;
pub mod tools;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A sampler or generation setting out of range.
    #[error("{0}")]
    Config(String),
    /// A prompt that cannot be run (empty, longer than the context).
    #[error("{0}")]
    Prompt(String),
    #[error(transparent)]
    Model(#[from] minichat_model::Error),
}
