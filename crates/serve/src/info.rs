//! The endpoints beside generation: `/v1/models` (with the context length and parameter
//! count), `/tokenize` and `/detokenize` in both llama.cpp's and vLLM's shapes,
//! `/tokenizer_info` (what lm-evaluation-harness asks a remote tokenizer), `/health` and
//! `/metrics`.

use crate::body::{encode_special, json, piece, respond, whole_piece};
use crate::error::ApiError;
use crate::fields::{wrong, Fields};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use minichat_tokenizer::{pretrained, Tokenizer};
use serde_json::{json, Value};
use std::sync::OnceLock;

fn model_json(s: &AppState) -> Value {
    let i = &s.info;
    json!({
        "id": i.id, "object": "model", "created": i.created, "owned_by": "minichat",
        "max_model_len": i.context(), "context_length": i.context(),
        "meta": {"n_ctx_train": i.context(), "n_vocab": i.vocab(), "n_params": i.params, "family": i.family()},
    })
}

pub async fn models(State(s): State<AppState>) -> Json<Value> {
    Json(json!({"object": "list", "data": [model_json(&s)]}))
}

pub async fn model(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    if id == s.info.id {
        Json(model_json(&s)).into_response()
    } else {
        ApiError::not_found(format!("the model `{id}` does not exist; this server serves `{}`", s.info.id))
            .into_response()
    }
}

pub async fn tokenize(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    // Off the async workers: a long text, or an OpenAI encoding's first use (it is inflated,
    // ~0.1 s for o200k_base), takes a while.
    let done = tokio::task::spawn_blocking(move || tokenize_body(&s, body)).await;
    respond(done.unwrap_or_else(|e| Err(ApiError::internal(format!("tokenizing: {e}")))).map(Json))
}

/// OpenAI's encodings (`minichat_tokenizer::pretrained`), each loaded on first use and kept:
/// `/tokenize` uses one instead of the model's when asked (`"encoding"`), so the page can show
/// a text's tokens side by side with GPT-4's and GPT-4o's.
fn openai_encoding(name: &str) -> Result<&'static Tokenizer, ApiError> {
    static LOADED: [OnceLock<Tokenizer>; pretrained::NAMES.len()] =
        [const { OnceLock::new() }; pretrained::NAMES.len()];
    let i = pretrained::NAMES.iter().position(|&n| n == name).ok_or_else(|| {
        let names = pretrained::NAMES.join(", ");
        ApiError::field("encoding", format!("unknown encoding `{name}`; known: {names} (or none: the model's)"))
    })?;
    if let Some(tok) = LOADED[i].get() {
        return Ok(tok);
    }
    let tok = pretrained::load(name).map_err(|e| ApiError::internal(format!("loading {name}: {e}")))?;
    Ok(LOADED[i].get_or_init(|| tok))
}

/// `{"content" | "prompt": text, "add_special" | "add_special_tokens", "parse_special",
/// "with_pieces" | "return_token_strs"}` to `{"tokens", "count", "max_model_len",
/// "token_strs"?}`; with `with_pieces` each token is `{"id", "piece"}` (llama.cpp). With
/// `"encoding": "cl100k_base" | "o200k_base" | "r50k_base"` (minichat's) the text is read by
/// that OpenAI encoding instead, as tiktoken's `encode_ordinary` does (special tokens' text is
/// text, nothing added), and the answer names it.
fn tokenize_body(s: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let v = json(body, s.options.max_body_bytes)?;
    let mut f = Fields::of(&v)?;
    let text = match (f.string("content")?, f.string("prompt")?) {
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => {
            return Err(ApiError::field("content", "`content` (or `prompt`) is required: the text to tokenize"))
        }
    };
    let with_pieces = f.bool("with_pieces")?.unwrap_or(false);
    if let Some(name) = f.string("encoding")? {
        let tok = openai_encoding(name)?;
        let ids = tok.encode_ordinary(text);
        return Ok(json!({"encoding": name, "count": ids.len(), "tokens": tokens_json(tok, &ids, with_pieces)}));
    }
    let add_special = f.bool("add_special")?.or(f.bool("add_special_tokens")?).unwrap_or(false);
    // Special tokens' text is read as those tokens unless told otherwise: llama.cpp's default,
    // and what HF tokenizers (so vLLM) do; lm-evaluation-harness finds `<|bos|>`'s id this way.
    let parse_special = f.bool("parse_special")?.unwrap_or(true);
    let token_strs = f.bool("return_token_strs")?.unwrap_or(false);
    let mut ids = if add_special { vec![s.bos] } else { Vec::new() };
    if parse_special {
        ids.extend(encode_special(&s.tok, text, "content")?);
    } else {
        ids.extend(s.tok.encode_ordinary(text));
    }
    let mut out = json!({"count": ids.len(), "max_model_len": s.info.context(), "tokens": tokens_json(&s.tok, &ids, with_pieces)});
    if token_strs {
        out["token_strs"] = ids.iter().map(|&id| json!(piece(&s.tok, id).0)).collect();
    }
    Ok(out)
}

