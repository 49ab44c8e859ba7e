//! The vocabulary (token bytes <-> rank) and tiktoken's byte-pair merge.
//!
//! Encoding a piece follows tiktoken exactly: if the whole piece is a token, that is the answer
//! (the vocabulary doubles as a cache); otherwise start from single bytes and repeatedly merge
//! the adjacent pair whose *concatenated bytes* have the lowest rank, leftmost on ties, until no
//! adjacent pair is a token. Short pieces use tiktoken's linear scan on a stack buffer; long
//! ones a heap, so a megabyte of `x` is O(n log n) rather than quadratic.

use crate::Error;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const NONE: u32 = u32::MAX;
/// Pieces up to this many bytes use the linear scan (tiktoken switches at 100 bytes).
const SMALL: usize = 128;
/// Pieces from this many bytes on use the backtracking encoder (linear time, but its prefix
/// trie costs ~0.1 s to build on first use); in between, the heap merge.
const LONG: usize = 4096;

/// Token bytes <-> rank, with the fast paths BPE needs.
#[derive(Clone, Debug)]
pub struct Vocab {
    encoder: FxHashMap<Box<[u8]>, u32>,
    /// `arena[offsets[r] as usize..offsets[r + 1] as usize]` are the bytes of rank `r`.
    arena: Vec<u8>,
    offsets: Vec<u32>,
    /// Rank of each single byte.
    byte_rank: [u32; 256],
    /// Rank of each two-byte token, indexed by `b0 << 8 | b1`; `NONE` where there is none.
    pair_rank: Vec<u32>,
    /// Built on the first piece of `LONG` bytes or more.
    trie: std::sync::OnceLock<crate::backtrack::PrefixTrie>,
}

impl Vocab {
    /// Builds the vocabulary. Every single byte must have a rank (byte-level BPE can then encode
    /// any input); ranks and byte strings must be unique.
    pub fn new(ranks: &[(Vec<u8>, u32)]) -> Result<Vocab, Error> {
        let max_rank = ranks.iter().map(|(_, r)| *r).max().unwrap_or(0) as usize;
        // Tables are indexed by rank: refuse ranks so sparse that a corrupt file could make us
        // allocate gigabytes (real vocabularies are dense; p50k_base has a single gap).
        if max_rank > 2 * ranks.len() + 1024 {
            return Err(Error::Invalid(format!(
                "rank {max_rank} is far above the number of tokens ({}); ranks must be nearly contiguous",
                ranks.len()
            )));
        }
        let mut spans = vec![(0u32, 0u32); max_rank + 1];
        let mut arena = Vec::new();
        let mut encoder = FxHashMap::default();
        encoder.reserve(ranks.len());
        let mut byte_rank = [NONE; 256];
        let mut pair_rank = vec![NONE; 1 << 16];
        for (bytes, rank) in ranks {
            if bytes.is_empty() {
                return Err(Error::Invalid(format!("rank {rank} has an empty token")));
            }
            if encoder.insert(bytes.clone().into_boxed_slice(), *rank).is_some() {
                return Err(Error::Invalid(format!("token of rank {rank} is listed twice")));
            }
            spans[*rank as usize] = (arena.len() as u32, bytes.len() as u32);
            arena.extend_from_slice(bytes);
            match bytes.as_slice() {
                [b] => byte_rank[*b as usize] = *rank,
                [b0, b1] => pair_rank[(*b0 as usize) << 8 | *b1 as usize] = *rank,
                _ => {}
            }
        }
        if encoder.len() != ranks.len() {
            return Err(Error::Invalid("duplicate ranks".into()));
        }
        if let Some(b) = (0..256).find(|&b| byte_rank[b] == NONE) {
            return Err(Error::Invalid(format!(
                "the vocabulary has no token for the single byte 0x{b:02x}; byte-level BPE needs all 256"
            )));
        }
        // Re-lay the arena in rank order so that `offsets` is a prefix sum.
        let mut ordered = Vec::with_capacity(arena.len());
        let mut offsets = Vec::with_capacity(spans.len() + 1);
        for &(start, len) in &spans {
            offsets.push(ordered.len() as u32);
            ordered.extend_from_slice(&arena[start as usize..(start + len) as usize]);
        }
        offsets.push(ordered.len() as u32);
        Ok(Vocab { encoder, arena: ordered, offsets, byte_rank, pair_rank, trie: std::sync::OnceLock::new() })
    }

