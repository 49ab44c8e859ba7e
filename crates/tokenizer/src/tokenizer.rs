//! `Tokenizer`: a vocabulary, a split pattern and special tokens: encode and decode.

use crate::bpe::Vocab;
use crate::pretokenize::Pretokenizer;
use crate::special::{Part, SpecialSet, SpecialTokens};
use crate::Error;
use rayon::prelude::*;

/// A byte-level BPE tokenizer with tiktoken's semantics.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    name: String,
    vocab: Vocab,
    pretokenizer: Pretokenizer,
    special: SpecialTokens,
}

impl Tokenizer {
    /// Builds a tokenizer from mergeable ranks, a split pattern (preset name or regex) and special
    /// tokens. Special-token ids must not collide with ranks.
    pub fn new(
        name: &str,
        ranks: &[(Vec<u8>, u32)],
        pattern: &str,
        special: impl IntoIterator<Item = (String, u32)>,
    ) -> Result<Tokenizer, Error> {
        let vocab = Vocab::new(ranks)?;
        let special = SpecialTokens::new(special);
        for (token, id) in special.iter() {
            if vocab.bytes(id).is_some() {
                return Err(Error::Invalid(format!(
                    "special token {token} has id {id}, which is already an ordinary token"
                )));
            }
        }
        Ok(Tokenizer { name: name.to_string(), vocab, pretokenizer: Pretokenizer::new(pattern)?, special })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    pub fn pretokenizer(&self) -> &Pretokenizer {
        &self.pretokenizer
    }

    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.special
    }

    /// Number of ids: one more than the largest id, ordinary or special (the size a model's
    /// embedding table needs).
    pub fn n_vocab(&self) -> usize {
        let max_special = self.special.iter().iter().map(|&(_, id)| id as usize + 1).max();
        self.vocab.rank_slots().max(max_special.unwrap_or(0))
    }

    /// Encodes text with no special-token handling: `<|bos|>` in the text is just characters
    /// (tiktoken's `encode_ordinary`).
    pub fn encode_ordinary(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3);
        self.encode_ordinary_into(text, &mut out);
        out
    }

    /// `encode_ordinary`, appending to `out`.
    pub fn encode_ordinary_into(&self, text: &str, out: &mut Vec<u32>) {
        let vocab = &self.vocab;
        self.pretokenizer.split(text, |piece| vocab.encode_piece(piece.as_bytes(), out));
    }

    /// tiktoken's `encode(text, allowed_special, disallowed_special)`: tokens of `allowed` become
    /// their ids; an occurrence of a token of `disallowed` (minus `allowed`) is an error.
    pub fn encode(&self, text: &str, allowed: &SpecialSet, disallowed: &SpecialSet) -> Result<Vec<u32>, Error> {
        let disallowed = match (allowed, disallowed) {
            (SpecialSet::All, _) | (_, SpecialSet::None) => SpecialSet::None,
            (SpecialSet::None, d) => d.clone(),
            (SpecialSet::Only(a), SpecialSet::All) => SpecialSet::Only(
                self.special.iter().into_iter().map(|(n, _)| n.to_string()).filter(|n| !a.contains(n)).collect(),
            ),
            (SpecialSet::Only(a), SpecialSet::Only(d)) => {
                SpecialSet::Only(d.iter().filter(|n| !a.contains(n)).cloned().collect())
            }
        };
        if let Some((offset, token)) = self.special.find_any(text, &disallowed) {
            return Err(Error::DisallowedSpecial { token: token.to_string(), offset });
        }
        let mut out = Vec::with_capacity(text.len() / 3);
        self.encode_parts(text, allowed, &mut out);
        Ok(out)
    }

    /// Each stretch between special tokens is pre-tokenized on its own, as in tiktoken, so `$`
    /// in a pattern matches right before a special token.
    fn encode_parts(&self, text: &str, allowed: &SpecialSet, out: &mut Vec<u32>) {
        self.special.split(text, allowed, |part| match part {
            Part::Text(s) => self.encode_ordinary_into(s, out),
            Part::Special(id) => out.push(id),
        });
    }

    /// Encodes with every special token allowed (for rendering chats and training data).
    pub fn encode_with_special_tokens(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3);
        self.encode_parts(text, &SpecialSet::All, &mut out);
        out
    }

    /// Encodes many documents in parallel (rayon), each with `encode_ordinary`.
    pub fn encode_batch(&self, texts: &[&str]) -> Vec<Vec<u32>> {
        texts.par_iter().map(|t| self.encode_ordinary(t)).collect()
    }

    /// Number of tokens `encode_ordinary` would produce, without building the vector.
    pub fn count(&self, text: &str) -> usize {
        let mut buf = Vec::with_capacity(64);
        let mut n = 0;
        self.pretokenizer.split(text, |piece| {
            buf.clear();
            self.vocab.encode_piece(piece.as_bytes(), &mut buf);
            n += buf.len();
        });
        n
    }

    /// The id of a special token.
    pub fn special_id(&self, name: &str) -> Option<u32> {
        self.special.id(name)
    }

    /// The token that starts (and so separates) documents and conversations: `<|bos|>` in
    /// minichat's and nanochat's tokenizers, `<|endoftext|>` in OpenAI's (nanochat's
    /// `get_bos_token_id`).
    pub fn bos_id(&self) -> Result<u32, Error> {
        self.special_id("<|bos|>").or_else(|| self.special_id("<|endoftext|>")).ok_or_else(|| {
            Error::Invalid(format!(
                "tokenizer {} has neither <|bos|> nor <|endoftext|> to separate documents",
                self.name()
            ))
        })
    }

    /// The bytes of one token (special tokens decode to their text).
    pub fn token_bytes(&self, id: u32) -> Result<&[u8], Error> {
        if let Some(b) = self.vocab.bytes(id) {
            return Ok(b);
        }
        self.special.name(id).map(str::as_bytes).ok_or(Error::UnknownToken(id))
    }

    /// Decodes ids to bytes (which need not be valid UTF-8: a token can hold part of a char).
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            out.extend_from_slice(self.token_bytes(id)?);
        }
        Ok(out)
    }

    /// Decodes ids to text, replacing invalid UTF-8 with U+FFFD (tiktoken's `errors="replace"`).
    pub fn decode(&self, ids: &[u32]) -> Result<String, Error> {
        Ok(String::from_utf8_lossy(&self.decode_bytes(ids)?).into_owned())
    }
}
