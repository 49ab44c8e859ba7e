//! Prompt caching on a model with random weights: a turn started in a kept cache (the same
//! prompt again, a prompt sharing only its start, a conversation going on from a reply) draws
//! the same tokens with the same log-probabilities, bit for bit, as a turn started empty,
//! when every pass is invariant, as the server's are.

mod common;

use minichat_chat::assistant::{Assistant, Event, Settings, Turn};
use minichat_chat::prompt_cache::PromptCache;
use minichat_chat::sampler::SamplerConfig;
use minichat_model::init::gpt2_init;
use minichat_model::kv_cache::Batch;
use minichat_model::net::Net;
use minichat_model::{Family, ModelConfig};
use minichat_tokenizer::Tokenizer;

fn tokenizer() -> Tokenizer {
    let doc = "The quick brown fox jumps over the lazy dog. Zwölf Boxkämpfer jagen Viktor.";
    common::chat_tokenizer("prompt-cache-test", doc, 50)
}

fn model(vocab: usize) -> Net {
    let mut cfg = ModelConfig::from_depth(Family::Gpt2, 2, vocab);
    (cfg.n_embd, cfg.n_head, cfg.n_kv_head, cfg.intermediate_size, cfg.block_size) = (64, 4, 4, 256, 96);
    let mut net = Net::new(cfg).unwrap();
    let params = net.params().to_vec();
    gpt2_init(&params, net.buffers().0, 2, 11);
    net
}

/// Runs one raw turn to its end alone in an invariant batch; returns what it drew (token and
/// log-probabilities) and the turn.
fn run(assistant: &Assistant, mut turn: Turn) -> (Vec<Event>, Turn) {
    let (mut batch, mut events) = (Batch::new(true), Vec::new());
    while turn.finish().is_none() {
        assistant
            .step_batch(&mut [&mut turn], &mut batch, &mut |_, e| {
                if matches!(e, Event::Token(_)) {
                    events.push(e)
                }
            })
            .unwrap();
    }
    (events, turn)
}

#[test]
fn a_turn_in_a_kept_cache_draws_what_it_draws_from_empty() {
    let tok = tokenizer();
    let net = model(tok.n_vocab());
    let assistant = Assistant::new(&net, &tok, None).unwrap();
    let settings = Settings {
        sampler: SamplerConfig { temperature: 1.0, seed: 3, ..SamplerConfig::default() },
        max_tokens: 12,
        logprobs: Some(3),
    };
    let bos = tok.bos_id().unwrap();
    let words = |s: &str| [vec![bos], tok.encode_ordinary(s)].concat();
    let fresh = |prompt: &[u32]| run(&assistant, assistant.queue(prompt, &settings, 5, true).unwrap());
    let mut pool = PromptCache::new(2);
    let kept = |pool: &mut PromptCache, prompt: &[u32]| {
        let cache = pool.take(net.config(), prompt).unwrap();
        let held = cache.len();
        (run(&assistant, assistant.queue_in(cache, prompt, &settings, 5, true).unwrap()), held)
    };

    let a = words("The quick brown fox jumps over");
    let (alone, turn) = fresh(&a);
    assert_eq!(alone.len(), 12);
    let (cache, tokens) = turn.into_cache();
    assert_eq!(&tokens[..a.len()], &a[..], "the cache holds the prompt, then the reply");
    pool.put(cache, tokens.clone());

    // The same prompt again: all but its last token held.
    let ((again, turn), held) = kept(&mut pool, &a);
    assert_eq!((again, held), (alone.clone(), a.len() - 1));
    let (cache, again_tokens) = turn.into_cache();
    assert_eq!(again_tokens, tokens);
    pool.put(cache, again_tokens);

    // A prompt that shares only the start: the rest fed, the same draws as from empty.
    let b = words("The quick brown cat sleeps all day");
    let shared = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let ((from_kept, _), held) = kept(&mut pool, &b);
    assert_eq!(held, shared);
    assert_eq!(from_kept, fresh(&b).0);

    // A conversation going on: the prompt and reply so far, then more. The reply's positions
    // were fed one token at a time; a fresh turn feeds them in chunks of 5.
    let (cache, tokens) = fresh(&a).1.into_cache();
    pool.put(cache, tokens.clone());
    let c = [&tokens[..], &words(" over the lazy dog")[1..]].concat();
    let ((from_kept, _), held) = kept(&mut pool, &c);
    assert_eq!(held, tokens.len());
    assert_eq!(from_kept, fresh(&c).0);
}
