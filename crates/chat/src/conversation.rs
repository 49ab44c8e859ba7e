//! Conversations as token sequences, nanochat's format:
//!
//! ```text
//! <|bos|><|user_start|>text<|user_end|><|assistant_start|>text<|assistant_end|>...
//! ```
//!
//! A system prompt has no tokens of its own: it opens the first user message, separated by a
//! blank line, as nanochat does. Message text is always encoded as ordinary text, so a user who
//! types `<|assistant_end|>` gets those characters, never the control token. `render` also
//! returns the training mask: 1 on the tokens the assistant writes (its text and its end
//! token), 0 on everything given to it.

use crate::Error;
use minichat_tokenizer::Tokenizer;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Message {
        Message { role, content: content.into() }
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
        })
    }
}

/// Token ids and the assistant mask of a conversation. Messages must alternate user and
/// assistant (after an optional leading system message), starting with the user.
pub fn render(messages: &[Message], tok: &Tokenizer, ct: &ChatTokens) -> Result<(Vec<u32>, Vec<u8>), Error> {
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
        let want = if i % 2 == 0 { Role::User } else { Role::Assistant };
        if m.role != want {
            return Err(Error::Prompt(format!(
                "message {} is {:?}; expected {want:?} (user and assistant alternate)",
                i + 1,
                m.role
            )));
        }
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
                push(&[ct.assistant_start], 0);
                push(&tok.encode_ordinary(&m.content), 1);
                push(&[ct.assistant_end], 1);
            }
            Role::System => unreachable!("checked above"),
        }
    }
    Ok((ids, mask))
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
