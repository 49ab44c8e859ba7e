//! Preference-pair files: JSON Lines, one pair per line, in TRL's preference formats
//! (`trl/data_utils.py`; what `DPOTrainer` and `RewardTrainer` read), recognised per line:
//!
//! - conversational, explicit prompt: `{"prompt": [messages], "chosen": [messages],
//!   "rejected": [messages]}`, the replies being the assistant's turn (with its tool calls and
//!   their results); what `minichat feedback export` writes;
//! - conversational, implicit prompt: `{"chosen": [messages], "rejected": [messages]}`, whole
//!   conversations; the prompt is what they share up to the last user message before they part
//!   (TRL's `extract_prompt`);
//! - standard: `{"prompt": "text", "chosen": "text", "rejected": "text"}`: for a chat model the
//!   prompt is a user message and each reply the assistant's;
//! - Anthropic HH-RLHF transcripts: `{"chosen": "\n\nHuman: ...\n\nAssistant: ...", "rejected":
//!   ...}`, read as conversations with an implicit prompt.
//!
//! A line that is not a usable pair (not JSON, no prompt, an empty reply, the same reply on
//! both sides, turns out of order) is reported with its line number and skipped, or, with
//! `strict`, stops the read.

use crate::conversation::{validate, Message, Role};
use crate::dataset::{conversation_of, read_lines};
use crate::Error;
use serde_json::Value;

/// A prompt (ending with the user's message) and two replies to it, the first preferred.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub prompt: Vec<Message>,
    pub chosen: Vec<Message>,
    pub rejected: Vec<Message>,
    /// The line of the file it came from (from 1).
    pub line: usize,
}

/// What reading a file found.
#[derive(Debug, Default)]
pub struct Read {
    pub pairs: Vec<Pair>,
    /// Lines skipped, and the first reasons (at most 20), each naming its line.
    pub skipped: usize,
    pub problems: Vec<String>,
}

/// Reads the pairs of a file (see the header).
pub fn read_file(path: &std::path::Path, strict: bool) -> Result<Read, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::File(format!("reading {}: {e}", path.display())))?;
    read(&text, &path.display().to_string(), strict)
}

/// Reads the pairs of `text` (the contents of `path`, which errors name).
pub fn read(text: &str, path: &str, strict: bool) -> Result<Read, Error> {
    let (pairs, skipped, problems) = read_lines(text, path, strict, parse_line)?;
    Ok(Read { pairs, skipped, problems })
}

/// One line's pair, checked: both replies non-empty, different, and in order after the prompt.
pub fn parse_line(line: &str, number: usize) -> Result<Pair, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let side = |key: &str| v.get(key).filter(|x| !x.is_null()).ok_or_else(|| format!("no \"{key}\""));
    let (chosen, rejected) = (side("chosen")?, side("rejected")?);
    let (prompt, chosen, rejected) = match v.get("prompt").filter(|x| !x.is_null()) {
        Some(prompt) => (
            messages(prompt, Role::User).map_err(|e| format!("prompt: {e}"))?,
            messages(chosen, Role::Assistant).map_err(|e| format!("chosen: {e}"))?,
            messages(rejected, Role::Assistant).map_err(|e| format!("rejected: {e}"))?,
        ),
        None => {
            let chosen = whole(chosen).map_err(|e| format!("chosen: {e}"))?;
            let rejected = whole(rejected).map_err(|e| format!("rejected: {e}"))?;
            split_prompt(chosen, rejected)?
        }
    };
    check(&prompt, &chosen, &rejected)?;
    Ok(Pair { prompt, chosen, rejected, line: number })
}

/// Messages given as a list, or as a string: one message of role `as_role`.
fn messages(v: &Value, as_role: Role) -> Result<Vec<Message>, String> {
    match v {
        Value::String(s) => Ok(vec![Message::new(as_role, s.clone())]),
        Value::Array(_) => conversation_of(&serde_json::json!({ "messages": v })),
        _ => Err("neither text nor a list of messages".into()),
    }
}

/// A whole conversation: a list of messages, or an HH-RLHF transcript.
fn whole(v: &Value) -> Result<Vec<Message>, String> {
    match v {
        Value::Array(_) => messages(v, Role::User),
        Value::String(s) => transcript(s),
        _ => Err("neither a transcript nor a list of messages".into()),
    }
}

/// An Anthropic HH-RLHF transcript (`\n\nHuman: ...\n\nAssistant: ...`) as messages.
fn transcript(text: &str) -> Result<Vec<Message>, String> {
    const MARKS: [(&str, Role); 2] = [("\n\nHuman:", Role::User), ("\n\nAssistant:", Role::Assistant)];
    let mut out: Vec<Message> = Vec::new();
    let mut rest = text;
    if !rest.starts_with("\n\nHuman:") {
        return Err("a text without a \"prompt\": give one, or a transcript starting \"\\n\\nHuman:\"".into());
    }
    while !rest.is_empty() {
        let (mark, role) = MARKS.iter().find(|(m, _)| rest.starts_with(m)).copied().expect("at a mark");
        rest = &rest[mark.len()..];
        let end = MARKS.iter().filter_map(|(m, _)| rest.find(m)).min().unwrap_or(rest.len());
        out.push(Message::new(role, rest[..end].trim()));
        rest = &rest[end..];
    }
    Ok(out)
}

