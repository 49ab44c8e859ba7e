//! Hand-written scanner for o200k_base's split pattern (GPT-4o), tiktoken 0.14:
//! ```text
//! [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! | [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! | \p{N}{1,3} | ?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
//! ```
//! The first two alternatives backtrack (the "upper" and "lower" classes overlap on Lm, Lo and
//! M), so they are written as the regex engine would explore them: optional prefix taken first,
//! then greedy runs, giving back characters only when the rest cannot match.

use super::classes::{decode_at, fold_eq, table, LETTER, LOWER, NUMBER, UPPER};
use super::gpt4::{scan_class, scan_numbers, scan_space, space_before_last, space_then_punct};

/// End (exclusive) of the o200k piece that starts at byte `i` of `b`.
#[inline]
pub fn next_end(b: &[u8], i: usize) -> usize {
    let t = table();
    let n = b.len();
    let (c0, l0) = decode_at(b, i);
    let f0 = t.get(c0);
    let after0 = i + l0;
    // [^\r\n\p{L}\p{N}]? — may the first char serve as the optional prefix?
    let prefix = c0 != '\r' as u32 && c0 != '\n' as u32 && f0 & (LETTER | NUMBER) == 0;

    // Alternative 1: prefix? upper* lower+ contraction?
    if prefix && after0 < n {
        if let Some(end) = upper_star_lower_plus(b, after0) {
            return contraction(b, end);
        }
    }
    if let Some(end) = upper_star_lower_plus(b, i) {
        return contraction(b, end);
    }
    // Alternative 2: prefix? upper+ lower* contraction?
    if prefix && after0 < n {
        let end = scan_class(b, after0, UPPER);
        if end > after0 {
            return contraction(b, scan_class(b, end, LOWER));
        }
    }
    let end = scan_class(b, i, UPPER);
    if end > i {
        return contraction(b, scan_class(b, end, LOWER));
    }
    // \p{N}{1,3}
    if f0 & NUMBER != 0 {
        return scan_numbers(b, after0, 2);
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
    if let Some(end) = space_then_punct(b, i, c0, f0, after0) {
        return scan_newlines_slashes(b, end);
    }
    // Whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+
    let (run_end, last_newline_end) = scan_space(b, i);
    if let Some(end) = last_newline_end {
        return end;
    }
    if run_end == n {
        return run_end;
    }
    space_before_last(b, i, run_end).unwrap_or(run_end)
}

/// `[upper]*[lower]+` from `s` with the regex engine's backtracking: the greedy upper run, then
/// a lower run after it; failing that, the last lower-class char inside the upper run.
#[inline]
fn upper_star_lower_plus(b: &[u8], s: usize) -> Option<usize> {
    let t = table();
    let mut j = s;
    let mut last_lower_end = None;
    while j < b.len() {
        let (c, l) = decode_at(b, j);
        let f = t.get(c);
        if f & UPPER == 0 {
            if f & LOWER != 0 {
                return Some(scan_class(b, j + l, LOWER));
            }
            break;
        }
        j += l;
        if f & LOWER != 0 {
            last_lower_end = Some(j);
        }
    }
    last_lower_end
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)?` at `j`.
#[inline]
fn contraction(b: &[u8], j: usize) -> usize {
    if j + 1 >= b.len() || b[j] != b'\'' {
        return j;
    }
    let (c1, l1) = decode_at(b, j + 1);
    if fold_eq(c1, b's') || fold_eq(c1, b't') || fold_eq(c1, b'm') || fold_eq(c1, b'd') {
        return j + 1 + l1;
    }
    if j + 1 + l1 < b.len() {
        let (c2, l2) = decode_at(b, j + 1 + l1);
        let pair = |x, y| fold_eq(c1, x) && fold_eq(c2, y);
        if pair(b'r', b'e') || pair(b'v', b'e') || pair(b'l', b'l') {
            return j + 1 + l1 + l2;
        }
    }
    j
}

/// Extends from `j` over `[\r\n/]*`.
#[inline(always)]
fn scan_newlines_slashes(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && matches!(b[j], b'\r' | b'\n' | b'/') {
        j += 1;
    }
    j
}
