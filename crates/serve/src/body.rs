//! What the handlers share: reading a JSON body (malformed: 400 saying where; too large:
//! 413), a cancel flag raised when the handler or its stream is dropped (the client went
//! away), token pieces as the API shows them, and finish reasons.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minichat_chat::assistant::FinishReason;
use minichat_tokenizer::special::SpecialSet;
use minichat_tokenizer::Tokenizer;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The request body as JSON.
pub fn json(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Value, ApiError> {
    let bytes = body.map_err(|r| match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(limit),
        _ => ApiError::bad_request(format!("the request body could not be read: {r}")),
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// The response, or the error's.
pub fn respond<T: IntoResponse>(r: Result<T, ApiError>) -> Response {
    match r {
        Ok(v) => v.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Raises the job's cancel flag when dropped: a handler future or a response stream is
/// dropped when its client disconnects, and the engine then ends that job at its next round.
pub struct CancelOnDrop(pub Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A token's text (invalid UTF-8, as in half a character, shown as U+FFFD) and its bytes.
pub fn piece(tok: &Tokenizer, id: u32) -> (String, Vec<u8>) {
    let bytes = tok.token_bytes(id).map(<[u8]>::to_vec).unwrap_or_default();
    (String::from_utf8_lossy(&bytes).into_owned(), bytes)
}

/// A token's text when it is whole UTF-8, else (part of a character split across tokens) its
/// bytes: how `/tokenize`'s pieces and the trace's tokens tell the two apart, as llama.cpp does.
pub fn whole_piece(tok: &Tokenizer, id: u32) -> Result<String, Vec<u8>> {
    let bytes = tok.token_bytes(id).map(<[u8]>::to_vec).unwrap_or_default();
    String::from_utf8(bytes).map_err(|e| e.into_bytes())
}

/// Text as token ids, special tokens' text read as those tokens (as llama.cpp and vLLM read
/// a prompt); an error names the field `param`.
pub fn encode_special(tok: &Tokenizer, text: &str, param: &str) -> Result<Vec<u32>, ApiError> {
    tok.encode(text, &SpecialSet::All, &SpecialSet::None).map_err(|e| ApiError::field(param, e.to_string()))
}

/// OpenAI's `finish_reason`; a full context is a "length" too.
pub fn finish_reason(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::Length | FinishReason::Context => "length",
        FinishReason::Cancelled => "stop",
    }
}

/// Seconds since the epoch (`created`).
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A response id: a prefix and 24 hex digits, unique in practice.
pub fn id(prefix: &str, seed: u64) -> String {
    let mut x = minichat_model::rng::SplitMix64::new(seed ^ 0x6d69_6e69_6368_6174);
    format!("{prefix}-{:016x}{:08x}", x.next_u64(), x.next_u64() as u32)
}
