//! Phase 2 of training: the BPE merge loop (Sennrich et al. 2016, byte-level as in GPT-2).
//!
//! Each distinct piece is a "word" of token ids with a count. We keep the count of every
//! adjacent pair over all words and, per pair, the words it occurs in. Each step takes the most
//! frequent pair (ties: the smaller pair, so training is deterministic), rewrites only the words
//! that contain it, and applies the +/- changes to the neighbouring pairs. A max-heap with lazy
//! refresh (stale entries are re-pushed with their current count when popped) finds the best
//! pair, as in karpathy/rustbpe; cost per merge is proportional to the words it touches.

use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

type Pair = (u32, u32);

/// The merges, in order: merge `i` creates token `256 + i` from the pair. The `forced` merges
/// come first, whatever their counts, and the words start out encoded with them (any adjacent
/// pair whose bytes make a forced token is merged, lowest first, as tiktoken encodes); the
/// rest are learned.
pub fn learn_merges(
    words: Vec<(Box<[u8]>, u64)>,
    n_merges: usize,
    forced: &[Pair],
    mut on_merge: impl FnMut(usize),
) -> Vec<Pair> {
    let mut bytes_of: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    for &(a, b) in forced {
        bytes_of.push([bytes_of[a as usize].as_slice(), bytes_of[b as usize].as_slice()].concat());
    }
    let forced_id: FxHashMap<&[u8], u32> =
        bytes_of.iter().enumerate().skip(256).map(|(i, b)| (b.as_slice(), i as u32)).collect();
    let mut ids: Vec<Vec<u32>> = Vec::with_capacity(words.len());
    let mut counts: Vec<i64> = Vec::with_capacity(words.len());
    for (bytes, count) in words {
        let mut word: Vec<u32> = bytes.iter().map(|&b| b as u32).collect();
        // Without forced merges (the usual case) the words stay bytes, with no pair looked up.
        if !forced.is_empty() {
            while let Some((at, id)) = first_forced(&word, &bytes_of, &forced_id) {
                word.splice(at..at + 2, [id]);
            }
        }
        ids.push(word);
        counts.push(count as i64);
    }
    let mut pair_counts: FxHashMap<Pair, i64> = FxHashMap::default();
    let mut where_: FxHashMap<Pair, Vec<u32>> = FxHashMap::default();
    for (w, word) in ids.iter().enumerate() {
        for p in word.windows(2) {
            let pair = (p[0], p[1]);
            *pair_counts.entry(pair).or_insert(0) += counts[w];
            let list = where_.entry(pair).or_default();
            if list.last() != Some(&(w as u32)) {
                list.push(w as u32);
            }
        }
    }
    let mut heap: BinaryHeap<(i64, Reverse<Pair>)> = pair_counts.iter().map(|(&p, &c)| (c, Reverse(p))).collect();

    let mut merges = forced.to_vec();
    let mut deltas: Vec<(Pair, i64)> = Vec::new();
    let mut new_pairs: FxHashMap<Pair, Vec<u32>> = FxHashMap::default();
    while merges.len() < n_merges {
        let Some((count, Reverse(pair))) = heap.pop() else { break };
        let current = pair_counts.get(&pair).copied().unwrap_or(0);
        if count != current {
            if current > 0 {
                heap.push((current, Reverse(pair))); // stale: refresh and retry
            }
            continue;
        }
        if count <= 0 {
            break;
        }
        let new_id = 256 + merges.len() as u32;
        merges.push(pair);
        let touched = where_.remove(&pair).unwrap_or_default();
        for &w in &touched {
            deltas.clear();
            merge_word(&mut ids[w as usize], pair, new_id, &mut deltas);
            let c = counts[w as usize];
            for &(p, d) in &deltas {
                *pair_counts.entry(p).or_insert(0) += d * c;
                if d > 0 && (p.0 == new_id || p.1 == new_id) {
                    let list = new_pairs.entry(p).or_default();
                    if list.last() != Some(&w) {
                        list.push(w);
                    }
                }
            }
        }
        pair_counts.remove(&pair);
        for (p, list) in new_pairs.drain() {
            let c = pair_counts[&p];
            if c > 0 {
                heap.push((c, Reverse(p)));
            }
            where_.insert(p, list);
        }
        on_merge(merges.len());
    }
    merges
}

