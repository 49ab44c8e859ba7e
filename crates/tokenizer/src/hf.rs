//! Export to a Hugging Face `tokenizers` file (`tokenizer.json`) that encodes identically.
//!
//! The layout is what `transformers`' `TikTokenConverter` produces for tiktoken vocabularies: a
//! byte-level BPE whose vocab uses GPT-2's byte-to-unicode alphabet, a merge for *every* way a
//! token splits into two tokens (ordered by the merged token's rank, so HF's "lowest merge
//! first" equals tiktoken's "lowest rank first"), `ignore_merges` so a piece that is itself a
//! token maps straight to it (tiktoken's whole-piece lookup), and a `Split` pre-tokenizer with the
//! pattern. HF runs patterns on Oniguruma, which misreads possessive quantifiers (`\p{N}{1,3}+`
//! means "one or more groups of 1-3 digits" there), so the export uses an equivalent pattern
//! without them. `tests/hf.rs` checks the result against the real `tokenizers` library.

use crate::pretokenize::{CL100K_PATTERN, NANOCHAT_PATTERN, R50K_PATTERN};
use crate::Tokenizer;
use serde_json::{json, Map, Value};

/// cl100k's pattern in the pre-possessive form OpenAI first published; equal on all inputs.
const CL100K_HF: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// GPT-2's original pattern (tiktoken's comment: "equivalent, but executes faster").
const R50K_HF: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// nanochat's pattern with its possessive quantifiers dropped (no alternative after them can
/// backtrack into them, so the matches are the same).
const NANOCHAT_HF: &str =
    r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";

/// The pattern to give Oniguruma for `pattern`.
pub fn hf_pattern(pattern: &str) -> String {
    match pattern {
        CL100K_PATTERN => CL100K_HF.into(),
        R50K_PATTERN => R50K_HF.into(),
        NANOCHAT_PATTERN => NANOCHAT_HF.into(),
        // Custom: drop possessive `+` after a quantifier (outside classes and escapes).
        other => strip_possessive(other),
    }
}

fn strip_possessive(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len());
    // Whether the last thing emitted was a quantifier, so that a `+` now makes it possessive.
    let (mut in_class, mut after_quantifier, mut i) = (false, false, 0);
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            // An escape is one atom; `\p{..}` / `\P{..}` include their braces.
            let mut end = i + 2;
            if matches!(chars[i + 1], 'p' | 'P') && chars.get(end) == Some(&'{') {
                end = chars[end..].iter().position(|&c| c == '}').map_or(chars.len(), |k| end + k + 1);
            }
            out.extend(&chars[i..end]);
            after_quantifier = false;
            i = end;
            continue;
        }
        if in_class {
            in_class = c != ']';
            out.push(c);
        } else if c == '[' {
            in_class = true;
            after_quantifier = false;
            out.push(c);
        } else if c == '+' && after_quantifier {
            after_quantifier = false; // possessive marker: drop it
        } else if matches!(c, '?' | '*' | '+') && !(c == '?' && out.ends_with('(')) {
            after_quantifier = !(c == '?' && after_quantifier); // a lazy `?` ends the quantifier
            out.push(c);
        } else if c == '{'
            && chars[i..]
                .iter()
                .position(|&c| c == '}')
                .is_some_and(|k| chars[i + 1..i + k].iter().all(|c| c.is_ascii_digit() || *c == ','))
        {
            let k = chars[i..].iter().position(|&c| c == '}').expect("checked");
            out.extend(&chars[i..=i + k]);
            after_quantifier = true;
            i += k + 1;
            continue;
        } else {
            after_quantifier = false;
            out.push(c);
        }
        i += 1;
    }
    out
}

/// GPT-2's reversible byte -> printable char map (`bytes_to_unicode` in openai/gpt-2).
pub fn byte_to_unicode() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut n = 0;
    for b in 0..=255u8 {
        let printable = (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        map[b as usize] = if printable {
            b as char
        } else {
            n += 1;
            char::from_u32(255 + n).expect("valid char")
        };
    }
    map
}

/// The `tokenizer.json` document for `tok`.
pub fn export(tok: &Tokenizer) -> Value {
    let table = byte_to_unicode();
    let encode = |bytes: &[u8]| bytes.iter().map(|&b| table[b as usize]).collect::<String>();
    let vocab = tok.vocab();
    let ranks = vocab.ranks();
    let mut vocab_json = Map::new();
    let mut merges: Vec<(u32, u32, u32, String, String)> = Vec::new();
    for (bytes, rank) in &ranks {
        vocab_json.insert(encode(bytes), json!(rank));
        for split in 1..bytes.len() {
            let (l, r) = bytes.split_at(split);
            if let (Some(rl), Some(rr)) = (vocab.rank(l), vocab.rank(r)) {
                merges.push((*rank, rl, rr, encode(l), encode(r)));
            }
        }
    }
    merges.sort_by_key(|m| (m.0, m.1, m.2));
    let added: Vec<Value> = tok
        .special_tokens()
        .iter()
        .into_iter()
        .map(|(name, id)| {
            json!({"id": id, "content": name, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true})
        })
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": hf_pattern(tok.pretokenizer().pattern())},
             "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
        ]},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": true,
            "vocab": vocab_json,
            "merges": merges.into_iter().map(|m| json!([m.3, m.4])).collect::<Vec<_>>()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_map_is_gpt2s() {
        let m = byte_to_unicode();
        assert_eq!(m[b' ' as usize], 'Ġ');
        assert_eq!(m[b'\n' as usize], 'Ċ');
        assert_eq!(m[b'a' as usize], 'a');
        let distinct: std::collections::HashSet<char> = m.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
    }

    #[test]
    fn possessive_quantifiers_are_dropped_outside_classes() {
        assert_eq!(strip_possessive(r"a?+\p{L}++[+]\++x{1,3}+(?i:y)*?"), r"a?\p{L}+[+]\++x{1,3}(?i:y)*?");
        assert_eq!(
            strip_possessive(super::CL100K_PATTERN).replace("(?i:[sdmt]|ll|ve|re)", ""),
            super::CL100K_PATTERN
                .replace("?+", "?")
                .replace("++", "+")
                .replace("{1,3}+", "{1,3}")
                .replace("*+", "*")
                .replace("(?i:[sdmt]|ll|ve|re)", "")
        );
    }
}
