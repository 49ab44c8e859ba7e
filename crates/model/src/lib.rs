//! minichat's model stage: the GPT Transformer, llm.c style.
//!
//! Owns the model family and its configuration (`config`: GPT-2 and Llama, Hugging Face
//! `config.json` compatible, sized from one `depth` dial), the models written out op by op,
//! training and decoding forward side by side (`gpt`, `llama`; the LM head only on the rows
//! the loss needs, `head`), against a kernel boundary (`backend`), the CPU kernels with
//! explicit forward and backward passes (`cpu`, each checked against finite differences), the
//! loss every training stage shares (`loss`), the optimizers (`adamw`, `muon`, and the two
//! together in `optimizer`), initialisation (`init`), the KV cache with activation capture
//! (`kv_cache`), either family behind one type (`net`), a seedable generator (`rng`), and the parameters in
//! flat buffers and their files (`params`, `safetensors`: read here, rendered for the caller to
//! write atomically).

pub mod adamw;
pub mod backend;
pub mod config;
pub mod cpu;
pub mod gpt;
pub mod head;
pub mod init;
pub mod kv_cache;
pub mod llama;
pub mod loss;
pub mod muon;
pub mod net;
pub mod optimizer;
pub mod params;
pub mod rng;
pub mod safetensors;

pub use backend::Backend;
pub use config::{Family, ModelConfig};
pub use cpu::backend::Cpu;

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
    #[error("step {step}: {message}")]
    NonFinite { step: u64, message: String },
}
