//! The one loss every training stage shares: a weighted next-token log-likelihood.
//!
//! The forward pass yields `logp[i] = log p(target_i | tokens before i)`; a stage chooses
//! per-token weights and this module turns them into the loss and its gradient `dlogp`, which
//! the backward pass takes as is:
//!
//! | stage | weight of token i |
//! |---|---|
//! | pretraining | 1 |
//! | SFT | 1 on assistant tokens, 0 elsewhere |
//! | policy gradient (GRPO) | the sequence's advantage on completion tokens; with PPO's clipped ratio the coefficient depends on `logp` itself, so `minichat_train::grpo` writes `dlogp` directly, averaged as TRL does |
//! | DPO / reward model | a per-sequence coefficient from the pairwise loss (the caller computes it from `logp`) |
//!
//! `loss = -sum_i w_i logp_i / n` with `n` the number of tokens of non-zero weight (a mean over
//! the tokens that count, as `F.cross_entropy(ignore_index=...)` and TRL's token-level losses
//! do), and `dlogp_i = -w_i / n`. A non-finite loss is an error naming the step and the first
//! token whose log-probability is not finite, so a run stops at the step that diverged.

use crate::Error;

/// Fills `dlogp` and returns the loss; see the module documentation.
pub fn weighted_nll(logp: &[f32], weights: &[f32], dlogp: &mut [f32], step: u64) -> Result<f32, Error> {
    if logp.len() != weights.len() || dlogp.len() != logp.len() {
        return Err(Error::Config(format!(
            "{} log-probabilities, {} weights and {} gradients must match",
            logp.len(),
            weights.len(),
            dlogp.len()
        )));
    }
    if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
        return Err(Error::NonFinite { step, message: format!("weight of token {i} is {}", weights[i]) });
    }
    let n = weights.iter().filter(|&&w| w != 0.0).count().max(1) as f64;
    let mut loss = 0.0f64;
    for ((d, &lp), &w) in dlogp.iter_mut().zip(logp).zip(weights) {
        *d = (-(w as f64) / n) as f32;
        if w != 0.0 {
            loss -= w as f64 * lp as f64;
        }
    }
    let loss = (loss / n) as f32;
    if !loss.is_finite() {
        let first = logp.iter().zip(weights).position(|(lp, &w)| w != 0.0 && !lp.is_finite());
        let at = match first {
            Some(i) => format!("; the first non-finite log-probability is token {i} of {} ({})", logp.len(), logp[i]),
            None => String::new(),
        };
        return Err(Error::NonFinite { step, message: format!("loss is {loss}{at}") });
    }
    Ok(loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_over_weighted_tokens() {
        let logp = [-1.0f32, -2.0, -3.0, -4.0];
        let mut d = [0f32; 4];
        // Pretraining: every token.
        assert_eq!(weighted_nll(&logp, &[1.0; 4], &mut d, 0).unwrap(), 2.5);
        assert_eq!(d, [-0.25; 4]);
        // SFT: tokens 1 and 3 only.
        assert_eq!(weighted_nll(&logp, &[0.0, 1.0, 0.0, 1.0], &mut d, 0).unwrap(), 3.0);
        assert_eq!(d, [0.0, -0.5, 0.0, -0.5]);
        // Advantages: a negative weight pushes log p down.
        assert_eq!(weighted_nll(&logp, &[2.0, -1.0, 0.0, 0.0], &mut d, 0).unwrap(), 0.0);
        assert_eq!(d, [-1.0, 0.5, 0.0, 0.0]);
    }

    #[test]
    fn non_finite_loss_names_step_and_token() {
        let mut d = [0f32; 3];
        let err = weighted_nll(&[-1.0, f32::NAN, -1.0], &[1.0; 3], &mut d, 17).unwrap_err().to_string();
        assert!(err.contains("step 17") && err.contains("token 1 of 3"), "{err}");
        // A non-finite log-probability with weight 0 does not count.
        assert_eq!(weighted_nll(&[-1.0, f32::NEG_INFINITY], &[1.0, 0.0], &mut [0.0; 2], 0).unwrap(), 1.0);
        let err = weighted_nll(&[-1.0], &[f32::INFINITY], &mut [0.0], 3).unwrap_err().to_string();
        assert!(err.contains("step 3") && err.contains("weight of token 0"), "{err}");
        assert!(weighted_nll(&[-1.0], &[1.0, 1.0], &mut [0.0], 0).is_err());
    }
}
