//! Request bodies of `/v1/chat/completions` and `/v1/completions`, read leniently
//! (`fields`): what the sampler, the engine and the response need from them.

use crate::error::ApiError;
use crate::fields::{kind, wrong, Fields};
use minichat_chat::conversation::{Message, Role, ToolCall};
use minichat_chat::sampler::SamplerConfig;
use serde_json::Value;

/// Replies per prompt at most.
pub const MAX_N: u64 = 16;
/// Alternatives per token at most (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: u64 = 20;

/// What both endpoints take.
#[derive(Clone, Debug)]
pub struct Common {
    pub model: Option<String>,
    pub sampler: SamplerConfig,
    pub n: usize,
    /// `max_tokens` / `max_completion_tokens` (the smaller when both are given).
    pub max_tokens: Option<usize>,
    pub stop: Vec<String>,
    pub stream: bool,
    pub include_usage: bool,
    /// Fields present that the server ignores.
    pub ignored: Vec<String>,
}

/// A chat completion request.
#[derive(Clone, Debug)]
pub struct ChatRequest {
    pub common: Common,
    pub messages: Vec<Message>,
    /// `logprobs: true`, with `top_logprobs` alternatives.
    pub logprobs: Option<usize>,
}

/// The prompt of a text completion: text (special tokens' text is read as those tokens, as
/// llama.cpp and vLLM read it), or token ids.
#[derive(Clone, Debug, PartialEq)]
pub enum Prompt {
    Text(String),
    Ids(Vec<u32>),
}

/// A text completion request.
#[derive(Clone, Debug)]
pub struct CompletionRequest {
    pub common: Common,
    pub prompts: Vec<Prompt>,
    pub echo: bool,
    /// Integer `logprobs`: alternatives per token.
    pub logprobs: Option<usize>,
    /// `add_special_tokens` (vLLM's name; llama.cpp's `add_special`), on unless set false:
    /// a prompt that does not start with `<|bos|>` gets one in front, unseen in the echo.
    pub add_bos: bool,
}

/// Reads the fields both endpoints share; `default_seed` is used when none is given.
fn common(f: &mut Fields, default_seed: u64) -> Result<Common, ApiError> {
    let model = f.string("model")?.map(str::to_string);
    let mut s = SamplerConfig { seed: f.seed("seed")?.unwrap_or(default_seed), ..Default::default() };
    if let Some(t) = f.number("temperature", 0.0, 2.0)? {
        s.temperature = t as f32;
    }
    if let Some(p) = f.number("top_p", 0.0, 1.0)? {
        // top_p 0 means "only the most likely token", as llama.cpp reads it.
        s.top_p = (p as f32).max(f32::MIN_POSITIVE);
    }
    s.top_k = f.integer("top_k", 0, u32::MAX as u64)?.unwrap_or(0) as usize;
    s.min_p = f.number("min_p", 0.0, 1.0)?.unwrap_or(0.0) as f32;
    s.frequency_penalty = f.number("frequency_penalty", -2.0, 2.0)?.unwrap_or(0.0) as f32;
    s.presence_penalty = f.number("presence_penalty", -2.0, 2.0)?.unwrap_or(0.0) as f32;
    s.repetition_penalty = f.number("repeat_penalty", 0.01, 10.0)?.unwrap_or(1.0) as f32;
    s.logit_bias = logit_bias(f.get("logit_bias"))?;
    let n = f.integer("n", 1, MAX_N)?.unwrap_or(1) as usize;
    let max_tokens =
        [f.integer("max_tokens", 0, u32::MAX as u64)?, f.integer("max_completion_tokens", 0, u32::MAX as u64)?]
            .into_iter()
            .flatten()
            .min()
            .map(|m| m as usize);
    let stop = f.stop("stop", 16)?;
    let stream = f.bool("stream")?.unwrap_or(false);
    let include_usage = match f.get("stream_options") {
        None => false,
        Some(Value::Object(o)) => match o.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => return Err(wrong("stream_options.include_usage", "true or false", v)),
        },
        Some(v) => return Err(wrong("stream_options", "an object", v)),
    };
    // Accepted and ignored: who the user is, what to store, how to serve.
    f.ignore(&["user", "metadata", "store", "service_tier", "parallel_tool_calls", "tool_choice", "tools"]);
    Ok(Common { model, sampler: s, n, max_tokens, stop, stream, include_usage, ignored: Vec::new() })
}

