//! Gopher's repetition filter (Rae et al. 2021, table A1), as datatrove's
//! `GopherRepetitionFilter`: drops text whose duplicated paragraphs, lines or n-grams cover too
//! much of it. Fractions of characters are of `len(text)` in code points; comparisons are `>`.

use super::Filter;
use crate::text::py_len;
use crate::words::words;
use rustc_hash::FxHashMap;
use std::collections::HashSet;

pub struct GopherRepetition {
    pub dup_line_frac: f64,
    pub dup_para_frac: f64,
    pub dup_line_char_frac: f64,
    pub dup_para_char_frac: f64,
    /// (n, max fraction of characters in the most frequent n-gram).
    pub top_n_grams: Vec<(usize, f64)>,
    /// (n, max fraction of characters in repeated n-grams).
    pub dup_n_grams: Vec<(usize, f64)>,
}

impl Default for GopherRepetition {
    fn default() -> Self {
        GopherRepetition {
            dup_line_frac: 0.3,
            dup_para_frac: 0.3,
            dup_line_char_frac: 0.2,
            dup_para_char_frac: 0.2,
            top_n_grams: vec![(2, 0.2), (3, 0.18), (4, 0.16)],
            dup_n_grams: vec![(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)],
        }
    }
}

/// (elements seen before, their characters): repeats after the first occurrence.
pub fn find_duplicates<'a>(items: impl IntoIterator<Item = &'a str>) -> (usize, usize) {
    let mut seen = HashSet::new();
    let (mut n, mut chars) = (0, 0);
    for x in items {
        if !seen.insert(x) {
            n += 1;
            chars += py_len(x);
        }
    }
    (n, chars)
}

/// A document's words as small integers (equal words, equal ids) with their lengths in code
/// points, so that n-grams are compared and hashed as integer slices, not built as strings.
struct Interned<'a> {
    words: &'a [&'a str],
    ids: Vec<u32>,
    chars: Vec<usize>,
}

impl<'a> Interned<'a> {
    fn new(words: &'a [&'a str]) -> Interned<'a> {
        let mut table: FxHashMap<&str, u32> = FxHashMap::default();
        let ids = words.iter().map(|w| {
            let next = table.len() as u32;
            *table.entry(w).or_insert(next)
        });
        Interned { words, ids: ids.collect(), chars: words.iter().map(|w| py_len(w)).collect() }
    }
}

/// Characters of the most frequent n-gram (joined by spaces) times its count; ties go to the
/// n-gram seen first (Python's `Counter.most_common`). Words hold no spaces, so n-grams joined
/// by spaces are equal exactly when their words are.
fn top_duplicate(doc: &Interned, n: usize) -> Option<usize> {
    let mut counts: FxHashMap<&[u32], (usize, usize)> = FxHashMap::default();
    for (i, gram) in doc.ids.windows(n).enumerate() {
        counts.entry(gram).or_insert((0, i)).0 += 1;
    }
    let (_, (count, first)) = counts.into_iter().max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.1 .1.cmp(&a.1 .1)))?;
    let chars = doc.chars[first..first + n].iter().sum::<usize>() + n - 1;
    Some(chars * count)
}

/// Characters in n-grams (joined without spaces, as datatrove does: "ab c" and "a bc" are the
/// same n-gram) that repeat an earlier one, scanning greedily and jumping past each repeat.
/// The joined strings are compared by a 64-bit hash of their bytes, never built.
fn all_duplicates(doc: &Interned, n: usize) -> usize {
    use std::hash::Hasher;
    let mut seen: rustc_hash::FxHashSet<u64> = Default::default();
    let (mut repeated, mut i) = (0, 0);
    while i + n <= doc.words.len() {
        let mut h = twox_hash::XxHash64::with_seed(0);
        for w in &doc.words[i..i + n] {
            h.write(w.as_bytes());
        }
        if !seen.insert(h.finish()) {
            repeated += doc.chars[i..i + n].iter().sum::<usize>();
            i += n;
        } else {
            i += 1;
        }
    }
    repeated
}

