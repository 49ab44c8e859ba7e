//! Softmax cross-entropy as per-token log-probabilities, the one loss every training stage
//! shares: the caller turns `logp[i] = log softmax(logits[i])[target[i]]` into its objective
//! (mean NLL for pretraining, masked for SFT, advantage-weighted for GRPO, ...) and hands back
//! `dlogp[i]`, the derivative of its loss with respect to `logp[i]`. `IGNORE` targets give 0.

use super::float::Float;
use rayon::prelude::*;

/// A target that contributes nothing (padding, prompt tokens).
pub const IGNORE: u32 = u32::MAX;

/// Fills `logp` (one per row) and `probs` (softmax of each row of `v` logits, kept for backward).
pub fn forward<T: Float>(logp: &mut [T], probs: &mut [T], logits: &[T], targets: &[u32], v: usize) {
    let rows =
        probs.par_chunks_exact_mut(v).zip(logits.par_chunks_exact(v)).zip(logp.par_iter_mut()).zip(targets.par_iter());
    rows.for_each(|(((p, l), logp), &target)| {
        let mut max = l[0];
        for &x in l {
            if x > max {
                max = x;
            }
        }
        let mut sum = T::default();
        for (pi, &x) in p.iter_mut().zip(l) {
            *pi = (x - max).exp();
            sum += *pi;
        }
        let inv = T::from_f64(1.0) / sum;
        for pi in p.iter_mut() {
            *pi = *pi * inv;
        }
        *logp = if target == IGNORE { T::default() } else { l[target as usize] - max - sum.ln() };
    });
}

/// `dlogits[r] += dlogp[r] * (onehot(target[r]) - probs[r])`.
pub fn backward<T: Float>(dlogits: &mut [T], probs: &[T], targets: &[u32], dlogp: &[T], v: usize) {
    let rows =
        dlogits.par_chunks_exact_mut(v).zip(probs.par_chunks_exact(v)).zip(targets.par_iter()).zip(dlogp.par_iter());
    rows.for_each(|(((d, p), &target), &g)| {
        if target == IGNORE {
            return;
        }
        for (di, &pi) in d.iter_mut().zip(p) {
            *di += -g * pi;
        }
        d[target as usize] += g;
    });
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
            let (mut logp, mut probs) = (vec![0.0; rows], vec![0.0; rows * v]);
            forward(&mut logp, &mut probs, l, &targets, v);
            logp.iter().zip(&dlogp).map(|(a, b)| a * b).sum::<f64>()
        };
        let (mut logp, mut probs) = (vec![0.0; rows], vec![0.0; rows * v]);
        forward(&mut logp, &mut probs, &logits, &targets, v);
        let direct = (logits[18 + 5] - logits[18..24].iter().map(|x| x.exp()).sum::<f64>().ln()) - logp[3];
        assert!(direct.abs() < 1e-12);
        assert_eq!(logp[2], 0.0);
        let mut dlogits = vec![0.0; rows * v];
        backward(&mut dlogits, &probs, &targets, &dlogp, v);
        check("cross_entropy dlogits", &logits, &dlogits, loss);
    }
}
