//! Invariants over arbitrary input: decode(encode(x)) == x for every tokenizer and split
//! pattern, streaming decoding equals whole decoding, and nothing panics.

use minichat_tokenizer::train::{TrainConfig, Trainer};
use minichat_tokenizer::{pretrained, SpecialSet, StreamDecoder, Tokenizer};
use proptest::prelude::*;
use std::sync::OnceLock;

const REPLACEMENT: char = char::REPLACEMENT_CHARACTER;

fn tokenizers() -> &'static Vec<Tokenizer> {
    static TOKS: OnceLock<Vec<Tokenizer>> = OnceLock::new();
    TOKS.get_or_init(|| {
        let mut v: Vec<Tokenizer> = pretrained::NAMES.iter().map(|n| pretrained::load(n).unwrap()).collect();
        // A small trained vocabulary per pattern, including a custom regex (fancy-regex path).
        let text: Vec<String> = vec!["the cat sat on the mat; 1234 cats! Ünïcödé 😀😀 \n\n  x".repeat(20)];
        for pattern in ["nanochat", "o200k", r"\w+|\s+|[^\w\s]+"] {
            let config = TrainConfig {
                vocab_size: 400,
                pattern: pattern.into(),
                special_tokens: vec!["<|bos|>".into()],
                max_doc_chars: None,
                name: pattern.into(),
                number_tokens: false,
            };
            let mut t = Trainer::new(config).unwrap();
            t.add_documents(&text);
            v.push(t.finish(|_, _| {}).unwrap().0);
        }
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn decode_inverts_encode(text in "\\PC*|[a-z 0-9\\n'😀é]{0,300}") {
        for tok in tokenizers() {
            let ids = tok.encode_ordinary(&text);
            prop_assert_eq!(&tok.decode_bytes(&ids).unwrap(), text.as_bytes(), "{}", tok.name());
            prop_assert_eq!(tok.count(&text), ids.len());
        }
    }

    #[test]
    fn streaming_decode_equals_whole_decode(text in "\\PC{0,80}") {
        for tok in tokenizers() {
            let ids = tok.encode_ordinary(&text);
            let mut d = StreamDecoder::new();
            let mut streamed = String::new();
            for &id in &ids {
                let piece = d.push(tok, id).unwrap();
                let clean = !piece.contains(REPLACEMENT) || text.contains(REPLACEMENT);
                prop_assert!(clean, "streamed a replacement char for {:?}", text);
                streamed.push_str(&piece);
            }
            streamed.push_str(&d.finish());
            prop_assert_eq!(&streamed, &text);
        }
    }

    #[test]
    fn special_tokens_in_text_never_panic(prefix in "\\PC{0,10}", suffix in "\\PC{0,10}") {
        let tok = &tokenizers()[0];
        let text = format!("{prefix}<|endoftext|>{suffix}");
        prop_assert!(tok.encode(&text, &SpecialSet::None, &SpecialSet::All).is_err());
        let ids = tok.encode(&text, &SpecialSet::All, &SpecialSet::All).unwrap();
        prop_assert!(ids.contains(&100257));
        prop_assert_eq!(tok.decode(&ids).unwrap(), text);
    }
}

#[test]
fn long_repetitive_pieces_are_fast_and_exact() {
    // A megabyte with no pre-tokenizer split point: the heap merge, not the quadratic one.
    let tok = pretrained::load("cl100k_base").unwrap();
    for unit in ["x", "ab", "_"] {
        let text = unit.repeat((1 << 20) / unit.len());
        let ids = tok.encode_ordinary(&text);
        assert_eq!(tok.decode(&ids).unwrap(), text);
    }
}
