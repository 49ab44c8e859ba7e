//! Conversations of several exchanges: two or three items of the other tasks one after the
//! other, the answer the last one's. Trained on one question per conversation, a model takes
//! numbers from the earlier turns of a longer chat ("A box holds 12 items..." after two
//! other questions -> `calculator 4563/12`); these teach it to answer the newest question.
//! Training chains training items of any task; a test conversation is held-out items (test
//! splits) ending in a held-out arithmetic question, so the answer can be checked exactly.

use super::Item;
use minichat_model::rng::SplitMix64;

/// Characters of content at most in one conversation, so that it fits the tiny preset's
/// context of 256 tokens with its chat and tool tokens (about 3 characters a token here).
const MAX_CHARS: usize = 600;

/// `n` conversations: each one to two items drawn from `earlier` (every pool alike), then one
/// from `last` (every item of its pools alike); conversations over `MAX_CHARS`, or asking a
/// question twice, are drawn again.
pub fn chain(earlier: &[&[Item]], last: &[&[Item]], n: usize, rng: &mut SplitMix64) -> Vec<Item> {
    let pools: Vec<&[Item]> = earlier.iter().copied().filter(|p| !p.is_empty()).collect();
    let last_len: usize = last.iter().map(|p| p.len()).sum();
    if pools.is_empty() || last_len == 0 {
        return Vec::new();
    }
    let draw = |items: &[Item], rng: &mut SplitMix64| items[rng.below(items.len() as u64) as usize].clone();
    // Item `i` of `last`'s pools taken end to end.
    let nth_last = |mut i: usize| {
        for pool in last {
            if i < pool.len() {
                return pool[i].clone();
            }
            i -= pool.len();
        }
        unreachable!("an index below last_len")
    };
    let mut out = Vec::with_capacity(n);
    let mut tries = 0;
    while out.len() < n && tries < 20 * n {
        tries += 1;
        let before = 1 + rng.below(2) as usize;
        let mut parts: Vec<Item> = (0..before)
            .map(|_| {
                let pool = pools[rng.below(pools.len() as u64) as usize];
                draw(pool, rng)
            })
            .collect();
        parts.push(nth_last(rng.below(last_len as u64) as usize));
        let chars: usize = parts.iter().flat_map(|p| &p.messages).map(|m| m.content.len()).sum();
        let repeated = parts.iter().enumerate().any(|(i, p)| parts[..i].iter().any(|q| q.question() == p.question()));
        if chars > MAX_CHARS || repeated {
            continue;
        }
        let answer = parts.last().map(|p| p.answer.clone()).unwrap_or_default();
        out.push(Item { messages: parts.into_iter().flat_map(|p| p.messages).collect(), answer });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{validate, Role};

    #[test]
    fn chains_end_in_the_last_pools_question_and_answer() {
        let (arith, _) = super::super::split(50, 0, 3, super::super::arithmetic::item);
        let (_, general) = super::super::general::split(20, 20, 3);
        let mut rng = SplitMix64::new(9);
        let made = chain(&[&general, &arith], &[&arith], 40, &mut rng);
        assert_eq!(made.len(), 40);
        let mut lengths = std::collections::HashSet::new();
        for item in &made {
            validate(&item.messages).unwrap();
            let users: Vec<&str> =
                item.messages.iter().filter(|m| m.role == Role::User).map(|m| m.content.as_str()).collect();
            lengths.insert(users.len());
            assert!(users.iter().enumerate().all(|(i, u)| !users[..i].contains(u)), "no question twice");
            let last = arith.iter().find(|a| a.question() == *users.last().unwrap()).expect("last from `last`");
            assert_eq!(item.answer, last.answer);
            assert!(item.messages.iter().map(|m| m.content.len()).sum::<usize>() <= MAX_CHARS);
        }
        assert_eq!(lengths, [2, 3].into());
        assert!(chain(&[], &[&arith], 5, &mut rng).is_empty());
    }
}
