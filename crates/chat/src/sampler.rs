//! From next-token logits to one token. The chain, in the order llama.cpp's server and
//! mistral.rs apply it:
//!
//! 1. penalties on the logits: repetition (Hugging Face/CTRL style, over the whole sequence so
//!    far: a positive logit is divided by the penalty, a negative one multiplied), then
//!    frequency and presence (OpenAI style, over the generated tokens:
//!    `logit -= count * frequency + (count > 0) * presence`), then the logit bias;
//! 2. temperature: `softmax(logits / T)`; T = 0 is greedy (argmax, ties to the lowest id);
//! 3. top-k: the k most likely tokens;
//! 4. top-p (nucleus): the smallest set of most likely tokens whose probability reaches p;
//! 5. min-p: the tokens at least `min_p` times as likely as the most likely one;
//! 6. a draw from what is left, renormalised, with a seeded generator (same seed, same text).

use crate::Error;
use minichat_model::cpu::simd;
use minichat_model::rng::SplitMix64;
use std::collections::HashMap;

/// Sampler settings; the defaults change nothing (temperature 1, no filters, no penalties).
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerConfig {
    pub temperature: f32,
    /// 0 = off.
    pub top_k: usize,
    /// 1 = off.
    pub top_p: f32,
    /// 0 = off.
    pub min_p: f32,
    /// 1 = off.
    pub repetition_penalty: f32,
    /// 0 = off.
    pub frequency_penalty: f32,
    /// 0 = off.
    pub presence_penalty: f32,
    /// Added to the logits of these tokens (f32::NEG_INFINITY bans one).
    pub logit_bias: Vec<(u32, f32)>,
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            logit_bias: Vec::new(),
            seed: 0,
        }
    }
}

impl SamplerConfig {
    /// Checks every value is in range; the error names the setting.
    pub fn validate(&self, vocab_size: usize) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Config(m));
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad(format!("temperature {} must be a finite number >= 0", self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(format!("top-p {} must be in (0, 1]", self.top_p));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad(format!("min-p {} must be in [0, 1]", self.min_p));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return bad(format!("repetition penalty {} must be a finite number > 0", self.repetition_penalty));
        }
        for (name, v) in [("frequency", self.frequency_penalty), ("presence", self.presence_penalty)] {
            if !(-2.0..=2.0).contains(&v) {
                return bad(format!("{name} penalty {v} must be in [-2, 2] (OpenAI's range)"));
            }
        }
        if let Some((id, b)) = self.logit_bias.iter().find(|(id, b)| *id as usize >= vocab_size || b.is_nan()) {
            return bad(format!(
                "logit bias {b} for token {id}: the token must be below {vocab_size} and the bias a number"
            ));
        }
        Ok(())
    }
}

/// One sampling decision, with the top candidates before and after the filters when asked.
#[derive(Clone, Debug, PartialEq)]
pub struct Draw {
    pub token: u32,
    /// The most likely tokens after penalties at temperature 1, with probabilities.
    pub before: Vec<(u32, f32)>,
    /// The most likely tokens after temperature, top-k, top-p and min-p (renormalised).
    pub after: Vec<(u32, f32)>,
    /// The drawn token's log-probability after penalties at temperature 1 (the model's own
    /// distribution, what OpenAI's `logprobs` report), when candidates were asked for.
    pub logprob: Option<f32>,
}

/// A sampler: settings plus its seeded generator (advanced by each draw).
pub struct Sampler {
    pub config: SamplerConfig,
    rng: SplitMix64,
}

impl Sampler {
    pub fn new(config: SamplerConfig, vocab_size: usize) -> Result<Sampler, Error> {
        config.validate(vocab_size)?;
        let rng = SplitMix64::new(config.seed);
        Ok(Sampler { config, rng })
    }

    /// Picks the next token from `logits`, given the whole sequence so far (`context`) and the
    /// generated part of it (`generated`, for frequency and presence); `show` > 0 also fills
    /// the top-`show` candidates before and after filtering.
    pub fn draw(&mut self, logits: &[f32], context: &[u32], generated: &[u32], show: usize) -> Draw {
        let c = &self.config;
        let mut l = logits.to_vec();
        penalize(&mut l, c, context, generated);
        let model = (show > 0).then(|| softmax(&l, 1.0));
        let before = model.as_ref().map(|p| top(p, show)).unwrap_or_default();
        let logprob = |token: u32| model.as_ref().map(|p| log_prob(p[token as usize]));
        if c.temperature == 0.0 {
            let token = argmax(&l);
            let after = if show > 0 { vec![(token, 1.0)] } else { Vec::new() };
            return Draw { token, before, after, logprob: logprob(token) };
        }
        let probs = filter(softmax(&l, c.temperature), c.top_k, c.top_p, c.min_p);
        let after = if show > 0 { top(&probs, show) } else { Vec::new() };
        let token = pick(&probs, &mut self.rng);
        Draw { token, before, after, logprob: logprob(token) }
    }
}

