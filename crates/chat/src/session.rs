//! A conversation with the assistant, turn after turn: the system prompt, the messages so far
//! and the sampler settings, with a fresh seed each turn (the same seeds in the same order give
//! the same chat). A question joins the conversation with its reply; a question whose reply is
//! unusable (nothing written) or failed is dropped again, so the conversation always stays
//! valid. When a question and the conversation so far no longer leave room for a reply in the
//! context, the oldest exchanges (a question and its reply) are dropped, as chat front ends do,
//! and the answer says how many. Text commands (`/temperature 0.5`, `/system ...`, `/clear`)
//! change it between turns.
//! `minichat chat` is this session in a terminal.

use crate::assistant::{Assistant, Event, Reply, Settings};
use crate::conversation::{validate, Message, Role};
use crate::sampler::SamplerConfig;
use crate::Error;
use std::sync::atomic::AtomicBool;

/// What a question got.
#[derive(Debug)]
pub struct Answer {
    pub reply: Reply,
    /// Whether the question and the reply joined the conversation (a reply with nothing in it
    /// does not).
    pub kept: bool,
    /// The oldest exchanges dropped to make room for this one.
    pub dropped: usize,
}

pub struct Session {
    /// Opens the first user message (the chat format has no system turn of its own).
    pub system: Option<String>,
    /// The conversation so far, without the system prompt.
    pub messages: Vec<Message>,
    pub sampler: SamplerConfig,
    /// Reply tokens at most.
    pub max_tokens: usize,
    turns: u64,
}

impl Session {
    pub fn new(system: Option<String>, sampler: SamplerConfig, max_tokens: usize) -> Session {
        Session { system, messages: Vec::new(), sampler, max_tokens, turns: 0 }
    }

    /// Starts over with another system prompt (None: none).
    pub fn restart(&mut self, system: Option<String>) {
        self.system = system;
        self.messages.clear();
    }

    /// Asks `question`: the assistant's reply streams through `on_event` and, when it has
    /// something in it, joins the conversation with the question. An error leaves the
    /// conversation as it was.
    pub fn ask(
        &mut self,
        assistant: &Assistant,
        question: &str,
        cancel: &AtomicBool,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<Answer, Error> {
        let dropped = self.exchanges_to_drop(assistant, question)?;
        let first_kept = self.exchange_starts().get(dropped).copied().unwrap_or(self.messages.len());
        let mut convo = self.with_question(first_kept, question);
        self.sampler.seed = self.sampler.seed.wrapping_add(self.turns);
        self.turns += 1;
        let settings = Settings::new(self.sampler.clone(), self.max_tokens);
        let reply = assistant.reply(&convo, &settings, cancel, on_event)?;
        let start = convo.len() - (self.messages.len() - first_kept) - 1;
        convo.extend(reply.messages.iter().cloned());
        let kept = validate(&convo).is_ok();
        if kept {
            self.messages = convo.split_off(start);
        }
        Ok(Answer { reply, kept, dropped: if kept { dropped } else { 0 } })
    }

    /// The system prompt, the messages from `from` on, and `question`.
    fn with_question(&self, from: usize, question: &str) -> Vec<Message> {
        let mut convo: Vec<Message> = self.system.iter().map(|s| Message::new(Role::System, s.clone())).collect();
        convo.extend(self.messages[from..].iter().cloned());
        convo.push(Message::new(Role::User, question));
        convo
    }

    /// Where each exchange (a user message and the replies after it) starts in `messages`.
    fn exchange_starts(&self) -> Vec<usize> {
        (0..self.messages.len()).filter(|&i| self.messages[i].role == Role::User).collect()
    }

    /// How many of the oldest exchanges must go for `question` to leave room for a reply: its
    /// `max_tokens`, or a quarter of the context if that is less. The question alone not
    /// fitting is an error, and the conversation stays as it was.
    fn exchanges_to_drop(&self, assistant: &Assistant, question: &str) -> Result<usize, Error> {
        let context = assistant.net.config().block_size;
        let room = self.max_tokens.min(context / 4).max(1);
        let starts = self.exchange_starts();
        for (dropped, &from) in starts.iter().chain([&self.messages.len()]).enumerate() {
            let prompt = crate::conversation::prompt_for_reply(
                &self.with_question(from, question),
                assistant.tok,
                &assistant.ct,
            )?;
            if prompt.len() + room <= context {
                return Ok(dropped);
            }
        }
        Err(Error::Prompt(format!(
            "the question does not leave room for a reply of {room} tokens in the context of {context} even alone"
        )))
    }

    /// A text command (the line after its `/`): changes the session and says what it did;
    /// None for `quit`.
    pub fn command(&mut self, cmd: &str, vocab: usize) -> Option<String> {
        let (name, arg) = cmd.split_once(' ').map_or((cmd, ""), |(n, a)| (n, a.trim()));
        Some(match name {
            "quit" | "exit" => return None,
            "help" => HELP.to_string(),
            "clear" => {
                self.messages.clear();
                "(conversation cleared)".into()
            }
            "system" => {
                self.restart((!arg.is_empty()).then(|| arg.to_string()));
                "(system prompt set; conversation cleared)".into()
            }
            "temperature" | "topk" => {
                let mut next = self.sampler.clone();
                let parsed = match name {
                    "temperature" => arg.parse().map(|t| next.temperature = t).is_ok(),
                    _ => arg.parse().map(|k| next.top_k = k).is_ok(),
                };
                match (parsed, next.validate(vocab)) {
                    (true, Ok(())) => {
                        self.sampler = next;
                        format!("({name} = {arg})")
                    }
                    (false, _) => format!("/{name} needs a number"),
                    (_, Err(e)) => e.to_string(),
                }
            }
            _ => format!("unknown command /{name}; /help lists them"),
        })
    }
}

/// The text commands.
pub const HELP: &str = "/temperature X   set the temperature (0 = greedy)\n/topk K          keep the K most likely tokens (0 = off)\n/system TEXT     set the system prompt and start over\n/clear           start over\n/help            this list\n/quit            leave (Ctrl-D too)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_change_the_session_or_say_why_not() {
        let mut s = Session::new(Some("Be brief.".into()), SamplerConfig::default(), 10);
        s.messages.push(Message::new(Role::User, "hi"));
        assert_eq!(s.command("temperature 0.5", 100).as_deref(), Some("(temperature = 0.5)"));
        assert_eq!(s.sampler.temperature, 0.5);
        assert_eq!(s.command("topk x", 100).as_deref(), Some("/topk needs a number"));
        assert!(s.command("temperature -1", 100).unwrap().contains("temperature -1"));
        assert_eq!(s.command("clear", 100).as_deref(), Some("(conversation cleared)"));
        assert!(s.messages.is_empty() && s.system.is_some());
        s.command("system", 100);
        assert!(s.system.is_none());
        assert!(s.command("nope", 100).unwrap().contains("/help"));
        assert_eq!(s.command("quit", 100), None);
    }
}
