//! The generation engine: prefill the prompt once, then decode one token at a time through the
//! KV cache (`Sequence`: draw, then feed). N samples of one prompt fork the prefilled cache
//! (what GRPO's groups need), each with its own seeded sampler (seed, seed + 1, ...). A sample
//! ends at a stop token, after `max_new_tokens`, or when the context is full (or, with `slide`,
//! keeps going on the newest half of the context, re-prefilled).
//!
//! The tool hook: when a sample writes the tool-call end token, the tokens since the matching
//! start token go to a callback, and the tokens it returns (a tool result) are forced into the
//! sequence and marked as forced, so that training can leave them out of the loss.

use crate::sampler::{Draw, Sampler, SamplerConfig};
use crate::Error;
use minichat_model::kv_cache::{KvCache, Segment};
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

/// One sample being generated: its KV cache, its sampler and the tokens so far. `generate`
/// runs N of them to their end; the assistant turn (`assistant`) steps one at a time, and so
/// several conversations can be stepped together.
pub struct Sequence {
    cache: KvCache,
    sampler: Sampler,
    /// Everything fed so far, prompt included (what the repetition penalty sees).
    context: Vec<u32>,
    /// The sample's tokens (the prompt excluded), drawn and forced.
    pub tokens: Vec<u32>,
    /// Which of `tokens` were forced in (by a tool) rather than drawn.
    pub forced: Vec<bool>,
    /// Tokens drawn so far (forced ones do not count against `max_new_tokens`).
    pub drawn: usize,
    /// Tokens queued to go through the cache at the next pass (`segment`).
    pending: Vec<u32>,
    /// The context slid: the cache's positions no longer line up with `context`.
    slid: bool,
}

/// Checks that a prompt can be run: not empty, its ids in the vocabulary, and room left in
/// the model's context for at least one more token.
pub fn check_prompt(net: &Net, prompt: &[u32]) -> Result<(), Error> {
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
    Ok(())
}

/// Checks a prompt and feeds it through a new KV cache of the model's context (the prefill
/// that N samples of it share).
pub fn prefill(net: &Net, prompt: &[u32]) -> Result<KvCache, Error> {
    check_prompt(net, prompt)?;
    let mut cache = KvCache::new(net.config(), net.config().block_size)?;
    net.extend(&mut cache, prompt)?;
    Ok(cache)
}

impl Sequence {
    /// A sample of `prompt`, from its prefilled cache (`prefill`).
    pub fn new(prefilled: KvCache, prompt: &[u32], sampler: Sampler) -> Sequence {
        Sequence {
            cache: prefilled,
            sampler,
            context: prompt.to_vec(),
            tokens: Vec::new(),
            forced: Vec::new(),
            drawn: 0,
            pending: Vec::new(),
            slid: false,
        }
    }

    /// A sample of a prompt that is not all fed yet: `prefill_chunk` feeds the rest a piece at
    /// a time (so a long prompt does not stall the sequences stepped beside it). `cache`, of
    /// the model's context, holds the prompt's first `cache.len()` tokens already (none when
    /// new; a kept cache, `prompt_cache`); at least the last token must be left to feed, for
    /// the logits after it.
    pub fn unfed_in(net: &Net, cache: KvCache, prompt: &[u32], sampler: Sampler) -> Result<Sequence, Error> {
        check_prompt(net, prompt)?;
        if cache.len() >= prompt.len() || cache.max_len() != net.config().block_size {
            return Err(Error::Config(format!(
                "a cache holding {} of {} positions cannot start a prompt of {} tokens",
                cache.len(),
                cache.max_len(),
                prompt.len()
            )));
        }
        Ok(Sequence::new(cache, prompt, sampler))
    }

    /// The sequence's cache and the tokens it holds, to keep for a later prompt that shares
    /// them (after a slide the cache holds other positions than the tokens': it comes back
    /// empty).
    pub fn into_cache(self) -> (KvCache, Vec<u32>) {
        let (mut cache, mut context) = (self.cache, self.context);
        if self.slid {
            cache.clear();
        }
        context.truncate(cache.len());
        (cache, context)
    }

    /// Prompt tokens not fed yet (0 once prefilled).
    pub fn unfed_prompt(&self) -> usize {
        if self.tokens.is_empty() {
            self.context.len() - self.cache.len()
        } else {
            0
        }
    }

    /// Feeds up to `max` more of the prompt; returns how many are left.
    pub fn prefill_chunk(&mut self, net: &Net, max: usize) -> Result<usize, Error> {
        let left = self.queue_prefill(max);
        self.feed_queued(net)?;
        Ok(left)
    }

    /// Queues up to `max` more of the prompt to feed; returns how many will be left.
    pub fn queue_prefill(&mut self, max: usize) -> usize {
        let (at, left) = (self.cache.len(), self.unfed_prompt());
        let n = left.min(max.max(1));
        self.pending = self.context[at..at + n].to_vec();
        left - n
    }

