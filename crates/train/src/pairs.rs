//! Preference pairs from a model's own replies, with a hidden gold preference: for each question
//! of a task file (questions with exact answers), a group of replies is sampled with the tools
//! running (`rollout`, as reinforcement learning samples them) and each checked; a right
//! reply is preferred to a wrong one. Pairs drawn from the policy itself ("on-policy") are what
//! DPO learns most from (Xu et al. 2024, "Is DPO superior to PPO for LLM alignment?"), and the
//! checker stands in for the human who would pick: the embedded default's preferences come
//! from code, as the issue asks, and a reward model must learn them from the examples.
//!
//! Written in TRL's conversational format with an explicit prompt (`{"prompt": [messages],
//! "chosen": [messages], "rejected": [messages]}`, what `minichat feedback export` writes too).

use crate::rl_loader::{reward, Task};
use crate::rollout::{self, Rollout, Sampling};
use crate::Error;
use minichat_chat::assistant::{Assistant, FinishReason};
use minichat_chat::conversation::{validate, Message};
use minichat_chat::dataset::to_json;
use minichat_chat::exam::Question;
use serde_json::{json, Value};

/// How many pairs came of how many questions.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Made {
    pub questions: usize,
    /// Questions with at least one right and one wrong reply (the others give no pair).
    pub with_pairs: usize,
    pub pairs: usize,
    /// Replies sampled, and how many were right.
    pub replies: usize,
    pub right: usize,
}

/// Questions asked a batch at a time (their replies are stepped together).
const QUESTIONS_PER_ROUND: usize = 16;

/// Up to `per_question` pairs for each question: `sampling.group` replies to it, each right
/// reply (the exact answer) preferred to a wrong one, replies used in turn. Only replies the
/// model ended itself count (not ones cut at the length). `progress` hears the questions done.
pub fn make(
    assistant: &Assistant,
    questions: &[Question],
    sampling: &Sampling,
    per_question: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<(Vec<Value>, Made), Error> {
    let mut made = Made { questions: questions.len(), ..Made::default() };
    let mut out = Vec::new();
    for (round, chunk) in questions.chunks(QUESTIONS_PER_ROUND).enumerate() {
        let tasks = chunk.iter().map(|q| Task::of(q, assistant.tok, &assistant.ct)).collect::<Result<Vec<_>, _>>()?;
        let prompts: Vec<Vec<u32>> = tasks.iter().map(|t| t.prompt.clone()).collect();
        let round_sampling =
            Sampling { seed: sampling.seed ^ (round as u64).wrapping_mul(0xA076_1D64_78BD_642F), ..sampling.clone() };
        let rollouts = rollout::sample(assistant, &prompts, &round_sampling, &mut |p, r| reward(&tasks[p], r, 0.0))?;
        made.replies += rollouts.len();
        made.right += rollouts.iter().filter(|r| r.reward > 0.0).count();
        for (p, q) in chunk.iter().enumerate() {
            let ended = |right: bool| -> Vec<&Rollout> {
                rollouts
                    .iter()
                    .filter(|r| r.prompt == p && (r.reward > 0.0) == right && r.reply.finish == FinishReason::Stop)
                    .filter(|r| valid(&q.prompt, &r.reply.messages))
                    .collect()
            };
            let pairs = pair_up(&ended(true), &ended(false), per_question);
            made.with_pairs += usize::from(!pairs.is_empty());
            made.pairs += pairs.len();
            let messages = |m: &[Message]| to_json(m)["messages"].clone();
            for (c, r) in pairs {
                out.push(json!({
                    "prompt": messages(&q.prompt),
                    "chosen": messages(&c.reply.messages),
                    "rejected": messages(&r.reply.messages),
                }));
            }
        }
        progress(chunk.len());
    }
    Ok((out, made))
}

/// Whether the reply follows the prompt as a conversation the chat format can hold.
fn valid(prompt: &[Message], reply: &[Message]) -> bool {
    let whole: Vec<Message> = prompt.iter().chain(reply).cloned().collect();
    validate(&whole).is_ok()
}

/// Up to `limit` (right, wrong) pairs of different replies, each reply used in turn.
fn pair_up<'r>(right: &[&'r Rollout], wrong: &[&'r Rollout], limit: usize) -> Vec<(&'r Rollout, &'r Rollout)> {
    let n = right.len().max(wrong.len()).min(limit);
    if right.is_empty() || wrong.is_empty() {
        return Vec::new();
    }
    (0..n)
        .map(|k| (right[k % right.len()], wrong[k % wrong.len()]))
        .filter(|(c, r)| c.reply.messages != r.reply.messages)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use minichat_chat::assistant::{Reply, Usage};
    use minichat_chat::conversation::Role;

    fn replied(text: &str, reward: f32) -> Rollout {
        let reply = Reply {
            messages: vec![Message::new(Role::Assistant, text)],
            finish: FinishReason::Stop,
            usage: Usage::default(),
            tokens: vec![],
            forced: vec![],
            end: None,
        };
        Rollout { prompt: 0, reply, reward }
    }

    #[test]
    fn right_replies_are_paired_with_wrong_ones_in_turn() {
        let (a, b) = (replied("4", 1.0), replied("four", 1.0));
        let (x, y, z) = (replied("5", 0.0), replied("3", 0.0), replied("6", 0.0));
        let text = |pairs: Vec<(&Rollout, &Rollout)>| -> Vec<(String, String)> {
            pairs.iter().map(|(c, r)| (c.answer().to_string(), r.answer().to_string())).collect()
        };
        let pairs = text(pair_up(&[&a, &b], &[&x, &y, &z], 8));
        assert_eq!(pairs, [("4", "5"), ("four", "3"), ("4", "6")].map(|(c, r)| (c.to_string(), r.to_string())));
        assert_eq!(pair_up(&[&a, &b], &[&x, &y, &z], 1).len(), 1);
        assert!(pair_up(&[&a], &[], 4).is_empty());
        assert!(valid(&[Message::new(Role::User, "2+2?")], &a.reply.messages));
        assert!(!valid(&[Message::new(Role::User, "2+2?")], &[Message::new(Role::User, "again")]));
    }
}
