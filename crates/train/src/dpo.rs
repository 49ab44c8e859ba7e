//! DPO's objective (Rafailov et al. 2023, "Direct Preference Optimization") as the gradient of
//! the loss with respect to each token's log-probability: what the engine's backward pass
//! takes, so a preference step is the same forward, backward and optimizer as pretraining's,
//! with other per-token coefficients (see `minichat_model::loss`).
//!
//! A reply's log-probability is the sum over its tokens (`π` under the policy, `ref` under the
//! starting model, computed once). For a pair of a chosen reply `c` and a rejected one `r`,
//! with `z = β ((π_c - ref_c) - (π_r - ref_r))`, the loss is TRL's `sigmoid` loss
//! (`trl/trainer/dpo_trainer.py`, `dpo_loss`), with conservative DPO's label smoothing `ε`
//! (Mitchell 2023: the label is taken to be wrong with probability ε):
//!
//! `-(1 - ε) log σ(z) - ε log σ(-z)`
//!
//! averaged over the pairs. Its derivative in `z` is `-(1 - ε) σ(-z) + ε σ(z)`, so each token of
//! the chosen reply gets that times `β / pairs`, and each of the rejected one minus that: the
//! gradient raises the chosen reply and lowers the rejected one, most where the model does
//! not yet prefer the chosen one. `β (π - ref)` is the reply's implicit reward; how often the
//! chosen one's is higher is the pair accuracy TRL reports (`rewards/accuracies`).
//!
//! DPO only asks for a margin, and on pairs that differ in a few tokens it often gets it by
//! lowering both replies (the chosen one's likelihood falls too; Pal et al. 2024). RPO (Pang et
//! al. 2024, TRL's `rpo_alpha`) adds `α` times the mean negative log-likelihood of the chosen
//! replies' tokens, which holds them up.

use crate::Error;
use serde::{Deserialize, Serialize};

/// The objective's settings. TRL's defaults: β 0.1, no label smoothing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    pub beta: f64,
    pub label_smoothing: f64,
    /// The weight of the chosen replies' negative log-likelihood (RPO; 0: plain DPO).
    #[serde(default)]
    pub rpo_alpha: f64,
}

impl Default for Objective {
    fn default() -> Objective {
        Objective { beta: 0.1, label_smoothing: 0.0, rpo_alpha: 0.0 }
    }
}

impl Objective {
    pub fn check(&self) -> Result<(), Error> {
        if !(self.beta > 0.0 && self.beta.is_finite()) {
            return Err(Error::Config(format!("DPO's beta is {} (it must be above 0)", self.beta)));
        }
        if !(0.0..0.5).contains(&self.label_smoothing) {
            return Err(Error::Config(format!("label smoothing of {} (it must be in [0, 0.5))", self.label_smoothing)));
        }
        if !(self.rpo_alpha >= 0.0 && self.rpo_alpha.is_finite()) {
            return Err(Error::Config(format!("rpo alpha of {} (it must be 0 or more)", self.rpo_alpha)));
        }
        Ok(())
    }

    /// The loss of one pair and its derivative in `π_c` (minus it in `π_r`), from the pair's
    /// log-ratio difference `(π_c - ref_c) - (π_r - ref_r)`.
    pub fn pair(&self, logits: f64) -> (f64, f64) {
        let (z, ls) = (self.beta * logits, self.label_smoothing);
        let loss = -(1.0 - ls) * log_sigmoid(z) - ls * log_sigmoid(-z);
        let dz = -(1.0 - ls) * sigmoid(-z) + ls * sigmoid(z);
        (loss, dz * self.beta)
    }
}

/// `log σ(x)`, without overflow for large `|x|`.
fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Sums over pairs of what a batch's loss reports (means: divide by `pairs`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub pairs: usize,
    pub loss: f64,
    /// Implicit rewards `β (π - ref)` of the chosen and the rejected replies.
    pub reward_chosen: f64,
    pub reward_rejected: f64,
    /// Pairs whose chosen reply has the higher implicit reward.
    pub correct: usize,
}

impl Stats {
    pub fn add(&mut self, other: &Stats) {
        self.pairs += other.pairs;
        self.loss += other.loss;
        self.reward_chosen += other.reward_chosen;
        self.reward_rejected += other.reward_rejected;
        self.correct += other.correct;
    }

    pub fn mean(&self, sum: f64) -> f64 {
        sum / self.pairs.max(1) as f64
    }
}

/// One pair's statistics (its loss, implicit rewards, whether it is ranked right) and the loss's
/// derivative in the chosen reply's log-probability (minus it in the rejected one's), from the
/// two replies' log-ratios to the reference.
pub fn pair_stats(obj: &Objective, delta_c: f64, delta_r: f64) -> (Stats, f64) {
    let (loss, d) = obj.pair(delta_c - delta_r);
    let stats = Stats {
        pairs: 1,
        loss,
        reward_chosen: obj.beta * delta_c,
        reward_rejected: obj.beta * delta_r,
        correct: usize::from(delta_c > delta_r),
    };
    (stats, d)
}