/// `logit_bias`: token id (as a string key) to a bias in -100..=100; -100 bans the token.
fn logit_bias(v: Option<&Value>) -> Result<Vec<(u32, f32)>, ApiError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let Value::Object(map) = v else { return Err(wrong("logit_bias", "an object of token id to bias", v)) };
    map.iter()
        .map(|(k, b)| {
            let id: u32 = k
                .trim()
                .parse()
                .map_err(|_| ApiError::field("logit_bias", format!("`logit_bias` key {k:?} is not a token id")))?;
            let b = b.as_f64().filter(|b| (-100.0..=100.0).contains(b)).ok_or_else(|| {
                ApiError::field("logit_bias", format!("`logit_bias` for token {id} must be a number in -100..=100"))
            })?;
            Ok((id, if b <= -100.0 { f32::NEG_INFINITY } else { b as f32 }))
        })
        .collect()
}

/// A `response_format` the server cannot honour is refused (LangChain recognises this
/// wording and falls back to tool calling).
fn response_format(f: &mut Fields) -> Result<(), ApiError> {
    let Some(v) = f.get("response_format") else { return Ok(()) };
    let t = v.get("type").and_then(Value::as_str);
    match t {
        Some("text") => Ok(()),
        Some(t @ ("json_object" | "json_schema")) => Err(ApiError::field(
            "response_format",
            format!("'response_format' of type '{t}' is not supported with this model"),
        )),
        _ => Err(wrong(
            "response_format.type",
            "\"text\", \"json_object\" or \"json_schema\"",
            v.get("type").unwrap_or(v),
        )),
    }
}

impl ChatRequest {
    pub fn parse(body: &Value, default_seed: u64) -> Result<ChatRequest, ApiError> {
        let mut f = Fields::of(body)?;
        let mut common = common(&mut f, default_seed)?;
        let messages = messages(f.get("messages"))?;
        let top = f.integer("top_logprobs", 0, MAX_TOP_LOGPROBS)?;
        let logprobs = match f.bool("logprobs")? {
            Some(true) => Some(top.unwrap_or(0) as usize),
            _ if top.is_some_and(|t| t > 0) => {
                return Err(ApiError::field("top_logprobs", "`top_logprobs` needs `logprobs: true`"))
            }
            _ => None,
        };
        response_format(&mut f)?;
        f.ignore(&["functions", "function_call", "reasoning_effort", "modalities", "audio", "prediction"]);
        common.ignored = f.unknown();
        Ok(ChatRequest { common, messages, logprobs })
    }
}

/// `messages`: OpenAI's list, as the chat format holds it. Consecutive system (or developer)
/// and user messages are joined, as clients often split them.
pub fn messages(v: Option<&Value>) -> Result<Vec<Message>, ApiError> {
    let Some(v) = v else { return Err(ApiError::field("messages", "`messages` is required")) };
    let Value::Array(list) = v else { return Err(wrong("messages", "a list of messages", v)) };
    if list.is_empty() {
        return Err(ApiError::field("messages", "`messages` is empty"));
    }
    let mut out: Vec<Message> = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let at = |what: &str| format!("messages[{i}]{what}");
        let Value::Object(o) = m else { return Err(wrong(&at(""), "a message object", m)) };
        let role = match o.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => Role::System,
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            Some("tool") => Role::Tool,
            Some(r) => {
                return Err(ApiError::field(
                    at(".role"),
                    format!("`{}` is {r:?}; it must be system, developer, user, assistant or tool", at(".role")),
                ))
            }
            None => return Err(ApiError::field(at(".role"), format!("`{}` is required (a string)", at(".role")))),
        };
        let content = content(o.get("content"), &at(".content"))?;
        let calls = tool_calls(o.get("tool_calls"), &at(".tool_calls"))?;
        match out.last_mut() {
            Some(last) if last.role == role && matches!(role, Role::System | Role::User) => {
                last.content = format!("{}\n\n{content}", last.content);
            }
            _ => out.push(Message { role, content, tool_calls: calls }),
        }
    }
    Ok(out)
}

