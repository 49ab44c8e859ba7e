//! Pre-tokenization: cutting text into the pieces that BPE encodes one by one.
//!
//! A split pattern is a regex (tiktoken's semantics: leftmost-first alternation, backtracking,
//! lookahead). The four patterns people actually use (GPT-4/cl100k, o200k, GPT-2/r50k and
//! nanochat's `\p{N}{1,2}` variant) run on hand-written scanners that are 5-10x faster than the
//! regex engine; any other pattern runs on fancy-regex. `tests/pretokenize.rs` proves each
//! scanner equal to fancy-regex with the exact pattern string.

pub mod classes;
mod gpt2;
mod gpt4;
mod o200k;

use crate::Error;
use gpt4::Gpt4Scanner;

/// GPT-4's split pattern (cl100k_base), exactly as tiktoken 0.14 writes it.
pub const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";
/// GPT-4o's split pattern (o200k_base), exactly as tiktoken 0.14 writes it.
pub const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
);
/// GPT-2's split pattern (r50k_base, p50k_base), exactly as tiktoken 0.14 writes it.
pub const R50K_PATTERN: &str = r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";
/// nanochat's split pattern (`nanochat/tokenizer.py`): GPT-4's with at most two digits per
/// piece, which its author found better for small vocabularies.
pub const NANOCHAT_PATTERN: &str =
    r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";

/// The named patterns, for command lines and files: (name, pattern).
pub const PRESETS: [(&str, &str); 4] =
    [("gpt4", CL100K_PATTERN), ("o200k", O200K_PATTERN), ("gpt2", R50K_PATTERN), ("nanochat", NANOCHAT_PATTERN)];

/// A compiled split pattern.
#[derive(Clone, Debug)]
pub struct Pretokenizer {
    pattern: String,
    engine: Engine,
}

#[derive(Clone, Debug)]
enum Engine {
    Gpt4(Gpt4Scanner),
    O200k,
    Gpt2,
    Regex(Box<fancy_regex::Regex>),
}

impl Pretokenizer {
    /// Compiles `pattern`: a preset name (`gpt4`, `o200k`, `gpt2`, `nanochat`) or a regex.
    pub fn new(pattern: &str) -> Result<Pretokenizer, Error> {
        let pattern = PRESETS.iter().find(|(name, _)| *name == pattern).map_or(pattern, |(_, p)| *p);
        let engine = match pattern {
            CL100K_PATTERN => Engine::Gpt4(Gpt4Scanner::CL100K),
            NANOCHAT_PATTERN => Engine::Gpt4(Gpt4Scanner::NANOCHAT),
            O200K_PATTERN => Engine::O200k,
            R50K_PATTERN => Engine::Gpt2,
            _ => Engine::Regex(Box::new(Self::compile_regex(pattern)?)),
        };
        Ok(Pretokenizer { pattern: pattern.to_string(), engine })
    }

    /// The same pattern run by fancy-regex, never by a scanner: the reference for tests and
    /// benchmarks.
    pub fn new_regex(pattern: &str) -> Result<Pretokenizer, Error> {
        let engine = Engine::Regex(Box::new(Self::compile_regex(pattern)?));
        Ok(Pretokenizer { pattern: pattern.to_string(), engine })
    }

    fn compile_regex(pattern: &str) -> Result<fancy_regex::Regex, Error> {
        fancy_regex::Regex::new(pattern)
            .map_err(|e| Error::Pattern { pattern: pattern.to_string(), message: e.to_string() })
    }

    /// The longest run of digits one piece holds, for the patterns that bound it (GPT-4's and
    /// o200k's 3, nanochat's 2); None for GPT-2's (any length) and other regexes.
    pub fn max_digits(&self) -> Option<usize> {
        match &self.engine {
            Engine::Gpt4(scanner) => Some(scanner.max_digits),
            Engine::O200k => Some(3),
            Engine::Gpt2 | Engine::Regex(_) => None,
        }
    }

    /// The regex this pre-tokenizer implements.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether a hand-written scanner (rather than the regex engine) runs this pattern.
    pub fn is_scanner(&self) -> bool {
        !matches!(self.engine, Engine::Regex(_))
    }

    /// Calls `f` with each piece of `text`, in order; the pieces concatenate to `text` except
    /// where a custom regex leaves characters unmatched.
    #[inline]
    pub fn split<'t>(&self, text: &'t str, mut f: impl FnMut(&'t str)) {
        let b = text.as_bytes();
        let mut i = 0;
        match &self.engine {
            Engine::Gpt4(scanner) => {
                while i < b.len() {
                    let end = scanner.next_end(b, i);
                    f(&text[i..end]);
                    i = end;
                }
            }
            Engine::O200k => {
                while i < b.len() {
                    let end = o200k::next_end(b, i);
                    f(&text[i..end]);
                    i = end;
                }
            }
            Engine::Gpt2 => {
                while i < b.len() {
                    let end = gpt2::next_end(b, i);
                    f(&text[i..end]);
                    i = end;
                }
            }
            Engine::Regex(re) => split_regex(re, text, f),
        }
    }

    /// The pieces of `text` as a vector (convenience for tests and tools).
    pub fn pieces<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let mut out = Vec::new();
        self.split(text, |p| out.push(p));
        out
    }
}

/// Runs fancy-regex over `text`. A backtracking-limit error (possible only for pathological
/// custom patterns) falls back to emitting the rest of the text as one piece rather than
/// panicking, so no input byte is ever dropped.
fn split_regex<'t>(re: &fancy_regex::Regex, text: &'t str, mut f: impl FnMut(&'t str)) {
    let mut pos = 0;
    while pos < text.len() {
        match re.find_from_pos(text, pos) {
            Ok(Some(m)) if m.end() > m.start() => {
                f(m.as_str());
                pos = m.end();
            }
            Ok(Some(m)) => {
                // An empty match: step over one char, as regex iterators do.
                let step = text[m.start()..].chars().next().map_or(1, char::len_utf8);
                pos = m.start() + step;
            }
            Ok(None) => break,
            Err(_) => {
                f(&text[pos..]);
                break;
            }
        }
    }
}
