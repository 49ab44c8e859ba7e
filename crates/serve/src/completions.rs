//! `POST /v1/completions`: text continued as a base model continues it (no chat format, no
//! tools), for one prompt or several (text, or token ids as given), whole or streamed. With
//! `echo` the prompt comes back in front of the text, and with integer `logprobs` every token
//! (the prompt's too, with `echo`) has its log-probability and alternatives: what
//! lm-evaluation-harness's `local-completions` model scores multiple choice with.

use crate::body::{encode_special, finish_reason, id, json, now, piece, respond};
use crate::chat::{check_model, choices, usage_json, Head, FINGERPRINT};
use crate::engine::{Choice, Update};
use crate::error::ApiError;
use crate::request::{CompletionRequest, Prompt};
use crate::server::AppState;
use crate::sse::{self, Feed};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use minichat_chat::assistant::Event;
use minichat_chat::logprobs::TokenLogprob;
use minichat_tokenizer::{StreamDecoder, Tokenizer};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub async fn handle(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    respond(answer(s, body).await)
}

async fn answer(s: AppState, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let req = CompletionRequest::parse(&json(body, s.options.max_body_bytes)?, s.default_seed())?;
    let c = &req.common;
    check_model(&s, c.model.as_deref())?;
    if !c.ignored.is_empty() {
        eprintln!("completion request: ignored fields {:?}", c.ignored);
    }
    let bos = s.bos;
    // Every prompt starts a document, as the model was trained on them: `<|bos|>` goes in
    // front of one that lacks it (text or ids alike, so that lm-evaluation-harness's token-id
    // prompts score as `minichat eval` scores), unless `add_special_tokens` is false.
    let (prompts, added_bos): (Vec<Vec<u32>>, Vec<bool>) = req
        .prompts
        .iter()
        .map(|p| {
            let ids = match p {
                Prompt::Text(t) => encode_special(&s.tok, t, "prompt")?,
                Prompt::Ids(ids) => ids.clone(),
            };
            Ok(match req.add_bos && ids.first() != Some(&bos) {
                true => ([&[bos][..], &ids].concat(), true),
                false => (ids, false),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?
        .into_iter()
        .unzip();
    for (i, p) in prompts.iter().enumerate() {
        if p.is_empty() {
            return Err(ApiError::field("prompt", format!("prompt {i} has no tokens")));
        }
        if let Some(bad) = p.iter().find(|&&t| t as usize >= s.info.vocab()) {
            return Err(ApiError::field(
                "prompt",
                format!("token id {bad} is outside the vocabulary of {}", s.info.vocab()),
            ));
        }
        if p.len() >= s.info.context() {
            let mut e = ApiError::context(p.len(), s.info.context());
            e.param = Some("prompt".into());
            return Err(e);
        }
    }
    let logprobs = req.logprobs;
    let per_prompt = choices(&s, c, logprobs)?;
    let all: Vec<Choice> =
        (0..prompts.len()).flat_map(|p| per_prompt.iter().cloned().map(move |ch| Choice { prompt: p, ..ch })).collect();
    let echo: Vec<Option<Vec<u32>>> =
        prompts.iter().zip(&added_bos).map(|(p, &added)| req.echo.then(|| p[usize::from(added)..].to_vec())).collect();
    let (rx, guard) = s.start(prompts, all, true, c.stop.clone(), logprobs.filter(|_| req.echo))?;
    let head = Head { id: id("cmpl", s.default_seed()), created: now(), model: s.info.id.clone() };
    let mut text = Completion {
        head,
        tok: s.tok.clone(),
        n: c.n,
        choices: (0..c.n * echo.len()).map(|_| SoFar::default()).collect(),
        echo,
        added_bos,
        logprobs: logprobs.is_some(),
        include_usage: c.include_usage,
        streaming: c.stream,
        prompt_tokens: 0,
        cached_tokens: 0,
        completion_tokens: 0,
    };
    let mut first = Vec::new();
    text.echo_text(&mut first);
    if c.stream {
        return Ok(sse::stream(rx, guard, text, first, s.options.ping_interval));
    }
    sse::to_end(rx, &mut text).await?;
    drop(guard);
    Ok(Json(text.whole()).into_response())
}

/// One choice so far: its text and its tokens' logprobs (OpenAI's legacy lists).
#[derive(Default)]
struct SoFar {
    text: String,
    tokens: Vec<String>,
    token_logprobs: Vec<Value>,
    top_logprobs: Vec<Value>,
    text_offset: Vec<usize>,
    /// Characters of the tokens listed so far (the next token's offset).
    chars: usize,
    /// Entries not yet sent in a stream: from this index on.
    sent: usize,
    /// The drawn tokens' bytes as text, to know which tokens' text is whole.
    decoder: StreamDecoder,
    /// Entries whose text is whole (none of their bytes held back): a stream sends no further.
    resolved: usize,
    finish: Option<&'static str>,
}

impl SoFar {
    /// A token with the text it completes (see `attach`), its log-probability and alternatives.
    fn push(&mut self, tok: &Tokenizer, text: String, logprob: Option<f32>, top: &[(u32, f32)], with_top: bool) {
        self.text_offset.push(self.chars);
        self.tokens.push(String::new());
        self.attach(&text);
        self.token_logprobs.push(json!(logprob));
        let top = with_top.then(|| {
            let mut m = Map::new();
            for &(t, l) in top {
                m.entry(piece(tok, t).0).or_insert(json!(l));
            }
            Value::Object(m)
        });
        self.top_logprobs.push(top.unwrap_or(Value::Null));
    }

    /// Text that the last token completed. A token's text is the whole characters it
    /// completes, as vLLM gives it: empty for the first part of a character split across
    /// tokens, the whole character on the token that ends it. So the tokens add up to the
    /// choice's text and `text_offset` points into it.
    fn attach(&mut self, text: &str) {
        if let Some(last) = self.tokens.last_mut() {
            last.push_str(text);
            self.chars += text.chars().count();
        }
    }

    /// The legacy logprobs object of the entries from `from` on.
    fn logprobs(&self, from: usize) -> Value {
        self.logprobs_of(from..self.tokens.len())
    }

    fn logprobs_of(&self, r: std::ops::Range<usize>) -> Value {
        json!({"tokens": self.tokens[r.clone()], "token_logprobs": self.token_logprobs[r.clone()],
               "top_logprobs": self.top_logprobs[r.clone()], "text_offset": self.text_offset[r]})
    }
}

/// A text completion response being put together, as chunks or whole.
struct Completion {
    head: Head,
    tok: Arc<Tokenizer>,
    n: usize,
    choices: Vec<SoFar>,
    /// Per prompt: the tokens to echo (the bos the server added left out).
    echo: Vec<Option<Vec<u32>>>,
    added_bos: Vec<bool>,
    logprobs: bool,
    include_usage: bool,
    streaming: bool,
    prompt_tokens: usize,
    cached_tokens: usize,
    completion_tokens: usize,
}

impl Completion {
    fn chunk(&self, i: usize, text: &str, logprobs: Option<Value>, finish: Option<&str>) -> Value {
        let mut c = json!({
            "id": self.head.id, "object": "text_completion", "created": self.head.created, "model": self.head.model,
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": i, "text": text, "logprobs": logprobs, "finish_reason": finish}],
        });
        if self.include_usage {
            c["usage"] = Value::Null;
        }
        c
    }

    /// The echoed prompts' text (without logprobs, which come with the prompt's scores).
    fn echo_text(&mut self, out: &mut Vec<Value>) {
        if self.logprobs {
            return;
        }
        for i in 0..self.choices.len() {
            let Some(ids) = &self.echo[i / self.n] else { continue };
            let text = String::from_utf8_lossy(&self.tok.decode_bytes(ids).unwrap_or_default()).into_owned();
            self.choices[i].chars = text.chars().count();
            if self.streaming {
                out.push(self.chunk(i, &text, None, None));
            }
            self.choices[i].text = text;
        }
    }

    /// Takes an update, adding chunks to `out` when streaming; true once every choice is done.
    fn apply(&mut self, update: Update, out: &mut Vec<Value>) -> bool {
        match update {
            Update::Prompt { prompt, logprobs } => {
                let skip = usize::from(self.added_bos[prompt]);
                let tok = self.tok.clone();
                for i in prompt * self.n..(prompt + 1) * self.n {
                    let ids = self.echo[prompt].clone().unwrap_or_default();
                    let c = &mut self.choices[i];
                    let mut decoder = StreamDecoder::new();
                    for (&id, lp) in ids.iter().zip(&logprobs[skip..]) {
                        let (logprob, top) = lp.as_ref().map_or((None, &[][..]), |l| (Some(l.logprob), &l.top[..]));
                        let text = decoder.push(&tok, id).unwrap_or_default();
                        c.push(&tok, text, logprob, top, lp.is_some());
                    }
                    c.attach(&decoder.finish());
                    c.text = c.tokens.concat();
                    c.resolved = c.tokens.len();
                    if self.streaming {
                        let v = self.chunk(i, &self.choices[i].text, Some(self.choices[i].logprobs(0)), None);
                        self.choices[i].sent = self.choices[i].tokens.len();
                        out.push(v);
                    }
                }
            }
            Update::Event { choice: i, event } => self.event(i, event, out),
            Update::Failed(_) => {}
        }
        let done = self.choices.iter().all(|c| c.finish.is_some());
        if done && self.streaming && self.include_usage {
            out.push(json!({
                "id": self.head.id, "object": "text_completion", "created": self.head.created, "model": self.head.model,
                "system_fingerprint": FINGERPRINT, "choices": [], "usage": self.usage(),
            }));
        }
        done
    }

    fn event(&mut self, i: usize, event: Event, out: &mut Vec<Value>) {
        match event {
            // Its text comes with the `Event::Text` that follows once a character is whole.
            // A stream sends a token once its text is whole, so that text the stream's end
            // lets out (the rest of a split character) still joins it.
            Event::Token(TokenLogprob { token, logprob, top }) => {
                let tok = self.tok.clone();
                let c = &mut self.choices[i];
                c.push(&tok, String::new(), Some(logprob), &top, true);
                let _ = c.decoder.push(&tok, token);
                if !c.decoder.holds_back() {
                    c.resolved = c.tokens.len();
                }
            }
            Event::Text(text) => {
                if self.logprobs {
                    self.choices[i].attach(&text);
                }
                if self.streaming {
                    let c = &self.choices[i];
                    let lp = self.logprobs.then(|| c.logprobs_of(c.sent..c.resolved));
                    self.choices[i].sent = self.choices[i].resolved;
                    out.push(self.chunk(i, &text, lp, None));
                }
                self.choices[i].text.push_str(&text);
            }
            Event::Done { finish, usage } => {
                let reason = finish_reason(finish);
                self.choices[i].finish = Some(reason);
                if i.is_multiple_of(self.n) {
                    self.prompt_tokens += usage.prompt_tokens;
                    self.cached_tokens += usage.cached_tokens;
                }
                self.completion_tokens += usage.completion_tokens;
                if self.streaming {
                    let c = &self.choices[i];
                    let lp = (self.logprobs && c.sent < c.tokens.len()).then(|| c.logprobs(c.sent));
                    out.push(self.chunk(i, "", lp, Some(reason)));
                }
            }
            Event::ToolCall(_) | Event::ToolResult(_) => {}
        }
    }

    fn usage(&self) -> Value {
        usage_json(&minichat_chat::assistant::Usage {
            prompt_tokens: self.prompt_tokens,
            cached_tokens: self.cached_tokens,
            completion_tokens: self.completion_tokens,
            tool_tokens: 0,
        })
    }

    fn whole(&self) -> Value {
        let choices: Vec<Value> = self
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({"index": i, "text": c.text, "finish_reason": c.finish,
                       "logprobs": self.logprobs.then(|| c.logprobs(0))})
            })
            .collect();
        json!({
            "id": self.head.id, "object": "text_completion", "created": self.head.created, "model": self.head.model,
            "system_fingerprint": FINGERPRINT, "choices": choices, "usage": self.usage(),
        })
    }
}

impl Feed for Completion {
    fn update(&mut self, update: Update, out: &mut Vec<Value>) -> bool {
        self.apply(update, out)
    }
}
