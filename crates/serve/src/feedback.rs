//! Feedback on replies, for RLHF: a vote (up or down) on a reply, kept with the conversation
//! it answers (OpenAI messages) in SQLite, and read back as preference pairs in TRL's
//! conversational format (`{"prompt": [...], "chosen": [...], "rejected": [...]}`, one JSON
//! object per line) for a reward model. Pairs come from votes on replies to the same prompt
//! (regenerations, the page's siblings): every reply voted up against every reply voted down,
//! as Open WebUI's evaluations pair them (there, upvoting one sibling downvotes the others;
//! the page does the same). A vote replaces the earlier vote on the same reply; a rating of 0
//! takes it back. The database runs in WAL mode with full sync and each vote is one
//! transaction, so a vote the server answered survives a crash. The server takes votes at
//! `POST /v1/feedback` (`handle`).

use crate::body::{json, respond};
use crate::error::ApiError;
use crate::fields::Fields;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

/// The votes' file in a run folder, where `minichat serve` keeps them unless told otherwise.
pub const FILE: &str = "feedback.sqlite";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Sqlite { path: String, source: rusqlite::Error },
    #[error("{0}")]
    Invalid(String),
}

/// One vote as the page sends it.
#[derive(Clone, Debug, PartialEq)]
pub struct Vote {
    /// The client's id of the reply: a later vote on it replaces this one.
    pub reply_id: String,
    pub model: String,
    /// The conversation the reply answers (OpenAI messages, the system prompt included).
    pub prompt: Value,
    /// The reply as OpenAI assistant messages (tool calls and their results included).
    pub reply: Value,
    /// 1 up, -1 down.
    pub rating: i8,
}

/// The votes database.
pub struct Feedback {
    conn: Mutex<Connection>,
    path: String,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS votes (
    reply_id TEXT PRIMARY KEY,
    created INTEGER NOT NULL,   -- Unix seconds of the (latest) vote
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,       -- JSON: the messages the reply answers
    reply TEXT NOT NULL,        -- JSON: the reply's assistant messages
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1))
)";

impl Feedback {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Feedback, Error> {
        let name = path.display().to_string();
        let at = |source| Error::Sqlite { path: name.clone(), source };
        let conn = Connection::open(path).map_err(at)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(at)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(at)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(at)?;
        conn.execute(SCHEMA, []).map_err(at)?;
        Ok(Feedback { conn: Mutex::new(conn), path: name })
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Sqlite { path: self.path.clone(), source }
    }