/// A message's content: a string, null, or a list of parts of which text parts are read.
fn content(v: Option<&Value>, at: &str) -> Result<String, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut text = Vec::new();
            for (j, p) in parts.iter().enumerate() {
                match (p.get("type").and_then(Value::as_str), p.get("text").and_then(Value::as_str)) {
                    (Some("text") | None, Some(t)) => text.push(t),
                    (Some(t), _) => {
                        return Err(ApiError::field(
                            format!("{at}[{j}]"),
                            format!("`{at}[{j}]` is a {t:?} part; this model reads text parts only"),
                        ))
                    }
                    _ => {
                        return Err(wrong(&format!("{at}[{j}]"), "a text part {\"type\": \"text\", \"text\": ...}", p))
                    }
                }
            }
            Ok(text.join("\n"))
        }
        Some(v) => Err(wrong(at, "a string or a list of parts", v)),
    }
}

/// An assistant message's `tool_calls` (OpenAI's `function` objects): name and arguments.
fn tool_calls(v: Option<&Value>, at: &str) -> Result<Vec<ToolCall>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    let Value::Array(list) = v else { return Err(wrong(at, "a list of tool calls", v)) };
    list.iter()
        .enumerate()
        .map(|(j, c)| {
            let f = c.get("function").unwrap_or(c);
            let name = f.get("name").and_then(Value::as_str);
            let args = f.get("arguments");
            match (name, args) {
                (Some(name), Some(Value::String(a))) => Ok(ToolCall { name: name.into(), arguments: a.clone() }),
                (Some(name), None | Some(Value::Null)) => Ok(ToolCall { name: name.into(), arguments: String::new() }),
                _ => Err(ApiError::field(
                    format!("{at}[{j}]"),
                    format!("`{at}[{j}]` needs a function name and its arguments as a string, not {}", kind(c)),
                )),
            }
        })
        .collect()
}

impl CompletionRequest {
    pub fn parse(body: &Value, default_seed: u64) -> Result<CompletionRequest, ApiError> {
        let mut f = Fields::of(body)?;
        let mut common = common(&mut f, default_seed)?;
        let prompts = prompts(f.get("prompt"))?;
        let echo = f.bool("echo")?.unwrap_or(false);
        let add_bos = f.bool("add_special_tokens")?.or(f.bool("add_special")?).unwrap_or(true);
        let logprobs = f.integer("logprobs", 0, MAX_TOP_LOGPROBS)?.map(|l| l as usize);
        if f.integer("best_of", 0, MAX_N)?.is_some_and(|b| b as usize > common.n) {
            return Err(ApiError::field("best_of", "`best_of` larger than `n` is not supported"));
        }
        if f.string("suffix")?.is_some_and(|s| !s.is_empty()) {
            return Err(ApiError::field("suffix", "`suffix` (insertion) is not supported by this model"));
        }
        common.ignored = f.unknown();
        Ok(CompletionRequest { common, prompts, echo, logprobs, add_bos })
    }
}

