//! GRPO's objective (Shao et al. 2024, DeepSeekMath; DeepSeek-R1) as the gradient of the loss
//! with respect to each token's log-probability: what the engine's backward pass takes, so a
//! policy-gradient step is the same forward, backward and optimizer as pretraining's, with
//! other per-token coefficients (see `minichat_model::loss`).
//!
//! Per prompt a group of G replies is sampled and scored; each reply's advantage is its reward
//! less the group's mean, divided by the standard deviation unless told not to (Dr. GRPO, Liu
//! et al. 2025, drops it: it favours questions that are too easy or too hard). Each completion
//! token then contributes TRL's per-token term (`trl/trainer/grpo_trainer.py`, `_compute_loss`)
//!
//! `min(ρ A, clip(ρ, 1 - ε_low, 1 + ε_high) A) - β k3`, with `ρ = exp(logp - old)`
//!
//! (the importance ratio to the policy that sampled the replies, clipped as PPO's, Schulman et
//! al. 2017; `ε_high > ε_low` is DAPO's clip-higher), where `k3`, Schulman's estimator of the
//! KL divergence to the starting model, is `exp(ref - logp) - (ref - logp) - 1`. The loss is
//! minus the terms' average, averaged as the chosen `LossType` says. Tokens outside the mask
//! (the prompt, tool results the engine wrote, padding) add nothing and get no gradient.
//!
//! With one update per batch of replies (`old == logp`) and β = 0 the ratio is 1, nothing is
//! clipped, and the gradient is REINFORCE's with a group-mean baseline, as nanochat's
//! `chat_rl.py` does.

use crate::Error;
use serde::{Deserialize, Serialize};

/// How rewards become advantages, as TRL's `scale_rewards`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleRewards {
    /// Divide by the group's standard deviation (GRPO as published).
    Group,
    /// Divide by the whole batch's (Lite PPO).
    Batch,
    /// Only subtract the group's mean (Dr. GRPO, nanochat).
    None,
}

/// How per-token terms are averaged into the loss, as TRL's `loss_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossType {
    /// Each reply's mean over its tokens, then the mean over replies (GRPO as published; a
    /// long reply's tokens count less).
    Grpo,
    /// The sum over every token of the batch, over the number of replies times this constant
    /// (Dr. GRPO: the longest completion allowed).
    DrGrpo { max_completion: usize },
    /// The sum over every token of the batch, over the number of tokens (DAPO, TRL's default).
    Dapo,
}

/// The objective's settings. TRL's defaults: ε 0.2 on both sides, β 0, DAPO's averaging.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    pub epsilon_low: f64,
    pub epsilon_high: f64,
    /// The weight of the KL penalty to the starting model (0: no reference needed).
    pub beta: f64,
    pub loss: LossType,
}

impl Default for Objective {
    fn default() -> Objective {
        Objective { epsilon_low: 0.2, epsilon_high: 0.2, beta: 0.0, loss: LossType::Dapo }
    }
}

/// Added to the standard deviation before dividing (TRL's), so a group whose rewards are all
/// equal gets advantages 0 rather than 0/0.
const STD_EPS: f64 = 1e-4;

/// The advantage of each reply: `rewards` is `[groups][group]` flattened (the replies to one
/// prompt side by side).
pub fn advantages(rewards: &[f32], group: usize, scale: ScaleRewards) -> Result<Vec<f32>, Error> {
    if group == 0 || !rewards.len().is_multiple_of(group) {
        return Err(Error::Config(format!("{} rewards do not split into groups of {group}", rewards.len())));
    }
    if let Some(i) = rewards.iter().position(|r| !r.is_finite()) {
        return Err(Error::Data(format!("reward {i} is {}", rewards[i])));
    }
    let batch_std = std(rewards);
    let mut out = Vec::with_capacity(rewards.len());
    for g in rewards.chunks_exact(group) {
        let mean = g.iter().map(|&r| r as f64).sum::<f64>() / group as f64;
        let divisor = match scale {
            ScaleRewards::Group => std(g) + STD_EPS,
            ScaleRewards::Batch => batch_std + STD_EPS,
            ScaleRewards::None => 1.0,
        };
        out.extend(g.iter().map(|&r| ((r as f64 - mean) / divisor) as f32));
    }
    Ok(out)
}

