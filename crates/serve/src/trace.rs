//! `POST /v1/trace` (minichat's): what happens inside the model on a text or a conversation,
//! for the page's views (tokens, next token, attention, layer by layer). The body is
//! `{"text": ...}` (a document: `<|bos|>` in front unless there, special tokens' text read as
//! those tokens) or `{"messages": [...]}` (rendered in the chat format, and ending with
//! `<|assistant_start|>` when the last message is the user's, as the model sees it to reply),
//! and `"top"` lens tokens per position (default 5, at most 20). The answer: `tokens` (`id`,
//! `text`, `special`, `bytes` when the token is part of a character split across tokens, and
//! for a conversation `trained`: what SFT learns), `config` (the architecture), `n_layer`,
//! `n_head`, `vocab`, `norms` and `lens` (`[layer][position]`: the residual stream's norm;
//! `[id, probability, text]` of the top tokens), `attn_writes` and `mlp_writes`
//! (`[block][position]`: the norm of what each block's attention and MLP add to the stream)
//! and `next_rank` (the rank of the token that follows, null after the last), and
//! the binary parts as base64 of little-endian f32 (a 256-token trace of the tiny model is
//! then about 6 MB, not 20): `attention` (`[layer][head][t][t]`) and `logits` (after the last
//! token, all of the vocabulary, for the next-token view to filter as the sampler does), with
//! `next` (`id`, `text`, `logit`): the 50 highest logits, in order. The trace runs in the
//! engine's thread between two rounds.

use crate::body::{encode_special, json, piece, respond, whole_piece};
use crate::error::ApiError;
use crate::fields::Fields;
use crate::request::messages;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use minichat_chat::conversation::{render, Role};
use minichat_chat::sampler::{most_likely, softmax};
use minichat_chat::trace::{trace, Trace};
use serde_json::{json, Value};

/// Tokens a trace may have at most: the logit lens costs a pass of the LM head per layer and
/// position.
pub const MAX_TOKENS: usize = 512;

/// Next-token candidates listed by name (the view shows these; the filters see every logit).
const NEXT: usize = 50;

pub async fn handle(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    respond(answer(s, body).await)
}

async fn answer(s: AppState, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = json(body, s.options.max_body_bytes)?;
    let mut f = Fields::of(&body)?;
    let top = f.integer("top", 0, 20)?.unwrap_or(5) as usize;
    // A conversation comes with its training mask (the tokens SFT learns: the assistant's).
    let (tokens, mask) = match (f.string("text")?, f.get("messages")) {
        (Some(text), None) => {
            let ids = encode_special(&s.tok, text, "text")?;
            let ids = if ids.first() == Some(&s.bos) { ids } else { [&[s.bos][..], &ids].concat() };
            (ids, None)
        }
        (None, Some(list)) => {
            let ct = s.ct.as_ref().ok_or_else(|| {
                ApiError::field("messages", "this model's tokenizer has no chat format: trace a `text`")
            })?;
            let messages = messages(Some(list))?;
            let (mut ids, mut mask) =
                render(&messages, &s.tok, ct).map_err(|e| ApiError::field("messages", e.to_string()))?;
            // Ending with the user: as the model sees it to reply.
            if messages.last().is_some_and(|m| m.role == Role::User) {
                ids.push(ct.assistant_start);
                mask.push(0);
            }
            (ids, Some(mask))
        }
        _ => return Err(ApiError::field("text", "give `text` or `messages` (one of them)")),
    };
    let limit = MAX_TOKENS.min(s.info.context());
    if tokens.len() > limit {
        let what = if f.get("messages").is_some() { "messages" } else { "text" };
        return Err(ApiError::field(what, format!("{} tokens; a trace takes at most {limit}", tokens.len())));
    }
    let looked = s.inspect(move |net| trace(net, &tokens, top))?;
    let traced = looked.await.map_err(|_| ApiError::internal("the engine has stopped"))?;
    let t = traced.map_err(|e| ApiError::internal(format!("tracing: {e}")))?;
    Ok(Json(to_json(&s, &t, mask.as_deref())).into_response())
}

fn to_json(s: &AppState, t: &Trace, mask: Option<&[u8]>) -> Value {
    let text = |id: u32| piece(&s.tok, id).0;
    let n = t.tokens.len();
    let special = |id: u32| s.tok.special_tokens().name(id).is_some();
    let tokens: Vec<Value> = t
        .tokens
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let mut v = json!({"id": id, "text": text(id), "special": special(id)});
            // Part of a character split across tokens: its bytes, as /tokenize gives them.
            if let Err(bytes) = whole_piece(&s.tok, id) {
                v["bytes"] = json!(bytes);
            }
            if let Some(m) = mask {
                v["trained"] = json!(m[i] != 0);
            }
            v
        })
        .collect();
    let per_layer = |i: usize| i * n..(i + 1) * n;
    let layers = t.n_layer + 1;
    let norms: Vec<&[f32]> = (0..layers).map(|i| &t.norms[per_layer(i)]).collect();
    let attn_writes: Vec<&[f32]> = (0..t.n_layer).map(|i| &t.attn_writes[per_layer(i)]).collect();
    let mlp_writes: Vec<&[f32]> = (0..t.n_layer).map(|i| &t.mlp_writes[per_layer(i)]).collect();
    let lens: Vec<Vec<Vec<Value>>> = (0..layers)
        .map(|i| {
            t.lens[per_layer(i)]
                .iter()
                .map(|row| row.iter().map(|&(id, p)| json!([id, p, text(id)])).collect())
                .collect()
        })
        .collect();
    let ranks: Vec<&[Option<u32>]> = (0..layers).map(|i| &t.next_rank[per_layer(i)]).collect();
    // The order of the probabilities is the logits' (ties to the lower id): only NEXT sorted.
    let next: Vec<Value> = most_likely(&softmax(&t.logits, 1.0), NEXT)
        .into_iter()
        .map(|id| json!({"id": id, "text": text(id), "logit": t.logits[id as usize]}))
        .collect();
    let cfg = &s.info.config;
    let config = json!({
        "family": s.info.family(), "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_kv_head": cfg.n_kv_head,
        "n_embd": cfg.n_embd, "intermediate_size": cfg.intermediate_size, "vocab_size": cfg.vocab_size,
        "block_size": cfg.block_size, "tie_embeddings": cfg.tie_embeddings,
    });
    json!({
        "model": s.info.id, "config": config, "tokens": tokens, "n_layer": t.n_layer, "n_head": t.n_head,
        "vocab": t.logits.len(), "norms": norms, "attn_writes": attn_writes, "mlp_writes": mlp_writes, "lens": lens, "next_rank": ranks, "next": next,
        "attention": base64_f32(&t.attention), "logits": base64_f32(&t.logits),
    })
}

/// Little-endian f32s as standard base64 (RFC 4648, with padding), what the page decodes with
/// `atob` into a `Float32Array`.
fn base64_f32(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64(&bytes)
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648() {
        for (raw, encoded) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64(raw.as_bytes()), encoded);
        }
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
    }
}
