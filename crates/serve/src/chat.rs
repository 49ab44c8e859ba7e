//! `POST /v1/chat/completions`: an assistant reply (or `n`) to OpenAI chat messages, whole or
//! streamed. The calculator and search calls the model makes run inside the engine; clients
//! see their text in fields the standard clients ignore: `minichat_tool_call` and
//! `minichat_tool_result` in a stream's deltas, `minichat_tools` in a whole reply's message.

use crate::body::{finish_reason, id, json, now, piece, respond};
use crate::engine::{Choice, Update};
use crate::error::ApiError;
use crate::request::ChatRequest;
use crate::server::AppState;
use crate::sse::{self, Feed};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use minichat_chat::assistant::{Event, Settings, Usage};
use minichat_chat::conversation::prompt_for_reply;
use minichat_chat::logprobs::TokenLogprob;
use minichat_tokenizer::Tokenizer;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn handle(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    respond(answer(s, body).await)
}

async fn answer(s: AppState, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let req = ChatRequest::parse(&json(body, s.options.max_body_bytes)?, s.default_seed())?;
    let c = &req.common;
    check_model(&s, c.model.as_deref())?;
    if !c.ignored.is_empty() {
        eprintln!("chat request: ignored fields {:?}", c.ignored);
    }
    let Some(ct) = &s.ct else {
        return Err(ApiError::bad_request(format!(
            "the model `{}` has no chat format (its tokenizer lacks the chat tokens): use /v1/completions",
            s.info.id
        )));
    };
    let prompt = prompt_for_reply(&req.messages, &s.tok, ct).map_err(|e| ApiError::field("messages", e.to_string()))?;
    if prompt.len() >= s.info.context() {
        return Err(ApiError::context(prompt.len(), s.info.context()));
    }
    let choices = choices(&s, c, req.logprobs)?;
    let (rx, guard) = s.start(vec![prompt], choices, false, c.stop.clone(), None)?;
    let head = Head { id: id("chatcmpl", s.default_seed()), created: now(), model: s.info.id.clone() };
    let mut reply = Reply::new(head, c.n, s.tok.clone(), req.logprobs.is_some(), c.include_usage);
    if c.stream {
        let first = (0..c.n).map(|i| reply.chunk(i, json!({"role": "assistant", "content": ""}), None, None)).collect();
        return Ok(sse::stream(rx, guard, reply, first, s.options.ping_interval));
    }
    sse::to_end(rx, &mut reply).await?;
    drop(guard);
    Ok(Json(reply.whole()).into_response())
}

/// A `model` other than the one served is a 404 (none given: the one served).
pub fn check_model(s: &AppState, model: Option<&str>) -> Result<(), ApiError> {
    match model {
        Some(m) if !m.is_empty() && m != s.info.id => Err(ApiError::not_found(format!(
            "the model `{m}` does not exist; this server serves `{}` (see /v1/models)",
            s.info.id
        ))),
        _ => Ok(()),
    }
}

/// The request's choices: one per reply, seeds seed, seed + 1, ...; the sampler checked
/// against the vocabulary (a bad logit_bias token is a 400).
pub fn choices(s: &AppState, c: &crate::request::Common, logprobs: Option<usize>) -> Result<Vec<Choice>, ApiError> {
    c.sampler.validate(s.info.vocab()).map_err(|e| {
        let param = if e.to_string().contains("logit bias") { "logit_bias" } else { "temperature" };
        ApiError::field(param, e.to_string())
    })?;
    let max_tokens = c.max_tokens.unwrap_or(s.options.max_tokens).min(s.options.max_tokens);
    Ok((0..c.n)
        .map(|i| {
            let mut sampler = c.sampler.clone();
            sampler.seed = sampler.seed.wrapping_add(i as u64);
            Choice { prompt: 0, settings: Settings { sampler, max_tokens, logprobs } }
        })
        .collect())
}

/// What every chunk of a response repeats.
pub struct Head {
    pub id: String,
    pub created: u64,
    pub model: String,
}

/// One choice as it is being answered.
#[derive(Default)]
struct ChoiceSoFar {
    content: String,
    /// Logprob entries not yet sent (a stream) or all of them (a whole reply).
    logprobs: Vec<Value>,
    tools: Vec<Value>,
    finish: Option<&'static str>,
}

/// A chat response being put together from the engine's updates, as chunks or whole.
pub struct Reply {
    head: Head,
    tok: Arc<Tokenizer>,
    choices: Vec<ChoiceSoFar>,
    logprobs: bool,
    include_usage: bool,
    streaming: bool,
    usage: Usage,
}

impl Reply {
    fn new(head: Head, n: usize, tok: Arc<Tokenizer>, logprobs: bool, include_usage: bool) -> Reply {
        let choices = (0..n).map(|_| ChoiceSoFar::default()).collect();
        Reply { head, tok, choices, logprobs, include_usage, streaming: false, usage: Usage::default() }
    }

