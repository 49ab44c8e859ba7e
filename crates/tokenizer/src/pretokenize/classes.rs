//! Per-code-point character classes for the hand-written pre-tokenizers.
//!
//! The tables are built from `regex-syntax`, the same Unicode data that `fancy-regex` (and so
//! tiktoken) uses for `\p{L}`, `\p{N}`, `\s` and friends, so the scanners agree with the regex
//! engine by construction rather than by a second copy of the Unicode database.

use regex_syntax::hir::{Class, HirKind};
use std::sync::OnceLock;

/// `\p{L}`: any letter.
pub const LETTER: u8 = 1;
/// `\p{N}`: any number.
pub const NUMBER: u8 = 2;
/// `\s`: Unicode `White_Space`.
pub const SPACE: u8 = 4;
/// o200k's "upper-ish" class `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
pub const UPPER: u8 = 8;
/// o200k's "lower-ish" class `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
pub const LOWER: u8 = 16;

/// Two-level lookup: `blocks[index[cp >> 8]][cp & 0xff]`; identical 256-entry blocks are shared,
/// so the whole table is a few tens of KB and stays in cache.
pub struct ClassTable {
    index: Vec<u16>,
    blocks: Vec<[u8; 256]>,
}

impl ClassTable {
    fn build() -> ClassTable {
        let mut flat = vec![0u8; 0x110000];
        let classes: [(&str, u8); 5] = [
            (r"\p{L}", LETTER),
            (r"\p{N}", NUMBER),
            (r"\s", SPACE),
            (r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", UPPER),
            (r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", LOWER),
        ];
        for (pattern, flag) in classes {
            for (start, end) in unicode_ranges(pattern) {
                for cp in start..=end {
                    flat[cp as usize] |= flag;
                }
            }
        }
        let mut index = Vec::with_capacity(0x1100);
        let mut blocks: Vec<[u8; 256]> = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for chunk in flat.chunks(256) {
            let block: [u8; 256] = chunk.try_into().expect("256-entry chunk");
            let id = *seen.entry(block).or_insert_with(|| {
                blocks.push(block);
                blocks.len() - 1
            });
            index.push(id as u16);
        }
        ClassTable { index, blocks }
    }

    /// The class flags of one code point (`cp` must be `< 0x110000`).
    #[inline(always)]
    pub fn get(&self, cp: u32) -> u8 {
        let block = self.index[(cp >> 8) as usize] as usize;
        self.blocks[block][(cp & 0xff) as usize]
    }
}

/// The inclusive code-point ranges of a Unicode character class, as regex-syntax parses it.
pub fn unicode_ranges(pattern: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::Parser::new().parse(pattern).expect("built-in class pattern parses");
    match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => {
            class.ranges().iter().map(|r| (r.start() as u32, r.end() as u32)).collect()
        }
        other => panic!("{pattern} is not a Unicode class: {other:?}"),
    }
}

/// The process-wide class table, built on first use (about a millisecond).
pub fn table() -> &'static ClassTable {
    static TABLE: OnceLock<ClassTable> = OnceLock::new();
    TABLE.get_or_init(ClassTable::build)
}

/// Case-insensitive match of `c` against the ASCII lowercase letter `lower`, with Unicode simple
/// case folding as the regex crate applies it under `(?i)`: besides the ASCII pair, `s` also
/// matches U+017F LATIN SMALL LETTER LONG S and `k` matches U+212A KELVIN SIGN.
#[inline(always)]
pub fn fold_eq(c: u32, lower: u8) -> bool {
    c | 0x20 == lower as u32 && (c as u8).is_ascii_alphabetic()
        || (lower == b's' && c == 0x17F)
        || (lower == b'k' && c == 0x212A)
}

/// Decodes the char starting at byte `i` of valid UTF-8: (code point, byte length).
#[inline(always)]
pub fn decode_at(b: &[u8], i: usize) -> (u32, usize) {
    let b0 = b[i] as u32;
    if b0 < 0x80 {
        (b0, 1)
    } else if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | (b[i + 1] as u32 & 0x3F), 2)
    } else if b0 < 0xF0 {
        let cp = ((b0 & 0x0F) << 12) | ((b[i + 1] as u32 & 0x3F) << 6) | (b[i + 2] as u32 & 0x3F);
        (cp, 3)
    } else {
        let cp = ((b0 & 0x07) << 18)
            | ((b[i + 1] as u32 & 0x3F) << 12)
            | ((b[i + 2] as u32 & 0x3F) << 6)
            | (b[i + 3] as u32 & 0x3F);
        (cp, 4)
    }
}

/// Start of the char that ends at byte `end` (exclusive) of valid UTF-8.
#[inline(always)]
pub fn prev_char_start(b: &[u8], end: usize) -> usize {
    let mut i = end - 1;
    while b[i] & 0xC0 == 0x80 {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_eq_matches_regex_case_folding_for_every_ascii_letter() {
        for lower in b'a'..=b'z' {
            let folded = unicode_ranges(&format!("(?i:{})", lower as char));
            let mut expected: Vec<u32> = folded.iter().flat_map(|&(s, e)| s..=e).collect();
            expected.sort();
            let mut ours: Vec<u32> = (0..0x110000u32).filter(|&c| fold_eq(c, lower)).collect();
            ours.sort();
            assert_eq!(ours, expected, "letter {}", lower as char);
        }
    }

    #[test]
    fn table_agrees_with_known_characters() {
        let t = table();
        assert_eq!(t.get('a' as u32), LETTER | LOWER);
        assert_eq!(t.get('Q' as u32), LETTER | UPPER);
        assert_eq!(t.get('7' as u32), NUMBER);
        assert_eq!(t.get('½' as u32), NUMBER);
        assert_eq!(t.get(' ' as u32), SPACE);
        assert_eq!(t.get(0x2028), SPACE);
        assert_eq!(t.get(0x0301), UPPER | LOWER); // combining acute accent: \p{M}
        assert_eq!(t.get('中' as u32), LETTER | UPPER | LOWER); // Lo
        assert_eq!(t.get('!' as u32), 0);
        assert_eq!(t.get(0x10FFFF), 0);
    }

    #[test]
    fn decode_and_prev_char_start_agree_with_std() {
        let s = "aé中😀";
        let b = s.as_bytes();
        let mut i = 0;
        for c in s.chars() {
            let (cp, len) = decode_at(b, i);
            assert_eq!((cp, len), (c as u32, c.len_utf8()));
            i += len;
            assert_eq!(prev_char_start(b, i), i - len);
        }
    }
}
