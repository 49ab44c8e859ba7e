//! AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, written to match
//! `torch.optim.AdamW` step for step, plus global gradient-norm clipping
//! (`torch.nn.utils.clip_grad_norm_`).
//!
//! Works on flat parameter/gradient buffers; `decay` marks the ranges that get weight decay
//! (linear weights), the rest (norms, biases, embeddings) get none, as in GPT-2/nanoGPT practice.

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
        AdamW { lr, beta1, beta2, eps, weight_decay, step: 0, m: vec![0.0; n_params], v: vec![0.0; n_params] }
    }

    /// One update of `params` from `grads`; `decay(i)` says whether parameter `i` is decayed.
    pub fn update(&mut self, params: &mut [f32], grads: &[f32], decay: impl Fn(usize) -> bool) {
        assert_eq!(params.len(), self.m.len());
        self.step += 1;
        let t = self.step as i32;
        // The same operation order as torch's single-tensor AdamW, so results agree to rounding.
        let bias1 = 1.0 - self.beta1.powi(t);
        let bias2_sqrt = (1.0 - self.beta2.powi(t)).sqrt();
        let step_size = self.lr / bias1;
        for i in 0..params.len() {
            let g = grads[i];
            if decay(i) {
                params[i] *= 1.0 - self.lr * self.weight_decay;
            }
            self.m[i] += (g - self.m[i]) * (1.0 - self.beta1);
            self.v[i] = self.v[i] * self.beta2 + g * g * (1.0 - self.beta2);
            let denom = self.v[i].sqrt() / bias2_sqrt + self.eps;
            params[i] -= step_size * self.m[i] / denom;
        }
    }
}

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
        opt.update(&mut p, &[1e-3, -50.0, 0.0], |_| false);
        assert!((p[0] - 0.9).abs() < 1e-5 && (p[1] + 0.9).abs() < 1e-5 && p[2] == 0.5, "{p:?}");
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
