//! MinHash near-duplicate detection with datatrove's FineWeb parameters: word 5-grams of the
//! simplified text (`simplify`), hashed with xxHash64 (datatrove 0.10.1's default hash), 112
//! permutations `(a h + b) mod (2^61 - 1)` split into 14 bands of 8. Two documents are
//! candidates when any band's 8 minima are equal: with Jaccard similarity s that happens with
//! probability 1 - (1 - s^8)^14 (0.92 at s = 0.8, 0.05 at s = 0.5).
//!
//! The permutation parameters come from a seeded SplitMix64, not numpy's RandomState, and the
//! products are exact (datatrove's numpy uint64 products wrap before the modulo), so signatures
//! are not bit-identical to datatrove's; the candidate statistics are the same.

use crate::text::in_punctuation_string;
use crate::words::words;
use regex::Regex;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

pub const N_GRAMS: usize = 5;
pub const BANDS: usize = 14;
pub const ROWS: usize = 8;
const PRIME: u64 = (1 << 61) - 1;

/// datatrove's `simplify_text`: lowercase, numbers to "0", punctuation to spaces, whitespace
/// collapsed, accents removed (NFD without combining marks).
pub fn simplify(text: &str) -> String {
    static NUMBERS: OnceLock<Regex> = OnceLock::new();
    let numbers = NUMBERS.get_or_init(|| Regex::new(r"\p{Nd}+(?:[.,،٫⎖⎗⎘]\p{Nd}+)?").expect("valid pattern"));
    let lower = text.to_lowercase();
    let numbered = numbers.replace_all(&lower, "0");
    let spaced: String = numbered.chars().map(|c| if in_punctuation_string(c) { ' ' } else { c }).collect();
    let collapsed = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .nfd()
        .filter(|&c| !unicode_normalization::char::is_combining_mark(c))
        .collect::<String>()
        .trim()
        .to_string()
}

/// The permutations' parameters (a in [1, p), b in [0, p)), from `seed`.
pub struct MinHash {
    a: Vec<u64>,
    b: Vec<u64>,
}

impl MinHash {
    pub fn new(seed: u64) -> MinHash {
        let mut state = seed;
        let mut next = || {
            // SplitMix64 (Steele et al. 2014).
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let n = BANDS * ROWS;
        let a = (0..n).map(|_| 1 + next() % (PRIME - 1)).collect();
        let b = (0..n).map(|_| next() % PRIME).collect();
        MinHash { a, b }
    }

    /// The hashed word 5-grams of `text` (none if it has fewer than 5 words).
    pub fn shingles(text: &str) -> Vec<u64> {
        let simple = simplify(text);
        let w = words(&simple);
        w.windows(N_GRAMS).map(|g| twox_hash::XxHash64::oneshot(0, g.join(" ").as_bytes())).collect()
    }

    /// One 64-bit key per band (a hash of its 8 minima), or None without shingles.
    pub fn band_keys(&self, text: &str) -> Option<[u64; BANDS]> {
        let shingles = Self::shingles(text);
        if shingles.is_empty() {
            return None;
        }
        let mut mins = [u64::MAX; BANDS * ROWS];
        for &h in &shingles {
            let h = h % PRIME;
            for (m, (&a, &b)) in mins.iter_mut().zip(self.a.iter().zip(&self.b)) {
                let v = ((a as u128 * h as u128 + b as u128) % PRIME as u128) as u64;
                *m = (*m).min(v);
            }
        }
        let mut keys = [0u64; BANDS];
        for (k, band) in keys.iter_mut().zip(mins.chunks_exact(ROWS)) {
            let bytes: Vec<u8> = band.iter().flat_map(|v| v.to_le_bytes()).collect();
            *k = twox_hash::XxHash64::oneshot(1, &bytes);
        }
        Some(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplify_as_datatrove() {
        assert_eq!(
            simplify("Héllo,  WORLD!\n3.14 and 1,000 — café"),
            "hello world 0 and 0 café".replace("é", "e").as_str()
        );
    }

    #[test]
    fn near_duplicates_share_a_band_and_others_do_not() {
        let m = MinHash::new(1);
        // Numbers all simplify to "0", so the test words are made of letters.
        let word = |n: usize| -> String {
            format!("{}{} ", (b'a' + (n % 26) as u8) as char, (b'a' + (n / 26 % 26) as u8) as char)
        };
        let base: String = (0..300).map(|i| word(i * 7919 % 676)).collect();
        let near = format!("changed {}", &base[3..]);
        let other: String = (0..300).map(|i| word(i * 104_729 % 673 + 3)).collect();
        let (k1, k2, k3) = (m.band_keys(&base).unwrap(), m.band_keys(&near).unwrap(), m.band_keys(&other).unwrap());
        assert!(k1.iter().zip(&k2).any(|(a, b)| a == b));
        assert!(k1.iter().zip(&k3).all(|(a, b)| a != b));
        assert_eq!(m.band_keys("too short"), None);
        // Same seed, same keys.
        assert_eq!(MinHash::new(1).band_keys(&base), Some(k1));
    }
}