/// Step 1 of the chain, in place.
fn penalize(l: &mut [f32], c: &SamplerConfig, context: &[u32], generated: &[u32]) {
    if c.repetition_penalty != 1.0 {
        let mut seen = vec![false; l.len()];
        for &t in context {
            if let Some(s) = seen.get_mut(t as usize) {
                if !*s {
                    *s = true;
                    let x = &mut l[t as usize];
                    *x = if *x > 0.0 { *x / c.repetition_penalty } else { *x * c.repetition_penalty };
                }
            }
        }
    }
    if c.frequency_penalty != 0.0 || c.presence_penalty != 0.0 {
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for &t in generated {
            *counts.entry(t).or_default() += 1;
        }
        for (&t, &n) in &counts {
            if let Some(x) = l.get_mut(t as usize) {
                *x -= n as f32 * c.frequency_penalty + c.presence_penalty;
            }
        }
    }
    for &(t, b) in &c.logit_bias {
        if let Some(x) = l.get_mut(t as usize) {
            *x += b;
        }
    }
}

/// `ln p`, floored at -9999 (OpenAI's value for "impossible": JSON has no -infinity).
pub fn log_prob(p: f64) -> f32 {
    (p.ln() as f32).max(-9999.0)
}

/// The lowest id among the largest logits.
pub fn argmax(l: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in l.iter().enumerate() {
        if x > l[best] {
            best = i;
        }
    }
    best as u32
}

/// `softmax(l / t)` in f64 (so tiny probabilities survive for the filters and the draw), with
/// the model crate's vectorised exp: one draw's softmax over 8,192 tokens was 90 us of libm
/// calls, while the model's threads waited.
pub fn softmax(l: &[f32], t: f32) -> Vec<f64> {
    let max = l.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let mut p = vec![0.0; l.len()];
    let z = simd::exp_scaled(&mut p, l, max, t as f64);
    let scale = 1.0 / z;
    p.iter_mut().for_each(|x| *x *= scale);
    p
}

/// Steps 3-5: zeroes what top-k, top-p and min-p remove, then renormalises. Ties are broken
/// by id (lower first), so the kept set is deterministic. Only what a filter needs is sorted:
/// nothing without filters or with min-p alone, the k best with top-k, everything for top-p
/// alone.
pub fn filter(mut p: Vec<f64>, top_k: usize, top_p: f32, min_p: f32) -> Vec<f64> {
    let top_k = if top_k >= p.len() { 0 } else { top_k };
    if top_k == 0 && top_p >= 1.0 {
        if min_p > 0.0 {
            let floor = p.iter().copied().fold(0.0, f64::max) * min_p as f64;
            p.iter_mut().filter(|x| **x < floor).for_each(|x| *x = 0.0);
            let z: f64 = p.iter().sum();
            p.iter_mut().for_each(|x| *x /= z);
        }
        return p;
    }
    let by_prob = |p: &[f64], a: u32, b: u32| p[b as usize].total_cmp(&p[a as usize]).then(a.cmp(&b));
    let mut order: Vec<u32> = (0..p.len() as u32).filter(|&i| p[i as usize] > 0.0).collect();
    if top_k > 0 && top_k < order.len() {
        // The k best (the same set a full sort would keep), then only they are sorted.
        order.select_nth_unstable_by(top_k - 1, |&a, &b| by_prob(&p, a, b));
        let rest = order.split_off(top_k);
        for &i in &rest {
            p[i as usize] = 0.0;
        }
    }
    order.sort_by(|&a, &b| by_prob(&p, a, b));
    let mut keep = order.len();
    if top_k > 0 {
        keep = keep.min(top_k);
    }
    if top_p < 1.0 {
        // Renormalise over what top-k kept, then the shortest prefix reaching top_p.
        let total: f64 = order[..keep].iter().map(|&i| p[i as usize]).sum();
        let mut acc = 0.0;
        for (n, &i) in order[..keep].iter().enumerate() {
            acc += p[i as usize] / total;
            if acc >= top_p as f64 {
                keep = n + 1;
                break;
            }
        }
    }
    if min_p > 0.0 && keep > 0 {
        let floor = p[order[0] as usize] * min_p as f64;
        keep = order[..keep].iter().take_while(|&&i| p[i as usize] >= floor).count().max(1);
    }
    for &i in &order[keep..] {
        p[i as usize] = 0.0;
    }
    let z: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= z);
    p
}

