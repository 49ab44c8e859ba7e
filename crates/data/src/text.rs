//! Text helpers the filters share, with Python's semantics where datatrove's decisions depend
//! on them: lengths in characters (code points), `str.splitlines`, and datatrove 0.10.1's two
//! punctuation sets (`utils/text.py`).

use std::sync::OnceLock;

/// Python's `len(s)`: code points.
pub fn py_len(s: &str) -> usize {
    s.chars().count()
}

/// Python's `str.splitlines()`: splits at \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, U+2028 and
/// U+2029; no empty last line for a trailing break.
pub fn splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let brk =
            matches!(c, '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}');
        if brk {
            lines.push(&s[start..i]);
            let mut next = i + c.len_utf8();
            if c == '\r' && chars.peek().is_some_and(|&(_, n)| n == '\n') {
                chars.next();
                next += 1;
            }
            start = next;
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// datatrove's `TERMINAL_PUNCTUATION` (159 characters): Unicode's Sentence_Terminal property
/// (read from regex-syntax's tables) as of an older Unicode version, plus three Khmer signs.
/// (Not the Terminal_Punctuation property, which also holds `,` `:` `;`.)
pub fn is_terminal_punctuation(c: char) -> bool {
    /// In datatrove's set but not Sentence_Terminal.
    const EXTRA: [char; 3] = ['\u{17d6}', '\u{17d9}', '\u{17da}'];
    /// Sentence_Terminal in newer Unicode than datatrove's set.
    const NEWER: [u32; 16] = [
        0x1b4e, 0x1b4f, 0x1b7f, 0x2024, 0x2cf9, 0x2cfa, 0x2cfb, 0x2e60, 0x2e61, 0xfe12, 0xfe15, 0xfe16, 0x113d4,
        0x113d5, 0x16d6e, 0x16d6f,
    ];
    static RANGES: OnceLock<Vec<(char, char)>> = OnceLock::new();
    let ranges = RANGES.get_or_init(|| {
        let hir = regex_syntax::parse(r"\p{Sentence_Terminal}").expect("a known Unicode property");
        match hir.kind() {
            regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(cls)) => {
                cls.ranges().iter().map(|r| (r.start(), r.end())).collect()
            }
            _ => unreachable!("a property parses to a Unicode class"),
        }
    });
    let in_class = ranges
        .binary_search_by(|&(lo, hi)| {
            if c < lo {
                std::cmp::Ordering::Greater
            } else if c > hi {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok();
    (in_class && !NEWER.contains(&(c as u32))) || EXTRA.contains(&c)
}

/// Non-ASCII marks of datatrove's `PUNCTUATION` string (besides ASCII punctuation and control
/// characters).
const OTHER_PUNCTUATION: &str = "—”％１〈、━【「」，】；“《„’∶´．（–？！：～«〉》）。…►»";

/// datatrove's `PUNCTUATION` string: ASCII punctuation, the marks above, and the C0 and C1
/// control characters except tab and line feed (what `simplify_text` turns into spaces).
pub fn in_punctuation_string(c: char) -> bool {
    c.is_ascii_punctuation() || matches!(c as u32, 0..=8 | 11..=31 | 127..=159) || OTHER_PUNCTUATION.contains(c)
}

/// datatrove's `PUNCTUATION_SET`: the string above and the terminal punctuation. A word made
/// only of these is a "symbol word" to Gopher's quality filter.
pub fn is_punctuation(c: char) -> bool {
    in_punctuation_string(c) || is_terminal_punctuation(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_semantics() {
        assert_eq!(splitlines("a\nb\r\nc\rd\u{2028}e\n"), ["a", "b", "c", "d", "e"]);
        assert_eq!(splitlines("a\n\nb"), ["a", "", "b"]);
        assert_eq!(splitlines(""), Vec::<&str>::new());
        assert_eq!(py_len("naïve…"), 6);
        for c in ['.', '!', '?', '。', '؟', '।'] {
            assert!(is_terminal_punctuation(c), "{c}");
        }
        for c in ['a', '"', '\'', ')', '…', ',', ':', ';'] {
            assert!(!is_terminal_punctuation(c), "{c}");
        }
        let all = (0..0x11_0000u32).filter_map(char::from_u32).filter(|&c| is_terminal_punctuation(c)).count();
        assert_eq!(all, 159);
        assert!(is_punctuation('…') && is_punctuation('#') && is_punctuation('\x00') && is_punctuation('。'));
        assert!(!is_punctuation('a') && !is_punctuation('\n') && !is_punctuation('\t') && !is_punctuation('é'));
    }
}
