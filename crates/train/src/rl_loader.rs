//! Reinforcement learning on tasks with checkable answers (GRPO; DeepSeek-R1's recipe) as a
//! data source of the loop every stage shares (`trainer::Batches`): at the first micro-batch
//! of each optimizer step it takes the next prompts, samples a group of replies to each from
//! the model as it is now, tools running inside them (`rollout`), scores each with the task's
//! checker (1 for the exact answer, else 0), and turns the rewards into advantages within each
//! group (`grpo::advantages`); the step's micro-batches are then those replies as rows, and
//! their loss is GRPO's clipped objective on the tokens the model drew (`grpo::loss`), with
//! the KL penalty to the starting model when β > 0 (its log-probabilities from a copy of the
//! starting weights, `reference`).
//!
//! With a reward model (RLHF, `with_reward_model`), a reply's reward is the reward model's score
//! of the conversation (`reward_model::scores`) instead of the checker's verdict; the checker's
//! stays in the log as the gold score the proxy stands in for, so reward hacking shows: the
//! proxy keeps rising while the gold score turns (Gao et al. 2022).
//!
//! One optimizer step per batch of rollouts, as TRL's default (`num_iterations = 1`) and
//! nanochat's `chat_rl.py`: the policy that sampled is the one being trained, so the old
//! log-probabilities are the current ones and the ratio is 1 (the clip bites only with more
//! inner steps on the same rollouts). Prompts come in a seeded order, epoch after epoch, and
//! each round's seeds follow from where it is in that order: with the weights and that
//! position restored from a checkpoint, a resumed run samples the same replies.

use crate::grpo::{self, Objective, ScaleRewards};
use crate::loader::{shuffled, Position};
use crate::metrics::{self, Record};
use crate::preference_loader::Row as Conversation;
use crate::rollout::{self, Rollout, Sampling};
use crate::trainer::{acts_for, ActsByLength, Batches};
use crate::Error;
use minichat_chat::assistant::Assistant;
use minichat_chat::conversation::{prompt_for_reply, ChatTokens, Role};
use minichat_chat::exam::{shown, Question};
use minichat_chat::sampler::SamplerConfig;
use minichat_chat::tasks::is_correct;
use minichat_chat::tools::Tools;
use minichat_model::cpu::cross_entropy::IGNORE;
use minichat_model::net::Net;
use minichat_tokenizer::Tokenizer;

/// Row lengths are multiples of this (or the context).
const ROUND: usize = 32;

/// Held-out questions whose greedy replies each evaluation keeps (`Record::Heldout`).
const SAMPLES: usize = 3;

/// A question, its prompt (rendered for the assistant's reply) and the answer its reply must
/// give.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub question: String,
    pub prompt: Vec<u32>,
    pub answer: String,
}

impl Task {
    /// A task file's question (`tasks::file::questions`), rendered for the assistant's reply.
    pub fn of(q: &Question, tok: &Tokenizer, ct: &ChatTokens) -> Result<Task, Error> {
        let prompt = prompt_for_reply(&q.prompt, tok, ct)?;
        let question = q.prompt.iter().rev().find(|m| m.role == Role::User).map_or("", |m| &m.content);
        Ok(Task { question: question.to_string(), prompt, answer: q.answer.clone() })
    }
}

/// The reward of a reply: 1 for the exact answer, plus `format` when its first calculator call
/// is made of the question's numbers (a small format reward, as the issue and the R1 recipe
/// allow: it credits copying the operands into the call, what a small model gets wrong most,
/// even when a slip later spoils the answer).
pub fn reward(task: &Task, r: &Rollout, format: f32) -> f32 {
    let correct = f32::from(is_correct(r.answer(), &task.answer));
    let call = r.reply.messages.iter().flat_map(|m| &m.tool_calls).find(|c| c.name == "calculator");
    let copied = call.is_some_and(|c| same_numbers(&c.arguments, &task.question));
    correct + if copied { format } else { 0.0 }
}

/// Whether `a` and `b` hold the same numbers (runs of digits, in any order).
fn same_numbers(a: &str, b: &str) -> bool {
    let numbers = |s: &str| {
        let mut v: Vec<String> =
            s.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).map(str::to_string).collect();
        v.sort();
        v
    };
    let (x, y) = (numbers(a), numbers(b));
    !x.is_empty() && x == y
}

