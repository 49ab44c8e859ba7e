//! The Hugging Face export: the real `tokenizers` library (0.23.3) loaded our `tokenizer.json`
//! and its ids were recorded by `scripts/make_tokenizer_fixtures.py`; ours must be the same.

use minichat_tokenizer::{hf, tokenizer_file, SpecialSet};
use serde_json::Value;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn hf_tokenizers_encodes_our_export_identically() {
    for pattern in ["gpt4", "o200k"] {
        let tok = tokenizer_file::parse(fixture(&format!("hf_{pattern}.mctok")).as_bytes(), pattern).unwrap();
        // The committed export is what the current code produces, so the HF ids below are
        // evidence about today's exporter.
        let exported: Value = hf::export(&tok);
        let committed: Value = serde_json::from_str(&fixture(&format!("hf_{pattern}.tokenizer.json"))).unwrap();
        assert_eq!(exported, committed, "{pattern}: regenerate fixtures after changing the exporter");
        let mut n = 0;
        for line in fixture(&format!("hf_{pattern}.expected.jsonl")).lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let text = v["text"].as_str().unwrap();
            let expected: Vec<u32> = v["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
            let ours = tok.encode(text, &SpecialSet::All, &SpecialSet::None).unwrap();
            assert_eq!(ours, expected, "{pattern}: {text:?}");
            n += 1;
        }
        assert!(n > 40);
    }
}