/// A prompt and the chosen and rejected replies to it.
type Split = (Vec<Message>, Vec<Message>, Vec<Message>);

/// The prompt two whole conversations share, and the replies that follow it: the turn from the
/// first assistant message after the last user message before they part.
fn split_prompt(chosen: Vec<Message>, rejected: Vec<Message>) -> Result<Split, String> {
    let parted = chosen.iter().zip(&rejected).take_while(|(a, b)| a == b).count();
    let reply = chosen[..parted].iter().rposition(|m| m.role == Role::User).map(|i| i + 1);
    let Some(reply) = reply else {
        return Err("no user message before the two conversations part: no prompt".into());
    };
    let (mut chosen, mut rejected) = (chosen, rejected);
    let (tail_c, tail_r) = (chosen.split_off(reply), rejected.split_off(reply));
    Ok((chosen, tail_c, tail_r))
}

/// A pair that can be trained on: the prompt ends with the user's message, each reply is the
/// assistant's (non-empty, in order), and the replies differ.
fn check(prompt: &[Message], chosen: &[Message], rejected: &[Message]) -> Result<(), String> {
    if prompt.last().map(|m| m.role) != Some(Role::User) {
        return Err("the prompt does not end with a user message".into());
    }
    for (name, reply) in [("chosen", chosen), ("rejected", rejected)] {
        if reply.first().map(|m| m.role) != Some(Role::Assistant) {
            return Err(format!("the {name} reply does not start with an assistant message"));
        }
        let whole: Vec<Message> = prompt.iter().chain(reply).cloned().collect();
        validate(&whole).map_err(|e| format!("{name}: {e}"))?;
    }
    if chosen == rejected {
        return Err("chosen and rejected are the same reply".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(s: &str) -> Message {
        Message::new(Role::User, s)
    }

    fn assistant(s: &str) -> Message {
        Message::new(Role::Assistant, s)
    }

    #[test]
    fn reads_each_of_trls_formats_and_hh_transcripts() {
        let text = [
            // Conversational, explicit prompt (what `feedback export` writes).
            r#"{"prompt": [{"role": "user", "content": "2+2?"}], "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}"#,
            // Standard.
            r#"{"prompt": "2+2?", "chosen": "4", "rejected": "5"}"#,
            // Conversational, implicit prompt, two turns: the prompt keeps the first turn.
            r#"{"chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}], "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}]}"#,
            // Anthropic HH-RLHF.
            r#"{"chosen": "\n\nHuman: 2+2?\n\nAssistant: 4", "rejected": "\n\nHuman: 2+2?\n\nAssistant: 5"}"#,
        ]
        .join("\n");
        let read = read(&text, "pairs.jsonl", true).unwrap();
        assert_eq!(read.pairs.len(), 4);
        for p in &read.pairs {
            assert_eq!(p.prompt.last(), Some(&user("2+2?")));
            assert_eq!((&p.chosen[..], &p.rejected[..]), (&[assistant("4")][..], &[assistant("5")][..]));
        }
        assert_eq!(read.pairs[2].prompt, vec![user("hi"), assistant("hello"), user("2+2?")]);
        assert_eq!(read.pairs.iter().map(|p| p.line).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }

    #[test]
    fn a_reply_with_a_tool_call_keeps_its_result() {
        let line = r#"{"prompt": [{"role": "user", "content": "12*7?"}], "chosen": [{"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "calculator", "arguments": "{\"expression\": \"12*7\"}"}}]}, {"role": "tool", "content": "84"}, {"role": "assistant", "content": "84"}], "rejected": [{"role": "assistant", "content": "74"}]}"#;
        let pair = parse_line(line, 1).unwrap();
        assert_eq!(pair.chosen.len(), 3);
        assert_eq!(pair.chosen[0].tool_calls[0].arguments, "12*7");
    }

    #[test]
    fn bad_pairs_name_their_line_and_are_counted() {
        let text = [
            r#"{"prompt": "2+2?", "chosen": "4", "rejected": "4"}"#,
            r#"{"prompt": "2+2?", "chosen": "", "rejected": "5"}"#,
            r#"{"prompt": "2+2?", "chosen": "4"}"#,
            "not json",
            r#"{"chosen": "4", "rejected": "5"}"#,
            r#"{"chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}"#,
            r#"{"prompt": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "chosen": "4", "rejected": "5"}"#,
            r#"{"prompt": "2+2?", "chosen": "4", "rejected": "5"}"#,
        ]
        .join("\n");
        let r = read(&text, "p.jsonl", false).unwrap();
        assert_eq!((r.pairs.len(), r.skipped), (1, 7));
        let expect = [
            "same reply",
            "empty",
            "no \"rejected\"",
            "not JSON",
            "without a \"prompt\"",
            "no user message",
            "does not end with a user",
        ];
        for (i, (problem, why)) in r.problems.iter().zip(expect).enumerate() {
            assert!(problem.starts_with(&format!("p.jsonl:{}: ", i + 1)), "{problem}");
            assert!(problem.contains(why), "line {}: {problem} (expected {why:?})", i + 1);
        }
        let err = read(&text, "p.jsonl", true).unwrap_err().to_string();
        assert!(err.starts_with("p.jsonl:1: ") && err.contains("same reply"), "{err}");
    }
}
