//! AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, written to match
//! `torch.optim.AdamW` step for step, plus global gradient-norm clipping
//! (`torch.nn.utils.clip_grad_norm_`).
//!
//! Works on flat parameter/gradient buffers; `decayed` lists the ranges that get weight decay
//! (linear weights), the rest (norms, biases, embeddings) get none, as in GPT-2/nanoGPT practice.

use crate::cpu::huge_pages::zeroed;
use rayon::prelude::*;
use std::ops::Range;

/// Optimizer settings and state.
#[derive(Clone, Debug)]
pub struct AdamW {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// Steps taken so far.
    pub step: u64,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl AdamW {
    pub fn new(n_params: usize, lr: f32, (beta1, beta2): (f32, f32), eps: f32, weight_decay: f32) -> AdamW {
        AdamW { lr, beta1, beta2, eps, weight_decay, step: 0, m: zeroed(n_params), v: zeroed(n_params) }
    }

    /// The first and second moment estimates (for checkpoints).
    pub fn moments(&self) -> (&[f32], &[f32]) {
        (&self.m, &self.v)
    }

    /// Restores moments and step count saved from an optimizer of the same size.
    pub fn restore(&mut self, m: &[f32], v: &[f32], step: u64) -> Result<(), crate::Error> {
        if m.len() != self.m.len() || v.len() != self.v.len() {
            return Err(crate::Error::Config(format!(
                "optimizer state holds {} and {} values, the model has {} parameters",
                m.len(),
                v.len(),
                self.m.len()
            )));
        }
        self.m.copy_from_slice(m);
        self.v.copy_from_slice(v);
        self.step = step;
        Ok(())
    }

    /// One update of `params` from `grads`. `decayed` lists the index ranges that get weight
    /// decay (sorted, disjoint; `params::decayed_ranges` gives GPT-2/nanoGPT's choice).
    pub fn update(&mut self, params: &mut [f32], grads: &[f32], decayed: &[Range<usize>]) {
        self.update_except(params, grads, decayed, &[]);
    }

    /// `update`, leaving the index ranges in `skip` (sorted, disjoint) and their moments as
    /// they are: another optimizer owns them (`optimizer::Optimizer` with Muon).
    pub fn update_except(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        decayed: &[Range<usize>],
        skip: &[Range<usize>],
    ) {
        assert!(params.len() == self.m.len() && grads.len() == params.len());
        self.step += 1;
        let t = self.step as i32;
        // The same operation order as torch's single-tensor AdamW, so results agree to rounding.
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let bias2_sqrt = (1.0 - b2.powi(t)).sqrt();
        let step_size = self.lr / (1.0 - b1.powi(t));
        let shrink = 1.0 - self.lr * self.weight_decay;
        let chunks = params.par_chunks_mut(CHUNK).zip(self.m.par_chunks_mut(CHUNK).zip(self.v.par_chunks_mut(CHUNK)));
        chunks.zip(grads.par_chunks(CHUNK)).enumerate().for_each(|(i, ((p, (m, v)), g))| {
            let (lo, hi) = (i * CHUNK, i * CHUNK + p.len());
            for part in outside(lo..hi, skip) {
                let (p, m, v, g) = (&mut p[part.clone()], &mut m[part.clone()], &mut v[part.clone()], &g[part.clone()]);
                // Decay first (torch multiplies the parameter before the Adam step), on the
                // parts of the decayed ranges that fall here.
                let (lo, hi) = (lo + part.start, lo + part.end);
                for r in decayed.iter().filter(|r| r.start < hi && r.end > lo) {
                    p[r.start.max(lo) - lo..r.end.min(hi) - lo].iter_mut().for_each(|x| *x *= shrink);
                }
                for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
                    *m += (g - *m) * (1.0 - b1);
                    *v = *v * b2 + g * g * (1.0 - b2);
                    let denom = v.sqrt() / bias2_sqrt + eps;
                    *p -= step_size * *m / denom;
                }
            }
        });
    }
}

/// The parts of `span` outside the `skip` ranges (sorted, disjoint), relative to its start.
fn outside(span: Range<usize>, skip: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut at = span.start;
    for r in skip.iter().filter(|r| r.start < span.end && r.end > span.start) {
        if r.start > at {
            parts.push(at - span.start..r.start - span.start);
        }
        at = at.max(r.end);
    }
    if at < span.end {
        parts.push(at - span.start..span.end - span.start);
    }
    parts
}

/// Parameters per parallel task.
const CHUNK: usize = 1 << 14;

/// Scales `grads` so that their global L2 norm is at most `max_norm`; returns the norm before
/// clipping (as `clip_grad_norm_` does). A non-finite norm is returned unchanged, grads untouched.
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f32) -> f32 {
    let norm = grads.iter().map(|&g| (g as f64) * (g as f64)).sum::<f64>().sqrt() as f32;
    if !norm.is_finite() {
        return norm;
    }
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for g in grads.iter_mut() {
            *g *= coef;
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_weight_by_about_lr() {
        // Adam's first bias-corrected step is lr * sign(g) (up to eps), whatever |g| is.
        let mut p = vec![1.0f32, -1.0, 0.5];
        let mut opt = AdamW::new(3, 0.1, (0.9, 0.999), 1e-8, 0.0);
        opt.update(&mut p, &[1e-3, -50.0, 0.0], &[]);
        assert!((p[0] - 0.9).abs() < 1e-5 && (p[1] + 0.9).abs() < 1e-5 && p[2] == 0.5, "{p:?}");
    }

    #[test]
    fn decay_applies_to_the_listed_ranges_only() {
        // Zero gradients: Adam's step is 0, so only the decay moves a parameter.
        let n = 3 * CHUNK + 5;
        let mut p = vec![1.0f32; n];
        let mut opt = AdamW::new(n, 0.1, (0.9, 0.999), 1e-8, 0.5);
        opt.update(&mut p, &vec![0.0; n], &[3..7, CHUNK - 2..2 * CHUNK + 1]);
        let decayed = |i: usize| (3..7).contains(&i) || (CHUNK - 2..2 * CHUNK + 1).contains(&i);
        assert!((0..n).all(|i| p[i] == if decayed(i) { 0.95 } else { 1.0 }));
    }

    #[test]
    fn skipped_ranges_and_their_moments_stay() {
        let n = 2 * CHUNK + 9;
        let mut p = vec![1.0f32; n];
        let mut opt = AdamW::new(n, 0.1, (0.9, 0.999), 1e-8, 0.5);
        let skip = [2..5, CHUNK - 1..CHUNK + 3, n - 2..n];
        let everything = [0..CHUNK, CHUNK..n];
        opt.update_except(&mut p, &vec![1.0; n], &everything, &skip);
        let skipped = |i: usize| skip.iter().any(|r| r.contains(&i));
        assert!((0..n).all(|i| (p[i] == 1.0) == skipped(i) && (opt.m[i] == 0.0) == skipped(i)));
        assert_eq!(outside(10..20, &[0..12, 15..16, 19..30]), vec![2..5, 6..9]);
        assert_eq!(outside(10..20, &[]), vec![0..10]);
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        let mut g = vec![3.0f32, 4.0];
        assert_eq!(clip_grad_norm(&mut g, 1.0), 5.0);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
        let mut small = vec![0.1f32];
        clip_grad_norm(&mut small, 1.0);
        assert_eq!(small, vec![0.1]);
    }
}
