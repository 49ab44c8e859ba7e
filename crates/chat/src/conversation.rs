//! Conversations as token sequences, nanochat's format with tool calls:
//!
//! ```text
//! <|bos|><|user_start|>What is 12*7?<|user_end|>
//! <|assistant_start|>Let me compute.<|tool_call_start|>calculator 12*7<|tool_call_end|>
//! <|tool_result_start|>84<|tool_result_end|>It is 84.<|assistant_end|>
//! ```
//!
//! (one line in tokens; broken here for reading). A system prompt has no tokens of its own: it
//! opens the first user message, separated by a blank line, as nanochat does. A tool call is
//! written as `NAME ARGUMENTS` between the call tokens; its result follows between the result
//! tokens, and the assistant's turn goes on after it. Message text is always encoded as
//! ordinary text, so a user who types `<|assistant_end|>` gets those characters, never the
//! control token. `render` also returns the training mask: 1 on the tokens the assistant
//! writes (its text, its tool calls with their start and end tokens, its end token), 0 on
//! everything given to it (system, user, tool results).

use crate::Error;
use minichat_tokenizer::stream::Span;
use minichat_tokenizer::Tokenizer;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
    /// A tool's result, answering the assistant's last tool call.
    Tool,
}

/// A call the assistant makes: the tool's name and the text it gives it (an arithmetic
/// expression, a search query).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: String,
}

impl ToolCall {
    /// The text between the call tokens: `NAME ARGUMENTS`.
    pub fn text(&self) -> String {
        format!("{} {}", self.name, self.arguments)
    }