    /// Number of rank slots: highest rank + 1 (gaps included).
    pub fn rank_slots(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.encoder.len()
    }

    /// Whether the vocabulary is empty (never true for a built vocabulary).
    pub fn is_empty(&self) -> bool {
        self.encoder.is_empty()
    }

    /// The bytes of rank `r`, if it exists.
    #[inline]
    pub fn bytes(&self, r: u32) -> Option<&[u8]> {
        let r = r as usize;
        if r + 1 >= self.offsets.len() {
            return None;
        }
        let (s, e) = (self.offsets[r] as usize, self.offsets[r + 1] as usize);
        (e > s).then(|| &self.arena[s..e])
    }

    /// The rank of a byte string, if it is a token.
    #[inline(always)]
    pub fn rank(&self, bytes: &[u8]) -> Option<u32> {
        match bytes.len() {
            1 => Some(self.byte_rank[bytes[0] as usize]),
            2 => Some(self.pair_rank[(bytes[0] as usize) << 8 | bytes[1] as usize]).filter(|&r| r != NONE),
            _ => self.encoder.get(bytes).copied(),
        }
    }

    #[inline(always)]
    fn rank_or_none(&self, bytes: &[u8]) -> u32 {
        self.rank(bytes).unwrap_or(NONE)
    }

    /// All (bytes, rank) pairs, in rank order.
    pub fn ranks(&self) -> Vec<(Vec<u8>, u32)> {
        (0..self.rank_slots() as u32).filter_map(|r| self.bytes(r).map(|b| (b.to_vec(), r))).collect()
    }