/// Makes a group with a reward that is not a number (a reward model's NaN) teach nothing: all
/// its rewards 0, so its advantages are 0. Returns the groups whose rewards are then all alike,
/// and the rewards that were not numbers.
fn neutralise(rewards: &mut [f32], group: usize) -> (usize, usize) {
    let (mut flat, mut invalid) = (0, 0);
    for g in rewards.chunks_mut(group.max(1)) {
        let bad = g.iter().filter(|r| !r.is_finite()).count();
        if bad > 0 {
            invalid += bad;
            g.fill(0.0);
        }
        flat += usize::from(g.iter().all(|&r| r == g[0]));
    }
    (flat, invalid)
}

/// A task's held-out questions, asked at each evaluation (`Record::Heldout`).
#[derive(Clone, Debug)]
pub struct Heldout {
    pub task: String,
    pub questions: Vec<Task>,
}

/// GRPO's settings besides the optimizer's.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Replies drawn per prompt, their length and temperature, and the seed of the rounds.
    pub sampling: Sampling,
    /// Prompts per optimizer step.
    pub prompts: usize,
    pub objective: Objective,
    pub scale: ScaleRewards,
    /// Added to the reward of a reply whose calculator call is made of the question's numbers
    /// (`reward`; 0: none; below 1, so that only right answers count as solved).
    pub format_reward: f32,
    /// Steps between evaluations on the held-out questions (0: at the end only).
    pub eval_every: u64,
}

/// One reply as a training row.
struct Row {
    ids: Vec<u32>,
    /// 1 where the model drew the token.
    mask: Vec<u8>,
    advantage: f32,
}

/// What the current step's rollouts and losses add up to (`Record::Rollouts`).
#[derive(Default)]
struct StepStats {
    rolled: bool,
    reward: f32,
    solved: f32,
    reply_tokens: f32,
    /// The checker's mean reward, where the reward is a reward model's.
    gold: Option<f32>,
    /// The share of groups whose rewards were all alike, and rewards that were not numbers.
    flat_groups: f32,
    invalid: usize,
    /// Sums over micro-batches, and their count.
    clipped_low: f64,
    clipped_high: f64,
    ratio: f64,
    kl: f64,
    batches: usize,
}

/// GRPO's batches (see the header).
pub struct Grpo<'a> {
    tasks: Vec<Task>,
    tok: &'a Tokenizer,
    ct: ChatTokens,
    tools: &'a Tools<'a>,
    settings: Settings,
    /// The starting model, for the KL penalty (β > 0) or to measure the KL, with activations
    /// by row length.
    reference: Option<(Net, ActsByLength)>,
    /// A reward model whose score is the reward (RLHF).
    reward_model: Option<(Net, ActsByLength)>,
    /// Rows per micro-batch, and the longest row.
    b: usize,
    context: usize,
    pad: u32,
    position: Position,
    rows: Vec<Row>,
    /// The next row to hand out, and the rows of the last micro-batch with its row length.
    next: usize,
    last: (usize, usize),
    ref_logp: Vec<f32>,
    stats: StepStats,
    heldout: Vec<Heldout>,
    /// Evaluate before the first step (a new run), at the first batch.
    eval_first: bool,
    first: Vec<Record>,
}

