//! A reward model: a score for a whole conversation, learned from preference pairs, to stand in
//! for the person who would pick the better reply (InstructGPT, Ouyang et al. 2022).
//!
//! The score is read from the model's final hidden state at the conversation's last token
//! through one output row: the log-probability that the document ends there (the boundary
//! token, `bos`). That is a scalar head on the last hidden state, as TRL's
//! `AutoModelForSequenceClassification` with one label is, made of the output layer the model
//! already has: `score = h · w_bos - logsumexp(h · W)`. So a reward model is the same network,
//! trained by the same loop with one weighted log-likelihood per row (the weight on that single
//! position), exports as any run does, and starts from the chat model's own belief that the
//! conversation is over.
//!
//! The loss is Bradley-Terry's, as TRL's `RewardTrainer`: `-log σ(s_c - s_r)` for a pair's
//! chosen and rejected conversations, averaged over the pairs: DPO's loss (`dpo`) with β 1 on
//! the scores themselves (`BRADLEY_TERRY`).

use crate::dpo::{Objective, Stats};
use crate::preference_loader::{render_pair, weighted_sums, Row};
use crate::sft_loader::row_len;
use crate::trainer::ActsByLength;
use crate::Error;
use minichat_chat::conversation::{render, ChatTokens, Message};
use minichat_chat::preference::Pair;
use minichat_model::cpu::cross_entropy::IGNORE;
use minichat_model::net::Net;
use minichat_tokenizer::Tokenizer;

/// Conversations scored a forward pass at a time.
const ROWS: usize = 8;

/// The scores of whole conversations in the chat format (cut to the context) under a reward
/// model `net`.
pub fn score_conversations(net: &Net, tok: &Tokenizer, conversations: &[Vec<Message>]) -> Result<Vec<f64>, Error> {
    let (ct, context) = (ChatTokens::of(tok)?, net.config().block_size);
    let rows = conversations
        .iter()
        .map(|c| {
            let (mut ids, mask) = render(c, tok, &ct)?;
            ids.truncate(context);
            Ok(Row { ids, mask })
        })
        .collect::<Result<Vec<Row>, Error>>()?;
    scores(net, &mut ActsByLength::new(), &rows.iter().collect::<Vec<_>>(), ct.bos, ROWS, context, ct.bos)
}

/// Each pair's (chosen, rejected) scores under a reward model `net`.
pub fn score_pairs(net: &Net, tok: &Tokenizer, pairs: &[Pair]) -> Result<Vec<[f64; 2]>, Error> {
    let (ct, context) = (ChatTokens::of(tok)?, net.config().block_size);
    let rows = pairs.iter().map(|p| Ok(render_pair(p, tok, &ct, context)?.0)).collect::<Result<Vec<_>, Error>>()?;
    let flat: Vec<&Row> = rows.iter().flatten().collect();
    let s = scores(net, &mut ActsByLength::new(), &flat, ct.bos, ROWS, context, ct.bos)?;
    Ok(s.chunks_exact(2).map(|c| [c[0], c[1]]).collect())
}

/// Bradley-Terry's loss is DPO's with β 1, nothing smoothed and a reference of 0: the scores
/// stand where DPO has the replies' log-ratios.
pub const BRADLEY_TERRY: Objective = Objective { beta: 1.0, label_smoothing: 0.0, rpo_alpha: 0.0 };

/// The loss of one pair from its score margin `s_c - s_r`, and its derivative in `s_c` (minus
/// it in `s_r`).
pub fn pair(margin: f64) -> (f64, f64) {
    BRADLEY_TERRY.pair(margin)
}

/// Fills one row to score `row`: its tokens as inputs (at most the row length), and at its last
/// position the target `token` with weight 1; padding elsewhere.
pub fn fill(row: &Row, token: u32, pad: u32, ids: &mut [u32], targets: &mut [u32], weights: &mut [f32]) {
    ids.fill(pad);
    targets.fill(IGNORE);
    weights.fill(0.0);
    let n = row.ids.len().min(ids.len());
    ids[..n].copy_from_slice(&row.ids[..n]);
    targets[n - 1] = token;
    weights[n - 1] = 1.0;
}

/// The row length that scores each of `rows` whole (within the context).
pub fn row_length<'r>(rows: impl Iterator<Item = &'r Row>, context: usize) -> usize {
    row_len(rows.map(|r| r.ids.len()).max().unwrap_or(1), context)
}

/// Each row's score under `net`, `b` rows a forward pass (activations from `acts`).
pub fn scores(
    net: &Net,
    acts: &mut ActsByLength,
    rows: &[&Row],
    token: u32,
    b: usize,
    context: usize,
    pad: u32,
) -> Result<Vec<f64>, Error> {
    let length = |chunk: &[&Row]| row_length(chunk.iter().copied(), context);
    weighted_sums(net, acts, rows, b, context, length, |row, ids, targets, weights| {
        fill(row, token, pad, ids, targets, weights)
    })
}

/// The Bradley-Terry loss of a batch of pairs, mean over its pairs: rows of `t` positions, each
/// pair's chosen conversation then its rejected one, each with weight 1 at its scored position.
/// Writes the loss's gradient with respect to each log-probability into `dlogp`.
pub fn loss(logp: &[f32], weights: &[f32], t: usize, dlogp: &mut [f32]) -> Result<Stats, Error> {
    let rows = logp.len().checked_div(t).unwrap_or(0);
    crate::dpo::loss(&BRADLEY_TERRY, logp, weights, &vec![0.0; rows], t, dlogp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bradley_terry_is_log_2_at_a_tie_and_finite_far_out() {
        let (loss, d) = pair(0.0);
        assert!((loss - std::f64::consts::LN_2).abs() < 1e-12 && (d + 0.5).abs() < 1e-12);
        assert!(pair(-3.0).0 > pair(3.0).0);
        let (far, d_far) = pair(-1e4);
        assert!((far - 1e4).abs() < 1e-6 && (d_far + 1.0).abs() < 1e-12);
        let (near, d_near) = pair(1e4);
        assert!(near.abs() < 1e-12 && d_near.abs() < 1e-12);
    }

    #[test]
    fn only_the_scored_position_gets_a_gradient() {
        let row = Row { ids: vec![7, 8, 9], mask: vec![0, 1, 1] };
        let (mut ids, mut targets, mut weights) = ([0u32; 4], [0u32; 4], [0f32; 4]);
        fill(&row, 1, 0, &mut ids, &mut targets, &mut weights);
        assert_eq!((ids, targets, weights), ([7, 8, 9, 0], [IGNORE, IGNORE, 1, IGNORE], [0.0, 0.0, 1.0, 0.0]));
        // Two rows of 2: scores -1 (chosen) and -3 (rejected): right, margin 2.
        let (logp, w) = ([-5.0f32, -1.0, -3.0, -9.0], [0.0f32, 1.0, 1.0, 0.0]);
        let mut d = [7.0f32; 4];
        let s = loss(&logp, &w, 2, &mut d).unwrap();
        assert_eq!((s.pairs, s.correct, s.reward_chosen, s.reward_rejected), (1, 1, -1.0, -3.0));
        assert!((s.loss - pair(2.0).0).abs() < 1e-12);
        assert_eq!((d[0], d[3]), (0.0, 0.0));
        assert!(d[1] < 0.0 && (d[1] + d[2]).abs() < 1e-9);
        assert!(loss(&logp, &w, 3, &mut d).is_err());
    }
}
