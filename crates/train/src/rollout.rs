//! Rollouts for reinforcement learning: groups of replies sampled from the model as it is now,
//! through the one assistant turn (`minichat_chat::assistant`), so the calculator runs inside
//! a rollout exactly as it does in `minichat chat` and `minichat serve`, and scored by the
//! task's checker.
//!
//! Every reply of a round is stepped together (`Assistant::step_batch`: one pass a token for
//! all of them, their rows sharing each weight read), through the row-invariant pass the
//! server uses, so a reply is the one it would be sampled alone: what a seed draws does not
//! depend on how many prompts a step takes or on the other replies. Reply `g` of prompt `p`
//! draws with its own seed, so a group's replies differ.
//!
//! A reply becomes a training row as the model wrote it: the prompt, then the reply's tokens
//! with the end token the model drew; only the tokens the model drew count (`Row::mask`), not
//! the prompt and not a tool's result, which the engine wrote.

use crate::Error;
use minichat_chat::assistant::{Assistant, FinishReason, Reply, Settings, Turn};
use minichat_chat::conversation::Role;
use minichat_chat::sampler::SamplerConfig;
use minichat_model::kv_cache::Batch;
use minichat_model::rng::SplitMix64;

/// One sampled reply and its reward.
#[derive(Clone, Debug)]
pub struct Rollout {
    /// Which prompt of the round it answers.
    pub prompt: usize,
    pub reply: Reply,
    pub reward: f32,
}

impl Rollout {
    /// The text the model wrote after its last tool result (its answer, as the exam reads it).
    pub fn answer(&self) -> &str {
        self.reply.messages.last().filter(|m| m.role == Role::Assistant).map_or("", |m| m.content.as_str())
    }

    /// The training row: the prompt's and reply's tokens (with the end token the model drew),
    /// and for each whether the model drew it (1) or not (0: the prompt, a tool's result).
    pub fn row(&self, prompt: &[u32]) -> (Vec<u32>, Vec<u8>) {
        let r = &self.reply;
        let mut ids = prompt.to_vec();
        let mut mask = vec![0u8; prompt.len()];
        ids.extend(&r.tokens);
        mask.extend(r.forced.iter().map(|&f| u8::from(!f)));
        if let Some(end) = r.end {
            ids.push(end);
            mask.push(1);
        }
        (ids, mask)
    }
}

/// How replies are drawn.
#[derive(Clone, Debug)]
pub struct Sampling {
    pub sampler: SamplerConfig,
    /// Replies per prompt.
    pub group: usize,
    /// Tokens the model may draw per reply (tool results not counted).
    pub max_tokens: usize,
    /// Replies seeded from this (each its own seed).
    pub seed: u64,
}

/// `sampling.group` replies to each of `prompts` (rendered: `conversation::prompt_for_reply`),
/// in prompt order, each scored by `reward` (the prompt's index and the rollout).
pub fn sample(
    assistant: &Assistant,
    prompts: &[Vec<u32>],
    sampling: &Sampling,
    reward: &mut dyn FnMut(usize, &Rollout) -> f32,
) -> Result<Vec<Rollout>, Error> {
    let block = assistant.net.config().block_size;
    let mut turns: Vec<(usize, Turn)> = Vec::with_capacity(prompts.len() * sampling.group);
    for (p, prompt) in prompts.iter().enumerate() {
        let room = block.saturating_sub(prompt.len() + 1);
        if room == 0 {
            return Err(Error::Data(format!(
                "prompt {p} has {} tokens, and the context is {block}: no room for a reply",
                prompt.len()
            )));
        }
        for g in 0..sampling.group {
            let seed =
                SplitMix64::new(sampling.seed ^ ((p * sampling.group + g) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                    .next_u64();
            let sampler = SamplerConfig { seed, ..sampling.sampler.clone() };
            let settings = Settings::new(sampler, sampling.max_tokens.min(room));
            turns.push((p, assistant.queue(prompt, &settings, usize::MAX, false)?));
        }
    }
    // Invariant: each reply is the one it would be alone (see the header).
    let mut batch = Batch::new(true);
    loop {
        let mut live: Vec<&mut Turn> = turns.iter_mut().map(|(_, t)| t).filter(|t| t.finish().is_none()).collect();
        if live.is_empty() {
            break;
        }
        assistant.step_batch(&mut live, &mut batch, &mut |_, _| {})?;
    }
    let mut out = Vec::with_capacity(turns.len());
    for (prompt, turn) in turns {
        let reply = assistant.finish(turn);
        debug_assert!(reply.finish != FinishReason::Cancelled);
        let mut rollout = Rollout { prompt, reply, reward: 0.0 };
        rollout.reward = reward(prompt, &rollout);
        out.push(rollout);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minichat_chat::assistant::Usage;
    use minichat_chat::conversation::Message;

    fn rollout(forced: Vec<bool>, end: Option<u32>, last: Message) -> Rollout {
        let tokens = (5..5 + forced.len() as u32).collect();
        let reply =
            Reply { messages: vec![last], finish: FinishReason::Stop, usage: Usage::default(), tokens, forced, end };
        Rollout { prompt: 0, reply, reward: 0.0 }
    }

    #[test]
    fn a_row_trains_only_what_the_model_drew() {
        // A call (drawn), the calculator's result (forced), the answer and the end (drawn).
        let r = rollout(vec![false, true, true, false], Some(9), Message::new(Role::Assistant, "84"));
        assert_eq!(r.row(&[1, 2]), (vec![1, 2, 5, 6, 7, 8, 9], vec![0, 0, 1, 0, 0, 1, 1]));
        assert_eq!(r.answer(), "84");
        // Cut at the length: no end token.
        let r = rollout(vec![false, false], None, Message::new(Role::Tool, "84"));
        assert_eq!(r.row(&[1]), (vec![1, 5, 6], vec![0, 1, 1]));
        // A tool's result is not the model's answer.
        assert_eq!(r.answer(), "");
    }
}
