//! What the chat crate's integration tests share.

use minichat_tokenizer::train::{TrainConfig, Trainer};
use minichat_tokenizer::{Tokenizer, CHAT_SPECIAL_TOKENS};

/// A 300-token tokenizer with the chat format's special tokens, trained on `copies` of `doc`.
pub fn chat_tokenizer(name: &str, doc: &str, copies: usize) -> Tokenizer {
    let config = TrainConfig {
        vocab_size: 300,
        pattern: "gpt4".into(),
        special_tokens: CHAT_SPECIAL_TOKENS.iter().map(|s| s.to_string()).collect(),
        max_doc_chars: None,
        name: name.into(),
        number_tokens: false,
    };
    let mut trainer = Trainer::new(config).unwrap();
    trainer.add_documents(&vec![doc.to_string(); copies]);
    trainer.finish(|_, _| {}).unwrap().0
}