/// Python's `re.split(r"\n{2,}", text.strip())`.
fn paragraphs(text: &str) -> Vec<&str> {
    let t = text.trim();
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = t.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' && bytes.get(i + 1) == Some(&b'\n') {
            let end = i;
            while i < bytes.len() && bytes[i] == b'\n' {
                i += 1;
            }
            out.push(&t[start..end]);
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&t[start..]);
    out
}

impl Filter for GopherRepetition {
    fn name(&self) -> &'static str {
        "gopher_repetition"
    }

    fn apply(&self, text: &mut String) -> Result<(), &'static str> {
        let text = text.as_str();
        if text.is_empty() {
            return Err("empty");
        }
        let len = py_len(text) as f64;
        let paras = paragraphs(text);
        let (n, chars) = find_duplicates(paras.iter().copied());
        if n as f64 / paras.len() as f64 > self.dup_para_frac {
            return Err("dup_para_frac");
        }
        if chars as f64 / len > self.dup_para_char_frac {
            return Err("dup_para_char_frac");
        }
        // re.split("\n+", text): runs of newlines split; only the first and last piece may be
        // empty.
        let pieces: Vec<&str> = text.split('\n').collect();
        let last = pieces.len() - 1;
        let lines: Vec<&str> =
            pieces.iter().enumerate().filter(|&(i, p)| i == 0 || i == last || !p.is_empty()).map(|(_, p)| *p).collect();
        let (n, chars) = find_duplicates(lines.iter().copied());
        if n as f64 / lines.len() as f64 > self.dup_line_frac {
            return Err("dup_line_frac");
        }
        if chars as f64 / len > self.dup_line_char_frac {
            return Err("dup_line_char_frac");
        }
        let words = words(text);
        let doc = Interned::new(&words);
        for &(n, frac) in &self.top_n_grams {
            if let Some(top) = top_duplicate(&doc, n) {
                if top as f64 / len > frac {
                    return Err(match n {
                        2 => "top_2_gram",
                        3 => "top_3_gram",
                        4 => "top_4_gram",
                        _ => "top_n_gram",
                    });
                }
            }
        }
        for &(n, frac) in &self.dup_n_grams {
            if all_duplicates(&doc, n) as f64 / len > frac {
                return Err(match n {
                    5 => "duplicated_5_n_grams",
                    6 => "duplicated_6_n_grams",
                    7 => "duplicated_7_n_grams",
                    8 => "duplicated_8_n_grams",
                    9 => "duplicated_9_n_grams",
                    10 => "duplicated_10_n_grams",
                    _ => "duplicated_n_grams",
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetition_rules() {
        let f = GopherRepetition::default();
        let check = |t: &str| f.apply(&mut t.to_string());
        let prose = "The quick brown fox jumps over the lazy dog near the river bank today. \
                     A second sentence adds different words about weather and mountains.";
        assert_eq!(check(prose), Ok(()));
        assert_eq!(check(""), Err("empty"));
        assert_eq!(check("same para\n\nsame para\n\nsame para\n\nother"), Err("dup_para_frac"));
        assert_eq!(check("line a\nline a\nline a\nline b\nline c"), Err("dup_line_frac"));
        assert_eq!(check(&"buy now ".repeat(20)), Err("top_2_gram"));
        assert_eq!(paragraphs("\n a\n\n\nb \n"), ["a", "b"]);
        assert_eq!(all_duplicates(&Interned::new(&["a", "b", "a", "b", "a", "b"]), 2), 4);
        // Joined without spaces, "ab c" repeats "a bc".
        assert_eq!(all_duplicates(&Interned::new(&["a", "bc", "ab", "c"]), 2), 3);
        // A tie goes to the n-gram seen first, as Counter.most_common.
        assert_eq!(top_duplicate(&Interned::new(&["x", "yy", "x", "yy"]), 1), Some(2));
        assert_eq!(top_duplicate(&Interned::new(&["é", "b", "é", "b", "c"]), 2), Some(6));
    }
}
