//! `async-openai` (crates.io) as a strict reader of every response shape: its serde types
//! refuse what lenient clients let through (`finish_reason: ""`, a missing `object` or
//! `created`, usage of the wrong shape, an error `code` that is not a string), so each body
//! and each stream chunk the server sends is read into them here: chat and text completions,
//! whole and streamed, with logprobs, `n`, usage chunks and echo; the model list; and every
//! error the server answers with.

mod common;

use async_openai::error::WrappedError;
use async_openai::types::chat::{CreateChatCompletionResponse, CreateChatCompletionStreamResponse, FinishReason};
use async_openai::types::completions::CreateCompletionResponse;
use async_openai::types::models::{ListModelResponse, Model};
use common::*;
use minichat_serve::Options;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// Reads `body` as `T`, failing with the body in the message.
fn strict<T: DeserializeOwned>(what: &str, body: &str) -> T {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("async-openai cannot read {what} ({e}):\n{body}"))
}

/// Every chunk of a stream read as `T`; the stream ends with `[DONE]`.
fn chunks<T: DeserializeOwned>(what: &str, r: &Response) -> Vec<T> {
    assert_eq!(r.status, 200, "{}", r.text());
    let events = r.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{what}: {events:?}");
    events[..events.len() - 1].iter().map(|e| strict(what, e)).collect()
}

fn whole<T: DeserializeOwned>(what: &str, r: &Response) -> T {
    assert_eq!(r.status, 200, "{what}: {}", r.text());
    strict(what, &r.text())
}

fn chat(addr: SocketAddr, extra: Value) -> Response {
    let mut body = json!({"model": "tiny", "messages": [{"role": "system", "content": "Be brief."},
                          {"role": "user", "content": "What is 12*7?"}], "max_tokens": 12, "seed": 3});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    post(addr, "/v1/chat/completions", &body)
}

#[test]
fn chat_completions_whole_and_streamed_read_strictly() {
    let addr = start(Options::default());
    let r: CreateChatCompletionResponse = whole("a chat completion", &chat(addr, json!({})));
    assert_eq!(r.object, "chat.completion");
    assert!(r.usage.is_some());
    let f = r.choices[0].finish_reason;
    assert!(matches!(f, Some(FinishReason::Stop | FinishReason::Length)), "{f:?}");

    let r: CreateChatCompletionResponse =
        whole("n=2 with logprobs", &chat(addr, json!({"n": 2, "logprobs": true, "top_logprobs": 3})));
    assert_eq!(r.choices.len(), 2);
    for c in &r.choices {
        let lp = c.logprobs.as_ref().and_then(|l| l.content.as_ref()).expect("logprobs.content");
        assert!(lp.iter().all(|t| t.top_logprobs.len() == 3 && t.bytes.is_some()));
    }

    let all: Vec<CreateChatCompletionStreamResponse> = chunks(
        "a chat stream",
        &chat(addr, json!({"stream": true, "n": 2, "logprobs": true, "stream_options": {"include_usage": true}})),
    );
    let ids: std::collections::HashSet<_> = all.iter().map(|c| (c.id.clone(), c.created)).collect();
    assert_eq!(ids.len(), 1, "one id and created for every chunk");
    let (last, body) = all.split_last().unwrap();
    assert!(last.choices.is_empty() && last.usage.is_some(), "the usage chunk comes last");
    for index in 0..2 {
        let finishes: Vec<_> =
            body.iter().flat_map(|c| &c.choices).filter(|c| c.index == index).map(|c| c.finish_reason).collect();
        assert!(finishes.last().unwrap().is_some() && finishes[..finishes.len() - 1].iter().all(Option::is_none));
    }
    // Without include_usage, no chunk has usage.
    let plain: Vec<CreateChatCompletionStreamResponse> =
        chunks("a plain chat stream", &chat(addr, json!({"stream": true})));
    assert!(plain.iter().all(|c| c.usage.is_none() && !c.choices.is_empty()));
}

#[test]
fn text_completions_and_models_read_strictly() {
    let addr = start(Options::default());
    let r: CreateCompletionResponse = whole(
        "a text completion with echo and logprobs",
        &post(
            addr,
            "/v1/completions",
            &json!({"prompt": ["Hello", [5, 6, 7]], "max_tokens": 4, "echo": true, "logprobs": 2}),
        ),
    );
    assert_eq!((r.object.as_str(), r.choices.len()), ("text_completion", 2));
    for c in &r.choices {
        let lp = c.logprobs.as_ref().expect("logprobs");
        assert_eq!(lp.tokens.len(), lp.token_logprobs.len());
        assert_eq!(lp.tokens.concat(), c.text);
    }
    let s: Vec<CreateCompletionResponse> = chunks(
        "a text completion stream",
        &post(
            addr,
            "/v1/completions",
            &json!({"prompt": "Hello", "max_tokens": 4, "stream": true, "stream_options": {"include_usage": true}}),
        ),
    );
    assert!(s.last().unwrap().choices.is_empty() && s.last().unwrap().usage.is_some());

    let list: ListModelResponse = whole("the model list", &get(addr, "/v1/models"));
    assert_eq!(list.data[0].id, "tiny");
    let m: Model = whole("a model", &get(addr, "/v1/models/tiny"));
    assert_eq!(m.object, "model");
}

#[test]
fn every_error_reads_strictly() {
    let addr = start(Options { api_key: Some("sk-test".into()), max_body_bytes: 4096, ..Options::default() });
    let auth = [("Authorization", "Bearer sk-test")];
    let send = |path: &str, headers: &[(&str, &str)], body: &[u8]| request(addr, "POST", path, headers, body);
    let long = json!({"prompt": "x".repeat(5000)}).to_string();
    let context = json!({"prompt": vec![5; 300]}).to_string();
    let cases: [(u16, Response); 7] = [
        (401, send("/v1/chat/completions", &[], b"{}")),
        (401, send("/v1/chat/completions", &[("Authorization", "Bearer nope")], b"{}")),
        (400, send("/v1/chat/completions", &auth, b"{not json")),
        (400, send("/v1/chat/completions", &auth, br#"{"messages": [{"role": "wizard", "content": "hi"}]}"#)),
        (404, send("/v1/completions", &auth, br#"{"model": "gpt-9", "prompt": "hi"}"#)),
        (413, send("/v1/completions", &auth, long.as_bytes())),
        (400, send("/v1/completions", &auth, context.as_bytes())),
    ];
    for (status, r) in &cases {
        assert_eq!(r.status, *status, "{}", r.text());
        let e: WrappedError = strict(&format!("a {status} error"), &r.text());
        assert!(!e.error.message.is_empty() && e.error.r#type.is_some());
    }
    // The field is named where one is at fault.
    let e: WrappedError = strict("a bad role", &cases[3].1.text());
    assert_eq!(e.error.param.as_deref(), Some("messages[0].role"));
}
