//! Batches of preference pairs, a data source of the loop every stage shares
//! (`trainer::Batches`), for the two ways of learning from them (`Method`): each micro-batch
//! holds pairs as two rows each, the chosen reply's conversation then the rejected one's.
//!
//! - DPO (`dpo`): weight 1 on the reply's tokens (the prompt, earlier turns and tool results
//!   the engine wrote count for nothing); the loss is DPO's on the rows' summed
//!   log-probabilities against the starting model's, computed once for every pair when the
//!   source is made (`reference_logps`), as TRL's `precompute_ref_log_probs` does.
//! - A reward model (`reward_model`): each row is scored at its last token; the loss is
//!   Bradley-Terry's on the two scores.
//!
//! Pairs come in a seeded order, epoch after epoch; the position in it is the source's whole
//! state, saved with checkpoints. After each step the source logs the step's rewards (DPO's
//! implicit ones, or the scores) and pair accuracy (`Record::Preference`) and, at evaluations,
//! the same on held-out pairs (`Record::HeldoutPairs`).

use crate::dpo::{self, Objective, Stats};
use crate::loader::{shuffled, Position};
use crate::metrics::Record;
use crate::reward_model;
use crate::sft_loader::row_len;
use crate::trainer::{acts_for, ActsByLength, Batches};
use crate::Error;
use minichat_chat::conversation::{render, ChatTokens, Message};
use minichat_chat::preference::Pair;
use minichat_model::cpu::cross_entropy::IGNORE;
use minichat_model::net::Net;
use minichat_tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};

/// How a run learns from preference pairs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The policy itself, against the starting model (`dpo`).
    Dpo(dpo::Objective),
    /// A score for a conversation (`reward_model`).
    RewardModel,
}

impl Method {
    /// The loss on the rows' values (DPO: the replies' log-probabilities against the reference;
    /// a reward model: the scores, against a reference of 0).
    pub fn objective(&self) -> Objective {
        match self {
            Method::Dpo(objective) => *objective,
            Method::RewardModel => reward_model::BRADLEY_TERRY,
        }
    }

    /// The peak learning rate when none is given: DPO wants a small one (TRL's default is 1e-6
    /// for large models; 2e-5 kept held-out arithmetic level here, 1e-4 broke it).
    pub fn default_lr(&self) -> f32 {
        match self {
            Method::Dpo(_) => 2e-5,
            Method::RewardModel => 1e-4,
        }
    }
}

/// One conversation as a row: its tokens, and 1 where a target is the reply's.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub ids: Vec<u32>,
    pub mask: Vec<u8>,
}

/// A pair rendered for training: the chosen row, then the rejected one.
pub type PairRows = [Row; 2];

/// A pair's two conversations in the chat format, each cut to `context + 1` tokens, with the
/// reply's tokens marked (`render`'s assistant mask from the end of the prompt on). Returns
/// whether either was cut; a prompt that leaves no room for a reply is an error.
pub fn render_pair(pair: &Pair, tok: &Tokenizer, ct: &ChatTokens, context: usize) -> Result<(PairRows, bool), Error> {
    let (prompt, _) = render(&pair.prompt, tok, ct)?;
    if prompt.len() + 1 >= context {
        return Err(Error::Data(format!(
            "line {}: the prompt's {} tokens leave no room for a reply in the context of {context}",
            pair.line,
            prompt.len()
        )));
    }
    let mut cut = false;
    let mut row = |reply: &[Message]| -> Result<Row, Error> {
        let whole: Vec<Message> = pair.prompt.iter().chain(reply).cloned().collect();
        let (mut ids, mut mask) = render(&whole, tok, ct)?;
        mask[..prompt.len()].fill(0);
        if ids.len() > context + 1 {
            cut = true;
            ids.truncate(context + 1);
            mask.truncate(context + 1);
        }
        Ok(Row { ids, mask })
    };
    let rows = [row(&pair.chosen)?, row(&pair.rejected)?];
    Ok((rows, cut))
}

/// Fills one row of a batch with `row`, padded to the row length (`ids.len()`).
fn fill(row: &Row, pad: u32, ids: &mut [u32], targets: &mut [u32], weights: &mut [f32]) {
    ids.fill(pad);
    targets.fill(IGNORE);
    weights.fill(0.0);
    let n = (row.ids.len() - 1).min(ids.len());
    ids[..n].copy_from_slice(&row.ids[..n]);
    for j in 0..n {
        if row.mask[j + 1] == 1 {
            targets[j] = row.ids[j + 1];
            weights[j] = 1.0;
        }
    }
}

