//! Linear-time BPE for long pieces (a megabyte of `x`, base64 blobs, minified code).
//!
//! The idea comes from github/rust-gems' `bpe` crate (its README states and argues it): the
//! tiktoken encoding of a piece is the one tokenization in which every token, and every pair of
//! adjacent tokens, encodes to itself when encoded alone ("compatible"). Such a tokenization is
//! found left to right by taking the longest token that is compatible with the previous one,
//! stepping down to shorter tokens and backtracking when stuck; positions from which no
//! continuation exists are remembered so that no work is repeated. Compatibility is checked with
//! the ordinary merge on the (short) concatenation and cached per call.
//!
//! If the search ever fails, the caller falls back to the heap merge, so the output is exact in
//! any case; `bpe.rs` property tests compare both on a real vocabulary.

use crate::bpe::Vocab;
use rustc_hash::FxHashMap;

/// A byte trie over all tokens: enumerates the tokens that are prefixes of a text.
#[derive(Clone, Debug, Default)]
pub struct PrefixTrie {
    /// (node << 8 | byte) -> child node; node 0 is the root.
    edges: FxHashMap<u64, u32>,
    /// The rank of the token that ends at each node, or `u32::MAX`.
    rank: Vec<u32>,
}

impl PrefixTrie {
    pub fn new(ranks: impl Iterator<Item = (Vec<u8>, u32)>) -> PrefixTrie {
        let mut trie = PrefixTrie { edges: FxHashMap::default(), rank: vec![u32::MAX] };
        for (bytes, rank) in ranks {
            let mut node = 0u32;
            for &b in &bytes {
                let next = trie.rank.len() as u32;
                node = *trie.edges.entry((node as u64) << 8 | b as u64).or_insert_with(|| next);
                if node == next {
                    trie.rank.push(u32::MAX);
                }
            }
            trie.rank[node as usize] = rank;
        }
        trie
    }

    /// Calls `f(len, rank)` for each token that is a prefix of `text`, shortest first.
    #[inline]
    fn prefixes(&self, text: &[u8], out: &mut Vec<(u32, u32)>) {
        out.clear();
        let mut node = 0u32;
        for (i, &b) in text.iter().enumerate() {
            match self.edges.get(&((node as u64) << 8 | b as u64)) {
                Some(&child) => node = child,
                None => break,
            }
            if self.rank[node as usize] != u32::MAX {
                out.push((i as u32 + 1, self.rank[node as usize]));
            }
        }
    }
}

/// Encodes `piece` by backtracking; `None` if no compatible tokenization was found.
pub fn encode(vocab: &Vocab, trie: &PrefixTrie, piece: &[u8]) -> Option<Vec<u32>> {
    let n = piece.len();
    let mut dead = vec![false; n + 1];
    let mut stack: Vec<(u32, u32, u32)> = Vec::with_capacity(n / 3); // (start, token, len)
    let mut pos = 0usize;
    let mut below = u32::MAX; // when retrying a position, only tokens shorter than this
    let mut cands = Vec::with_capacity(16);
    let mut checks =
        Checks { vocab, single: FxHashMap::default(), pair: FxHashMap::default(), buf: Vec::new(), ids: Vec::new() };
    while pos < n {
        trie.prefixes(&piece[pos..], &mut cands);
        let prev = stack.last().map(|&(_, t, _)| t);
        let chosen = cands.iter().rev().copied().find(|&(len, tok)| {
            len < below && !dead[pos + len as usize] && checks.single(tok) && prev.is_none_or(|p| checks.pair(p, tok))
        });
        match chosen {
            Some((len, tok)) => {
                stack.push((pos as u32, tok, len));
                pos += len as usize;
                below = u32::MAX;
            }
            None => {
                dead[pos] = true;
                let (start, _, len) = stack.pop()?;
                pos = start as usize;
                below = len;
            }
        }
    }
    Some(stack.into_iter().map(|(_, t, _)| t).collect())
}

/// Cached compatibility checks: does this token / pair of tokens encode to itself?
struct Checks<'v> {
    vocab: &'v Vocab,
    single: FxHashMap<u32, bool>,
    pair: FxHashMap<(u32, u32), bool>,
    buf: Vec<u8>,
    ids: Vec<u32>,
}

impl Checks<'_> {
    fn single(&mut self, tok: u32) -> bool {
        if let Some(&ok) = self.single.get(&tok) {
            return ok;
        }
        let bytes = self.vocab.bytes(tok).unwrap_or_default();
        self.vocab.merge_bytes(bytes, &mut self.ids);
        let ok = self.ids == [tok];
        self.single.insert(tok, ok);
        ok
    }

    fn pair(&mut self, a: u32, b: u32) -> bool {
        if let Some(&ok) = self.pair.get(&(a, b)) {
            return ok;
        }
        self.buf.clear();
        self.buf.extend_from_slice(self.vocab.bytes(a).unwrap_or_default());
        self.buf.extend_from_slice(self.vocab.bytes(b).unwrap_or_default());
        self.vocab.merge_bytes(&self.buf, &mut self.ids);
        let ok = self.ids == [a, b];
        self.pair.insert((a, b), ok);
        ok
    }
}
