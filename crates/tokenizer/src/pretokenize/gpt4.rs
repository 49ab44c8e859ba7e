//! Hand-written scanner for GPT-4's (cl100k_base) split pattern and nanochat's variant of it.
//!
//! cl100k, as tiktoken 0.14 writes it (alternatives tried left to right, first match wins):
//! ```text
//! '(?i:[sdmt]|ll|ve|re) | [^\r\n\p{L}\p{N}]?+\p{L}++ | \p{N}{1,3}+ | ?[^\s\p{L}\p{N}]++[\r\n]*+
//! | \s++$ | \s*[\r\n] | \s+(?!\S) | \s
//! ```
//! nanochat (`nanochat/tokenizer.py`) keeps the same shape with `\p{N}{1,2}`, no `\s++$`
//! alternative and a final `\s+`. Each branch below is one alternative; the property tests in
//! `tests/pretokenize.rs` prove the scanner equal to fancy-regex on random and real text.

use super::classes::{decode_at, fold_eq, prev_char_start, table, LETTER, NUMBER, SPACE};

/// Which member of the GPT-4 family to scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gpt4Scanner {
    /// 3 for cl100k, 2 for nanochat.
    pub max_digits: usize,
    /// cl100k has `\s++$` and ends in `\s`; nanochat has neither and ends in `\s+`.
    pub cl100k_tail: bool,
}

impl Gpt4Scanner {
    pub const CL100K: Gpt4Scanner = Gpt4Scanner { max_digits: 3, cl100k_tail: true };
    pub const NANOCHAT: Gpt4Scanner = Gpt4Scanner { max_digits: 2, cl100k_tail: false };

    /// End (exclusive) of the piece that starts at byte `i` of `b` (valid UTF-8, `i < b.len()`).
    #[inline]
    pub fn next_end(&self, b: &[u8], i: usize) -> usize {
        let t = table();
        let n = b.len();
        let (c0, l0) = decode_at(b, i);
        let f0 = t.get(c0);

        // '(?i:[sdmt]|ll|ve|re)
        if c0 == '\'' as u32 && i + 1 < n {
            if let Some(end) = contraction(b, i + 1) {
                return end;
            }
        }
        // [^\r\n\p{L}\p{N}]?+\p{L}++
        if f0 & LETTER != 0 {
            return scan_class(b, i + l0, LETTER);
        }
        let after0 = i + l0;
        if c0 != '\r' as u32 && c0 != '\n' as u32 && f0 & NUMBER == 0 && after0 < n {
            let (c1, l1) = decode_at(b, after0);
            if t.get(c1) & LETTER != 0 {
                return scan_class(b, after0 + l1, LETTER);
            }
        }
        // \p{N}{1,k}+
        if f0 & NUMBER != 0 {
            return scan_numbers(b, after0, self.max_digits - 1);
        }
        // ' ?[^\s\p{L}\p{N}]++[\r\n]*+'
        if let Some(end) = space_then_punct(b, i, c0, f0, after0) {
            return scan_newlines(b, end);
        }
        // c0 is whitespace: the remaining alternatives look at the whole whitespace run.
        let (run_end, last_newline_end) = scan_space(b, i);
        if self.cl100k_tail && run_end == n {
            return run_end; // \s++$
        }
        if let Some(end) = last_newline_end {
            return end; // \s*[\r\n]
        }
        if run_end == n {
            return run_end; // nanochat: \s+(?!\S) at the end of the text
        }
        // \s+(?!\S) leaves the last space for the next piece; else \s (cl100k) or \s+
        // (nanochat), both one char here.
        space_before_last(b, i, run_end).unwrap_or(i + l0)
    }
}

/// `(?i:[sdmt]|ll|ve|re)` at byte `i` (just after the apostrophe): the end of the match.
#[inline]
fn contraction(b: &[u8], i: usize) -> Option<usize> {
    let (c1, l1) = decode_at(b, i);
    if fold_eq(c1, b's') || fold_eq(c1, b'd') || fold_eq(c1, b'm') || fold_eq(c1, b't') {
        return Some(i + l1);
    }
    if i + l1 >= b.len() {
        return None;
    }
    let (c2, l2) = decode_at(b, i + l1);
    let pair = |x, y| fold_eq(c1, x) && fold_eq(c2, y);
    (pair(b'l', b'l') || pair(b'v', b'e') || pair(b'r', b'e')).then_some(i + l1 + l2)
}

/// Extends from `j` over chars whose flags intersect `class`.
#[inline(always)]
pub(super) fn scan_class(b: &[u8], mut j: usize, class: u8) -> usize {
    let t = table();
    while j < b.len() {
        let byte = b[j];
        if byte < 0x80 {
            if t.get(byte as u32) & class == 0 {
                break;
            }
            j += 1;
        } else {
            let (c, l) = decode_at(b, j);
            if t.get(c) & class == 0 {
                break;
            }
            j += l;
        }
    }
    j
}

/// `\p{N}{1,k}` after the first digit (ending at `j`): up to `more` further number chars.
#[inline(always)]
pub(super) fn scan_numbers(b: &[u8], mut j: usize, more: usize) -> usize {
    let t = table();
    for _ in 0..more {
        if j >= b.len() {
            break;
        }
        let (c, l) = decode_at(b, j);
        if t.get(c) & NUMBER == 0 {
            break;
        }
        j += l;
    }
    j
}

/// ` ?[^\s\p{L}\p{N}]+` at `i` (first char `c0` with flags `f0`, ending at `after0`): the end
/// of the punctuation run, if the piece is one.
#[inline(always)]
pub(super) fn space_then_punct(b: &[u8], i: usize, c0: u32, f0: u8, after0: usize) -> Option<usize> {
    if c0 == ' ' as u32 && after0 < b.len() {
        let (c1, l1) = decode_at(b, after0);
        if table().get(c1) & (SPACE | LETTER | NUMBER) == 0 {
            return Some(scan_punct(b, after0 + l1));
        }
    }
    (f0 & SPACE == 0).then(|| scan_punct(b, i))
}

/// `\s+(?!\S)` for a whitespace run `[i, run_end)` followed by a non-space: all but its last
/// char, if that leaves at least one.
#[inline(always)]
pub(super) fn space_before_last(b: &[u8], i: usize, run_end: usize) -> Option<usize> {
    let before_last = prev_char_start(b, run_end);
    (before_last > i).then_some(before_last)
}

/// Extends from `j` over `[^\s\p{L}\p{N}]`.
#[inline(always)]
pub(super) fn scan_punct(b: &[u8], mut j: usize) -> usize {
    let t = table();
    while j < b.len() {
        let (c, l) = decode_at(b, j);
        if t.get(c) & (SPACE | LETTER | NUMBER) != 0 {
            break;
        }
        j += l;
    }
    j
}

/// Extends from `j` over `[\r\n]*`.
#[inline(always)]
fn scan_newlines(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && (b[j] == b'\r' || b[j] == b'\n') {
        j += 1;
    }
    j
}

/// The whitespace run starting at `i`: its end, and the end of its last `\r` or `\n` if any.
#[inline(always)]
pub(super) fn scan_space(b: &[u8], mut j: usize) -> (usize, Option<usize>) {
    let t = table();
    let mut last_newline_end = None;
    while j < b.len() {
        let (c, l) = decode_at(b, j);
        if t.get(c) & SPACE == 0 {
            break;
        }
        j += l;
        if c == '\n' as u32 || c == '\r' as u32 {
            last_newline_end = Some(j);
        }
    }
    (j, last_newline_end)
}