    /// Records a vote (replacing an earlier one on the same reply); rating 0 removes it.
    pub fn record(&self, vote: &Vote) -> Result<(), Error> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if vote.rating == 0 {
            conn.execute("DELETE FROM votes WHERE reply_id = ?1", [&vote.reply_id]).map_err(|e| self.err(e))?;
            return Ok(());
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        conn.execute(
            "INSERT INTO votes (reply_id, created, model, prompt, reply, rating) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(reply_id) DO UPDATE SET created = ?2, model = ?3, prompt = ?4, reply = ?5, rating = ?6",
            params![
                vote.reply_id,
                now as i64,
                vote.model,
                vote.prompt.to_string(),
                vote.reply.to_string(),
                vote.rating
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The rating of a reply, if it has a vote.
    pub fn rating(&self, reply_id: &str) -> Result<Option<i8>, Error> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.query_row("SELECT rating FROM votes WHERE reply_id = ?1", [reply_id], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every vote, oldest first.
    pub fn votes(&self) -> Result<Vec<Vote>, Error> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn
            .prepare("SELECT reply_id, model, prompt, reply, rating FROM votes ORDER BY created, rowid")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get(4)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (reply_id, model, prompt, reply, rating) = row.map_err(|e| self.err(e))?;
            let parse = |what: &str, text: &str| {
                serde_json::from_str(text).map_err(|e| {
                    Error::Invalid(format!("{}: vote on {reply_id}: its {what} is not JSON: {e}", self.path))
                })
            };
            out.push(Vote {
                prompt: parse("prompt", &prompt)?,
                reply: parse("reply", &reply)?,
                reply_id,
                model,
                rating,
            });
        }
        Ok(out)
    }
}

/// Checks a vote's prompt and reply: lists of message objects with a role (the reply's the
/// assistant's and the tools'); a reply given as a string becomes one assistant message.
pub fn check(prompt: &Value, reply: Value) -> Result<Value, String> {
    let messages = |v: &Value, field: &str, roles: &[&str]| -> Result<(), String> {
        let list = v.as_array().filter(|l| !l.is_empty()).ok_or(format!("`{field}` must be a list of messages"))?;
        for (i, m) in list.iter().enumerate() {
            let role = m.get("role").and_then(Value::as_str).ok_or(format!("`{field}[{i}].role` is required"))?;
            if !roles.contains(&role) {
                return Err(format!("`{field}[{i}].role` is {role:?}; it must be one of {roles:?}"));
            }
        }
        Ok(())
    };
    messages(prompt, "prompt", &["system", "developer", "user", "assistant", "tool"])?;
    let reply = match reply {
        Value::String(s) => json!([{"role": "assistant", "content": s}]),
        other => other,
    };
    messages(&reply, "reply", &["assistant", "tool"])?;
    Ok(reply)
}

/// Preference pairs from votes: for each prompt (the same messages), every reply voted up
/// against every reply voted down, in TRL's conversational format. Also returns how many
/// prompts had both.
pub fn preference_pairs(votes: &[Vote]) -> (Vec<Value>, usize) {
    let mut by_prompt: BTreeMap<String, (Value, Vec<&Value>, Vec<&Value>)> = BTreeMap::new();
    for v in votes {
        let entry = by_prompt.entry(v.prompt.to_string()).or_insert_with(|| (v.prompt.clone(), Vec::new(), Vec::new()));
        if v.rating > 0 {
            entry.1.push(&v.reply);
        } else {
            entry.2.push(&v.reply);
        }
    }
    let mut pairs = Vec::new();
    let mut prompts = 0;
    for (prompt, up, down) in by_prompt.into_values() {
        prompts += usize::from(!up.is_empty() && !down.is_empty());
        for chosen in &up {
            for rejected in &down {
                pairs.push(json!({"prompt": prompt, "chosen": chosen, "rejected": rejected}));
            }
        }
    }
    (pairs, prompts)
}

/// `POST /v1/feedback` (minichat's): `{"reply_id", "rating": 1 | -1 | 0, "prompt": [messages],
/// "reply": [messages] or a string, "model"?}`; answers `{"reply_id", "rating"}` once stored.
pub async fn handle(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    respond(vote(s, body).await)
}

async fn vote(s: AppState, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = json(body, s.options.max_body_bytes)?;
    let Some(db) = s.feedback.clone() else {
        return Err(ApiError::not_found("this server keeps no feedback (start it with --feedback DB)"));
    };
    let mut f = Fields::of(&body)?;
    let reply_id = f.string("reply_id")?.filter(|id| !id.is_empty() && id.len() <= 200);
    let reply_id = reply_id.ok_or_else(|| ApiError::field("reply_id", "`reply_id` is required (1 to 200 bytes)"))?;
    let rating = match f.get("rating").and_then(Value::as_i64) {
        Some(r @ -1..=1) => r as i8,
        _ => return Err(ApiError::field("rating", "`rating` must be 1 (up), -1 (down) or 0 (take the vote back)")),
    };
    let model = f.string("model")?.unwrap_or(&s.info.id).to_string();
    let prompt = f.get("prompt").cloned().unwrap_or(Value::Null);
    let reply = f.get("reply").cloned().unwrap_or(Value::Null);
    let reply = check(&prompt, reply).map_err(|m| {
        let param = if m.contains("`prompt") { "prompt" } else { "reply" };
        ApiError::field(param, m)
    })?;
    let vote = Vote { reply_id: reply_id.to_string(), model, prompt, reply, rating };
    let stored = tokio::task::spawn_blocking(move || db.record(&vote).map(|()| vote));
    let vote = stored
        .await
        .map_err(|e| ApiError::internal(format!("storing the vote: {e}")))?
        .map_err(|e| ApiError::internal(format!("storing the vote: {e}")))?;
    Ok(Json(json!({"reply_id": vote.reply_id, "rating": vote.rating})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(id: &str, question: &str, answer: &str, rating: i8) -> Vote {
        Vote {
            reply_id: id.into(),
            model: "m".into(),
            prompt: json!([{"role": "user", "content": question}]),
            reply: json!([{"role": "assistant", "content": answer}]),
            rating,
        }
    }

    #[test]
    fn votes_replace_and_retract_and_pair_up_by_prompt() {
        let dir = std::env::temp_dir().join(format!("minichat-feedback-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("votes.sqlite");
        let _ = std::fs::remove_file(&path);
        let db = Feedback::open(&path).unwrap();
        db.record(&vote("a", "12*7?", "84", 1)).unwrap();
        db.record(&vote("b", "12*7?", "85", 1)).unwrap();
        db.record(&vote("b", "12*7?", "85", -1)).unwrap(); // changed its mind
        db.record(&vote("c", "12*7?", "86", -1)).unwrap();
        db.record(&vote("d", "Hi", "Hello", 1)).unwrap(); // no pair: nothing voted down
        db.record(&vote("e", "Hi", "Go away", -1)).unwrap();
        db.record(&vote("e", "Hi", "Go away", 0)).unwrap(); // taken back
        drop(db);
        let db = Feedback::open(&path).unwrap();
        assert_eq!((db.rating("b").unwrap(), db.rating("e").unwrap()), (Some(-1), None));
        let votes = db.votes().unwrap();
        assert_eq!(votes.len(), 4);
        let (pairs, prompts) = preference_pairs(&votes);
        assert_eq!((pairs.len(), prompts), (2, 1));
        assert_eq!(pairs[0]["prompt"], json!([{"role": "user", "content": "12*7?"}]));
        assert_eq!(pairs[0]["chosen"][0]["content"], "84");
        let rejected: Vec<_> = pairs.iter().map(|p| p["rejected"][0]["content"].clone()).collect();
        assert_eq!(rejected, [json!("85"), json!("86")]);
        // What `minichat dpo` reads back.
        for (i, p) in pairs.iter().enumerate() {
            let pair = minichat_chat::preference::parse_line(&p.to_string(), i + 1).unwrap();
            assert_eq!((pair.prompt.len(), pair.chosen[0].content.as_str()), (1, "84"));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn checks_the_messages() {
        let prompt = json!([{"role": "user", "content": "hi"}]);
        assert_eq!(check(&prompt, json!("yo")).unwrap(), json!([{"role": "assistant", "content": "yo"}]));
        assert!(check(&json!([]), json!("yo")).unwrap_err().contains("prompt"));
        assert!(check(&json!([{"content": "x"}]), json!("yo")).unwrap_err().contains("prompt[0].role"));
        assert!(check(&prompt, json!([{"role": "user", "content": "x"}])).unwrap_err().contains("reply[0].role"));
    }
}