/// The sample standard deviation (n - 1 in the denominator, as `torch.std`); 0 for one value.
fn std(x: &[f32]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64;
    (x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// One batch of replies, each `t` positions long (`[replies][t]` flattened): the log-probability
/// of each token under the policy being trained (`logp`), under the policy that sampled it
/// (`old`), and under the starting model (`reference`, needed only when β > 0); which tokens
/// count (`mask`, 1 or 0); and each reply's advantage.
pub struct Batch<'a> {
    pub logp: &'a [f32],
    pub old: &'a [f32],
    pub reference: Option<&'a [f32]>,
    pub mask: &'a [f32],
    pub advantages: &'a [f32],
    pub t: usize,
}

/// What a step reports besides the loss (over the tokens that count).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub loss: f64,
    /// Tokens whose ratio was clipped from below (A < 0) or above (A > 0), as a fraction.
    pub clipped_low: f64,
    pub clipped_high: f64,
    /// The mean of `k3`, the KL estimate to the reference (0 without one).
    pub kl: f64,
    /// The mean importance ratio.
    pub ratio: f64,
}

/// The loss of `batch` under `obj`; writes its gradient with respect to each log-probability
/// into `dlogp` (`logp`'s length).
pub fn loss(obj: &Objective, batch: &Batch, dlogp: &mut [f32]) -> Result<Stats, Error> {
    let Batch { logp, old, reference, mask, advantages, t } = *batch;
    let len = logp.len();
    let replies = advantages.len();
    if t == 0 || len != replies * t || [old.len(), mask.len(), dlogp.len()].iter().any(|&l| l != len) {
        return Err(Error::Data(format!(
            "{replies} replies of {t} positions: log-probabilities {len}, old {}, mask {}, gradient {}",
            old.len(),
            mask.len(),
            dlogp.len()
        )));
    }
    if reference.is_some_and(|r| r.len() != len) || (obj.beta != 0.0 && reference.is_none()) {
        return Err(Error::Data(format!(
            "the KL penalty (beta {}) needs a reference for each of {len} tokens",
            obj.beta
        )));
    }
    let counted = |i: usize| mask[i] != 0.0;
    let finite = |x: &[f32]| (0..len).find(|&i| counted(i) && !x[i].is_finite());
    for (name, x) in [("log-probability", logp), ("old log-probability", old)]
        .into_iter()
        .chain(reference.map(|r| ("reference log-probability", r)))
    {
        if let Some(i) = finite(x) {
            return Err(Error::Data(format!("{name} of reply {} position {} is {}", i / t, i % t, x[i])));
        }
    }
    let tokens: Vec<f64> = mask.chunks_exact(t).map(|m| m.iter().map(|&x| x as f64).sum()).collect();
    let all_tokens = tokens.iter().sum::<f64>();
    let mut stats = Stats::default();
    for i in 0..len {
        let reply = i / t;
        // The weight of this token's term in the average.
        let w = mask[i] as f64
            * match obj.loss {
                LossType::Grpo => 1.0 / (tokens[reply].max(1.0) * replies as f64),
                LossType::DrGrpo { max_completion } => 1.0 / (replies * max_completion.max(1)) as f64,
                LossType::Dapo => 1.0 / all_tokens.max(1.0),
            };
        if w == 0.0 {
            dlogp[i] = 0.0;
            continue;
        }
        let (lp, a) = (logp[i] as f64, advantages[reply] as f64);
        let ratio = (lp - old[i] as f64).exp();
        let clipped = ratio.clamp(1.0 - obj.epsilon_low, 1.0 + obj.epsilon_high);
        // min(ρA, clip(ρ)A): where the clipped term is the smaller, it does not depend on
        // logp; else the term is ρA, whose derivative in logp is ρA.
        let (term, mut grad) =
            if clipped != ratio && clipped * a < ratio * a { (clipped * a, 0.0) } else { (ratio * a, ratio * a) };
        let mut kl = 0.0;
        if let Some(r) = reference {
            let d = r[i] as f64 - lp;
            kl = d.exp() - d - 1.0;
            grad -= obj.beta * (1.0 - d.exp());
        }
        stats.loss -= w * (term - obj.beta * kl);
        dlogp[i] = (-w * grad) as f32;
        let m = mask[i] as f64 / all_tokens.max(1.0);
        if a < 0.0 && ratio < 1.0 - obj.epsilon_low {
            stats.clipped_low += m;
        }
        if a > 0.0 && ratio > 1.0 + obj.epsilon_high {
            stats.clipped_high += m;
        }
        stats.kl += m * kl;
        stats.ratio += m * ratio;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advantages_are_centred_in_each_group_and_scaled_as_asked() {
        let rewards = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let none = advantages(&rewards, 4, ScaleRewards::None).unwrap();
        assert_eq!(none, [0.5, -0.5, -0.5, 0.5, 0.0, 0.0, 0.0, 0.0]);
        // torch.std is the sample standard deviation: sqrt(4 * 0.25 / 3).
        let group = advantages(&rewards, 4, ScaleRewards::Group).unwrap();
        let s = (1.0f64 / 3.0).sqrt() + 1e-4;
        assert!((group[0] as f64 - 0.5 / s).abs() < 1e-6 && (group[1] as f64 + 0.5 / s).abs() < 1e-6);
        // A group whose replies all scored alike carries no signal.
        assert_eq!(&group[4..], &[0.0; 4]);
        let batch = advantages(&rewards, 4, ScaleRewards::Batch).unwrap();
        let s = std(&rewards) + 1e-4;
        assert!((batch[0] as f64 - 0.5 / s).abs() < 1e-6);
        assert!(advantages(&rewards, 3, ScaleRewards::None).is_err());
        assert!(advantages(&[1.0, f32::NAN], 2, ScaleRewards::None).unwrap_err().to_string().contains("reward 1"));
    }

    /// A batch of 3 replies of 5 positions, ratios away from the clip edges: log-probabilities,
    /// old ones, reference ones, the mask and the advantages.
    fn batch_values() -> [Vec<f32>; 5] {
        let n = 15;
        let logp: Vec<f32> = (0..n).map(|i| -0.3 - 0.17 * ((i * 7) % 11) as f32).collect();
        // Ratios from exp(-0.45) to exp(0.45): some inside the 0.2 band, some far outside.
        let old: Vec<f32> = logp.iter().enumerate().map(|(i, &l)| l - 0.45 + 0.1 * ((i * 3) % 10) as f32).collect();
        let reference: Vec<f32> = logp.iter().enumerate().map(|(i, &l)| l + 0.3 - 0.07 * (i % 9) as f32).collect();
        let mask = [0., 1., 1., 1., 1., 0., 0., 1., 1., 0., 1., 1., 1., 1., 1.].to_vec();
        [logp, old, reference, mask, vec![0.8, -1.3, 0.4]]
    }

    #[test]
    fn the_gradient_is_the_losss_derivative() {
        let [logp, old, reference, mask, adv] = batch_values();
        for loss_type in [LossType::Grpo, LossType::Dapo, LossType::DrGrpo { max_completion: 7 }] {
            let obj = Objective { epsilon_low: 0.2, epsilon_high: 0.28, beta: 0.04, loss: loss_type };
            let at = |logp: &[f32]| {
                let b = Batch { logp, old: &old, reference: Some(&reference), mask: &mask, advantages: &adv, t: 5 };
                let mut d = vec![0.0; logp.len()];
                (loss(&obj, &b, &mut d).unwrap().loss, d)
            };
            let (_, grad) = at(&logp);
            let h = 1e-3;
            for i in 0..logp.len() {
                let (mut up, mut down) = (logp.clone(), logp.clone());
                up[i] += h;
                down[i] -= h;
                let numeric = (at(&up).0 - at(&down).0) / (up[i] - down[i]) as f64;
                assert!((numeric - grad[i] as f64).abs() < 1e-4, "{loss_type:?} token {i}: {numeric} vs {}", grad[i]);
                if mask[i] == 0.0 {
                    assert_eq!(grad[i], 0.0);
                }
            }
        }
    }

    #[test]
    fn a_clipped_token_gets_no_gradient() {
        // A > 0 and the ratio far above 1 + ε; A < 0 and far below 1 - ε; and the ratio inside.
        let logp = [0.0f32, 0.0, 0.0];
        let old = [-1.0f32, 1.0, -0.1];
        let obj = Objective::default();
        for (i, a) in [(0, 1.0f32), (1, -1.0)] {
            let mask: Vec<f32> = (0..3).map(|j| f32::from(u8::from(j == i))).collect();
            let b = Batch { logp: &logp, old: &old, reference: None, mask: &mask, advantages: &[a], t: 3 };
            let mut d = [f32::NAN; 3];
            let s = loss(&obj, &b, &mut d).unwrap();
            assert_eq!(d, [0.0; 3], "token {i}");
            // The loss holds the clipped term: -(1.2 A) or -(0.8 A).
            let want = if a > 0.0 { -1.2 } else { 0.8 };
            assert!((s.loss - want).abs() < 1e-6, "{}", s.loss);
            assert_eq!((s.clipped_high > 0.0, s.clipped_low > 0.0), (a > 0.0, a < 0.0));
        }
        // Inside the band the gradient is -ρA / tokens: with A > 0 this pushes log p up.
        let mask = [0.0, 0.0, 1.0];
        let b = Batch { logp: &logp, old: &old, reference: None, mask: &mask, advantages: &[2.0], t: 3 };
        let mut d = [0.0; 3];
        loss(&obj, &b, &mut d).unwrap();
        assert!((d[2] as f64 + 2.0 * 0.1f64.exp()).abs() < 1e-6, "{d:?}");
    }

    #[test]
    fn on_policy_without_a_penalty_is_reinforce_with_a_group_baseline() {
        // One update per batch (old == logp) and β = 0: ρ = 1, so each token's gradient is
        // -A / (tokens counted), as nanochat's chat_rl.py computes it.
        let [logp, _, _, mask, adv] = batch_values();
        let b = Batch { logp: &logp, old: &logp, reference: None, mask: &mask, advantages: &adv, t: 5 };
        let mut d = vec![0.0; logp.len()];
        let s = loss(&Objective::default(), &b, &mut d).unwrap();
        let tokens: f32 = mask.iter().sum();
        for (i, (&g, &m)) in d.iter().zip(&mask).enumerate() {
            assert!((g - (-adv[i / 5] * m / tokens)).abs() < 1e-7, "token {i}");
        }
        assert!((s.ratio - 1.0).abs() < 1e-12);
        assert_eq!((s.clipped_low, s.clipped_high, s.kl), (0.0, 0.0, 0.0));
    }

    #[test]
    fn bad_batches_are_errors_naming_what_is_wrong() {
        let [logp, old, _, mask, adv] = batch_values();
        let mut d = vec![0.0; logp.len()];
        let short = Batch { logp: &logp[..14], old: &old, reference: None, mask: &mask, advantages: &adv, t: 5 };
        assert!(loss(&Objective::default(), &short, &mut d).is_err());
        let kl = Objective { beta: 0.1, ..Objective::default() };
        let no_ref = Batch { logp: &logp, old: &old, reference: None, mask: &mask, advantages: &adv, t: 5 };
        assert!(loss(&kl, &no_ref, &mut d).unwrap_err().to_string().contains("reference"));
        let mut bad = logp.clone();
        bad[7] = f32::NAN;
        let nan = Batch { logp: &bad, old: &old, reference: None, mask: &mask, advantages: &adv, t: 5 };
        let err = loss(&Objective::default(), &nan, &mut d).unwrap_err().to_string();
        assert!(err.contains("reply 1 position 2"), "{err}");
        // A non-finite value where the mask is 0 (padding) is not an error.
        bad[7] = 0.0;
        bad[5] = f32::NEG_INFINITY;
        let padded = Batch { logp: &bad, old: &old, reference: None, mask: &mask, advantages: &adv, t: 5 };
        assert!(loss(&Objective::default(), &padded, &mut d).is_ok());
    }
}
