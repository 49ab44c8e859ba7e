//! Text from the model during training: a prompt continued greedily and with temperature
//! through a KV cache, seeded, stopping at the context length or a bos token. (The full set of
//! samplers is the inference stage's; this is what a training log needs.)

use crate::Error;
use minichat_model::kv_cache::KvCache;
use minichat_model::net::Net;
use minichat_model::rng::SplitMix64;

/// Continues `prompt` by up to `max_tokens` tokens. `temperature` 0 is greedy; otherwise
/// softmax(logits / temperature) is sampled with a generator seeded by `seed`.
pub fn continue_prompt(
    net: &Net,
    prompt: &[u32],
    max_tokens: usize,
    temperature: f32,
    seed: u64,
    stop: u32,
) -> Result<Vec<u32>, Error> {
    let context = net.config().block_size;
    if prompt.is_empty() || prompt.len() >= context {
        return Err(Error::Data(format!("a prompt of {} tokens does not fit a context of {context}", prompt.len())));
    }
    let mut cache = KvCache::new(net.config(), context)?;
    net.extend(&mut cache, prompt)?;
    let (mut rng, mut out) = (SplitMix64::new(seed), Vec::new());
    while out.len() < max_tokens && cache.len() < context {
        let next = pick(&cache.logits, temperature, &mut rng);
        if next == stop {
            break;
        }
        out.push(next);
        if cache.len() == context {
            break;
        }
        net.extend(&mut cache, &[next])?;
    }
    Ok(out)
}

/// Greedy (ties to the lowest id) or temperature sampling from logits.
fn pick(logits: &[f32], temperature: f32, rng: &mut SplitMix64) -> u32 {
    let argmax = logits.iter().enumerate().fold(0, |best, (i, &x)| if x > logits[best] { i } else { best });
    if temperature <= 0.0 {
        return argmax as u32;
    }
    let max = logits[argmax];
    let weights: Vec<f64> = logits.iter().map(|&x| (((x - max) / temperature) as f64).exp()).collect();
    let mut r = rng.uniform() * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        r -= w;
        if r <= 0.0 {
            return i as u32;
        }
    }
    argmax as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_and_temperature() {
        let mut rng = SplitMix64::new(1);
        assert_eq!(pick(&[0.1, 3.0, 2.9], 0.0, &mut rng), 1);
        // A very low temperature is greedy; a high one visits every token.
        assert!((0..50).all(|_| pick(&[0.1, 3.0, 2.9], 1e-3, &mut rng) == 1));
        let mut seen = [false; 3];
        for _ in 0..300 {
            seen[pick(&[0.1, 3.0, 2.9], 100.0, &mut rng) as usize] = true;
        }
        assert_eq!(seen, [true; 3]);
    }
}