/// The adjacent pair of `word` whose bytes make the lowest forced token, as (its position, the
/// token), as tiktoken's rule picks the next merge.
fn first_forced(word: &[u32], bytes_of: &[Vec<u8>], forced_id: &FxHashMap<&[u8], u32>) -> Option<(usize, u32)> {
    (0..word.len().saturating_sub(1))
        .filter_map(|i| {
            let joined = [bytes_of[word[i] as usize].as_slice(), &bytes_of[word[i + 1] as usize]].concat();
            forced_id.get(joined.as_slice()).map(|&id| (i, id))
        })
        .min_by_key(|&(_, id)| id)
}

/// Replaces each non-overlapping occurrence of `pair` (left to right) in `word` by `new_id`,
/// in place, recording the pair-count changes: (pair, +1/-1) per affected adjacency.
fn merge_word(word: &mut Vec<u32>, pair: Pair, new_id: u32, deltas: &mut Vec<(Pair, i64)>) {
    let (a, b) = pair;
    let n = word.len();
    let (mut read, mut write) = (0, 0);
    while read < n {
        if read + 1 < n && word[read] == a && word[read + 1] == b {
            if write > 0 {
                let x = word[write - 1];
                deltas.push(((x, a), -1));
                deltas.push(((x, new_id), 1));
            }
            if read + 2 < n {
                let y = word[read + 2];
                deltas.push(((b, y), -1));
                deltas.push(((new_id, y), 1));
            }
            deltas.push((pair, -1));
            word[write] = new_id;
            read += 2;
        } else {
            word[write] = word[read];
            read += 1;
        }
        write += 1;
    }
    word.truncate(write);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(word: &[u32]) -> FxHashMap<Pair, i64> {
        let mut m = FxHashMap::default();
        for p in word.windows(2) {
            *m.entry((p[0], p[1])).or_insert(0) += 1;
        }
        m
    }

    #[test]
    fn merge_word_deltas_equal_recount() {
        for word in [vec![1, 2, 1, 2], vec![1, 1, 1], vec![1, 1, 1, 1], vec![3, 1, 2, 3, 1, 2, 1], vec![2, 1]] {
            for pair in [(1, 2), (1, 1), (2, 1)] {
                let before = pairs(&word);
                let mut w = word.clone();
                let mut deltas = Vec::new();
                merge_word(&mut w, pair, 9, &mut deltas);
                let mut after = before.clone();
                for (p, d) in deltas {
                    *after.entry(p).or_insert(0) += d;
                }
                after.retain(|_, v| *v != 0);
                assert_eq!(after, pairs(&w), "word {word:?} pair {pair:?}");
            }
        }
    }

    #[test]
    fn learns_most_frequent_pairs_with_deterministic_ties() {
        let words: Vec<(Box<[u8]>, u64)> =
            vec![(b"abab".to_vec().into(), 3), (b"cd".to_vec().into(), 3), (b"ab".to_vec().into(), 1)];
        // (a,b) occurs 7 times; then (X,X) and (c,d) tie at 3 -> the smaller pair (c,d) first.
        let merges = learn_merges(words, 4, &[], |_| {});
        assert_eq!(merges[0], (97, 98));
        assert_eq!(merges[1], (99, 100));
        assert_eq!(merges[2], (256, 256));
        assert_eq!(merges.len(), 3, "no pairs left after three merges");
    }

    #[test]
    fn forced_merges_come_first_and_words_start_encoded_with_them() {
        // "12" and "123" forced: the words "123" and "312" start as one token and as "3" "12",
        // so what is learned next never rebuilds them; "ab" is learned after them.
        let words: Vec<(Box<[u8]>, u64)> =
            vec![(b"123".to_vec().into(), 5), (b"312".to_vec().into(), 4), (b"ab".to_vec().into(), 2)];
        let merges = learn_merges(words, 4, &[(49, 50), (256, 51)], |_| {});
        assert_eq!(merges, [(49, 50), (256, 51), (51, 256), (97, 98)]);
    }
}
