//! Words and sentences as datatrove 0.10.1 splits English text: spaCy's `blank("en")`
//! tokenizer (whitespace tokens dropped) and its `sentencizer`. This is a re-implementation of
//! spaCy's English rules in its order, not a port: whitespace split; a chunk that is one of
//! spaCy's special cases (`words/spacy_en_exceptions.tsv`: contractions such as `don't` -> `do`
//! `n't`, abbreviations, emoticons; made by `scripts/make_spacy_exceptions.py`) takes its
//! pieces; else, repeatedly, a prefix (opening punctuation, quotes, currency) and a suffix
//! (closing punctuation, quotes, `'s`, a period after a lowercase letter, digit or punctuation,
//! or after two capitals) are split off, until what is left is a special case; what is left
//! is kept whole if it is a URL (spaCy's URL pattern, which also matches dotted names such as
//! `os.path.join`), else split at infixes (`...`, hyphens and `:<>=/` between letters, commas
//! between letters, `.` between a lowercase and an uppercase letter, `+-*^` between digits).
//! Last, adjacent tokens that together make a special case with punctuation in it (`):`,
//! `and/or`) are merged, as spaCy 3's special-case matcher does. Agreement with spaCy is
//! measured by `crates/data/tests/filters.rs` (docs/data.md).

use std::collections::HashMap;
use std::sync::LazyLock;

/// spaCy's special cases: text -> its pieces (slices of the text, in order).
static SPECIALS: LazyLock<HashMap<&'static str, Vec<&'static str>>> = LazyLock::new(|| {
    include_str!("words/spacy_en_exceptions.tsv")
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let text = fields.next()?;
            let mut at = 0;
            let pieces = fields
                .map(|p| {
                    let piece = &text[at..at + p.len()];
                    at += p.len();
                    piece
                })
                .collect();
            Some((text, pieces))
        })
        .collect()
});

/// The special cases that affix and infix rules would split (`):`, `and/or`, `e.g.`): spaCy 3
/// merges them back after splitting. Value: the most tokens such a case was split into.
static AFFIXED_SPECIALS: LazyLock<(HashMap<&'static str, usize>, usize)> = LazyLock::new(|| {
    let mut found = HashMap::new();
    for &text in SPECIALS.keys() {
        let mut out = Vec::new();
        split_chunk(text, false, &mut out);
        if out.len() > 1 {
            found.insert(text, out.len());
        }
    }
    let longest = found.values().copied().max().unwrap_or(1);
    (found, longest)
});

/// spaCy's URL_MATCH (spacy/lang/tokenizer_exceptions.py), with `\p{Ll}` for its ALPHA_LOWER.
static URL: LazyLock<fancy_regex::Regex> = LazyLock::new(|| {
    fancy_regex::Regex::new(concat!(
        r"^(?:(?:[\w\+\-\.]{2,})://)?(?:\S+(?::\S*)?@)?(?:",
        r"(?!(?:10|127)(?:\.\d{1,3}){3})(?!(?:169\.254|192\.168)(?:\.\d{1,3}){2})",
        r"(?!172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})",
        r"(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}",
        r"(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))",
        r"|(?:(?:[A-Za-z0-9\x{a1}-\x{ffff}][A-Za-z0-9\x{a1}-\x{ffff}_-]{0,62})?[A-Za-z0-9\x{a1}-\x{ffff}]\.)+",
        r"(?:\p{Ll}{2,63}))(?::\d{2,5})?(?:[/?#]\S*)?$"
    ))
    .expect("spaCy's URL pattern compiles")
});

/// Punctuation spaCy splits off either end of a token (its LIST_PUNCT, LIST_QUOTES and
/// LIST_ELLIPSES, in short).
const AFFIX: &str = "\"'`«»‘’“”,:;!?…—–%_#*&()[]{}<>。？！，、；：～·」』）】》〉´¿¡";

