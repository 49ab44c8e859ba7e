//! The hand-written scanners are proven equal to fancy-regex running the exact pattern strings
//! (the engine tiktoken uses), on random strings built to hit every branch and on real text.

use minichat_tokenizer::pretokenize::{Pretokenizer, PRESETS};
use proptest::prelude::*;

/// Characters chosen to exercise every class boundary the patterns care about: ASCII letters
/// and digits, contractions (with the case-folding oddities ſ and K), every whitespace kind,
/// letters of each general category (Lu, Ll, Lt, Lm, Lo), marks, non-ASCII numbers, symbols,
/// slashes and CR/LF, and 4-byte chars.
const ALPHABET: &[char] = &[
    'a', 'b', 's', 't', 'd', 'm', 'l', 'v', 'e', 'r', 'S', 'T', 'L', 'V', 'E', 'R', 'D', 'M', 'Z', 'ſ', 'K', 'k', '\'',
    '0', '1', '9', '½', '٣', 'Ⅻ', '²', ' ', ' ', ' ', '\t', '\n', '\r', '\u{0b}', '\u{0c}', '\u{a0}', '\u{2003}',
    '\u{2028}', '\u{3000}', '\u{85}', 'é', 'Ǆ', 'ǅ', 'ǆ', 'ʰ', 'ー', '中', 'ا', 'ß', 'Σ', '\u{301}', '\u{308}',
    '\u{20dd}', '\u{93f}', '!', '.', ',', '-', '_', '/', '#', '(', '"', '€', '😀', '🏽', '\u{200d}', '\u{feff}',
    '\u{0}', '\u{7f}', '𝔘', '𝔲',
];

/// Multi-char atoms for the contractions, which single random chars rarely spell.
const ATOMS: &[&str] =
    &["'s", "'S", "'ſ", "'t", "'d", "'m", "'ll", "'lL", "'LL", "'ve", "'VE", "'re", "'Re", "\r\n", " \n"];

fn text_strategy() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        3 => prop::sample::select(ALPHABET).prop_map(String::from),
        1 => prop::sample::select(ATOMS).prop_map(String::from),
    ];
    prop::collection::vec(atom, 0..40).prop_map(|v| v.concat())
}

fn assert_same(text: &str) {
    for (name, pattern) in PRESETS {
        let fast = Pretokenizer::new(pattern).unwrap();
        assert!(fast.is_scanner(), "{name} should use a scanner");
        let reference = Pretokenizer::new_regex(pattern).unwrap();
        assert_eq!(fast.pieces(text), reference.pieces(text), "pattern {name} on {text:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn scanners_equal_regex_on_random_text(text in text_strategy()) {
        assert_same(&text);
    }

    #[test]
    fn scanners_equal_regex_on_arbitrary_unicode(text in "\\PC{0,30}") {
        assert_same(&text);
    }
}

#[test]
fn scanners_equal_regex_on_the_embedded_corpus() {
    let corpus = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/corpus.jsonl")).unwrap();
    for line in corpus.lines().step_by(3) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_same(v["text"].as_str().unwrap());
    }
}

#[test]
fn scanners_equal_regex_on_edge_cases() {
    for t in [
        "",
        " ",
        "  ",
        "\n",
        " \n",
        "\n ",
        "a  ",
        "a \n\n b",
        "  a",
        "\r\n\r\n",
        " '",
        "'",
        "'s",
        "'ſ",
        "'LL",
        " !",
        " !\n/",
        "x'Re",
        "Ǆǅǆ'S",
        "\u{301}a",
        "\u{301}\u{301}",
        "ʰʰA",
        " \u{301}Ab",
        "1234567",
        "a1b2",
        " 12",
    ] {
        assert_same(t);
    }
}

#[test]
fn custom_patterns_use_the_regex_engine_and_bad_ones_are_errors() {
    let p = Pretokenizer::new(r"\w+|\s+|[^\w\s]+").unwrap();
    assert!(!p.is_scanner());
    assert_eq!(p.pieces("hi, you"), vec!["hi", ",", " ", "you"]);
    let err = Pretokenizer::new("(unclosed").unwrap_err().to_string();
    assert!(err.contains("invalid split pattern"), "{err}");
}
