//! Weight initialisation for training from scratch, GPT-2's scheme (Radford et al. 2019, as
//! nanoGPT's `_init_weights` writes it): matrices and embeddings ~ N(0, 0.02), the projections
//! that write into the residual stream (attention `c_proj`/`o_proj`, MLP `c_proj`/`down_proj`)
//! ~ N(0, 0.02 / sqrt(2 n_layer)) so the stream's variance does not grow with depth, biases 0,
//! norm gains 1. Deterministic in `seed` (SplitMix64 + Box-Muller), whatever the thread count.

use crate::params::Param;
use crate::rng::SplitMix64;

/// Standard deviation of GPT-2's initial weights.
const STD: f64 = 0.02;

/// Fills `weights` (laid out by `params`) for a model of `n_layer` blocks.
pub fn gpt2_init(params: &[Param], weights: &mut [f32], n_layer: usize, seed: u64) {
    for (i, p) in params.iter().enumerate() {
        let w = &mut weights[p.offset..p.offset + p.len()];
        if p.shape.len() == 1 {
            // Biases start at 0, LayerNorm/RMSNorm gains at 1.
            w.fill(if p.name.ends_with(".bias") { 0.0 } else { 1.0 });
            continue;
        }
        let residual_out = ["attn.c_proj", "mlp.c_proj", "o_proj", "down_proj"].iter().any(|s| p.name.contains(s));
        let std = if residual_out { STD / (2.0 * n_layer as f64).sqrt() } else { STD };
        // One stream per tensor, so a tensor's values do not depend on the ones before it.
        let mut rng = SplitMix64::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for pair in w.chunks_mut(2) {
            let (a, b) = rng.gaussian_pair();
            pair[0] = (a * std) as f32;
            if let Some(x) = pair.get_mut(1) {
                *x = (b * std) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Family, ModelConfig};
    use crate::gpt::Gpt;

    #[test]
    fn follows_gpt2_scheme() {
        let mut cfg = ModelConfig::from_depth(Family::Gpt2, 2, 64);
        cfg.n_embd = 64;
        cfg.n_head = 2;
        cfg.n_kv_head = 2;
        cfg.intermediate_size = 256;
        cfg.block_size = 32;
        let mut m = Gpt::new(cfg).unwrap();
        gpt2_init(&m.params.table, &mut m.params.weights, 2, 7);
        let stats = |name: &str| {
            let p = m.params.table.iter().find(|p| p.name == name).unwrap();
            let w = &m.params.weights[p.offset..p.offset + p.len()];
            let mean = w.iter().map(|&x| x as f64).sum::<f64>() / w.len() as f64;
            let var = w.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / w.len() as f64;
            (mean, var.sqrt())
        };
        let (mean, std) = stats("transformer.h.0.mlp.c_fc.weight");
        assert!(mean.abs() < 2e-3 && (std - 0.02).abs() < 1e-3, "{mean} {std}");
        let (_, std) = stats("transformer.h.1.mlp.c_proj.weight");
        assert!((std - 0.01).abs() < 1e-3, "{std}");
        assert_eq!(stats("transformer.h.0.ln_1.weight"), (1.0, 0.0));
        assert_eq!(stats("transformer.h.0.attn.c_attn.bias"), (0.0, 0.0));
        let again = m.params.weights.clone();
        gpt2_init(&m.params.table, &mut m.params.weights, 2, 7);
        assert_eq!(again, m.params.weights);
        gpt2_init(&m.params.table, &mut m.params.weights, 2, 8);
        assert_ne!(again, m.params.weights);
    }
}