/// spaCy's UNITS and CURRENCY (spacy/lang/char_classes.py) in their Latin-script forms, split
/// off after a digit (`10km` -> `10` `km`).
const UNITS: [&str; 80] = [
    "km", "km²", "km³", "m", "m²", "m³", "dm", "dm²", "dm³", "cm", "cm²", "cm³", "mm", "mm²", "mm³", "ha", "µm", "nm",
    "yd", "in", "ft", "kg", "g", "mg", "µg", "t", "lb", "oz", "m/s", "km/h", "kmh", "mph", "hPa", "Pa", "mbar", "mb",
    "MB", "kb", "KB", "gb", "GB", "tb", "TB", "T", "G", "M", "K", "%", "$", "£", "€", "¥", "฿", "US$", "C$", "A$", "₽",
    "﷼", "₴", "₠", "₡", "₢", "₣", "₤", "₥", "₦", "₧", "₨", "₩", "₪", "₫", "₭", "₮", "₯", "₰", "₱", "₲", "₳", "₵", "₹",
];

/// Unicode's "other symbols" (general category So): box drawing, arrows, emoji, ...
static OTHER_SYMBOLS: LazyLock<Vec<(char, char)>> = LazyLock::new(|| {
    let hir = regex_syntax::Parser::new().parse(r"\p{So}").expect("a Unicode class parses");
    match hir.kind() {
        regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(class)) => {
            class.ranges().iter().map(|r| (r.start(), r.end())).collect()
        }
        other => unreachable!("\\p{{So}} is a class, not {other:?}"),
    }
});

