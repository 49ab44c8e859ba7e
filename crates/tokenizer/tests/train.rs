//! Training: same vocabulary as nanochat's rustbpe, deterministic, documents truncated.

use minichat_corpus::documents as input;
use minichat_tokenizer::train::{TrainConfig, Trainer};
use minichat_tokenizer::{rank_file, tokenizer_file, Tokenizer, CHAT_SPECIAL_TOKENS};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn train(paths: &[PathBuf], vocab_size: usize, special: &[&str]) -> Tokenizer {
    let config = TrainConfig {
        vocab_size,
        pattern: "gpt4".into(),
        special_tokens: special.iter().map(|s| s.to_string()).collect(),
        max_doc_chars: None,
        name: "test".into(),
        number_tokens: false,
    };
    let mut trainer = Trainer::new(config).unwrap();
    input::for_each_batch(paths, 1 << 20, |batch, _| {
        trainer.add_documents(&batch);
        true
    })
    .unwrap();
    trainer.finish(|_, _| {}).unwrap().0
}

#[test]
fn learns_exactly_the_vocabulary_rustbpe_learns() {
    let ours = train(&[root().join("data/corpus.jsonl")], 2048, &[]);
    let theirs = rank_file::load(&root().join("crates/tokenizer/tests/fixtures/rustbpe_2048.tiktoken")).unwrap();
    assert_eq!(theirs.len(), 2048);
    assert_eq!(ours.vocab().ranks(), theirs);
}

#[test]
fn training_is_deterministic_and_special_tokens_come_last() {
    let paths = [root().join("data/corpus.jsonl")];
    let a = train(&paths, 1000, &CHAT_SPECIAL_TOKENS);
    let b = train(&paths, 1000, &CHAT_SPECIAL_TOKENS);
    assert_eq!(tokenizer_file::render(&a), tokenizer_file::render(&b));
    assert_eq!(a.n_vocab(), 1000);
    assert_eq!(a.special_id("<|bos|>"), Some(991));
    assert_eq!(a.special_id("<|tool_result_end|>"), Some(999));
    // The file round-trips.
    let back = tokenizer_file::parse(tokenizer_file::render(&a).as_bytes(), "mem").unwrap();
    assert_eq!(tokenizer_file::render(&back), tokenizer_file::render(&a));
    let text = "def f(x):\n    return x ** 2  # Über naïve 😀";
    assert_eq!(back.encode_ordinary(text), a.encode_ordinary(text));
    assert_eq!(a.decode(&a.encode_ordinary(text)).unwrap(), text);
}

#[test]
fn max_doc_chars_truncates_documents() {
    let long = std::env::temp_dir().join(format!("long{}.jsonl", std::process::id()));
    std::fs::write(&long, format!("{{\"text\": \"{}\"}}\n", "abc ".repeat(1000))).unwrap();
    let mut config = TrainConfig {
        vocab_size: 300,
        pattern: "gpt4".into(),
        special_tokens: vec![],
        max_doc_chars: Some(8),
        name: "t".into(),
        number_tokens: false,
    };
    let mut trainer = Trainer::new(config.clone()).unwrap();
    input::for_each_batch(std::slice::from_ref(&long), 1 << 20, |b, _| {
        trainer.add_documents(&b);
        true
    })
    .unwrap();
    let (_, report) = trainer.finish(|_, _| {}).unwrap();
    // "abc abc abc ..." truncated to 8 chars is "abc abc ": [abc][ abc][ ].
    assert_eq!(report.pieces, 3);
    config.max_doc_chars = None;
    assert!(Trainer::new(TrainConfig { vocab_size: 10, ..config }).is_err());
}

#[test]
fn number_tokens_cut_every_number_the_same_way() {
    let config = |pattern: &str, vocab_size: usize| TrainConfig {
        vocab_size,
        pattern: pattern.into(),
        special_tokens: vec![],
        max_doc_chars: None,
        name: "numbers".into(),
        number_tokens: true,
    };
    let trained = |c: TrainConfig| -> Result<Tokenizer, minichat_tokenizer::Error> {
        let mut trainer = Trainer::new(c)?;
        input::for_each_batch(&[root().join("data/corpus.jsonl")], 1 << 20, |batch, _| {
            trainer.add_documents(&batch);
            true
        })
        .unwrap();
        Ok(trainer.finish(|_, _| {})?.0)
    };
    let tok = trained(config("gpt4", 2048)).unwrap();
    // Every string of 1 to 3 digits is one token; longer numbers are cut in threes from the left.
    for n in (0..1000).flat_map(|n| [format!("{n}"), format!("{n:02}"), format!("{n:03}")]) {
        assert_eq!(tok.encode_ordinary(&n).len(), 1, "{n}");
    }
    let ids = tok.encode_ordinary("x 1234567 y");
    assert_eq!(ids.iter().map(|&i| tok.decode(&[i]).unwrap()).collect::<Vec<_>>(), ["x", " ", "123", "456", "7", " y"]);
    // The rest of the vocabulary is still learned (it still compresses text), and deterministic.
    let text = "def f(x):\n    return x ** 2  # the 404 page";
    assert!(tok.encode_ordinary(text).len() < text.len() * 2 / 3 && tok.encode_ordinary(" return").len() == 1);
    assert_eq!(tokenizer_file::render(&tok), tokenizer_file::render(&trained(config("gpt4", 2048)).unwrap()));
    // nanochat's pattern cuts digits in twos: its 100 two-digit strings.
    let two = trained(config("nanochat", 600)).unwrap();
    assert_eq!(two.encode_ordinary("9876").len(), 2);
    // GPT-2's pattern does not bound digit runs, and a vocabulary must hold the numbers.
    assert!(trained(config("gpt2", 2048)).unwrap_err().to_string().contains("bounded"));
    assert!(trained(config("gpt4", 1000)).unwrap_err().to_string().contains("number tokens"));
}
