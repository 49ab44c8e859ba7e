//! The .tiktoken parser on arbitrary bytes: an error or a vocabulary, never a panic; whatever
//! parses renders back to text that parses to the same ranks.
#![no_main]
use libfuzzer_sys::fuzz_target;
use minichat_tokenizer::{bpe::Vocab, rank_file};

fuzz_target!(|data: &[u8]| {
    if let Ok(ranks) = rank_file::parse(data, "fuzz") {
        let rendered = rank_file::render(&ranks);
        let mut again = rank_file::parse(rendered.as_bytes(), "again").expect("rendered ranks parse");
        let mut sorted = ranks.clone();
        sorted.sort_by_key(|(_, r)| *r);
        again.sort_by_key(|(_, r)| *r);
        assert_eq!(sorted, again);
        let _ = Vocab::new(&ranks);
    }
});