/// The rows' input lengths rounded up to a shared row length (`row_len`).
fn row_length<'r>(rows: impl Iterator<Item = &'r Row>, context: usize) -> usize {
    row_len(rows.map(|r| r.ids.len() - 1).max().unwrap_or(1), context)
}

/// Each row's log-probability of its reply under `net` (the sum over the reply's tokens), `b`
/// rows a forward pass.
pub fn reference_logps(
    net: &Net,
    acts: &mut ActsByLength,
    rows: &[&Row],
    b: usize,
    context: usize,
    pad: u32,
) -> Result<Vec<f64>, Error> {
    weighted_sums(
        net,
        acts,
        rows,
        b,
        context,
        |chunk| row_length(chunk.iter().copied(), context),
        |row, ids, targets, weights| fill(row, pad, ids, targets, weights),
    )
}

/// Each row's sum of weighted target log-probabilities under `net`, `b` rows a forward pass
/// (activations from `acts`): `length` gives a pass's row length for its rows, `fill` lays one
/// row out in it (inputs, targets, weights); the rest of a pass is padding with no weight.
pub fn weighted_sums(
    net: &Net,
    acts: &mut ActsByLength,
    rows: &[&Row],
    b: usize,
    context: usize,
    length: impl Fn(&[&Row]) -> usize,
    fill: impl Fn(&Row, &mut [u32], &mut [u32], &mut [f32]),
) -> Result<Vec<f64>, Error> {
    let (mut ids, mut targets, mut weights) =
        (vec![0u32; b * context], vec![0u32; b * context], vec![0f32; b * context]);
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(b) {
        let t = length(chunk);
        for i in 0..b {
            let span = i * t..(i + 1) * t;
            match chunk.get(i) {
                Some(row) => fill(row, &mut ids[span.clone()], &mut targets[span.clone()], &mut weights[span]),
                None => {
                    targets[span.clone()].fill(IGNORE);
                    weights[span].fill(0.0)
                }
            }
        }
        let acts = acts_for(acts, net, b, t)?;
        let n = b * t;
        net.forward(acts, &ids[..n], &targets[..n])?;
        out.extend(dpo::sequence_logps(acts.logp(), &weights[..n], t).into_iter().take(chunk.len()));
    }
    Ok(out)
}

/// Batches of preference pairs (see the header).
pub struct PreferencePairs {
    pairs: Vec<PairRows>,
    heldout: Vec<PairRows>,
    method: Method,
    /// Each pair's (chosen, rejected) values under the starting model: DPO's log-probabilities,
    /// 0 for a reward model.
    reference: Vec<[f64; 2]>,
    heldout_reference: Vec<[f64; 2]>,
    /// Rows per micro-batch (two per pair), the longest row, the padding token (also the token
    /// a reward model's score is read from), the seed.
    b: usize,
    context: usize,
    pad: u32,
    seed: u64,
    position: Position,
    order: Vec<u32>,
    /// The last micro-batch's pairs.
    last: Vec<usize>,
    stats: Stats,
    eval_every: u64,
}