impl<'a> Grpo<'a> {
    /// A source over `tasks` from `position`; each optimizer step takes `settings.prompts`
    /// prompts, whose `prompts × group` replies must fill whole micro-batches of `b` rows.
    /// `reference` is the starting model, needed when β > 0 (given with β = 0, the KL to it is
    /// measured all the same).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tasks: Vec<Task>,
        tok: &'a Tokenizer,
        tools: &'a Tools<'a>,
        settings: Settings,
        reference: Option<Net>,
        b: usize,
        context: usize,
        position: Position,
    ) -> Result<Grpo<'a>, Error> {
        let replies = settings.prompts * settings.sampling.group;
        if tasks.is_empty() {
            return Err(Error::Data("no tasks to learn from".into()));
        }
        if settings.sampling.group < 2 {
            return Err(Error::Config(format!(
                "a group of {} reply: GRPO compares replies to the same prompt (at least 2)",
                settings.sampling.group
            )));
        }
        if replies == 0 || b == 0 || !replies.is_multiple_of(b) {
            return Err(Error::Config(format!(
                "{} prompts x {} replies do not fill whole micro-batches of {b} rows",
                settings.prompts, settings.sampling.group
            )));
        }
        if !(0.0..1.0).contains(&settings.format_reward) {
            return Err(Error::Config(format!("a format reward of {} (it must be in [0, 1))", settings.format_reward)));
        }
        if settings.objective.beta > 0.0 && reference.is_none() {
            return Err(Error::Config("a KL penalty (beta > 0) needs the starting model".into()));
        }
        let ct = ChatTokens::of(tok)?;
        let reference = reference.map(|net| (net, Vec::new()));
        Ok(Grpo {
            tasks,
            tok,
            ct,
            tools,
            settings,
            reference,
            reward_model: None,
            b,
            context,
            pad: ct.bos,
            position,
            rows: Vec::new(),
            next: 0,
            last: (0, 0),
            ref_logp: Vec::new(),
            stats: StepStats::default(),
            heldout: Vec::new(),
            eval_first: false,
            first: Vec::new(),
        })
    }

    /// Rewards replies with `net`'s score (a reward model: `reward_model`) instead of the
    /// checker's verdict, which is logged as the gold reward. It must read this tokenizer.
    pub fn with_reward_model(mut self, net: Net) -> Result<Self, Error> {
        if net.config().vocab_size != self.tok.n_vocab() {
            return Err(Error::Data(format!(
                "the reward model's vocabulary ({}) is not the policy's ({})",
                net.config().vocab_size,
                self.tok.n_vocab()
            )));
        }
        self.reward_model = Some((net, ActsByLength::new()));
        Ok(self)
    }

    /// Asks `heldout` at each evaluation, and with `before` also before the first step.
    pub fn with_heldout(mut self, heldout: Vec<Heldout>, before: bool) -> Self {
        (self.heldout, self.eval_first) = (heldout, before);
        self
    }

    /// Each held-out task's pass@1 (greedy) and pass@k (k = the group, sampled as in training).
    pub fn evaluate(&self, net: &Net, step: u64) -> Result<Vec<Record>, Error> {
        let assistant = Assistant { net, tok: self.tok, ct: self.ct, tools: Some(self.tools) };
        let s = &self.settings.sampling;
        let k = s.group;
        let mut out = Vec::new();
        for h in &self.heldout {
            let prompts: Vec<Vec<u32>> = h.questions.iter().map(|q| q.prompt.clone()).collect();
            // Only right answers count here, whatever the format reward.
            let mut score = |p: usize, r: &Rollout| reward(&h.questions[p], r, 0.0);
            let greedy =
                Sampling { sampler: SamplerConfig { temperature: 0.0, ..s.sampler.clone() }, group: 1, ..s.clone() };
            let replies = rollout::sample(&assistant, &prompts, &greedy, &mut score)?;
            let right = replies.iter().filter(|r| r.reward > 0.0).count();
            let samples = replies
                .iter()
                .take(SAMPLES)
                .map(|r| metrics::Reply {
                    question: h.questions[r.prompt].question.clone(),
                    reply: shown(&r.reply.messages),
                    right: r.reward > 0.0,
                })
                .collect();
            // Seeds of their own, apart from training's rounds.
            let sampled = Sampling { seed: s.seed ^ 0x05EE_D0F4_E1D0_u64, ..s.clone() };
            let mut solved = vec![false; prompts.len()];
            for r in rollout::sample(&assistant, &prompts, &sampled, &mut score)? {
                solved[r.prompt] |= r.reward > 0.0;
            }
            let n = prompts.len().max(1) as f32;
            out.push(Record::Heldout {
                step,
                task: h.task.clone(),
                pass_at_1: right as f32 / n,
                pass_at_k: solved.iter().filter(|&&x| x).count() as f32 / n,
                k,
                questions: prompts.len(),
                samples,
            });
        }
        Ok(out)
    }

    /// The next `settings.prompts` tasks in the seeded order, as `position` says.
    fn take_prompts(&mut self) -> Vec<usize> {
        let seed = self.settings.sampling.seed;
        let mut order = shuffled(self.tasks.len(), seed, self.position.epoch);
        let mut out = Vec::with_capacity(self.settings.prompts);
        while out.len() < self.settings.prompts {
            if self.position.window as usize >= order.len() {
                self.position = Position { epoch: self.position.epoch + 1, window: 0 };
                order = shuffled(self.tasks.len(), seed, self.position.epoch);
            }
            out.push(order[self.position.window as usize] as usize);
            self.position.window += 1;
        }
        out
    }

    /// Samples and scores the next step's replies and makes them its rows.
    fn roll(&mut self, net: &Net) -> Result<(), Error> {
        let Position { epoch, window } = self.position;
        let picked = self.take_prompts();
        let prompts: Vec<Vec<u32>> = picked.iter().map(|&i| self.tasks[i].prompt.clone()).collect();
        let assistant = Assistant { net, tok: self.tok, ct: self.ct, tools: Some(self.tools) };
        // Each round's seeds follow from where it starts (see the header).
        let sampling = Sampling {
            seed: self.settings.sampling.seed ^ epoch.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ window.rotate_left(32),
            ..self.settings.sampling.clone()
        };
        let (tasks, format) = (&self.tasks, self.settings.format_reward);
        let mut score = |p: usize, r: &Rollout| reward(&tasks[picked[p]], r, format);
        let rollouts = rollout::sample(&assistant, &prompts, &sampling, &mut score)?;
        let checked: Vec<f32> = rollouts.iter().map(|r| r.reward).collect();
        let rows: Vec<Conversation> = rollouts
            .iter()
            .map(|r| {
                let (ids, mask) = r.row(&prompts[r.prompt]);
                Conversation { ids, mask }
            })
            .collect();
        let mut rewards = match &mut self.reward_model {
            // The reward model's score of each conversation: the prompt and the reply as the
            // model wrote it, `b` rows a pass.
            Some((rm, acts)) => {
                let refs: Vec<&Conversation> = rows.iter().collect();
                let (bos, b, context, pad) = (self.ct.bos, self.b, self.context, self.pad);
                let scores = crate::reward_model::scores(rm, acts, &refs, bos, b, context, pad)?;
                scores.into_iter().map(|x| x as f32).collect()
            }
            None => checked.clone(),
        };
        let (flat_groups, invalid) = neutralise(&mut rewards, sampling.group);
        let advantages = grpo::advantages(&rewards, sampling.group, self.settings.scale)?;
        let n = rollouts.len() as f32;
        let mean = |v: &[f32]| v.iter().sum::<f32>() / n;
        self.stats = StepStats {
            rolled: true,
            reward: mean(&rewards),
            solved: checked.iter().filter(|&&r| r >= 1.0).count() as f32 / n,
            reply_tokens: rollouts.iter().map(|r| r.reply.usage.completion_tokens as f32).sum::<f32>() / n,
            gold: self.reward_model.as_ref().map(|_| mean(&checked)),
            flat_groups: flat_groups as f32 / (rewards.len() / sampling.group).max(1) as f32,
            invalid,
            ..StepStats::default()
        };
        self.rows = rows
            .into_iter()
            .zip(advantages)
            .map(|(Conversation { ids, mask }, advantage)| Row { ids, mask, advantage })
            .collect();
        self.next = 0;
        Ok(())
    }

    /// The reference model's log-probabilities of the last micro-batch's targets.
    fn reference_logp(&mut self, ids: &[u32], targets: &[u32], t: usize) -> Result<(), Error> {
        let Some((net, cache)) = &mut self.reference else { return Ok(()) };
        let acts = acts_for(cache, net, self.b, t)?;
        net.forward(acts, ids, targets)?;
        self.ref_logp.clear();
        self.ref_logp.extend_from_slice(acts.logp());
        Ok(())
    }
}

