//! Special tokens: strings such as `<|bos|>` that map to one reserved id and are never produced
//! by BPE merges.
//!
//! Handling follows tiktoken: by default text that *looks* like a special token is an error
//! (so a user cannot smuggle `<|assistant_start|>` into a prompt); callers opt in per token with
//! an allowed set, or opt out of the check with an empty disallowed set, in which case the text
//! is encoded as ordinary text.

use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::BTreeMap;

/// minichat's chat special tokens, registered at the end of every vocabulary we train.
///
/// - `<|bos|>`: begins every document and every conversation; also the document separator in
///   pretraining shards.
/// - `<|user_start|>` / `<|user_end|>`: wrap a user message.
/// - `<|assistant_start|>` / `<|assistant_end|>`: wrap an assistant message; generation stops at
///   `<|assistant_end|>`.
/// - `<|tool_call_start|>` / `<|tool_call_end|>`: wrap a tool call the assistant writes (e.g. a
///   calculator expression or a search query); nanochat calls these `python_start/end`.
/// - `<|tool_result_start|>` / `<|tool_result_end|>`: wrap the tool's output, inserted by the
///   runtime rather than sampled (nanochat's `output_start/end`).
pub const CHAT_SPECIAL_TOKENS: [&str; 9] = [
    "<|bos|>",
    "<|user_start|>",
    "<|user_end|>",
    "<|assistant_start|>",
    "<|assistant_end|>",
    "<|tool_call_start|>",
    "<|tool_call_end|>",
    "<|tool_result_start|>",
    "<|tool_result_end|>",
];

/// A set of special tokens, as tiktoken's `allowed_special` / `disallowed_special` take them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecialSet {
    /// Every special token of the tokenizer.
    All,
    /// No special token.
    None,
    /// These tokens (names that are not special tokens are ignored).
    Only(Vec<String>),
}

impl SpecialSet {
    fn contains(&self, token: &str) -> bool {
        match self {
            SpecialSet::All => true,
            SpecialSet::None => false,
            SpecialSet::Only(set) => set.iter().any(|t| t == token),
        }
    }
}

/// A stretch of text produced by [`SpecialTokens::split`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part<'t> {
    /// Ordinary text.
    Text(&'t str),
    /// An allowed special token, by id.
    Special(u32),
}

/// The special tokens of one tokenizer and a matcher that finds them in text.
#[derive(Clone, Debug)]
pub struct SpecialTokens {
    by_name: BTreeMap<String, u32>,
    names: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl SpecialTokens {
    pub fn new(tokens: impl IntoIterator<Item = (String, u32)>) -> SpecialTokens {
        let by_name: BTreeMap<String, u32> = tokens.into_iter().collect();
        let names: Vec<String> = by_name.keys().cloned().collect();
        SpecialTokens { matcher: build_matcher(&names), by_name, names }
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The id of a special token.
    pub fn id(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// The name of a special-token id.
    pub fn name(&self, id: u32) -> Option<&str> {
        self.by_name.iter().find(|(_, &v)| v == id).map(|(k, _)| k.as_str())
    }

    /// (name, id) pairs, sorted by id.
    pub fn iter(&self) -> Vec<(&str, u32)> {
        let mut v: Vec<(&str, u32)> = self.by_name.iter().map(|(k, &v)| (k.as_str(), v)).collect();
        v.sort_by_key(|&(_, id)| id);
        v
    }

    /// The first occurrence in `text` of any token in `set`: (byte offset, token).
    pub fn find_any(&self, text: &str, set: &SpecialSet) -> Option<(usize, &str)> {
        let names: Vec<&String> = self.names.iter().filter(|n| set.contains(n)).collect();
        if names.is_empty() {
            return None;
        }
        if names.len() == self.names.len() {
            let m = self.matcher.as_ref()?.find(text)?;
            return Some((m.start(), &self.names[m.pattern().as_usize()]));
        }
        let m = build_matcher(&names)?.find(text)?;
        Some((m.start(), names[m.pattern().as_usize()].as_str()))
    }

    /// Splits `text` at the tokens of `allowed`: calls `f` with each stretch of plain text and
    /// each allowed special token's id, in order.
    pub fn split<'t>(&self, text: &'t str, allowed: &SpecialSet, mut f: impl FnMut(Part<'t>)) {
        let names: Vec<&String> = self.names.iter().filter(|n| allowed.contains(n)).collect();
        let matcher = if names.len() == self.names.len() { self.matcher.clone() } else { build_matcher(&names) };
        let Some(matcher) = matcher else {
            f(Part::Text(text));
            return;
        };
        let mut last = 0;
        for m in matcher.find_iter(text) {
            if m.start() > last {
                f(Part::Text(&text[last..m.start()]));
            }
            f(Part::Special(self.by_name[names[m.pattern().as_usize()].as_str()]));
            last = m.end();
        }
        if last < text.len() {
            f(Part::Text(&text[last..]));
        }
    }
}

fn build_matcher<S: AsRef<str>>(names: &[S]) -> Option<AhoCorasick> {
    if names.is_empty() {
        return None;
    }
    AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(names.iter().map(|n| n.as_ref())).ok()
}