/// spaCy's LIST_ICONS, `[\p{So}--[°]]`: a prefix, a suffix and an infix, one character each.
fn is_icon(c: char) -> bool {
    !c.is_ascii()
        && c != '°'
        && OTHER_SYMBOLS
            .binary_search_by(|&(lo, hi)| {
                if hi < c {
                    std::cmp::Ordering::Less
                } else if lo > c {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
}

/// Characters spaCy splits off the front of a token: the above, opening brackets of CJK text,
/// currency, icons and a few more.
fn is_prefix(c: char) -> bool {
    AFFIX.contains(c) || "§=‚„$£€¥「『（【《〈".contains(c) || is_icon(c)
}

/// Characters spaCy splits off the end of a token (besides the rules in `suffix_len`).
fn is_suffix(c: char) -> bool {
    AFFIX.contains(c) || is_icon(c)
}

/// Byte length of the prefix to split off `s`, if any.
fn prefix_len(s: &str) -> Option<usize> {
    if s.starts_with("..") {
        return Some(s.len() - s.trim_start_matches('.').len());
    }
    let c = s.chars().next()?;
    if c == '+' && !s[1..].starts_with(|d: char| d.is_ascii_digit()) {
        return Some(1);
    }
    (is_prefix(c) && s.len() > c.len_utf8()).then_some(c.len_utf8())
}

/// Byte length of the suffix to split off `s`, if any.
fn suffix_len(s: &str) -> Option<usize> {
    // `'s` is spaCy's one clitic suffix; `n't`, `'re` and the rest are special cases of
    // particular words (`don't`, `you're`), so `John'll` stays whole.
    for clitic in ["'s", "'S", "’s", "’S"] {
        if s.len() > clitic.len() && s.ends_with(clitic) {
            return Some(clitic.len());
        }
    }
    if s.ends_with("..") {
        let n = s.len() - s.trim_end_matches('.').len();
        return (n < s.len()).then_some(n);
    }
    // spaCy: `(?<=[0-9])(?:{UNITS})` and `(?<=[0-9])(?:{CURRENCY})`; the regex search finds the
    // leftmost match, so the longest unit.
    // (Units are at most 4 bytes: with no digit among the last 6, there is none.)
    let after_digit = |n: usize| s.len() > n && s.as_bytes()[s.len() - n - 1].is_ascii_digit();
    if s.as_bytes()[s.len().saturating_sub(6)..].iter().any(u8::is_ascii_digit) {
        if let Some(n) = UNITS.iter().filter(|u| s.ends_with(*u)).map(|u| u.len()).filter(|&n| after_digit(n)).max() {
            return Some(n);
        }
    }
    let mut rev = s.chars().rev();
    let last = rev.next()?;
    if s.len() == last.len_utf8() {
        return None;
    }
    let before = rev.next()?;
    if last == '.' {
        // spaCy: `(?<=[0-9{ALPHA_LOWER}%²\-\+{PUNCT}{QUOTES}])\.` and `(?<=[{ALPHA_UPPER}]{2})\.`
        let after_lower =
            before.is_lowercase() || before.is_ascii_digit() || "%²-+".contains(before) || is_suffix(before);
        let two_capitals = before.is_uppercase() && rev.next().is_some_and(char::is_uppercase);
        return (after_lower || two_capitals).then_some(1);
    }
    if last == '+' && before.is_ascii_digit() {
        return Some(1);
    }
    is_suffix(last).then_some(last.len_utf8())
}

fn is_url(s: &str) -> bool {
    s.contains('.') && URL.is_match(s).unwrap_or(false)
}

/// Splits `s` at infixes into `out` (infixes become tokens of their own).
fn push_infixes<'a>(s: &'a str, out: &mut Vec<&'a str>) {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        let prev = i.checked_sub(1).map(|p| chars[p].1);
        let next = chars.get(i + 1).map(|&(_, n)| n);
        let letter = |x: Option<char>| x.is_some_and(char::is_alphabetic);
        let alnum = |x: Option<char>| x.is_some_and(char::is_alphanumeric);
        let digit = |x: Option<char>| x.is_some_and(|d| d.is_ascii_digit());
        let len = if c == '.' && next == Some('.') {
            // An ellipsis of two or more periods.
            chars[i..].iter().take_while(|&&(_, d)| d == '.').count()
        } else if c == '…'
            || is_icon(c)
            || (matches!(c, '-' | '–' | '—' | '~') && alnum(prev) && letter(next))
            || (matches!(c, ':' | '<' | '>' | '=' | '/') && alnum(prev) && letter(next))
            || (c == ',' && letter(prev) && letter(next))
            || (c == '.' && prev.is_some_and(char::is_lowercase) && next.is_some_and(char::is_uppercase))
            || (matches!(c, '+' | '-' | '*' | '^') && digit(prev) && (digit(next) || next == Some('-')))
        {
            1
        } else {
            0
        };
        if len > 0 && i > 0 {
            let end = chars.get(i + len).map_or(s.len(), |&(e, _)| e);
            out.push(&s[start..at]);
            out.push(&s[at..end]);
            start = end;
            i += len;
        } else {
            i += 1;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
}

/// The words of `text`, in order.
pub fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for chunk in text.split_whitespace() {
        let from = out.len();
        split_chunk(chunk, true, &mut out);
        if out.len() - from > 1 {
            merge_specials(chunk, &mut out, from);
        }
    }
    out
}

/// Splits one whitespace-free chunk into `out` (spaCy's `_split_affixes` and `_attach_tokens`);
/// `specials` is false when finding which special cases the rules would split.
fn split_chunk<'a>(chunk: &'a str, specials: bool, out: &mut Vec<&'a str>) {
    let special = |s: &str| if specials { SPECIALS.get(s) } else { None };
    let mut s = chunk;
    let mut suffixes = Vec::new();
    while !s.is_empty() && special(s).is_none() {
        let pre = prefix_len(s).unwrap_or(0);
        if pre > 0 && special(&s[pre..]).is_some() {
            out.push(&s[..pre]);
            s = &s[pre..];
            break;
        }
        let suf = suffix_len(&s[pre..]).unwrap_or(0);
        if suf > 0 && special(&s[..s.len() - suf]).is_some() {
            suffixes.push(&s[s.len() - suf..]);
            s = &s[..s.len() - suf];
            break;
        }
        if pre == 0 && suf == 0 {
            break;
        }
        if pre > 0 {
            out.push(&s[..pre]);
        }
        if suf > 0 {
            suffixes.push(&s[s.len() - suf..]);
        }
        s = &s[pre..s.len() - suf];
    }
    if let Some(pieces) = special(s) {
        let mut at = 0;
        for p in pieces {
            out.push(&s[at..at + p.len()]);
            at += p.len();
        }
    } else if is_url(s) {
        out.push(s);
    } else if !s.is_empty() {
        push_infixes(s, out);
    }
    out.extend(suffixes.into_iter().rev());
}

/// Merges runs of `out[from..]` (the tokens of `chunk`) that together make a special case with
/// affixes in it, longest first, into that case's pieces.
fn merge_specials<'a>(chunk: &'a str, out: &mut Vec<&'a str>, from: usize) {
    let (affixed, longest) = &*AFFIXED_SPECIALS;
    let base = chunk.as_ptr() as usize;
    let offset = |t: &str| t.as_ptr() as usize - base;
    let tokens = out.split_off(from);
    let mut i = 0;
    while i < tokens.len() {
        let start = offset(tokens[i]);
        let found = (i + 2..=tokens.len().min(i + longest)).rev().find_map(|j| {
            let end = offset(tokens[j - 1]) + tokens[j - 1].len();
            affixed.contains_key(&chunk[start..end]).then_some((j, end))
        });
        match found {
            Some((j, end)) => {
                let text = &chunk[start..end];
                let mut at = start;
                for p in &SPECIALS[text] {
                    out.push(&chunk[at..at + p.len()]);
                    at += p.len();
                }
                i = j;
            }
            None => {
                out.push(tokens[i]);
                i += 1;
            }
        }
    }
}

