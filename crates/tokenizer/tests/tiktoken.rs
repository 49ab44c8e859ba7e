//! Token-for-token equality with OpenAI's tiktoken 0.14 (fixtures from
//! `scripts/make_tokenizer_fixtures.py`).

use minichat_tokenizer::{pretrained, SpecialSet, Tokenizer};
use serde_json::Value;

const ENCODINGS: [&str; 3] = ["cl100k_base", "o200k_base", "r50k_base"];

fn fixture_lines(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/tiktoken_{name}.jsonl", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ids(v: &Value) -> Vec<u32> {
    v["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

#[test]
fn encode_matches_tiktoken_on_tricky_strings_and_corpus_excerpts() {
    for name in ENCODINGS {
        let tok = pretrained::load(name).unwrap();
        let lines = fixture_lines(name);
        assert!(lines.len() > 50);
        for line in lines {
            let text = line["text"].as_str().unwrap();
            let got = if line.get("special").is_some() {
                tok.encode(text, &SpecialSet::All, &SpecialSet::All).unwrap()
            } else {
                tok.encode_ordinary(text)
            };
            assert_eq!(got, ids(&line), "{name}: {text:?}");
            assert_eq!(tok.decode(&got).unwrap(), text, "{name} round trip");
        }
    }
}

fn fnv64(ids: &[u32]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for id in ids {
        for b in id.to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
    }
    h
}

#[test]
fn encode_matches_tiktoken_on_the_whole_embedded_corpus() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/crates/tokenizer/tests/fixtures/tiktoken_corpus.json")).unwrap(),
    )
    .unwrap();
    let docs: Vec<String> = std::fs::read_to_string(format!("{root}/data/corpus.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    for name in ENCODINGS {
        let tok = pretrained::load(name).unwrap();
        let mut all = Vec::new();
        for d in &docs {
            tok.encode_ordinary_into(d, &mut all);
        }
        let e = &expected[name];
        assert_eq!(docs.len() as u64, e["documents"].as_u64().unwrap());
        assert_eq!(all.len() as u64, e["tokens"].as_u64().unwrap(), "{name} token count");
        assert_eq!(format!("{:016x}", fnv64(&all)), e["fnv64"].as_str().unwrap(), "{name} ids hash");
    }
}

#[test]
fn special_tokens_follow_tiktoken_rules() {
    let tok: Tokenizer = pretrained::load("cl100k_base").unwrap();
    let text = "hi <|endoftext|> there";
    // Default: disallowed everywhere -> error naming the token and offset.
    let err = tok.encode(text, &SpecialSet::None, &SpecialSet::All).unwrap_err().to_string();
    assert!(err.contains("<|endoftext|>") && err.contains("byte 3"), "{err}");
    // Allowed -> one id.
    let ids = tok.encode(text, &SpecialSet::Only(vec!["<|endoftext|>".into()]), &SpecialSet::All).unwrap();
    assert!(ids.contains(&100257));
    // Disallow nothing -> encoded as ordinary text, same as encode_ordinary.
    let ids = tok.encode(text, &SpecialSet::None, &SpecialSet::None).unwrap();
    assert_eq!(ids, tok.encode_ordinary(text));
    assert!(!ids.contains(&100257));
    // Allowing one token does not allow another.
    let err = tok
        .encode("<|fim_prefix|><|endoftext|>", &SpecialSet::Only(vec!["<|endoftext|>".into()]), &SpecialSet::All)
        .unwrap_err();
    assert!(err.to_string().contains("<|fim_prefix|>"));
    assert_eq!(tok.decode(&[100257]).unwrap(), "<|endoftext|>");
    assert!(tok.decode(&[100256]).is_err());
}