/// The sum of each row's log-probabilities where `mask` is not 0 (rows of `t`).
pub fn sequence_logps(logp: &[f32], mask: &[f32], t: usize) -> Vec<f64> {
    logp.chunks_exact(t)
        .zip(mask.chunks_exact(t))
        .map(|(lp, m)| lp.iter().zip(m).filter(|(_, &m)| m != 0.0).map(|(&l, _)| l as f64).sum())
        .collect()
}

/// The loss of a batch of pairs, mean over its pairs: rows of `t` positions, each pair's
/// chosen reply then its rejected one; `mask` is 1 on the replies' tokens, `reference` each
/// row's log-probability under the starting model. Writes the loss's gradient with respect to
/// each log-probability into `dlogp`. With RPO (`rpo_alpha`), the loss adds `α` times the mean
/// negative log-likelihood over every chosen token of the batch.
pub fn loss(
    obj: &Objective,
    logp: &[f32],
    mask: &[f32],
    reference: &[f64],
    t: usize,
    dlogp: &mut [f32],
) -> Result<Stats, Error> {
    let rows = reference.len();
    if t == 0
        || rows == 0
        || !rows.is_multiple_of(2)
        || [logp.len(), mask.len(), dlogp.len()].iter().any(|&l| l != rows * t)
    {
        return Err(Error::Data(format!(
            "{rows} rows of {t} positions (pairs of chosen and rejected): log-probabilities {}, mask {}, gradient {}",
            logp.len(),
            mask.len(),
            dlogp.len()
        )));
    }
    let policy = sequence_logps(logp, mask, t);
    let pairs = rows / 2;
    let mut stats = Stats::default();
    for p in 0..pairs {
        let (c, r) = (2 * p, 2 * p + 1);
        let (pair, d) = pair_stats(obj, policy[c] - reference[c], policy[r] - reference[r]);
        stats.add(&pair);
        for (row, sign) in [(c, 1.0), (r, -1.0)] {
            let coef = (sign * d / pairs as f64) as f32;
            for (g, &m) in dlogp[row * t..(row + 1) * t].iter_mut().zip(&mask[row * t..(row + 1) * t]) {
                *g = if m != 0.0 { coef } else { 0.0 };
            }
        }
    }
    if obj.rpo_alpha > 0.0 {
        let chosen = |p: usize| (2 * p * t)..((2 * p + 1) * t);
        let tokens: f64 = (0..pairs).map(|p| mask[chosen(p)].iter().filter(|&&m| m != 0.0).count() as f64).sum();
        let per = obj.rpo_alpha / tokens.max(1.0);
        for p in 0..pairs {
            stats.loss -= per * policy[2 * p] * pairs as f64;
            for (g, &m) in dlogp[chosen(p)].iter_mut().zip(&mask[chosen(p)]) {
                if m != 0.0 {
                    *g -= per as f32;
                }
            }
        }
    }
    if !stats.loss.is_finite() {
        return Err(Error::Data(format!("the DPO loss is {}", stats.loss)));
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_starts_at_log_2_and_rises_with_the_rejected_reply() {
        let obj = Objective::default();
        // Policy equal to the reference: z = 0, loss ln 2, gradient β/2 per pair.
        let (loss, d) = obj.pair(0.0);
        assert!((loss - std::f64::consts::LN_2).abs() < 1e-12);
        assert!((d + 0.05).abs() < 1e-12);
        assert!(obj.pair(-10.0).0 > obj.pair(10.0).0);
        // Far past either side it neither overflows nor loses the gradient's sign.
        let (big, d_big) = obj.pair(1e5);
        assert!(big.is_finite() && big >= 0.0 && d_big <= 0.0);
        let (huge, d_huge) = obj.pair(-1e5);
        assert!((huge - 1e4).abs() < 1e-6 && (d_huge + 0.1).abs() < 1e-12);
        assert!(Objective { beta: 0.0, ..Objective::default() }.check().is_err());
        assert!(Objective { label_smoothing: 0.5, ..Objective::default() }.check().is_err());
    }

    #[test]
    fn tokens_outside_the_mask_get_no_gradient_and_shapes_are_checked() {
        let obj = Objective::default();
        let (logp, mask) = ([-1.0f32, -2.0, -3.0, -4.0], [0.0f32, 1.0, 1.0, 0.0]);
        let mut d = [9.0f32; 4];
        let s = loss(&obj, &logp, &mask, &[-2.0, -3.0], 2, &mut d).unwrap();
        assert_eq!((s.pairs, s.correct), (1, 0));
        assert_eq!((d[0], d[3]), (0.0, 0.0));
        assert!(d[1] < 0.0 && d[2] > 0.0 && (d[1] + d[2]).abs() < 1e-9);
        assert!(loss(&obj, &logp, &mask, &[-2.0], 4, &mut d).is_err());
        assert!(loss(&obj, &logp, &mask, &[-2.0, -3.0], 3, &mut d).is_err());
    }
}
