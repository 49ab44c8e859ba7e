//! OpenAI's published encodings, embedded in the binary: cl100k_base (GPT-4), o200k_base
//! (GPT-4o) and r50k_base (GPT-2), with tiktoken's patterns and special tokens.
//!
//! The rank files come from `data/tiktoken/` (made by `scripts/fetch_rank_files.sh`, which checks
//! each against the SHA-256 that tiktoken pins); they are gzipped, ~2.8 MB in all, and inflate in
//! a few milliseconds on first use.

use crate::pretokenize::{CL100K_PATTERN, O200K_PATTERN, R50K_PATTERN};
use crate::{rank_file, Error, Tokenizer};

const CL100K_GZ: &[u8] = include_bytes!("../../../data/tiktoken/cl100k_base.tiktoken.gz");
const O200K_GZ: &[u8] = include_bytes!("../../../data/tiktoken/o200k_base.tiktoken.gz");
const R50K_GZ: &[u8] = include_bytes!("../../../data/tiktoken/r50k_base.tiktoken.gz");

/// Names accepted by [`load`].
pub const NAMES: [&str; 3] = ["cl100k_base", "o200k_base", "r50k_base"];

/// Number of mergeable ranks in each built-in rank file, in `NAMES` order (so a rank file can be
/// matched to a built-in without loading the ones that cannot match).
pub const RANK_COUNTS: [usize; 3] = [100_256, 199_998, 50_256];

/// Loads a built-in encoding by name (`cl100k_base`, `o200k_base`, `r50k_base`; `gpt4`, `gpt4o`
/// and `gpt2` are aliases).
pub fn load(name: &str) -> Result<Tokenizer, Error> {
    let (canonical, gz, pattern, special): (&str, &[u8], &str, Vec<(&str, u32)>) = match name {
        "cl100k_base" | "cl100k" | "gpt4" => (
            "cl100k_base",
            CL100K_GZ,
            CL100K_PATTERN,
            vec![
                ("<|endoftext|>", 100257),
                ("<|fim_prefix|>", 100258),
                ("<|fim_middle|>", 100259),
                ("<|fim_suffix|>", 100260),
                ("<|endofprompt|>", 100276),
            ],
        ),
        "o200k_base" | "o200k" | "gpt4o" => {
            ("o200k_base", O200K_GZ, O200K_PATTERN, vec![("<|endoftext|>", 199999), ("<|endofprompt|>", 200018)])
        }
        "r50k_base" | "r50k" | "gpt2" => ("r50k_base", R50K_GZ, R50K_PATTERN, vec![("<|endoftext|>", 50256)]),
        _ => return Err(Error::Invalid(format!("unknown encoding {name:?}; built in: {}", NAMES.join(", ")))),
    };
    let raw = rank_file::gunzip(gz).map_err(|e| Error::Io { path: canonical.into(), source: e })?;
    let ranks = rank_file::parse(&raw, canonical)?;
    Tokenizer::new(canonical, &ranks, pattern, special.into_iter().map(|(s, i)| (s.to_string(), i)))
}

/// Whether `name` is a built-in encoding (or alias).
pub fn is_builtin(name: &str) -> bool {
    matches!(name, "cl100k_base" | "cl100k" | "gpt4" | "o200k_base" | "o200k" | "gpt4o" | "r50k_base" | "r50k" | "gpt2")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_counts_match_the_embedded_files() {
        for (name, count) in NAMES.into_iter().zip(RANK_COUNTS) {
            assert_eq!(load(name).unwrap().vocab().len(), count, "{name}");
        }
    }
}
