//! Hand-written scanner for GPT-2's split pattern (r50k_base / p50k_base), tiktoken 0.14:
//! ```text
//! '(?:[sdmt]|ll|ve|re) | ?\p{L}++ | ?\p{N}++ | ?[^\s\p{L}\p{N}]++ | \s++$ | \s+(?!\S) | \s
//! ```
//! Unlike GPT-4's, the contractions are case-sensitive and a piece takes at most one leading
//! space.

use super::classes::{decode_at, table, LETTER, NUMBER, SPACE};
use super::gpt4::{scan_class, scan_punct, scan_space, space_before_last};

/// End (exclusive) of the GPT-2 piece that starts at byte `i` of `b`.
#[inline]
pub fn next_end(b: &[u8], i: usize) -> usize {
    let t = table();
    let n = b.len();
    if b[i] == b'\'' && i + 1 < n {
        match b[i + 1] {
            b's' | b'd' | b'm' | b't' => return i + 2,
            b'l' | b'v' | b'r' if i + 2 < n => {
                let second = if b[i + 1] == b'l' { b'l' } else { b'e' };
                if b[i + 2] == second {
                    return i + 3;
                }
            }
            _ => {}
        }
    }
    let (c0, l0) = decode_at(b, i);
    let mut start = i;
    let mut class = t.get(c0);
    // ' ?' : a leading space joins a following letter, number or punctuation run.
    if c0 == ' ' as u32 && i + 1 < n {
        let (c1, _) = decode_at(b, i + 1);
        let f1 = t.get(c1);
        if f1 & SPACE == 0 {
            start = i + 1;
            class = f1;
        }
    }
    if class & LETTER != 0 {
        return scan_class(b, start, LETTER);
    }
    if class & NUMBER != 0 {
        return scan_class(b, start, NUMBER);
    }
    if class & SPACE == 0 {
        return scan_punct(b, start);
    }
    // Whitespace: \s++$ | \s+(?!\S) | \s
    let (run_end, _) = scan_space(b, i);
    if run_end == n {
        return run_end;
    }
    space_before_last(b, i, run_end).unwrap_or(i + l0)
}
