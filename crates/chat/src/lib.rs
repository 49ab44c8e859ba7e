//! minichat's inference and chat stage: turning next-token scores into text and text into an
//! assistant. Owns the sampler chain (`sampler`: penalties, logit bias, temperature, top-k,
//! top-p, min-p, seeded draws), the generation engine (`generate`: one prefill shared by N
//! samples, step-wise KV-cache decoding, stop conditions, a tool-call hook that forces tokens
//! into the sequence), tokens' log-probabilities as OpenAI's API reports them (`logprobs`),
//! KV caches kept for later prompts that share a prefix (`prompt_cache`), what happens inside
//! the model on a sequence (`trace`: attention, logit lens, norms), the one assistant
//! turn that `chat`, the exam and the server share (`assistant`: render, prefill, sample, run
//! tools, events, cancellation), a conversation held turn after turn (`session`),
//! conversations in the chat format with tool calls (`conversation`) and conversation files in
//! the public formats (`dataset`), preference pairs in TRL's formats (`preference`), the tools the assistant calls (`tools`), generated tasks
//! with exact answers and their files (`tasks`), and the exam with its report card (`exam`):
//! generative tasks scored by exact answer, multiple choice by log-likelihood.

pub mod assistant;
pub mod conversation;
pub mod dataset;
pub mod exam;
pub mod generate;
pub mod logprobs;
pub mod preference;
pub mod prompt_cache;
pub mod sampler;
pub mod session;
pub mod tasks;
pub mod tools;
pub mod trace;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A sampler or generation setting out of range.
    #[error("{0}")]
    Config(String),
    /// A prompt that cannot be run (empty, longer than the context).
    #[error("{0}")]
    Prompt(String),
    /// A file that cannot be used as it is (the message names it, and its line).
    #[error("{0}")]
    File(String),
    #[error(transparent)]
    Model(#[from] minichat_model::Error),
    #[error(transparent)]
    Tokenizer(#[from] minichat_tokenizer::Error),
    #[error(transparent)]
    Corpus(#[from] minichat_corpus::Error),
}
