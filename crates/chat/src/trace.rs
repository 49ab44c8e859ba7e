//! What happens inside the model on a sequence, for the web page's views: one pass through a
//! KV cache with its capture on gives every layer's attention probabilities and residual
//! stream. From the residual streams come the logit lens (nostalgebraist 2020: each layer's
//! output through the final norm and the LM head, what the model would predict if it stopped
//! there), with the rank of the token that actually follows, and the stream's norm; the final
//! logits after the last token are kept whole, for the next-token view to filter in the
//! browser as the sampler does.

use crate::sampler::{most_likely, softmax};
use crate::Error;
use minichat_model::kv_cache::KvCache;
use minichat_model::net::Net;
use minichat_model::Cpu;

/// One sequence's trace (`t` tokens, `layers` = n_layer + 1 residual streams: the embedding
/// output, then each block's).
#[derive(Clone, Debug)]
pub struct Trace {
    pub tokens: Vec<u32>,
    pub n_layer: usize,
    pub n_head: usize,
    /// `[n_layer][n_head][t][t]`: row `i` of a head is position `i`'s attention over `0..=i`.
    pub attention: Vec<f32>,
    /// `[layers][t]`: the residual stream's L2 norm.
    pub norms: Vec<f32>,
    /// `[n_layer][t]`: the L2 norm of what each block's attention adds to the stream, and of
    /// what its MLP adds (the two writes of a pre-norm block: x += attn(norm(x)), then
    /// x += mlp(norm(x))).
    pub attn_writes: Vec<f32>,
    pub mlp_writes: Vec<f32>,
    /// `[layers][t]`: the lens's `top` most likely next tokens, with their probabilities.
    pub lens: Vec<Vec<(u32, f32)>>,
    /// `[layers][t]`: the rank (0: the most likely) under the lens of the token that follows
    /// position `i` in the sequence; None after the last.
    pub next_rank: Vec<Option<u32>>,
    /// The logits after the last token.
    pub logits: Vec<f32>,
}

/// Traces `tokens` (at most the model's context) with `top` lens tokens per position.
pub fn trace(net: &Net, tokens: &[u32], top: usize) -> Result<Trace, Error> {
    let cfg = net.config();
    let (t, c, v) = (tokens.len(), cfg.n_embd, cfg.vocab_size);
    if t == 0 || t > cfg.block_size {
        return Err(Error::Prompt(format!("{t} tokens cannot be traced in the model's context of {}", cfg.block_size)));
    }
    let mut cache = KvCache::new(cfg, t)?;
    cache.enable_capture(&Cpu, cfg);
    net.extend(&mut cache, tokens)?;
    let capture = cache.capture.as_ref().expect("capture is on");
    let (n_layer, n_head) = (cfg.n_layer, cfg.n_head);
    // The cache holds exactly t positions, so each head's [t][t] block is contiguous.
    let attention = capture.attention.iter().flat_map(|a| a[..n_head * t * t].iter().copied()).collect();
    let norm = |row: &[f32]| row.iter().map(|x| x * x).sum::<f32>().sqrt();
    // The norm of `to - from`, row by row.
    let write = |from: &[f32], to: &[f32]| -> Vec<f32> {
        from[..t * c]
            .chunks_exact(c)
            .zip(to[..t * c].chunks_exact(c))
            .map(|(a, b)| a.iter().zip(b).map(|(a, b)| (b - a) * (b - a)).sum::<f32>().sqrt())
            .collect()
    };
    let (mut attn_writes, mut mlp_writes) = (Vec::new(), Vec::new());
    for (l, mid) in capture.mid.iter().enumerate() {
        attn_writes.extend(write(&capture.hidden[l], mid));
        mlp_writes.extend(write(mid, &capture.hidden[l + 1]));
    }
    let (mut norms, mut lens, mut next_rank) = (Vec::new(), Vec::new(), Vec::new());
    for hidden in &capture.hidden {
        let hidden = &hidden[..t * c];
        norms.extend(hidden.chunks_exact(c).map(norm));
        let logits = net.head(hidden);
        for (i, row) in logits.chunks_exact(v).enumerate() {
            let p = softmax(row, 1.0);
            lens.push(most_likely(&p, top).into_iter().map(|j| (j, p[j as usize] as f32)).collect());
            next_rank.push(tokens.get(i + 1).map(|&next| {
                let q = p[next as usize];
                p.iter().enumerate().filter(|&(j, &x)| x > q || (x == q && (j as u32) < next)).count() as u32
            }));
        }
    }
    Ok(Trace {
        tokens: tokens.to_vec(),
        n_layer,
        n_head,
        attention,
        norms,
        attn_writes,
        mlp_writes,
        lens,
        next_rank,
        logits: cache.logits.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use minichat_model::init::gpt2_init;
    use minichat_model::{Family, ModelConfig};

    #[test]
    fn attention_rows_sum_to_one_and_the_last_lens_is_the_model() {
        let mut cfg = ModelConfig::from_depth(Family::Gpt2, 2, 40);
        (cfg.n_embd, cfg.n_head, cfg.n_kv_head, cfg.intermediate_size, cfg.block_size) = (16, 2, 2, 64, 12);
        let mut net = Net::new(cfg).unwrap();
        let params = net.params().to_vec();
        gpt2_init(&params, net.buffers().0, 2, 3);
        let tokens = [1u32, 5, 9, 5, 30, 2];
        let tr = trace(&net, &tokens, 3).unwrap();
        let t = tokens.len();
        assert_eq!(tr.attention.len(), 2 * 2 * t * t);
        for row in tr.attention.chunks_exact(t) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{row:?}");
        }
        assert_eq!((tr.norms.len(), tr.lens.len(), tr.next_rank.len()), (3 * t, 3 * t, 3 * t));
        assert_eq!((tr.attn_writes.len(), tr.mlp_writes.len()), (2 * t, 2 * t));
        // The stream after a block is the stream before it plus the two writes, so the norms
        // obey the triangle inequality.
        for l in 0..2 {
            for i in 0..t {
                let (before, after) = (tr.norms[l * t + i], tr.norms[(l + 1) * t + i]);
                let w = tr.attn_writes[l * t + i] + tr.mlp_writes[l * t + i];
                assert!(w > 0.0 && after <= before + w + 1e-4 && before <= after + w + 1e-4, "layer {l} position {i}");
            }
        }
        // The last layer's lens at the last position is the model's own next-token guess.
        let mut cache = KvCache::new(net.config(), t).unwrap();
        net.extend(&mut cache, &tokens).unwrap();
        let best = crate::sampler::argmax(&cache.logits);
        assert_eq!(tr.lens[3 * t - 1][0].0, best);
        assert_eq!(tr.logits, cache.logits);
        assert_eq!(tr.next_rank[t - 1], None);
        assert!(tr.next_rank[..t - 1].iter().all(|r| r.is_some_and(|r| r < 40)));
        assert!(trace(&net, &[1; 13], 3).is_err(), "longer than the context");
    }
}
