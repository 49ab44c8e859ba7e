//! minichat's tokenizer stage: byte-level BPE.
//!
//! Owns turning text into token ids and back: the split patterns (`pretokenize`), the BPE merge
//! and vocabulary (`bpe`), special tokens (`special`), training new vocabularies (`train`), and
//! the file formats: tiktoken rank files (`rank_file`), minichat's tokenizer file
//! (`tokenizer_file`) and Hugging Face `tokenizer.json` export (`hf`). Encoding is token-for-token
//! identical to OpenAI's tiktoken for cl100k_base, o200k_base and r50k_base (`pretrained`).

mod backtrack;
pub mod bpe;
pub mod hf;
pub mod input;
mod input_parquet;
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
    #[error("{path}:{line}: {message}")]
    Input { path: String, line: usize, message: String },
    #[error("invalid split pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
    #[error("text contains the special token {token} at byte {offset}; allow it to encode it as a special token, or disallow none to encode it as text")]
    DisallowedSpecial { token: String, offset: usize },
    #[error("unknown token id {0}")]
    UnknownToken(u32),
    #[error("{0}")]
    Invalid(String),
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename, so a
/// crash never leaves a half-written file behind.
pub fn atomic_write(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::Io { path: path.display().to_string(), source: e };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