/// `prompt`: a string, a list of strings, a list of token ids, or a list of lists of ids.
fn prompts(v: Option<&Value>) -> Result<Vec<Prompt>, ApiError> {
    let ids = |v: &Value, at: &str| -> Result<Vec<u32>, ApiError> {
        let Value::Array(a) = v else { return Err(wrong(at, "a list of token ids", v)) };
        a.iter()
            .map(|t| {
                t.as_u64()
                    .filter(|&t| t <= u32::MAX as u64)
                    .map(|t| t as u32)
                    .ok_or_else(|| wrong(at, "a list of token ids", t))
            })
            .collect()
    };
    match v {
        None => Err(ApiError::field("prompt", "`prompt` is required")),
        Some(Value::String(s)) => Ok(vec![Prompt::Text(s.clone())]),
        Some(Value::Array(a)) if a.is_empty() => Err(ApiError::field("prompt", "`prompt` is empty")),
        Some(Value::Array(a)) => match &a[0] {
            Value::Number(_) => Ok(vec![Prompt::Ids(ids(v.unwrap_or(&Value::Null), "prompt")?)]),
            _ => a
                .iter()
                .enumerate()
                .map(|(i, p)| match p {
                    Value::String(s) => Ok(Prompt::Text(s.clone())),
                    Value::Array(_) => Ok(Prompt::Ids(ids(p, &format!("prompt[{i}]"))?)),
                    _ => Err(wrong(&format!("prompt[{i}]"), "a string or a list of token ids", p)),
                })
                .collect(),
        },
        Some(v) => Err(wrong("prompt", "a string, a list of strings or a list of token ids", v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_fields_are_read_and_unknown_ones_listed() {
        let body = json!({
            "model": "m", "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hi"}], "name": "ann"},
                {"role": "user", "content": "there"}
            ],
            "temperature": 0, "max_tokens": 30, "max_completion_tokens": 20, "n": 2, "stop": ["\n"],
            "seed": -1, "logprobs": true, "top_logprobs": 3, "logit_bias": {"5": -100},
            "stream": true, "stream_options": {"include_usage": true}, "user": "u", "tools": null, "foo": 1
        });
        let r = ChatRequest::parse(&body, 7).unwrap();
        assert_eq!(r.messages.len(), 2);
        assert_eq!(r.messages[1].content, "Hi\n\nthere");
        let c = &r.common;
        assert_eq!((c.n, c.max_tokens, c.stream, c.include_usage), (2, Some(20), true, true));
        assert_eq!((c.sampler.temperature, c.sampler.seed), (0.0, u64::MAX));
        assert_eq!(c.sampler.logit_bias, vec![(5, f32::NEG_INFINITY)]);
        assert_eq!(r.logprobs, Some(3));
        assert_eq!(c.ignored, vec!["foo".to_string()]);
    }

    #[test]
    fn bad_chat_requests_name_the_field() {
        let param = |body: Value| ChatRequest::parse(&body, 0).unwrap_err().param;
        let m = json!([{"role": "user", "content": "x"}]);
        assert_eq!(param(json!({})), Some("messages".into()));
        assert_eq!(param(json!({"messages": "hi"})), Some("messages".into()));
        assert_eq!(param(json!({"messages": [{}]})), Some("messages[0].role".into()));
        assert_eq!(param(json!({"messages": [{"role": "bot", "content": "x"}]})), Some("messages[0].role".into()));
        assert_eq!(param(json!({"messages": m, "temperature": 3})), Some("temperature".into()));
        assert_eq!(param(json!({"messages": m, "top_logprobs": 2})), Some("top_logprobs".into()));
        assert_eq!(param(json!({"messages": m, "logit_bias": {"x": 1}})), Some("logit_bias".into()));
        let e = ChatRequest::parse(&json!({"messages": m, "response_format": {"type": "json_schema"}}), 0).unwrap_err();
        assert!(e.message.contains("'response_format' of type 'json_schema' is not supported with this model"));
    }

    #[test]
    fn completion_prompts_in_every_form() {
        let p = |v: Value| CompletionRequest::parse(&json!({"prompt": v}), 0).map(|r| r.prompts);
        assert_eq!(p(json!("ab")).unwrap(), vec![Prompt::Text("ab".into())]);
        assert_eq!(p(json!(["a", "b"])).unwrap().len(), 2);
        assert_eq!(p(json!([1, 2])).unwrap(), vec![Prompt::Ids(vec![1, 2])]);
        assert_eq!(p(json!([[1], [2, 3]])).unwrap(), vec![Prompt::Ids(vec![1]), Prompt::Ids(vec![2, 3])]);
        assert_eq!(p(json!([1, "x"])).unwrap_err().param, Some("prompt".into()));
        assert_eq!(p(json!(5)).unwrap_err().param, Some("prompt".into()));
    }
}
