//! Softmax cross-entropy as per-token log-probabilities, the one loss every training stage
//! shares: the caller turns `logp[i] = log softmax(logits[i])[target[i]]` into its objective
//! (mean NLL for pretraining, masked for SFT, advantage-weighted for GRPO, ...) and hands back
//! `dlogp[i]`, the derivative of its loss with respect to `logp[i]`. `IGNORE` targets give 0.

use super::float::Float;
use super::simd::{self, multiversion};
use rayon::prelude::*;

/// A target that contributes nothing (padding, prompt tokens).
pub const IGNORE: u32 = u32::MAX;

/// Fills `logp` (one per row) and `lse`, each row's log-sum-exp of its `v` logits, which is
/// all the backward pass needs besides the logits themselves (no `[rows][v]` probabilities).
pub fn forward<T: Float>(logp: &mut [T], lse: &mut [T], logits: &[T], targets: &[u32], v: usize) {
    let rows = logits.par_chunks_exact(v).zip(lse.par_iter_mut()).zip(logp.par_iter_mut()).zip(targets.par_iter());
    rows.for_each(|(((l, lse), logp), &target)| {
        *lse = log_sum_exp(l);
        *logp = if target == IGNORE { T::default() } else { l[target as usize] - *lse };
    });
}

/// Turns `logits` into their gradient in place (llm.c does the same; the logits are dead after
/// the loss): `dlogits[r] = dlogp[r] * (onehot(target[r]) - softmax(logits[r]))`, zero rows for
/// `IGNORE` targets.
pub fn backward<T: Float>(logits: &mut [T], lse: &[T], targets: &[u32], dlogp: &[T], v: usize) {
    let rows = logits.par_chunks_exact_mut(v).zip(lse.par_iter()).zip(targets.par_iter()).zip(dlogp.par_iter());
    rows.for_each(|(((l, &lse), &target), &g)| {
        if target == IGNORE {
            l.fill(T::default());
            return;
        }
        row_gradient(l, lse, g);
        l[target as usize] += g;
    });
}

multiversion! {
    fn log_sum_exp<T: Float>(l: &[T]) -> T {
        let max = simd::max(l);
        max + simd::sum_map(l, |x| (x - max).exp()).ln()
    }
}

multiversion! {
    fn row_gradient<T: Float>(l: &mut [T], lse: T, g: T) {
        for x in l.iter_mut() {
            *x = -g * (*x - lse).exp();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check, random};

    #[test]
    fn log_probs_and_gradient() {
        let (rows, v) = (4, 6);
        let logits: Vec<f64> = random(rows * v, 15).iter().map(|x| x * 3.0).collect();
        let targets = [2u32, 0, IGNORE, 5];
        let dlogp = random(rows, 16);
        let loss = |l: &[f64]| {
            let (mut logp, mut lse) = (vec![0.0; rows], vec![0.0; rows]);
            forward(&mut logp, &mut lse, l, &targets, v);
            logp.iter().zip(&dlogp).map(|(a, b)| a * b).sum::<f64>()
        };
        let (mut logp, mut lse) = (vec![0.0; rows], vec![0.0; rows]);
        forward(&mut logp, &mut lse, &logits, &targets, v);
        let direct = (logits[18 + 5] - logits[18..24].iter().map(|x| x.exp()).sum::<f64>().ln()) - logp[3];
        assert!(direct.abs() < 1e-12);
        assert_eq!(logp[2], 0.0);
        let mut dlogits = logits.clone();
        backward(&mut dlogits, &lse, &targets, &dlogp, v);
        assert!(dlogits[12..18].iter().all(|&d| d == 0.0));
        check("cross_entropy dlogits", &logits, &dlogits, loss);
    }
}