impl Batches for Grpo<'_> {
    fn next(&mut self, net: &Net, ids: &mut [u32], targets: &mut [u32], weights: &mut [f32]) -> Result<usize, Error> {
        if std::mem::take(&mut self.eval_first) {
            self.first = self.evaluate(net, 0)?;
        }
        if self.next >= self.rows.len() {
            self.roll(net)?;
        }
        let rows = &self.rows[self.next..self.next + self.b];
        // The longest row's inputs, within the context (a reply ends where the cache is full),
        // rounded up to a multiple of 32: the loop keeps activations for each row length.
        let longest = rows.iter().map(|r| r.ids.len() - 1).max().unwrap_or(1);
        let t = longest.next_multiple_of(ROUND).clamp(1, self.context);
        for (i, row) in rows.iter().enumerate() {
            let (ids, targets, weights) =
                (&mut ids[i * t..][..t], &mut targets[i * t..][..t], &mut weights[i * t..][..t]);
            ids.fill(self.pad);
            targets.fill(IGNORE);
            weights.fill(0.0);
            let n = (row.ids.len() - 1).min(t);
            ids[..n].copy_from_slice(&row.ids[..n]);
            for j in 0..n {
                if row.mask[j + 1] == 1 {
                    targets[j] = row.ids[j + 1];
                    weights[j] = 1.0;
                }
            }
        }
        self.last = (self.next, t);
        self.next += self.b;
        let n = self.b * t;
        self.reference_logp(&ids[..n], &targets[..n], t)?;
        Ok(t)
    }

    fn position(&self) -> Position {
        self.position
    }

    fn loss(&mut self, logp: &[f32], weights: &[f32], dlogp: &mut [f32], _step: u64) -> Result<f32, Error> {
        let (first, t) = self.last;
        let advantages: Vec<f32> = self.rows[first..first + self.b].iter().map(|r| r.advantage).collect();
        let batch = grpo::Batch {
            logp,
            // One optimizer step per batch of rollouts: the sampling policy is this one.
            old: logp,
            reference: self.reference.as_ref().map(|_| self.ref_logp.as_slice()),
            mask: weights,
            advantages: &advantages,
            t,
        };
        let stats = grpo::loss(&self.settings.objective, &batch, dlogp)?;
        let s = &mut self.stats;
        (s.clipped_low, s.clipped_high, s.ratio, s.kl) = (
            s.clipped_low + stats.clipped_low,
            s.clipped_high + stats.clipped_high,
            s.ratio + stats.ratio,
            s.kl + stats.kl,
        );
        s.batches += 1;
        Ok(stats.loss as f32)
    }

    fn records(&mut self, net: &Net, step: u64, steps: u64) -> Result<Vec<Record>, Error> {
        let mut out = std::mem::take(&mut self.first);
        let s = std::mem::take(&mut self.stats);
        let per = |x: f64| (x / s.batches.max(1) as f64) as f32;
        out.extend(s.rolled.then(|| Record::Rollouts {
            step,
            reward: s.reward,
            solved: s.solved,
            reply_tokens: s.reply_tokens,
            clipped_low: per(s.clipped_low),
            clipped_high: per(s.clipped_high),
            ratio: per(s.ratio),
            kl: per(s.kl),
            gold: s.gold,
            flat_groups: s.flat_groups,
            invalid: s.invalid,
        }));
        let every = self.settings.eval_every;
        if (every > 0 && step.is_multiple_of(every)) || step == steps {
            out.extend(self.evaluate(net, step)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minichat_chat::assistant::{FinishReason, Reply, Usage};
    use minichat_chat::conversation::{Message, Role, ToolCall};

    fn replied(call: &str, answer: &str) -> Rollout {
        let messages = vec![
            Message::with_calls("", vec![ToolCall { name: "calculator".into(), arguments: call.into() }]),
            Message::new(Role::Tool, "x"),
            Message::new(Role::Assistant, answer),
        ];
        let reply = Reply {
            messages,
            finish: FinishReason::Stop,
            usage: Usage::default(),
            tokens: vec![],
            forced: vec![],
            end: None,
        };
        Rollout { prompt: 0, reply, reward: 0.0 }
    }

    #[test]
    fn the_format_reward_credits_a_call_made_of_the_questions_numbers() {
        let task = Task {
            question: "A box holds 12 items. How many items are in 345 boxes?".into(),
            prompt: vec![],
            answer: "4140".into(),
        };
        // Right answer, right call (operands in another order): 1 + format.
        assert_eq!(reward(&task, &replied("345*12", "The answer is 4140."), 0.25), 1.25);
        // A slip after a right call: the format reward only.
        assert_eq!(reward(&task, &replied("12*345", "The answer is 414."), 0.25), 0.25);
        // Operands copied wrong: nothing, whatever the answer says.
        assert_eq!(reward(&task, &replied("34516*12", "The answer is 7."), 0.25), 0.0);
        assert_eq!(reward(&task, &replied("12*34", "The answer is 4140."), 0.25), 1.0);
        // Without it, only the answer counts.
        assert_eq!(reward(&task, &replied("345*12", "The answer is 4140."), 0.0), 1.0);
        assert!(!same_numbers("", "no numbers"));
    }

    #[test]
    fn a_group_with_a_reward_that_is_not_a_number_teaches_nothing() {
        let mut rewards = [1.0, f32::NAN, 0.0, 1.0, 0.5, 0.5, 0.0, 1.0];
        assert_eq!(neutralise(&mut rewards, 2), (2, 1));
        assert_eq!(rewards, [0.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.0, 1.0]);
        let adv = grpo::advantages(&rewards, 2, ScaleRewards::Group).unwrap();
        assert_eq!(&adv[..2], &[0.0, 0.0]);
    }
}
