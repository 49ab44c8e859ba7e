//! Tokens' log-probabilities as OpenAI's API reports them: each token's own and its most
//! likely alternatives', from the model's distribution (after penalties, at temperature 1),
//! for drawn tokens (`Event::Token` of the assistant turn) and for a prompt's tokens (what
//! `echo` with `logprobs` returns, and what lm-evaluation-harness scores choices with).

use crate::sampler::{log_prob, most_likely, softmax, Draw};
use crate::Error;
use minichat_model::net::Net;

/// A token's log-probability and the `top` most likely tokens at its position with theirs.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenLogprob {
    pub token: u32,
    pub logprob: f32,
    pub top: Vec<(u32, f32)>,
}

impl TokenLogprob {
    /// Of a draw that was asked for candidates (`Draw::before`).
    pub fn of(draw: &Draw, top: usize) -> TokenLogprob {
        let alternatives = draw.before.iter().take(top).map(|&(t, p)| (t, log_prob(p as f64))).collect();
        TokenLogprob { token: draw.token, logprob: draw.logprob.unwrap_or(0.0), top: alternatives }
    }

    /// Of `token` under `logits`, with the `top` most likely (ties to the lower id).
    pub fn under(logits: &[f32], token: u32, top: usize) -> TokenLogprob {
        let p = softmax(logits, 1.0);
        let top = most_likely(&p, top).into_iter().map(|t| (t, log_prob(p[t as usize]))).collect();
        TokenLogprob { token, logprob: log_prob(p.get(token as usize).copied().unwrap_or(0.0)), top }
    }
}

/// The log-probability of every token of `prompt` after the ones before it (the first has
/// none), with `top` alternatives each: one forward pass over the prompt.
pub fn prompt_logprobs(net: &Net, prompt: &[u32], top: usize) -> Result<Vec<Option<TokenLogprob>>, Error> {
    let (t, v) = (prompt.len(), net.config().vocab_size);
    if t == 0 || t > net.config().block_size {
        return Err(Error::Prompt(format!(
            "a prompt of {t} tokens cannot be scored in the model's context of {}",
            net.config().block_size
        )));
    }
    let mut acts = net.acts(1, t)?;
    let mut targets = prompt[1..].to_vec();
    targets.push(prompt[0]);
    net.forward(&mut acts, prompt, &targets)?;
    let logits = acts.logits();
    let mut out = vec![None];
    out.extend((1..t).map(|i| Some(TokenLogprob::under(&logits[(i - 1) * v..i * v], prompt[i], top))));
    Ok(out)
}
