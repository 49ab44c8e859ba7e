//! minichat's tokenizer file: everything needed to rebuild a `Tokenizer`, in one readable file.
//!
//! ```text
//! minichat-tokenizer 1
//! {"name":"...","pattern":"...","special_tokens":[["<|bos|>",32759],...]}
//! IQ== 0
//! ...                      (the body is a .tiktoken rank file, one token per line)
//! ```
//! Line 1 identifies the format and version, line 2 is a JSON header, and the rest is a
//! standard rank file, so `tail -n +3` gives a file tiktoken loads. Also reads plain `.tiktoken`
//! files (optionally gzipped): those carry no pattern or special tokens, which are then taken
//! from the matching built-in encoding or from the caller.

use crate::{pretrained, rank_file, Error, Tokenizer};
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &str = "minichat-tokenizer 1";

#[derive(Serialize, Deserialize)]
struct Header {
    name: String,
    pattern: String,
    special_tokens: Vec<(String, u32)>,
}

/// Renders a tokenizer in minichat's format.
pub fn render(tok: &Tokenizer) -> String {
    let header = Header {
        name: tok.name().to_string(),
        pattern: tok.pretokenizer().pattern().to_string(),
        special_tokens: tok.special_tokens().iter().into_iter().map(|(n, id)| (n.to_string(), id)).collect(),
    };
    let mut out = format!("{MAGIC}\n{}\n", serde_json::to_string(&header).expect("header serializes"));
    out.push_str(&rank_file::render(&tok.vocab().ranks()));
    out
}

/// Parses minichat's format from bytes; `source` names the file in errors.
pub fn parse(data: &[u8], source: &str) -> Result<Tokenizer, Error> {
    let err = |line: usize, message: String| Error::RankFile { file: source.to_string(), line, message };
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let magic = lines.next().unwrap_or_default();
    if magic != MAGIC.as_bytes() {
        return Err(err(1, format!("not a minichat tokenizer file (expected {MAGIC:?})")));
    }
    let header: Header = serde_json::from_slice(lines.next().unwrap_or_default())
        .map_err(|e| err(2, format!("bad JSON header: {e}")))?;
    let body = lines.next().unwrap_or_default();
    let ranks = rank_file::parse(body, source).map_err(|e| match e {
        // Body line numbers are offset by the two header lines.
        Error::RankFile { file, line, message } => Error::RankFile { file, line: line + 2, message },
        e => e,
    })?;
    Tokenizer::new(&header.name, &ranks, &header.pattern, header.special_tokens)
}

/// Loads a tokenizer: a built-in name (`cl100k_base`, `o200k_base`, `r50k_base`, aliases), a
/// minichat tokenizer file, or a `.tiktoken` rank file (gzipped or not). A rank file identical
/// to a built-in encoding gets that encoding's pattern and special tokens; any other rank file
/// gets `fallback_pattern` and no special tokens.
pub fn load(spec: &str, fallback_pattern: &str) -> Result<Tokenizer, Error> {
    if pretrained::is_builtin(spec) && !Path::new(spec).exists() {
        return pretrained::load(spec);
    }
    let path = Path::new(spec);
    let data = rank_file::read_maybe_gz(path)?;
    if data.starts_with(MAGIC.as_bytes()) {
        return parse(&data, spec);
    }
    let ranks = rank_file::parse(&data, spec)?;
    for (name, count) in pretrained::NAMES.into_iter().zip(pretrained::RANK_COUNTS) {
        if count != ranks.len() {
            continue;
        }
        let builtin = pretrained::load(name)?;
        if ranks.iter().all(|(b, r)| builtin.vocab().rank(b) == Some(*r)) {
            return Ok(builtin);
        }
    }
    let name = path.file_name().map_or("tokenizer".into(), |n| n.to_string_lossy().into_owned());
    Tokenizer::new(&name, &ranks, fallback_pattern, [])
}
