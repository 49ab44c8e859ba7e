//! The generation engine: prefill the prompt once, then decode one token at a time through the
//! KV cache. N samples of one prompt fork the prefilled cache (what GRPO's groups need), each
//! with its own seeded sampler (seed, seed + 1, ...). A sample ends at a stop token, after
//! `max_new_tokens`, or when the context is full (or, with `slide`, keeps going on the newest
//! half of the context, re-prefilled).
//!
//! The tool hook: when a sample writes the tool-call end token, the tokens since the matching
//! start token go to a callback, and the tokens it returns (a tool result) are forced into the
//! sequence and marked as forced, so that training can leave them out of the loss.

use crate::sampler::{Draw, Sampler, SamplerConfig};
use crate::Error;
use minichat_model::kv_cache::KvCache;
use minichat_model::net::Net;

/// Settings of one generation call.
#[derive(Clone, Debug)]
pub struct GenerateConfig {
    /// Tokens to draw at most (tokens a tool forces in do not count).
    pub max_new_tokens: usize,
    /// Tokens that end a sample (not included in its tokens).
    pub stop_tokens: Vec<u32>,
    /// Samples of the prompt.
    pub samples: usize,
    /// Candidates to report with each draw (`Draw::before` / `after`); 0 = none.
    pub show: usize,
    /// When the context fills: stop (false), or slide (true): keep the newest half of the
    /// context, prefill it again (positions restart at 0) and go on until `max_new_tokens`.
    pub slide: bool,
}

/// The tool-call hook: `start`/`end` token ids around a call; `call` gets the call's tokens
/// and returns the tokens to force in after it.
pub struct ToolHook<'a> {
    pub start: u32,
    pub end: u32,
    pub call: &'a mut dyn FnMut(&[u32]) -> Vec<u32>,
}

/// Why a sample ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// It drew this stop token.
    Stop(u32),
    /// `max_new_tokens` reached.
    Length,
    /// The context is full.
    Context,
}

/// One sample: its tokens (prompt excluded), which of them were forced, and why it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    pub tokens: Vec<u32>,
    pub forced: Vec<bool>,
    pub finish: Finish,
}

/// Generates `cfg.samples` continuations of `prompt`. `on_token(sample, token, draw)` sees
/// every token as it is added (`draw` is None for forced tokens), for streaming.
pub fn generate(
    net: &Net,
    prompt: &[u32],
    sampler: &SamplerConfig,
    cfg: &GenerateConfig,
    mut tool: Option<ToolHook>,
    on_token: &mut dyn FnMut(usize, u32, Option<&Draw>),
) -> Result<Vec<Completion>, Error> {
    let (context, vocab) = (net.config().block_size, net.config().vocab_size);
    if prompt.is_empty() {
        return Err(Error::Prompt("the prompt is empty (it needs at least a bos token)".into()));
    }
    if prompt.len() >= context {
        return Err(Error::Prompt(format!(
            "the prompt has {} tokens and leaves no room in the model's context of {context}",
            prompt.len()
        )));
    }
    if let Some(bad) = prompt.iter().find(|&&t| t as usize >= vocab) {
        return Err(Error::Prompt(format!("token id {bad} is outside the vocabulary of {vocab}")));
    }
    sampler.validate(vocab)?;
    let mut prefilled = KvCache::new(net.config(), context)?;
    net.extend(&mut prefilled, prompt)?;
    let mut out = Vec::with_capacity(cfg.samples);
    for s in 0..cfg.samples {
        let mut cache = prefilled.clone();
        let seed = sampler.seed.wrapping_add(s as u64);
        let mut sampler = Sampler::new(SamplerConfig { seed, ..sampler.clone() }, vocab)?;
        let mut seq = prompt.to_vec();
        let (mut tokens, mut forced, mut drawn) = (Vec::new(), Vec::new(), 0);
        let finish = loop {
            if drawn >= cfg.max_new_tokens {
                break Finish::Length;
            }
            let draw = sampler.draw(&cache.logits, &seq, &tokens, cfg.show);
            let token = draw.token;
            if cfg.stop_tokens.contains(&token) {
                on_token(s, token, Some(&draw));
                break Finish::Stop(token);
            }
            let mut feed = vec![token];
            on_token(s, token, Some(&draw));
            tokens.push(token);
            forced.push(false);
            drawn += 1;
            if let Some(hook) = tool.as_mut().filter(|h| h.end == token) {
                // The call is everything since the last start token (none: not a call).
                if let Some(open) = tokens[..tokens.len() - 1].iter().rposition(|&t| t == hook.start) {
                    let result = (hook.call)(&tokens[open + 1..tokens.len() - 1]);
                    for &t in &result {
                        if t as usize >= vocab {
                            return Err(Error::Config(format!(
                                "the tool hook returned token {t}, outside the vocabulary"
                            )));
                        }
                        on_token(s, t, None);
                        tokens.push(t);
                        forced.push(true);
                    }
                    feed.extend(result);
                }
            }
            seq.extend_from_slice(&feed);
            if cache.len() + feed.len() >= context {
                if !cfg.slide {
                    break Finish::Context;
                }
                // Keep the newest half of the context and re-prefill it.
                let keep = &seq[seq.len() - (context / 2).max(1)..];
                cache.clear();
                net.extend(&mut cache, keep)?;
                continue;
            }
            net.extend(&mut cache, &feed)?;
        };
        out.push(Completion { tokens, forced, finish });
    }
    Ok(out)
}