impl PreferencePairs {
    /// A source over `pairs` (and `heldout` ones to evaluate on) for micro-batches of `b` rows
    /// (`b / 2` pairs) of at most `context` tokens, from `position`; for DPO `reference` is the
    /// starting model, run once over every pair here.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pairs: Vec<PairRows>,
        heldout: Vec<PairRows>,
        method: Method,
        reference: Option<&Net>,
        b: usize,
        context: usize,
        pad: u32,
        seed: u64,
        position: Position,
        eval_every: u64,
    ) -> Result<PreferencePairs, Error> {
        if pairs.is_empty() {
            return Err(Error::Data("no preference pairs to learn from".into()));
        }
        if b < 2 || !b.is_multiple_of(2) {
            return Err(Error::Config(format!("a micro-batch of {b} rows does not hold whole pairs (two rows each)")));
        }
        if position.window as usize > pairs.len() {
            return Err(Error::Data(format!("loader position {position:?} is past the {} pairs", pairs.len())));
        }
        method.objective().check()?;
        let (reference, heldout_reference) = match (method, reference) {
            (Method::Dpo(_), Some(net)) => {
                let mut acts = ActsByLength::new();
                let mut logps = |set: &[PairRows]| -> Result<Vec<[f64; 2]>, Error> {
                    let rows: Vec<&Row> = set.iter().flatten().collect();
                    let v = reference_logps(net, &mut acts, &rows, b, context, pad)?;
                    Ok(v.chunks_exact(2).map(|c| [c[0], c[1]]).collect())
                };
                (logps(&pairs)?, logps(&heldout)?)
            }
            (Method::Dpo(_), None) => return Err(Error::Config("DPO needs the starting model".into())),
            (Method::RewardModel, _) => (vec![[0.0; 2]; pairs.len()], vec![[0.0; 2]; heldout.len()]),
        };
        let order = shuffled(pairs.len(), seed, position.epoch);
        Ok(PreferencePairs {
            pairs,
            heldout,
            method,
            reference,
            heldout_reference,
            b,
            context,
            pad,
            seed,
            position,
            order,
            last: Vec::new(),
            stats: Stats::default(),
            eval_every,
        })
    }

    /// The held-out pairs' loss and rewards under `net` (summed, as `Stats`).
    pub fn evaluate(&self, net: &Net) -> Result<Stats, Error> {
        let rows: Vec<&Row> = self.heldout.iter().flatten().collect();
        let (b, context, pad, acts) = (self.b, self.context, self.pad, &mut ActsByLength::new());
        let values = match self.method {
            Method::Dpo(_) => reference_logps(net, acts, &rows, b, context, pad)?,
            Method::RewardModel => reward_model::scores(net, acts, &rows, pad, b, context, pad)?,
        };
        let objective = self.method.objective();
        let mut stats = Stats::default();
        for (v, r) in values.chunks_exact(2).zip(&self.heldout_reference) {
            stats.add(&dpo::pair_stats(&objective, v[0] - r[0], v[1] - r[1]).0);
        }
        Ok(stats)
    }

    /// The next `b / 2` pairs in the seeded order.
    fn take(&mut self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.b / 2);
        while out.len() < self.b / 2 {
            if self.position.window as usize >= self.order.len() {
                self.position = Position { epoch: self.position.epoch + 1, window: 0 };
                self.order = shuffled(self.pairs.len(), self.seed, self.position.epoch);
            }
            out.push(self.order[self.position.window as usize] as usize);
            self.position.window += 1;
        }
        out
    }
}

impl Batches for PreferencePairs {
    fn next(&mut self, _: &Net, ids: &mut [u32], targets: &mut [u32], weights: &mut [f32]) -> Result<usize, Error> {
        self.last = self.take();
        let rows = || self.last.iter().flat_map(|&p| &self.pairs[p]);
        let t = match self.method {
            Method::Dpo(_) => row_length(rows(), self.context),
            Method::RewardModel => reward_model::row_length(rows(), self.context),
        };
        for (i, row) in rows().enumerate() {
            let (ids, targets, weights) =
                (&mut ids[i * t..][..t], &mut targets[i * t..][..t], &mut weights[i * t..][..t]);
            match self.method {
                Method::Dpo(_) => fill(row, self.pad, ids, targets, weights),
                Method::RewardModel => reward_model::fill(row, self.pad, self.pad, ids, targets, weights),
            }
        }
        Ok(t)
    }

    fn position(&self) -> Position {
        self.position
    }

    fn loss(&mut self, logp: &[f32], weights: &[f32], dlogp: &mut [f32], _step: u64) -> Result<f32, Error> {
        let t = logp.len() / (2 * self.last.len()).max(1);
        let reference: Vec<f64> = self.last.iter().flat_map(|&p| self.reference[p]).collect();
        let stats = dpo::loss(&self.method.objective(), logp, weights, &reference, t, dlogp)?;
        self.stats.add(&stats);
        Ok(stats.mean(stats.loss) as f32)
    }

    fn records(&mut self, net: &Net, step: u64, steps: u64) -> Result<Vec<Record>, Error> {
        let s = std::mem::take(&mut self.stats);
        let mut out = vec![Record::Preference {
            step,
            reward_chosen: s.mean(s.reward_chosen) as f32,
            reward_rejected: s.mean(s.reward_rejected) as f32,
            reward_margin: s.mean(s.reward_chosen - s.reward_rejected) as f32,
            reward_accuracy: s.correct as f32 / s.pairs.max(1) as f32,
        }];
        let due = (self.eval_every > 0 && step.is_multiple_of(self.eval_every)) || step == steps;
        if due && !self.heldout.is_empty() {
            let h = self.evaluate(net)?;
            out.push(Record::HeldoutPairs {
                step,
                heldout_loss: h.mean(h.loss) as f32,
                heldout_accuracy: h.correct as f32 / h.pairs.max(1) as f32,
                heldout_margin: h.mean(h.reward_chosen - h.reward_rejected) as f32,
                pairs: h.pairs,
            });
        }
        Ok(out)
    }
}