    fn chunk(&mut self, i: usize, delta: Value, finish: Option<&str>, logprobs: Option<Vec<Value>>) -> Value {
        self.streaming = true;
        let mut c = json!({
            "id": self.head.id, "object": "chat.completion.chunk", "created": self.head.created,
            "model": self.head.model, "system_fingerprint": FINGERPRINT,
            "choices": [{"index": i, "delta": delta, "logprobs": logprobs.map(|l| json!({"content": l})),
                         "finish_reason": finish}],
        });
        if self.include_usage {
            c["usage"] = Value::Null;
        }
        c
    }

    fn apply(&mut self, update: Update, out: &mut Vec<Value>) -> bool {
        let Update::Event { choice: i, event } = update else { return false };
        let streaming = self.streaming;
        match event {
            Event::Token(lp) => {
                let entry = logprob_entry(&self.tok, &lp);
                self.choices[i].logprobs.push(entry);
            }
            Event::Text(text) => {
                if streaming {
                    let lp = self.logprobs.then(|| std::mem::take(&mut self.choices[i].logprobs));
                    out.push(self.chunk(i, json!({"content": text}), None, lp));
                } else {
                    self.choices[i].content.push_str(&text);
                }
            }
            Event::ToolCall(call) => {
                let v = json!({"name": call.name, "arguments": call.arguments});
                if streaming {
                    out.push(self.chunk(i, json!({"minichat_tool_call": v}), None, None));
                } else {
                    self.choices[i].tools.push(v);
                }
            }
            Event::ToolResult(result) => {
                if streaming {
                    out.push(self.chunk(i, json!({"minichat_tool_result": result}), None, None));
                } else if let Some(last) = self.choices[i].tools.last_mut() {
                    last["result"] = json!(result);
                }
            }
            Event::Done { finish, usage } => {
                let reason = finish_reason(finish);
                self.choices[i].finish = Some(reason);
                self.usage.prompt_tokens = usage.prompt_tokens;
                if i == 0 {
                    self.usage.cached_tokens = usage.cached_tokens;
                }
                self.usage.completion_tokens += usage.completion_tokens;
                if streaming {
                    let lp = std::mem::take(&mut self.choices[i].logprobs);
                    let lp = (self.logprobs && !lp.is_empty()).then_some(lp);
                    out.push(self.chunk(i, json!({}), Some(reason), lp));
                }
            }
        }
        let done = self.choices.iter().all(|c| c.finish.is_some());
        if done && streaming && self.include_usage {
            out.push(json!({
                "id": self.head.id, "object": "chat.completion.chunk", "created": self.head.created,
                "model": self.head.model, "system_fingerprint": FINGERPRINT, "choices": [], "usage": usage_json(&self.usage),
            }));
        }
        done
    }

    /// The whole response (`chat.completion`).
    fn whole(&self) -> Value {
        let choices: Vec<Value> = self
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut message = json!({"role": "assistant", "content": c.content, "refusal": null});
                if !c.tools.is_empty() {
                    message["minichat_tools"] = json!(c.tools);
                }
                json!({"index": i, "message": message, "finish_reason": c.finish,
                       "logprobs": self.logprobs.then(|| json!({"content": c.logprobs, "refusal": null}))})
            })
            .collect();
        json!({
            "id": self.head.id, "object": "chat.completion", "created": self.head.created, "model": self.head.model,
            "system_fingerprint": FINGERPRINT, "choices": choices, "usage": usage_json(&self.usage),
        })
    }
}

impl Feed for Reply {
    fn update(&mut self, update: Update, out: &mut Vec<Value>) -> bool {
        self.apply(update, out)
    }
}

/// Names the engine behind the replies (OpenAI's `system_fingerprint`).
pub const FINGERPRINT: &str = concat!("minichat-", env!("CARGO_PKG_VERSION"));

/// OpenAI's `usage`; `prompt_tokens_details.cached_tokens` counts the prompt tokens a kept
/// cache held (of the first choice of each prompt).
pub fn usage_json(u: &Usage) -> Value {
    json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
           "total_tokens": u.prompt_tokens + u.completion_tokens,
           "prompt_tokens_details": {"cached_tokens": u.cached_tokens}})
}

/// A token's entry of `logprobs.content`: its text and bytes, its logprob, the alternatives.
fn logprob_entry(tok: &Tokenizer, lp: &TokenLogprob) -> Value {
    let one = |id: u32, logprob: f32| {
        let (token, bytes) = piece(tok, id);
        json!({"token": token, "bytes": bytes, "logprob": logprob})
    };
    let mut e = one(lp.token, lp.logprob);
    e["top_logprobs"] = lp.top.iter().map(|&(t, l)| one(t, l)).collect();
    e
}