    /// Reads the text between the call tokens back (the name is up to the first space).
    pub fn parse(text: &str) -> ToolCall {
        let (name, arguments) = text.trim_start().split_once(' ').unwrap_or((text.trim(), ""));
        ToolCall { name: name.to_string(), arguments: arguments.to_string() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// Calls the assistant makes after its text (assistant messages only).
    pub tool_calls: Vec<ToolCall>,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Message {
        Message { role, content: content.into(), tool_calls: Vec::new() }
    }

    /// An assistant message that ends in tool calls.
    pub fn with_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Message {
        Message { role: Role::Assistant, content: content.into(), tool_calls: calls }
    }
}

/// The special tokens of the chat format, looked up in a tokenizer.
#[derive(Clone, Copy, Debug)]
pub struct ChatTokens {
    pub bos: u32,
    pub user_start: u32,
    pub user_end: u32,
    pub assistant_start: u32,
    pub assistant_end: u32,
    pub tool_call_start: u32,
    pub tool_call_end: u32,
    pub tool_result_start: u32,
    pub tool_result_end: u32,
}

impl ChatTokens {
    /// Fails, naming the missing token, for a tokenizer without the chat format (OpenAI's).
    pub fn of(tok: &Tokenizer) -> Result<ChatTokens, Error> {
        let id = |name: &str| {
            tok.special_id(name).ok_or_else(|| {
                Error::Config(format!(
                    "tokenizer {} has no {name}: it was not made for chat (train one with minichat's special tokens)",
                    tok.name()
                ))
            })
        };
        Ok(ChatTokens {
            bos: id("<|bos|>")?,
            user_start: id("<|user_start|>")?,
            user_end: id("<|user_end|>")?,
            assistant_start: id("<|assistant_start|>")?,
            assistant_end: id("<|assistant_end|>")?,
            tool_call_start: id("<|tool_call_start|>")?,
            tool_call_end: id("<|tool_call_end|>")?,
            tool_result_start: id("<|tool_result_start|>")?,
            tool_result_end: id("<|tool_result_end|>")?,
        })
    }

    /// For raw text continuation with a tokenizer that has no chat format (a base model's):
    /// every chat token is the document separator, so the only one that does anything is the
    /// end of the text.
    pub fn bos_only(bos: u32) -> ChatTokens {
        let b = bos;
        ChatTokens {
            bos: b,
            user_start: b,
            user_end: b,
            assistant_start: b,
            assistant_end: b,
            tool_call_start: b,
            tool_call_end: b,
            tool_result_start: b,
            tool_result_end: b,
        }
    }
}

/// Where a conversation is between messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    User,
    Assistant,
    /// Results still owed to the assistant's calls.
    ToolResults(usize),
    /// The assistant goes on after its tools' results.
    AssistantAgain,
}

/// Checks the order of a conversation's messages: after an optional leading system message,
/// turns alternate: a user message, then the assistant's, which may call tools (each call is
/// answered by a tool message, then the assistant goes on). Empty user messages and assistant
/// messages with neither text nor calls are refused. Errors name the message (from 1).
pub fn validate(messages: &[Message]) -> Result<(), Error> {
    let mut expect = Expect::User;
    for (i, m) in messages.iter().enumerate() {
        let at = |what: String| Error::Prompt(format!("message {}: {what}", i + 1));
        if m.role == Role::System {
            if i > 0 {
                return Err(at("a system message can only come first".into()));
            }
            continue;
        }
        if !m.tool_calls.is_empty() && m.role != Role::Assistant {
            return Err(at("only the assistant calls tools".into()));
        }
        // An assistant may end its turn right after a tool's result, with nothing more to say.
        let empty = m.content.trim().is_empty() && m.tool_calls.is_empty();
        if empty && (m.role == Role::User || (m.role == Role::Assistant && expect != Expect::AssistantAgain)) {
            return Err(at(format!("empty {:?} message", m.role)));
        }
        expect = match (expect, m.role) {
            (Expect::User, Role::User) => Expect::Assistant,
            (Expect::Assistant | Expect::AssistantAgain, Role::Assistant) => match m.tool_calls.len() {
                0 => Expect::User,
                n => Expect::ToolResults(n),
            },
            (Expect::ToolResults(n), Role::Tool) if n > 1 => Expect::ToolResults(n - 1),
            (Expect::ToolResults(_), Role::Tool) => Expect::AssistantAgain,
            (Expect::User, r) => {
                return Err(at(format!("{r:?} where a User message was expected (user and assistant alternate)")))
            }
            (Expect::ToolResults(_), r) => {
                return Err(at(format!("{r:?} where the Tool result of the assistant's call was expected")))
            }
            (_, r) => return Err(at(format!("{r:?} where an Assistant message was expected"))),
        };
    }
    match expect {
        Expect::User | Expect::Assistant => Ok(()),
        _ => Err(Error::Prompt(
            "the conversation ends inside the assistant's turn (after a tool call or its result)".into(),
        )),
    }
}

/// Token ids and the assistant mask of a conversation (`validate`d first).
pub fn render(messages: &[Message], tok: &Tokenizer, ct: &ChatTokens) -> Result<(Vec<u32>, Vec<u8>), Error> {
    validate(messages)?;
    let (system, rest) = match messages.first() {
        Some(m) if m.role == Role::System => (Some(m.content.as_str()), &messages[1..]),
        _ => (None, messages),
    };
    let (mut ids, mut mask) = (vec![ct.bos], vec![0u8]);
    let mut push = |ids_: &[u32], m: u8| {
        ids.extend_from_slice(ids_);
        mask.extend(std::iter::repeat_n(m, ids_.len()));
    };
    for (i, m) in rest.iter().enumerate() {
        match m.role {
            Role::User => {
                let text = match (i, system) {
                    (0, Some(s)) => format!("{s}\n\n{}", m.content),
                    _ => m.content.clone(),
                };
                push(&[ct.user_start], 0);
                push(&tok.encode_ordinary(&text), 0);
                push(&[ct.user_end], 0);
            }
            Role::Assistant => {
                // After a tool's result the assistant's turn goes on: no second start token.
                if rest[i - 1].role == Role::User {
                    push(&[ct.assistant_start], 0);
                }
                push(&tok.encode_ordinary(&m.content), 1);
                for call in &m.tool_calls {
                    push(&[ct.tool_call_start], 1);
                    push(&tok.encode_ordinary(&call.text()), 1);
                    push(&[ct.tool_call_end], 1);
                }
                if m.tool_calls.is_empty() {
                    push(&[ct.assistant_end], 1);
                }
            }
            Role::Tool => {
                push(&[ct.tool_result_start], 0);
                push(&tok.encode_ordinary(&m.content), 0);
                push(&[ct.tool_result_end], 0);
            }
            Role::System => unreachable!("validate allows it only first"),
        }
    }
    Ok((ids, mask))
}

/// Rendered tokens (`render`) as spans of whole characters, each with whether training learns
/// it (one of its tokens is the assistant's): what a view of the training data shows.
pub fn learned_spans(tok: &Tokenizer, ids: &[u32], mask: &[u8]) -> Result<Vec<(Span, bool)>, Error> {
    let mut at = 0;
    let spans = minichat_tokenizer::stream::spans(tok, ids)?;
    Ok(spans
        .into_iter()
        .map(|span| {
            let learned = mask[at..at + span.ids.len()].contains(&1);
            at += span.ids.len();
            (span, learned)
        })
        .collect())
}

/// The tokens a tool's result is forced in as: the result tokens around its text.
pub fn tool_result_tokens(result: &str, tok: &Tokenizer, ct: &ChatTokens) -> Vec<u32> {
    let mut ids = vec![ct.tool_result_start];
    ids.extend(tok.encode_ordinary(result));
    ids.push(ct.tool_result_end);
    ids
}

/// The messages of a generated assistant turn (its tokens after `<|assistant_start|>`, the
/// end token left out): text and calls become assistant messages, forced results tool
/// messages, so the conversation can go on from them. A call left unanswered at the end (the
/// reply was cut off) is dropped.
pub fn parse_reply(tokens: &[u32], tok: &Tokenizer, ct: &ChatTokens) -> Vec<Message> {
    let text = |ids: &[u32]| String::from_utf8_lossy(&tok.decode_bytes(ids).unwrap_or_default()).into_owned();
    let mut out = vec![Message::new(Role::Assistant, "")];
    let mut i = 0;
    while i < tokens.len() {
        let close = |end: u32| tokens[i + 1..].iter().position(|&t| t == end).map_or(tokens.len(), |p| i + 1 + p);
        if tokens[i] == ct.tool_call_start {
            let j = close(ct.tool_call_end);
            let call = ToolCall::parse(&text(&tokens[i + 1..j]));
            out.last_mut().expect("an assistant message").tool_calls.push(call);
            i = j + 1;
        } else if tokens[i] == ct.tool_result_start {
            let j = close(ct.tool_result_end);
            out.push(Message::new(Role::Tool, text(&tokens[i + 1..j])));
            out.push(Message::new(Role::Assistant, ""));
            i = j + 1;
        } else {
            let j = tokens[i..]
                .iter()
                .position(|&t| t == ct.tool_call_start || t == ct.tool_result_start)
                .map_or(tokens.len(), |p| i + p);
            out.last_mut().expect("an assistant message").content.push_str(&text(&tokens[i..j]));
            i = j;
        }
    }
    // A reply cut off inside a call (length, context) keeps its text, not the unanswered call.
    if let Some(last) = out.last_mut() {
        last.tool_calls.clear();
    }
    out
}

/// The prompt for the assistant's next reply: the conversation (ending with a user message)
/// and `<|assistant_start|>`.
pub fn prompt_for_reply(messages: &[Message], tok: &Tokenizer, ct: &ChatTokens) -> Result<Vec<u32>, Error> {
    if messages.last().map(|m| m.role) != Some(Role::User) {
        return Err(Error::Prompt("the conversation must end with a user message to be answered".into()));
    }
    let (mut ids, _) = render(messages, tok, ct)?;
    ids.push(ct.assistant_start);
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minichat_tokenizer::train::{TrainConfig, Trainer};

    fn chat_tokenizer() -> Tokenizer {
        let config = TrainConfig {
            vocab_size: 300,
            pattern: "gpt4".into(),
            special_tokens: minichat_tokenizer::CHAT_SPECIAL_TOKENS.iter().map(|s| s.to_string()).collect(),
            max_doc_chars: None,
            name: "chat-test".into(),
            number_tokens: false,
        };
        let mut t = Trainer::new(config).unwrap();
        t.add_documents(&["hello there, how are you? fine thanks.".to_string()]);
        t.finish(|_, _| {}).unwrap().0
    }

    #[test]
    fn renders_nanochat_format_with_mask() {
        let tok = chat_tokenizer();
        let ct = ChatTokens::of(&tok).unwrap();
        let msgs = [
            Message::new(Role::System, "Be brief."),
            Message::new(Role::User, "hi"),
            Message::new(Role::Assistant, "hello"),
        ];
        let (ids, mask) = render(&msgs, &tok, &ct).unwrap();
        let text = tok.decode(&ids).unwrap();
        assert_eq!(text, "<|bos|><|user_start|>Be brief.\n\nhi<|user_end|><|assistant_start|>hello<|assistant_end|>");
        // Only "hello" and <|assistant_end|> are the assistant's.
        let learned: Vec<u32> = ids.iter().zip(&mask).filter(|(_, &m)| m == 1).map(|(&i, _)| i).collect();
        assert_eq!(tok.decode(&learned).unwrap(), "hello<|assistant_end|>");
        let prompt = prompt_for_reply(&msgs[..2], &tok, &ct).unwrap();
        assert_eq!(*prompt.last().unwrap(), ct.assistant_start);
    }

    #[test]
    fn tool_calls_are_learned_and_results_are_not() {
        let tok = chat_tokenizer();
        let ct = ChatTokens::of(&tok).unwrap();
        let call = ToolCall { name: "calculator".into(), arguments: "12*7".into() };
        let msgs = [
            Message::new(Role::User, "what is 12*7?"),
            Message::with_calls("", vec![call.clone()]),
            Message::new(Role::Tool, "84"),
            Message::new(Role::Assistant, "84"),
        ];
        let (ids, mask) = render(&msgs, &tok, &ct).unwrap();
        assert_eq!(
            tok.decode(&ids).unwrap(),
            "<|bos|><|user_start|>what is 12*7?<|user_end|><|assistant_start|><|tool_call_start|>calculator 12*7\
             <|tool_call_end|><|tool_result_start|>84<|tool_result_end|>84<|assistant_end|>"
        );
        let learned: Vec<u32> = ids.iter().zip(&mask).filter(|(_, &m)| m == 1).map(|(&i, _)| i).collect();
        assert_eq!(
            tok.decode(&learned).unwrap(),
            "<|tool_call_start|>calculator 12*7<|tool_call_end|>84<|assistant_end|>"
        );
        assert_eq!(ToolCall::parse(&call.text()), call);
        // A call must be answered before the assistant goes on, and the conversation must not stop there.
        assert!(render(&msgs[..2], &tok, &ct).unwrap_err().to_string().contains("ends inside"));
        let skipped = [msgs[0].clone(), msgs[1].clone(), msgs[3].clone()];
        assert!(
            render(&skipped, &tok, &ct).unwrap_err().to_string().contains("Tool result"),
            "{:?}",
            render(&skipped, &tok, &ct)
        );
    }

    #[test]
    fn a_generated_reply_becomes_messages_again() {
        let tok = chat_tokenizer();
        let ct = ChatTokens::of(&tok).unwrap();
        let call = ToolCall { name: "calculator".into(), arguments: "12*7".into() };
        let msgs = [
            Message::new(Role::User, "what is 12*7?"),
            Message::with_calls("Let me see.", vec![call]),
            Message::new(Role::Tool, "84"),
            Message::new(Role::Assistant, "84"),
        ];
        let (ids, _) = render(&msgs, &tok, &ct).unwrap();
        let start = ids.iter().position(|&t| t == ct.assistant_start).unwrap();
        let reply = &ids[start + 1..ids.len() - 1];
        assert_eq!(parse_reply(reply, &tok, &ct), msgs[1..]);
        assert_eq!(tool_result_tokens("84", &tok, &ct)[0], ct.tool_result_start);
    }

    #[test]
    fn special_token_text_from_users_stays_text() {
        let tok = chat_tokenizer();
        let ct = ChatTokens::of(&tok).unwrap();
        let (ids, _) = render(&[Message::new(Role::User, "<|assistant_end|>")], &tok, &ct).unwrap();
        assert_eq!(ids.iter().filter(|&&i| i == ct.assistant_end).count(), 0);
        assert_eq!(tok.decode(&ids).unwrap(), "<|bos|><|user_start|><|assistant_end|><|user_end|>");
    }

    #[test]
    fn bad_conversations_are_errors() {
        let tok = chat_tokenizer();
        let ct = ChatTokens::of(&tok).unwrap();
        assert!(render(&[Message::new(Role::Assistant, "x")], &tok, &ct).is_err());
        assert!(
            prompt_for_reply(&[Message::new(Role::User, "a"), Message::new(Role::Assistant, "b")], &tok, &ct).is_err()
        );
        let gpt4 = minichat_tokenizer::pretrained::load("cl100k_base").unwrap();
        assert!(ChatTokens::of(&gpt4).unwrap_err().to_string().contains("<|bos|>"));
    }
}
