//! Prompt caching: KV caches kept after their turns end, so that a later prompt that shares a
//! prefix with one (the conversation so far in a chat, a system prompt, the same prompt sent
//! again) feeds only the rest. This is llama.cpp's `cache_prompt` (on by default in its
//! server: each slot keeps its last sequence, and a request goes to the slot whose cache it
//! shares most with) and what vLLM's automatic prefix caching does by blocks.
//!
//! Reuse changes no number when every pass that filled the caches was invariant
//! (`minichat_model::kv_cache::Batch::new(true)`): a position's keys and values then depend on
//! its tokens only, not on how they were cut into passes, so a reply is the same from a kept
//! cache as from an empty one. The pool holds at most `capacity` caches; one is handed out for
//! every prompt (emptied when none shares more than nothing), so a server never holds more
//! caches than it has slots.

use crate::Error;
use minichat_model::kv_cache::KvCache;
use minichat_model::ModelConfig;

/// Kept caches, each with the tokens it holds.
pub struct PromptCache {
    kept: Vec<Kept>,
    capacity: usize,
    /// Ticks at every `put`: the least recently kept goes first.
    clock: u64,
}

struct Kept {
    cache: KvCache,
    tokens: Vec<u32>,
    kept_at: u64,
}

impl PromptCache {
    /// A pool of at most `capacity` caches (0 keeps none: every prompt starts empty).
    pub fn new(capacity: usize) -> PromptCache {
        PromptCache { kept: Vec::new(), capacity, clock: 0 }
    }

    /// Caches kept now.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// A cache of the model's context for `prompt`: the kept one that shares the longest
    /// prefix with it (ties: the least recently kept), cut back to that prefix, but never
    /// to the whole prompt (its last token is fed again, for the logits after it); a new one
    /// when none is kept. Its `len()` is the prompt tokens it already holds.
    pub fn take(&mut self, cfg: &ModelConfig, prompt: &[u32]) -> Result<KvCache, Error> {
        let shared = |k: &Kept| k.tokens.iter().zip(prompt).take_while(|(a, b)| a == b).count();
        let best = self.kept.iter().enumerate().map(|(i, k)| (shared(k), std::cmp::Reverse(k.kept_at), i)).max();
        match best {
            Some((shared, _, i)) => {
                let keep = shared.min(prompt.len().saturating_sub(1));
                let mut cache = self.kept.swap_remove(i).cache;
                cache.truncate(keep);
                Ok(cache)
            }
            None => Ok(KvCache::new(cfg, cfg.block_size)?),
        }
    }

    /// Keeps `cache`, which holds `tokens` (`Sequence::into_cache`), dropping the least
    /// recently kept one beyond the capacity.
    pub fn put(&mut self, cache: KvCache, tokens: Vec<u32>) {
        debug_assert_eq!(cache.len(), tokens.len());
        self.clock += 1;
        self.kept.push(Kept { cache, tokens, kept_at: self.clock });
        if self.kept.len() > self.capacity {
            let oldest = (0..self.kept.len()).min_by_key(|&i| self.kept[i].kept_at).expect("not empty");
            self.kept.swap_remove(oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minichat_model::net::Net;

    fn net() -> Net {
        let mut cfg = ModelConfig::from_depth(minichat_model::Family::Gpt2, 1, 32);
        (cfg.n_embd, cfg.n_head, cfg.n_kv_head, cfg.intermediate_size, cfg.block_size) = (8, 2, 2, 32, 16);
        Net::new(cfg).unwrap()
    }

    fn filled(net: &Net, tokens: &[u32]) -> KvCache {
        let mut cache = KvCache::new(net.config(), net.config().block_size).unwrap();
        net.extend(&mut cache, tokens).unwrap();
        cache
    }

    #[test]
    fn takes_the_longest_shared_prefix_and_leaves_the_last_token_to_feed() {
        let net = net();
        let mut pool = PromptCache::new(2);
        assert_eq!(pool.take(net.config(), &[1, 2, 3]).unwrap().len(), 0, "nothing kept: a new cache");
        pool.put(filled(&net, &[1, 2, 3, 4]), vec![1, 2, 3, 4]);
        pool.put(filled(&net, &[1, 5]), vec![1, 5]);
        // The same prompt again: all but its last token.
        assert_eq!(pool.take(net.config(), &[1, 2, 3, 4]).unwrap().len(), 3);
        assert_eq!(pool.len(), 1);
        // Only [1, 5] is left; [1, 5, 6] shares both.
        assert_eq!(pool.take(net.config(), &[1, 5, 6]).unwrap().len(), 2);
        assert!(pool.is_empty());
    }

    #[test]
    fn keeps_at_most_its_capacity_dropping_the_oldest() {
        let net = net();
        let mut pool = PromptCache::new(2);
        for t in [&[1u32, 2][..], &[3, 4], &[5, 6]] {
            pool.put(filled(&net, t), t.to_vec());
        }
        assert_eq!(pool.len(), 2);
        // [1, 2] went: a prompt starting with 1 shares nothing, and gets the oldest left.
        assert_eq!(pool.take(net.config(), &[1, 2, 9]).unwrap().len(), 0);
        assert_eq!(pool.take(net.config(), &[5, 6, 7]).unwrap().len(), 2);
        let mut none = PromptCache::new(0);
        none.put(filled(&net, &[1, 2]), vec![1, 2]);
        assert!(none.is_empty());
    }
}
