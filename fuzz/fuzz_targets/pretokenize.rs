//! Differential: every hand-written scanner against fancy-regex with the same pattern, and
//! cl100k encode/decode round trip, on arbitrary UTF-8.
#![no_main]
use libfuzzer_sys::fuzz_target;
use minichat_tokenizer::pretokenize::{Pretokenizer, PRESETS};
use minichat_tokenizer::{pretrained, Tokenizer};
use std::sync::OnceLock;

struct State {
    pairs: Vec<(Pretokenizer, Pretokenizer)>,
    cl100k: Tokenizer,
}

fn state() -> &'static State {
    static S: OnceLock<State> = OnceLock::new();
    S.get_or_init(|| State {
        pairs: PRESETS
            .iter()
            .map(|(_, p)| (Pretokenizer::new(p).unwrap(), Pretokenizer::new_regex(p).unwrap()))
            .collect(),
        cl100k: pretrained::load("cl100k_base").unwrap(),
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let s = state();
    for (fast, reference) in &s.pairs {
        assert_eq!(fast.pieces(text), reference.pieces(text), "{}", fast.pattern());
    }
    let ids = s.cl100k.encode_ordinary(text);
    assert_eq!(s.cl100k.decode_bytes(&ids).unwrap(), data);
});