/// The ids, or with `with_pieces` each as `{"id", "piece"}`: a piece that is not whole UTF-8
/// (part of a character split across tokens) goes as its bytes, as llama.cpp sends it.
fn tokens_json(tok: &Tokenizer, ids: &[u32], with_pieces: bool) -> Value {
    if !with_pieces {
        return json!(ids);
    }
    ids.iter()
        .map(|&id| {
            let p = match whole_piece(tok, id) {
                Ok(text) => json!(text),
                Err(bytes) => json!(bytes),
            };
            json!({"id": id, "piece": p})
        })
        .collect()
}

pub async fn detokenize(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    respond(detokenize_body(&s, body).map(Json))
}

/// `{"tokens": [ids]}` to `{"content": text, "prompt": text}` (llama.cpp's and vLLM's names).
fn detokenize_body(s: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let v = json(body, s.options.max_body_bytes)?;
    let mut f = Fields::of(&v)?;
    let Some(list) = f.get("tokens") else {
        return Err(ApiError::field("tokens", "`tokens` is required: a list of ids"));
    };
    let Value::Array(list) = list else { return Err(wrong("tokens", "a list of token ids", list)) };
    let ids: Vec<u32> = list
        .iter()
        .map(|t| {
            t.as_u64()
                .filter(|&t| (t as usize) < s.info.vocab())
                .map(|t| t as u32)
                .ok_or_else(|| ApiError::field("tokens", format!("{t} is not a token id below {}", s.info.vocab())))
        })
        .collect::<Result<_, _>>()?;
    let bytes = s.tok.decode_bytes(&ids).map_err(|e| ApiError::field("tokens", e.to_string()))?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(json!({"content": text, "prompt": text}))
}

/// What lm-evaluation-harness reads to use the server's tokenizer (vLLM's shape).
pub async fn tokenizer_info(State(s): State<AppState>) -> Json<Value> {
    let name = |id: u32| piece(&s.tok, id).0;
    let bos = name(s.bos);
    let mut info = json!({
        "tokenizer_class": "minichat", "name": s.tok.name(), "vocab_size": s.info.vocab(),
        "model_max_length": s.info.context(), "bos_token": bos, "bos_token_id": s.bos,
        "eos_token": bos, "eos_token_id": s.bos, "pad_token": bos,
    });
    if let Some(ct) = &s.ct {
        info["chat_end_token"] = json!(name(ct.assistant_end));
    }
    Json(info)
}

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn metrics(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render()).into_response()
}

/// `GET /v1/training` (minichat's): the served run's metrics log as `{"records": [...],
/// "skipped": n}`, one JSON object per line as training writes it (steps, evaluations and
/// samples; crates/train/src/metrics.rs), read afresh on each request so the page's Training
/// view follows a run that is still training. A line that is not JSON (the one being appended
/// to, say) is skipped and counted.
pub async fn training(State(s): State<AppState>) -> Response {
    let Some(path) = s.options.metrics.clone() else {
        return ApiError::not_found("this server was not given a run's metrics log").into_response();
    };
    let read = tokio::task::spawn_blocking(move || std::fs::read_to_string(&path).map_err(|e| (path, e))).await;
    match read {
        Ok(Ok(text)) => {
            let lines = text.lines().filter(|l| !l.trim().is_empty());
            let (records, skipped): (Vec<_>, Vec<_>) =
                lines.map(serde_json::from_str::<Value>).partition(|r| r.as_ref().is_ok_and(Value::is_object));
            let records: Vec<Value> = records.into_iter().flatten().collect();
            Json(json!({"records": records, "skipped": skipped.len()})).into_response()
        }
        Ok(Err((path, e))) if e.kind() == std::io::ErrorKind::NotFound => {
            ApiError::not_found(format!("{}: no metrics yet", path.display())).into_response()
        }
        Ok(Err((path, e))) => ApiError::internal(format!("{}: {e}", path.display())).into_response(),
        Err(e) => ApiError::internal(format!("reading the metrics: {e}")).into_response(),
    }
}
