//! minichat's tokenizer stage: byte-level BPE.
//!
//! Owns turning text into token ids and back: the split patterns (`pretokenize`), the BPE merge
//! and vocabulary (`bpe`), special tokens (`special`; the bos token with `Tokenizer::bos_id`),
//! training new vocabularies from documents handed in by the caller (`train`; the corpus
//! reader is `minichat-corpus`), compression stats (`stats`), decoding a token stream into
//! whole characters (`stream`), and the tokenizer's file formats: tiktoken rank files
//! (`rank_file`), minichat's tokenizer file (`tokenizer_file`, rendered here and written by the
//! caller) and Hugging Face `tokenizer.json` export (`hf`). Encoding is token-for-token
//! identical to OpenAI's tiktoken for cl100k_base, o200k_base and r50k_base (`pretrained`).

mod backtrack;
pub mod bpe;
pub mod hf;
pub mod pretokenize;
pub mod pretrained;
pub mod rank_file;
pub mod special;
pub mod stats;
pub mod stream;
pub mod tokenizer;
pub mod tokenizer_file;
pub mod train;

pub use special::{SpecialSet, CHAT_SPECIAL_TOKENS};
pub use stream::StreamDecoder;
pub use tokenizer::Tokenizer;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{file}:{line}: {message}")]
    RankFile { file: String, line: usize, message: String },
    #[error("invalid split pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
    #[error("text contains the special token {token} at byte {offset}; allow it to encode it as a special token, or disallow none to encode it as text")]
    DisallowedSpecial { token: String, offset: usize },
    #[error("unknown token id {0}")]
    UnknownToken(u32),
    #[error("{0}")]
    Invalid(String),
}