    /// The queued tokens with the cache they go through, for a pass over many sequences
    /// (`Net::extend_batch`); None when nothing is queued. Call `fed` after the pass.
    pub fn segment(&mut self) -> Option<Segment<'_>> {
        (!self.pending.is_empty()).then(|| Segment { cache: &mut self.cache, tokens: &self.pending })
    }

    /// The queued tokens went through the cache.
    pub fn fed(&mut self) {
        self.pending.clear();
    }

    /// Feeds the queued tokens through the cache, alone.
    pub fn feed_queued(&mut self, net: &Net) -> Result<(), Error> {
        if !self.pending.is_empty() {
            net.extend(&mut self.cache, &self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Draws the next token from the logits after everything fed (it is not fed yet); `show`
    /// candidates are reported with it.
    pub fn draw(&mut self, show: usize) -> Draw {
        self.sampler.draw(&self.cache.logits, &self.context, &self.tokens, show)
    }

    /// The tokens since the last `start` token of the sample (a tool call being written), if
    /// there is one.
    pub fn open_call(&self, start: u32) -> Option<&[u32]> {
        self.tokens.iter().rposition(|&t| t == start).map(|open| &self.tokens[open + 1..])
    }

    /// Appends a drawn token and the tokens forced in after it (a tool's result), and feeds
    /// them through the cache. When they fill the context the sample ends
    /// (`Finish::Context`), or with `slide`, the newest half of the context is kept,
    /// prefilled again (positions restart at 0), and the sample goes on.
    pub fn feed(&mut self, net: &Net, drawn: u32, forced: &[u32], slide: bool) -> Result<Option<Finish>, Error> {
        let context = net.config().block_size;
        if self.queue(net, drawn, forced)?.is_none() {
            self.feed_queued(net)?;
            return Ok(None);
        }
        if !slide {
            return Ok(Some(Finish::Context));
        }
        // Keep the newest half of the context and re-prefill it.
        let keep = &self.context[self.context.len() - (context / 2).max(1)..];
        self.slid = true;
        self.cache.clear();
        net.extend(&mut self.cache, keep)?;
        Ok(None)
    }

    /// Appends a drawn token and the tokens forced in after it, and queues them to feed
    /// (`segment`); when they would fill the context nothing is queued and the sample ends
    /// (`Finish::Context`).
    pub fn queue(&mut self, net: &Net, drawn: u32, forced: &[u32]) -> Result<Option<Finish>, Error> {
        let (context, vocab) = (net.config().block_size, net.config().vocab_size);
        if let Some(t) = forced.iter().find(|&&t| t as usize >= vocab) {
            return Err(Error::Config(format!("a forced token {t} is outside the vocabulary of {vocab}")));
        }
        let mut feed = vec![drawn];
        feed.extend_from_slice(forced);
        self.tokens.extend_from_slice(&feed);
        self.forced.push(false);
        self.forced.extend(std::iter::repeat_n(true, forced.len()));
        self.drawn += 1;
        self.context.extend_from_slice(&feed);
        if self.cache.len() + feed.len() >= context {
            return Ok(Some(Finish::Context));
        }
        self.pending = feed;
        Ok(None)
    }

    /// The sample's tokens and which of them were forced.
    pub fn into_tokens(self) -> (Vec<u32>, Vec<bool>) {
        (self.tokens, self.forced)
    }

    pub fn into_completion(self, finish: Finish) -> Completion {
        let (tokens, forced) = self.into_tokens();
        Completion { tokens, forced, finish }
    }
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
    let vocab = net.config().vocab_size;
    let prefilled = prefill(net, prompt)?;
    sampler.validate(vocab)?;
    let mut out = Vec::with_capacity(cfg.samples);
    for s in 0..cfg.samples {
        let seed = sampler.seed.wrapping_add(s as u64);
        let mut seq =
            Sequence::new(prefilled.clone(), prompt, Sampler::new(SamplerConfig { seed, ..sampler.clone() }, vocab)?);
        let finish = loop {
            if seq.drawn >= cfg.max_new_tokens {
                break Finish::Length;
            }
            let draw = seq.draw(cfg.show);
            let token = draw.token;
            on_token(s, token, Some(&draw));
            if cfg.stop_tokens.contains(&token) {
                break Finish::Stop(token);
            }
            // A call is everything since the last start token (none: not a call).
            let forced = match tool.as_mut().filter(|h| h.end == token) {
                Some(hook) => seq.open_call(hook.start).map(|call| (hook.call)(call)).unwrap_or_default(),
                None => Vec::new(),
            };
            for &t in &forced {
                on_token(s, t, None);
            }
            if let Some(finish) = seq.feed(net, token, &forced, cfg.slide)? {
                break finish;
            }
        };
        out.push(seq.into_completion(finish));
    }
    Ok(out)
}
