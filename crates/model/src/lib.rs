//! minichat's model stage: the GPT Transformer, llm.c style.
//!
//! Owns the model family and its configuration (`config`: GPT-2 and Llama, Hugging Face
//! `config.json` compatible, sized from one `depth` dial), weights on disk (`safetensors`), and
//! the CPU kernels with explicit forward and backward passes (`cpu`), each checked against
//! finite differences.

pub mod adamw;
pub mod config;
pub mod cpu;
pub mod gpt;
pub mod init;
pub mod kv_cache;
pub mod llama;
pub mod params;
pub mod safetensors;

pub use config::{Family, ModelConfig};

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{file}: {message}")]
    Format { file: String, message: String },
    #[error("{file}: tensor {tensor}: {message}")]
    Tensor { file: String, tensor: String, message: String },
    #[error("invalid config: {0}")]
    Config(String),
}
