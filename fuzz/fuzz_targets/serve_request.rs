//! The server's request parsing: any JSON body for `/v1/chat/completions` and
//! `/v1/completions` becomes a request or an API error naming the field, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let _ = minichat_serve::request::ChatRequest::parse(&body, 0);
    let _ = minichat_serve::request::CompletionRequest::parse(&body, 0);
});