/// The `n` most likely tokens under `p`, most likely first (ties to the lower id): only the
/// `n` are sorted.
pub fn most_likely(p: &[f64], n: usize) -> Vec<u32> {
    let by_prob = |a: &u32, b: &u32| p[*b as usize].total_cmp(&p[*a as usize]).then(a.cmp(b));
    let mut order: Vec<u32> = (0..p.len() as u32).collect();
    if n == 0 {
        return Vec::new();
    }
    if n < order.len() {
        order.select_nth_unstable_by(n - 1, by_prob);
        order.truncate(n);
    }
    order.sort_by(by_prob);
    order
}

/// The `n` most likely tokens with their probabilities (those that can be drawn).
fn top(p: &[f64], n: usize) -> Vec<(u32, f32)> {
    most_likely(p, n).into_iter().filter(|&i| p[i as usize] > 0.0).map(|i| (i, p[i as usize] as f32)).collect()
}

/// A draw from a normalised distribution.
fn pick(p: &[f64], rng: &mut SplitMix64) -> u32 {
    let mut r = rng.uniform();
    let mut last = 0;
    for (i, &x) in p.iter().enumerate() {
        if x > 0.0 {
            last = i;
            r -= x;
            if r <= 0.0 {
                return i as u32;
            }
        }
    }
    last as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(p: &[f64]) -> Vec<usize> {
        p.iter().enumerate().filter(|(_, &x)| x > 0.0).map(|(i, _)| i).collect()
    }

    #[test]
    fn filters_keep_exactly_the_right_sets() {
        let p = vec![0.05, 0.4, 0.1, 0.3, 0.15];
        assert_eq!(kept(&filter(p.clone(), 2, 1.0, 0.0)), [1, 3]);
        // 0.4 + 0.3 = 0.7 < 0.75 <= 0.85 = 0.4 + 0.3 + 0.15.
        assert_eq!(kept(&filter(p.clone(), 0, 0.75, 0.0)), [1, 3, 4]);
        assert_eq!(kept(&filter(p.clone(), 0, 0.7, 0.0)), [1, 3]);
        // min-p 0.3: at least 0.12.
        assert_eq!(kept(&filter(p.clone(), 0, 1.0, 0.3)), [1, 3, 4]);
        // Chained: top-k 3 then top-p over the renormalised three (0.4/0.85 + 0.3/0.85 = 0.82).
        assert_eq!(kept(&filter(p.clone(), 3, 0.8, 0.0)), [1, 3]);
        let f = filter(p.clone(), 2, 1.0, 0.0);
        assert!((f[1] - 0.4 / 0.7).abs() < 1e-12 && (f.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // Ties break by id.
        assert_eq!(kept(&filter(vec![0.25; 4], 2, 1.0, 0.0)), [0, 1]);
    }

    /// The chain as first written: one full sort, then each filter on its prefix.
    fn filter_by_full_sort(mut p: Vec<f64>, top_k: usize, top_p: f32, min_p: f32) -> Vec<f64> {
        let mut order: Vec<u32> = (0..p.len() as u32).filter(|&i| p[i as usize] > 0.0).collect();
        order.sort_by(|&a, &b| p[b as usize].total_cmp(&p[a as usize]).then(a.cmp(&b)));
        let mut keep = if top_k > 0 { order.len().min(top_k) } else { order.len() };
        if top_p < 1.0 {
            let total: f64 = order[..keep].iter().map(|&i| p[i as usize]).sum();
            let mut acc = 0.0;
            for (n, &i) in order[..keep].iter().enumerate() {
                acc += p[i as usize] / total;
                if acc >= top_p as f64 {
                    keep = n + 1;
                    break;
                }
            }
        }
        if min_p > 0.0 && keep > 0 {
            let floor = p[order[0] as usize] * min_p as f64;
            keep = order[..keep].iter().take_while(|&&i| p[i as usize] >= floor).count().max(1);
        }
        for &i in &order[keep..] {
            p[i as usize] = 0.0;
        }
        let z: f64 = p.iter().sum();
        p.iter_mut().for_each(|x| *x /= z);
        p
    }

    proptest::proptest! {
        /// Sorting only what a filter needs keeps exactly the set a full sort keeps.
        #[test]
        fn partial_sorts_keep_what_a_full_sort_keeps(
            weights in proptest::collection::vec(0u8..6, 1..40),
            top_k in 0usize..45,
            top_p in proptest::sample::select(vec![1.0f32, 0.9, 0.5, 0.1]),
            min_p in proptest::sample::select(vec![0.0f32, 0.2, 0.6]),
        ) {
            // Small integer weights: many ties, which break by id.
            let z: f64 = weights.iter().map(|&w| w as f64).sum::<f64>().max(1.0);
            let p: Vec<f64> = weights.iter().map(|&w| w as f64 / z).collect();
            if p.iter().all(|&x| x == 0.0) {
                return Ok(());
            }
            let got = filter(p.clone(), top_k, top_p, min_p);
            let want = filter_by_full_sort(p, top_k, top_p, min_p);
            proptest::prop_assert_eq!(kept(&got), kept(&want));
            for (a, b) in got.iter().zip(&want) {
                proptest::prop_assert!((a - b).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn low_temperature_is_greedy_and_zero_is_argmax() {
        let logits = [0.1f32, 2.0, 1.9, -1.0];
        let mut s = Sampler::new(SamplerConfig { temperature: 0.0, ..Default::default() }, 4).unwrap();
        assert_eq!(s.draw(&logits, &[], &[], 0).token, 1);
        let mut s = Sampler::new(SamplerConfig { temperature: 1e-3, seed: 5, ..Default::default() }, 4).unwrap();
        assert!((0..200).all(|_| s.draw(&logits, &[], &[], 0).token == 1));
    }

    #[test]
    fn draws_follow_the_softmax() {
        // Chi-square goodness of fit, 20,000 seeded draws over 6 tokens (5 degrees of freedom:
        // the 99.9% critical value is 20.5).
        let logits = [1.0f32, 0.5, 0.0, -0.5, 2.0, 0.2];
        let want = softmax(&logits, 0.7);
        let mut s = Sampler::new(SamplerConfig { temperature: 0.7, seed: 42, ..Default::default() }, 6).unwrap();
        let n = 20_000;
        let mut counts = [0f64; 6];
        for _ in 0..n {
            counts[s.draw(&logits, &[], &[], 0).token as usize] += 1.0;
        }
        let chi2: f64 = counts.iter().zip(&want).map(|(o, p)| (o - n as f64 * p).powi(2) / (n as f64 * p)).sum();
        assert!(chi2 < 20.5, "chi-square {chi2}, counts {counts:?}");
        // Same seed, same draws.
        let mut a = Sampler::new(SamplerConfig { seed: 9, ..Default::default() }, 6).unwrap();
        let mut b = Sampler::new(SamplerConfig { seed: 9, ..Default::default() }, 6).unwrap();
        assert!((0..50).all(|_| a.draw(&logits, &[], &[], 0) == b.draw(&logits, &[], &[], 0)));
    }

    #[test]
    fn penalties_and_bias() {
        let c = SamplerConfig {
            repetition_penalty: 2.0,
            frequency_penalty: 0.5,
            presence_penalty: 0.25,
            ..Default::default()
        };
        let mut l = vec![2.0f32, -2.0, 1.0, 1.0];
        penalize(&mut l, &c, &[0, 1, 0], &[2, 2]);
        assert_eq!(l, vec![1.0, -4.0, 1.0 - 1.0 - 0.25, 1.0]);
        let c = SamplerConfig { logit_bias: vec![(3, f32::NEG_INFINITY)], temperature: 0.0, ..Default::default() };
        let mut s = Sampler::new(c, 4).unwrap();
        assert_eq!(s.draw(&[0.0, 0.0, 0.0, 9.0], &[], &[], 0).token, 0);
    }

    #[test]
    fn invalid_values_are_named() {
        let check = |c: SamplerConfig, what: &str| {
            let e = Sampler::new(c, 10).err().unwrap().to_string();
            assert!(e.contains(what), "{e}");
        };
        check(SamplerConfig { temperature: -1.0, ..Default::default() }, "temperature");
        check(SamplerConfig { top_p: 0.0, ..Default::default() }, "top-p");
        check(SamplerConfig { min_p: 1.5, ..Default::default() }, "min-p");
        check(SamplerConfig { repetition_penalty: 0.0, ..Default::default() }, "repetition");
        check(SamplerConfig { presence_penalty: 3.0, ..Default::default() }, "presence");
        check(SamplerConfig { logit_bias: vec![(10, 1.0)], ..Default::default() }, "token 10");
    }

    #[test]
    fn show_reports_candidates_before_and_after() {
        let c = SamplerConfig { top_k: 2, seed: 1, ..Default::default() };
        let mut s = Sampler::new(c, 4).unwrap();
        let d = s.draw(&[0.0, 3.0, 2.0, 1.0], &[], &[], 3);
        assert_eq!(d.before.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(d.after.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 2]);
        assert!(d.token == 1 || d.token == 2);
    }
}