    /// Appends the tokens of one pre-tokenized piece to `out`.
    #[inline]
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        if piece.is_empty() {
            return;
        }
        if let Some(r) = self.rank(piece) {
            out.push(r);
        } else if piece.len() <= SMALL {
            self.merge_small(piece, out);
        } else if piece.len() < LONG {
            self.merge_large(piece, out);
        } else {
            match self.encode_backtrack(piece) {
                Some(ids) => out.extend(ids),
                None => self.merge_large(piece, out),
            }
        }
    }

    /// The linear-time encoder for long pieces (`backtrack.rs`); `None` if it found nothing.
    pub(crate) fn encode_backtrack(&self, piece: &[u8]) -> Option<Vec<u32>> {
        let trie = self.trie.get_or_init(|| crate::backtrack::PrefixTrie::new(self.ranks().into_iter()));
        crate::backtrack::encode(self, trie, piece)
    }

    /// BPE merges on `bytes` from single bytes, without the whole-piece lookup, into `out`.
    pub(crate) fn merge_bytes(&self, bytes: &[u8], out: &mut Vec<u32>) {
        out.clear();
        if bytes.len() <= SMALL {
            self.merge_small(bytes, out);
        } else {
            self.merge_large(bytes, out);
        }
    }

    /// tiktoken's `_byte_pair_merge` on a stack buffer sized for the piece.
    fn merge_small(&self, piece: &[u8], out: &mut Vec<u32>) {
        if piece.len() < 24 {
            self.merge_small_n::<24>(piece, out)
        } else {
            self.merge_small_n::<{ SMALL + 1 }>(piece, out)
        }
    }

    /// `parts[i] = (start, rank of parts i and i+1 merged)`; `N` > `piece.len()`.
    fn merge_small_n<const N: usize>(&self, piece: &[u8], out: &mut Vec<u32>) {
        let mut parts = [(0u32, NONE); N];
        let mut len = piece.len() + 1;
        for (i, part) in parts.iter_mut().enumerate().take(len) {
            part.0 = i as u32;
        }
        for i in 0..piece.len() - 1 {
            parts[i].1 = self.pair_rank[(piece[i] as usize) << 8 | piece[i + 1] as usize];
        }
        // Rank of parts i..i+2 merged, i.e. bytes from parts[i] to parts[i + 3].
        let span_rank = |parts: &[(u32, u32)], len: usize, i: usize| {
            if i + 3 < len {
                self.rank_or_none(&piece[parts[i].0 as usize..parts[i + 3].0 as usize])
            } else {
                NONE
            }
        };
        loop {
            let mut min = (NONE, 0);
            for (i, &(_, rank)) in parts[..len - 1].iter().enumerate() {
                if rank < min.0 {
                    min = (rank, i);
                }
            }
            if min.0 == NONE {
                break;
            }
            let i = min.1;
            parts[i].1 = span_rank(&parts, len, i);
            if i > 0 {
                parts[i - 1].1 = span_rank(&parts, len, i - 1);
            }
            parts.copy_within(i + 2..len, i + 1);
            len -= 1;
        }
        for w in parts[..len].windows(2) {
            out.push(self.rank_or_none(&piece[w[0].0 as usize..w[1].0 as usize]));
        }
    }

    /// The same merge order with a min-heap keyed by `rank << 32 | start` (so ties go to the
    /// leftmost pair) over a linked list of parts; stale heap entries are skipped when popped.
    fn merge_large(&self, piece: &[u8], out: &mut Vec<u32>) {
        let n = piece.len();
        // Part i starts at byte i until merged away; `rank` is that of part i merged with the
        // next part (NONE if not a token, DEAD once part i has been merged into its left one).
        #[derive(Clone, Copy)]
        struct Part {
            prev: u32,
            next: u32,
            rank: u32,
        }
        const DEAD: u32 = u32::MAX - 1;
        let mut parts: Vec<Part> =
            (0..n).map(|i| Part { prev: (i as u32).wrapping_sub(1), next: i as u32 + 1, rank: NONE }).collect();
        let mut heap: BinaryHeap<Reverse<u64>> = BinaryHeap::with_capacity(n);
        let key = |rank: u32, i: usize| Reverse((rank as u64) << 32 | i as u64);
        for i in 0..n - 1 {
            let rank = self.pair_rank[(piece[i] as usize) << 8 | piece[i + 1] as usize];
            parts[i].rank = rank;
            if rank != NONE {
                heap.push(key(rank, i));
            }
        }
        // Rank of part i merged with its successor: bytes from i to the end of next(i).
        let pair_rank = |parts: &[Part], i: usize| {
            let j = parts[i].next as usize;
            if j >= n {
                NONE
            } else {
                self.rank_or_none(&piece[i..parts[j].next as usize])
            }
        };
        while let Some(Reverse(k)) = heap.pop() {
            let (rank, i) = ((k >> 32) as u32, (k & 0xffff_ffff) as usize);
            if parts[i].rank != rank {
                continue; // stale entry (or a dead part)
            }
            let j = parts[i].next as usize;
            let after = parts[j].next;
            parts[j].rank = DEAD;
            parts[i].next = after;
            if (after as usize) < n {
                parts[after as usize].prev = i as u32;
            }
            parts[i].rank = pair_rank(&parts, i);
            if parts[i].rank != NONE {
                heap.push(key(parts[i].rank, i));
            }
            let p = parts[i].prev;
            if p != u32::MAX {
                let p = p as usize;
                parts[p].rank = pair_rank(&parts, p);
                if parts[p].rank != NONE {
                    heap.push(key(parts[p].rank, p));
                }
            }
        }
        let mut i = 0;
        while i < n {
            let e = parts[i].next as usize;
            out.push(self.rank_or_none(&piece[i..e]));
            i = e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Vocab {
        let mut ranks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        for (i, t) in ["ab", "cd", "abcd", "aa", "aaaa", "bc"].iter().enumerate() {
            ranks.push((t.as_bytes().to_vec(), 256 + i as u32));
        }
        Vocab::new(&ranks).unwrap()
    }

    fn both(v: &Vocab, piece: &[u8]) -> (Vec<u32>, Vec<u32>) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        v.merge_small(piece, &mut a);
        v.merge_large(piece, &mut b);
        (a, b)
    }

    #[test]
    fn merges_lowest_rank_first_leftmost_on_ties() {
        let v = toy();
        // "abcd": ab(256) before bc(261), then cd(257), then abcd(258).
        assert_eq!(both(&v, b"abcd"), (vec![258], vec![258]));
        // "aaaaa": aa at 0 (leftmost), aa at 2, then aaaa; the last a stays.
        assert_eq!(both(&v, b"aaaaa"), (vec![260, 97], vec![260, 97]));
        assert_eq!(both(&v, b"xbcx"), (vec![120, 261, 120], vec![120, 261, 120]));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// The heap merge (long pieces) and tiktoken's linear merge (short ones) agree on a real
        /// vocabulary, on text built to need many merges.
        #[test]
        fn heap_merge_equals_linear_merge(piece in "[a-c x_\\-]{2,128}|(the|ing| of|ion|\\.\\.){1,30}") {
            static CL100K: std::sync::OnceLock<crate::Tokenizer> = std::sync::OnceLock::new();
            let v = CL100K.get_or_init(|| crate::pretrained::load("cl100k_base").unwrap()).vocab();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            v.merge_small(piece.as_bytes(), &mut a);
            v.merge_large(piece.as_bytes(), &mut b);
            proptest::prop_assert_eq!(&a, &b);
            proptest::prop_assert_eq!(v.encode_backtrack(piece.as_bytes()), Some(a));
        }

        /// The same on the other encodings and longer, repetitive pieces.
        #[test]
        fn backtracking_equals_heap_merge(piece in "([a-d ]{1,3}|x{1,9}|[0-9]{1,4}|__|==){1,200}", which in 0usize..3) {
            static TOKS: std::sync::OnceLock<Vec<crate::Tokenizer>> = std::sync::OnceLock::new();
            let toks = TOKS.get_or_init(|| crate::pretrained::NAMES.iter().map(|n| crate::pretrained::load(n).unwrap()).collect());
            let v = toks[which].vocab();
            let mut heap = Vec::new();
            v.merge_large(piece.as_bytes(), &mut heap);
            proptest::prop_assert_eq!(v.encode_backtrack(piece.as_bytes()), Some(heap));
        }
    }

    #[test]
    fn backtracking_equals_heap_merge_on_megabyte_pieces() {
        let tok = crate::pretrained::load("o200k_base").unwrap();
        let mut seed = 12345u64;
        let mut random = |alphabet: &[u8]| -> u8 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            alphabet[(seed >> 33) as usize % alphabet.len()]
        };
        let letters: Vec<u8> = (0..1 << 18).map(|_| random(b"abcdefghijklmnopqrstuvwxyz")).collect();
        let digits: Vec<u8> = (0..1 << 18).map(|_| random(b"0123456789+/=")).collect();
        for piece in [vec![b'x'; 1 << 20], b"ab".repeat(1 << 17), letters, digits] {
            let mut heap = Vec::new();
            tok.vocab().merge_large(&piece, &mut heap);
            assert_eq!(tok.vocab().encode_backtrack(&piece), Some(heap));
        }
    }

    #[test]
    fn rejects_sparse_ranks() {
        let mut ranks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        ranks.push((b"ab".to_vec(), 4_000_000_000));
        assert!(Vocab::new(&ranks).unwrap_err().to_string().contains("nearly contiguous"));
    }

    #[test]
    fn rejects_vocab_without_all_bytes() {
        let ranks: Vec<(Vec<u8>, u32)> = (0..=254u8).map(|b| (vec![b], b as u32)).collect();
        assert!(Vocab::new(&ranks).unwrap_err().to_string().contains("0xff"));
    }
}