/// Number of sentences in `text` (spaCy's sentencizer: a sentence ends after a token that is
/// a sentence-final mark, once a token that is not punctuation follows).
pub fn count_sentences(text: &str) -> usize {
    let tokens = words(text);
    if tokens.is_empty() {
        return 0;
    }
    let is_final = |t: &str| {
        t.chars().count() == 1
            && t.chars().all(|c| crate::text::is_terminal_punctuation(c) && !matches!(c, ',' | ';' | ':' | '،' | '、'))
    };
    let is_punct = |t: &str| t.chars().all(crate::text::is_punctuation);
    let mut sentences = 1;
    let mut seen_final = false;
    for t in tokens {
        if seen_final && !is_punct(t) && !is_final(t) {
            sentences += 1;
            seen_final = false;
        }
        if is_final(t) {
            seen_final = true;
        }
    }
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_spacy_english() {
        let cases = [
            ("Hello, world!", vec!["Hello", ",", "world", "!"]),
            (
                "Don't stop; it's (really) fine.",
                vec!["Do", "n't", "stop", ";", "it", "'s", "(", "really", ")", "fine", "."],
            ),
            ("The U.S. and the UK.", vec!["The", "U.S.", "and", "the", "UK", "."]),
            ("3.14 costs $5, e.g. 1,000+ items", vec!["3.14", "costs", "$", "5", ",", "e.g.", "1,000", "+", "items"]),
            ("well-known and/or end.Next", vec!["well", "-", "known", "and/or", "end", ".", "Next"]),
            ("wait... what…", vec!["wait", "...", "what", "…"]),
            ("see https://example.com/a-b, ok", vec!["see", "https://example.com/a-b", ",", "ok"]),
            ("\"quoted\"", vec!["\"", "quoted", "\""]),
            // Cases checked against spaCy 3.8's blank("en"):
            ("John'll isn't. (isn't don't)", vec!["John'll", "is", "n't", ".", "(", "is", "n't", "do", "n't", ")"]),
            ("harmless—don’t Don’t DON'T x's", vec!["harmless", "—", "don’t", "Do", "n’t", "DON'T", "x", "'s"]),
            ("f(x): x.y): dont", vec!["f(x", "):", "x.y", "):", "do", "nt"]),
            (
                "_pickle.Pickler.dump os.path.join a_. b#.",
                vec!["_", "pickle.Pickler.dump", "os.path.join", "a", "_", ".", "b", "#", "."],
            ),
            (
                "parent’s__annotations__. 1990s. c++.",
                vec!["parent’s__annotations", "_", "_", ".", "1990s", ".", "c++", "."],
            ),
            ("│Version│ ───", vec!["│", "Version", "│", "─", "─", "─"]),
            ("\x1b[33m 10km. 5$ 3in", vec!["\x1b[33", "m", "10", "km", ".", "5", "$", "3", "in"]),
        ];
        for (text, want) in cases {
            assert_eq!(words(text), want, "{text}");
        }
    }

    #[test]
    fn counts_sentences_like_the_sentencizer() {
        assert_eq!(count_sentences("One. Two! Three? Four"), 4);
        assert_eq!(count_sentences("One... still one. Two."), 2);
        assert_eq!(count_sentences("Hi!!! There."), 2);
        assert_eq!(count_sentences("e.g. this"), 1);
        assert_eq!(count_sentences(""), 0);
    }
}
