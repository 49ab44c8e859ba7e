//! Conversation files: JSON Lines, one conversation per line, in the common public formats,
//! recognised per line:
//!
//! - OpenAI chat messages (also SmolTalk's): `{"messages": [{"role": "system" | "user" |
//!   "assistant" | "tool", "content": "...", "tool_calls": [{"type": "function", "function":
//!   {"name": "calculator", "arguments": "{\"expression\": \"12*7\"}"}}]}]}`. Content may also be a
//!   list of `{"type": "text", "text": ...}` parts. A call's arguments become the text the model
//!   writes: the value itself when they are an object with a single string value, else the
//!   JSON as given.
//! - ShareGPT: `{"conversations": [{"from": "system" | "human" | "gpt", "value": "..."}]}`
//!   (`user`, `assistant`, `chatgpt` and `tool` are accepted too).
//! - Alpaca: `{"instruction": "...", "input": "...", "output": "..."}`, optionally `"system"`.
//!
//! A line that is not a valid conversation (unknown role, missing field, turns out of order,
//! empty message: `conversation::validate`) is reported with its line number and skipped,
//! or, with `strict`, stops the read.

use crate::conversation::{validate, Message, Role, ToolCall};
use crate::Error;
use serde_json::Value;

/// What reading a file found.
#[derive(Debug, Default)]
pub struct Read {
    pub conversations: Vec<Vec<Message>>,
    /// Lines skipped, and the first reasons (at most 20), each naming its line.
    pub skipped: usize,
    pub problems: Vec<String>,
}

/// Reads the conversations of a file (see `read`).
pub fn read_file(path: &std::path::Path, strict: bool) -> Result<Read, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::File(format!("reading {}: {e}", path.display())))?;
    read(&text, &path.display().to_string(), strict)
}

/// Reads the conversations of `text` (the contents of `path`, which errors name).
pub fn read(text: &str, path: &str, strict: bool) -> Result<Read, Error> {
    let parse =
        |line: &str, _: usize| parse_line(line).and_then(|c| validate(&c).map(|_| c).map_err(|e| e.to_string()));
    let (conversations, skipped, problems) = read_lines(text, path, strict, parse)?;
    Ok(Read { conversations, skipped, problems })
}

/// The records of a JSON Lines text (`path`'s, which errors name): each non-blank line through
/// `parse` (the line and its number from 1). A line it refuses is skipped and counted, its
/// reason kept as `PATH:LINE: why` (the first 20), or, with `strict`, it stops the read.
/// Returns the records, the lines skipped and the reasons.
pub fn read_lines<T>(
    text: &str,
    path: &str,
    strict: bool,
    parse: impl Fn(&str, usize) -> Result<T, String>,
) -> Result<(Vec<T>, usize, Vec<String>), Error> {
    let (mut records, mut skipped, mut problems) = (Vec::new(), 0, Vec::new());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse(line, i + 1) {
            Ok(record) => records.push(record),
            Err(why) => {
                let problem = format!("{path}:{}: {why}", i + 1);
                if strict {
                    return Err(Error::File(problem));
                }
                skipped += 1;
                if problems.len() < 20 {
                    problems.push(problem);
                }
            }
        }
    }
    Ok((records, skipped, problems))
}

/// One line's conversation, in whichever format it is.
pub fn parse_line(line: &str) -> Result<Vec<Message>, String> {
    conversation_of(&serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?)
}

/// The conversation of one parsed line, in whichever format it is.
pub fn conversation_of(v: &Value) -> Result<Vec<Message>, String> {
    if let Some(messages) = v.get("messages") {
        let list = messages.as_array().ok_or("\"messages\" is not a list")?;
        return list
            .iter()
            .enumerate()
            .map(|(i, m)| openai_message(m).map_err(|e| format!("message {}: {e}", i + 1)))
            .collect();
    }
    if let Some(turns) = v.get("conversations") {
        let list = turns.as_array().ok_or("\"conversations\" is not a list")?;
        return list
            .iter()
            .enumerate()
            .map(|(i, m)| sharegpt_message(m).map_err(|e| format!("turn {}: {e}", i + 1)))
            .collect();
    }
    if v.get("instruction").is_some() {
        return alpaca(v);
    }
    Err("not a conversation: no \"messages\" (OpenAI, SmolTalk), \"conversations\" (ShareGPT) or \"instruction\" (Alpaca)".into())
}

/// A conversation as one OpenAI-format JSON object (`{"messages": [...]}`), the format `read`
/// takes back: calls as `tool_calls` with their text as the single argument `input`.
pub fn to_json(messages: &[Message]) -> Value {
    let role = |r: Role| match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let list: Vec<Value> = messages
        .iter()
        .map(|m| {
            let mut v = serde_json::json!({ "role": role(m.role), "content": m.content });
            if !m.tool_calls.is_empty() {
                let calls: Vec<Value> = m
                    .tool_calls
                    .iter()
                    .map(|c| {
                        let arguments = serde_json::json!({ "input": c.arguments }).to_string();
                        serde_json::json!({ "type": "function", "function": { "name": c.name, "arguments": arguments } })
                    })
                    .collect();
                v["tool_calls"] = Value::Array(calls);
            }
            v
        })
        .collect();
    serde_json::json!({ "messages": list })
}

fn role(name: &str) -> Result<Role, String> {
    Ok(match name {
        "system" => Role::System,
        "user" | "human" => Role::User,
        "assistant" | "gpt" | "chatgpt" => Role::Assistant,
        "tool" | "function" | "ipython" => Role::Tool,
        other => return Err(format!("unknown role {other:?}")),
    })
}

