//! Streaming decoding: turn ids into text as they are generated, never emitting half a char;
//! and a token sequence as spans of whole characters (`spans`, for showing tokens).
//!
//! A byte-level BPE token may end in the middle of a multi-byte UTF-8 character (an emoji is
//! often two or three tokens). The decoder holds back an incomplete trailing sequence until the
//! next token completes it; bytes that can never become valid UTF-8 are emitted as U+FFFD.

use crate::{Error, Tokenizer};

/// Incremental decoder for one stream of ids.
#[derive(Default, Debug, Clone)]
pub struct StreamDecoder {
    pending: Vec<u8>,
}

impl StreamDecoder {
    pub fn new() -> StreamDecoder {
        StreamDecoder::default()
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    pub fn push(&mut self, tokenizer: &Tokenizer, id: u32) -> Result<String, Error> {
        self.pending.extend_from_slice(tokenizer.token_bytes(id)?);
        Ok(self.take_complete())
    }

    /// Adds raw bytes; returns the text that is now complete.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        self.take_complete()
    }

    /// Whether bytes are held back (the last token ended inside a character).
    pub fn holds_back(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Ends the stream: whatever is held back is emitted, invalid bytes as U+FFFD.
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }

    fn take_complete(&mut self) -> String {
        let mut out = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&rest[..valid]).expect("valid prefix"));
                    match e.error_len() {
                        // Invalid bytes: they can never complete, replace them and go on.
                        Some(bad) => {
                            out.push('\u{FFFD}');
                            rest = &rest[valid + bad..];
                        }
                        // An incomplete char at the end: hold it back for the next token.
                        None => {
                            rest = &rest[valid..];
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        out
    }
}

/// One span of whole characters: the text of one or more tokens (several when a character is
/// split across tokens) and their ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub ids: Vec<u32>,
}

/// Groups tokens into spans of whole UTF-8 characters (tiktokenizer's coloured tokens).
pub fn spans(tok: &Tokenizer, ids: &[u32]) -> Result<Vec<Span>, Error> {
    let mut out = Vec::new();
    let (mut bytes, mut group) = (Vec::new(), Vec::new());
    for &id in ids {
        bytes.extend_from_slice(tok.token_bytes(id)?);
        group.push(id);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            out.push(Span { text: text.to_string(), ids: std::mem::take(&mut group) });
            bytes.clear();
        }
    }
    if !group.is_empty() {
        out.push(Span { text: String::from_utf8_lossy(&bytes).into_owned(), ids: group });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_back_incomplete_chars_and_replaces_invalid_bytes() {
        let mut d = StreamDecoder::new();
        let smile = "😀".as_bytes();
        assert_eq!(d.push_bytes(b"hi "), "hi ");
        assert_eq!(d.push_bytes(&smile[..1]), "");
        assert_eq!(d.push_bytes(&smile[1..3]), "");
        assert_eq!(d.push_bytes(&smile[3..]), "😀");
        assert_eq!(d.push_bytes(b"\xffok"), "\u{FFFD}ok");
        assert_eq!(d.push_bytes(&smile[..2]), "");
        assert!(d.holds_back());
        assert_eq!(d.finish(), "\u{FFFD}");
        assert!(!d.holds_back());
        assert_eq!(d.finish(), "");
    }
}