/// A message's text: a string, null (a call with no text), or a list of text parts.
fn content(v: Option<&Value>) -> Result<String, String> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| p.get("text").and_then(Value::as_str).ok_or_else(|| "a content part without \"text\"".to_string()))
            .collect(),
        Some(_) => Err("\"content\" is neither text nor a list of parts".into()),
    }
}

fn openai_message(m: &Value) -> Result<Message, String> {
    let role = role(m.get("role").and_then(Value::as_str).ok_or("no \"role\"")?)?;
    if role != Role::Assistant && m.get("content").is_none() {
        return Err("no \"content\"".into());
    }
    let mut message = Message::new(role, content(m.get("content"))?);
    if let Some(calls) = m.get("tool_calls").filter(|c| !c.is_null()) {
        for call in calls.as_array().ok_or("\"tool_calls\" is not a list")? {
            let f = call.get("function").unwrap_or(call);
            let name = f.get("name").and_then(Value::as_str).ok_or("a tool call without a name")?;
            message.tool_calls.push(ToolCall { name: name.to_string(), arguments: call_arguments(f.get("arguments")) });
        }
    }
    Ok(message)
}

/// The text a call gives its tool: the single string value of an arguments object
/// (`{"expression": "12*7"}` -> `12*7`), else the arguments as given.
fn call_arguments(v: Option<&Value>) -> String {
    let parsed = match v {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).unwrap_or(Value::String(s.clone())),
        Some(other) => other.clone(),
        None => return String::new(),
    };
    match &parsed {
        Value::Object(o) if o.len() == 1 => match o.values().next() {
            Some(Value::String(s)) => s.clone(),
            _ => parsed.to_string(),
        },
        Value::String(s) => s.clone(),
        _ => parsed.to_string(),
    }
}

fn sharegpt_message(m: &Value) -> Result<Message, String> {
    let role = role(m.get("from").and_then(Value::as_str).ok_or("no \"from\"")?)?;
    let value = m.get("value").and_then(Value::as_str).ok_or("no \"value\" text")?;
    Ok(Message::new(role, value))
}

fn alpaca(v: &Value) -> Result<Vec<Message>, String> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().trim().to_string();
    let (instruction, input) = (text("instruction"), text("input"));
    if v.get("output").and_then(Value::as_str).is_none() {
        return Err("an Alpaca record without an \"output\" text".into());
    }
    let mut out = Vec::new();
    if !text("system").is_empty() {
        out.push(Message::new(Role::System, text("system")));
    }
    let prompt = if input.is_empty() { instruction } else { format!("{instruction}\n\n{input}") };
    out.push(Message::new(Role::User, prompt));
    out.push(Message::new(Role::Assistant, text("output")));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_four_formats() {
        let openai = r#"{"messages": [{"role": "user", "content": "12*7?"}, {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "calculator", "arguments": "{\"expression\": \"12*7\"}"}}]}, {"role": "tool", "content": "84"}, {"role": "assistant", "content": [{"type": "text", "text": "84"}]}]}"#;
        let smoltalk = r#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "source": "smol"}"#;
        let sharegpt = r#"{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}"#;
        let alpaca = r#"{"instruction": "Add.", "input": "2 and 3", "output": "5"}"#;
        let text = [openai, smoltalk, sharegpt, alpaca].join("\n");
        let r = read(&text, "chats.jsonl", true).unwrap();
        assert_eq!(r.conversations.len(), 4);
        let call = &r.conversations[0][1].tool_calls[0];
        assert_eq!((call.name.as_str(), call.arguments.as_str()), ("calculator", "12*7"));
        assert_eq!(r.conversations[0][3].content, "84");
        assert_eq!(r.conversations[1][0].role, Role::System);
        assert_eq!(r.conversations[2][1], Message::new(Role::Assistant, "hello"));
        assert_eq!(r.conversations[3][0].content, "Add.\n\n2 and 3");
        // Written back and read again, every conversation is the same.
        let lines: Vec<String> = r.conversations.iter().map(|c| to_json(c).to_string()).collect();
        assert_eq!(read(&lines.join("\n"), "again.jsonl", true).unwrap().conversations, r.conversations);
    }

    #[test]
    fn bad_lines_are_counted_with_their_line_or_stop_a_strict_read() {
        let lines = [
            r#"{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}"#,
            r#"{"conversations": [{"from": "alien", "value": "hi"}]}"#,
            r#"{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}"#,
            r#"{"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "b"}]}"#,
            r#"{"messages": [{"role": "user"}]}"#,
            r#"{"text": "not a chat"}"#,
            "{broken",
        ];
        let r = read(&lines.join("\n"), "bad.jsonl", false).unwrap();
        assert_eq!((r.conversations.len(), r.skipped), (1, 6));
        for (p, want) in r.problems.iter().zip([
            "unknown role",
            "where an Assistant message was expected",
            "empty User",
            "no \"content\"",
            "not a conversation",
            "not JSON",
        ]) {
            assert!(p.starts_with("bad.jsonl:") && p.contains(want), "{p} should say {want}");
        }
        assert!(r.problems[0].starts_with("bad.jsonl:2:"));
        let err = read(&lines.join("\n"), "bad.jsonl", true).unwrap_err().to_string();
        assert!(err.starts_with("bad.jsonl:2: turn 1: unknown role"), "{err}");
    }
}
