//! Words and sentences as datatrove 0.10.1 splits English text: spaCy's `blank("en")`
//! tokenizer (whitespace tokens dropped) and its `sentencizer`. This is a re-implementation of
//! spaCy's main English rules, not a port: whitespace split; then, repeatedly, a prefix
//! (opening punctuation, quotes, currency) or a suffix (closing punctuation, quotes, `'s`,
//! `n't`, `'re`/`'ve`/`'ll`/`'d`/`'m`, a period after a lowercase letter, digit, closing
//! bracket or quote, or after two capitals) is split off; then infixes are split (`...`,
//! hyphens and `:<>=/` between letters, commas between letters, `.` between a lowercase and an
//! uppercase letter, `+-*^` between digits). URLs stay whole. Agreement with spaCy on the
//! demo crawl is measured by `scripts/compare_filters.py` (docs/data.md).

/// Punctuation spaCy splits off either end of a token (its LIST_PUNCT, LIST_QUOTES and
/// LIST_ELLIPSES, in short).
const AFFIX: &str = "\"'`«»‘’“”,:;!?…—–%_#*&()[]{}<>。？！，、；：～·」』）】》〉´¿¡";

/// Characters spaCy splits off the front of a token: the above, opening brackets of CJK text,
/// currency and a few more.
fn is_prefix(c: char) -> bool {
    AFFIX.contains(c) || "§=‚„$£€¥「『（【《〈".contains(c)
}

/// Characters spaCy splits off the end of a token (besides the rules in `suffix_len`).
fn is_suffix(c: char) -> bool {
    AFFIX.contains(c)
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
    let lower = s.to_lowercase();
    for clitic in ["n't", "n’t", "'s", "’s", "'re", "’re", "'ve", "’ve", "'ll", "’ll", "'d", "’d", "'m", "’m"]
    {
        if lower.ends_with(clitic) && lower.len() > clitic.len() && lower.is_char_boundary(lower.len() - clitic.len()) {
            let head = &s[..s.len() - clitic.len()];
            if head.chars().next_back().is_some_and(char::is_alphabetic) {
                return Some(clitic.len());
            }
        }
    }
    if s.ends_with("..") {
        let n = s.len() - s.trim_end_matches('.').len();
        return (n < s.len()).then_some(n);
    }
    let mut rev = s.chars().rev();
    let last = rev.next()?;
    if s.len() == last.len_utf8() {
        return None;
    }
    let before = rev.next()?;
    if last == '.' {
        let after_lower = before.is_lowercase()
            || before.is_ascii_digit()
            || matches!(before, ')' | ']' | '"' | '\'' | '%' | '”' | '’');
        let two_capitals = before.is_uppercase() && rev.next().is_some_and(char::is_uppercase);
        return (after_lower || two_capitals).then_some(1);
    }
    if last == '+' && before.is_ascii_digit() {
        return Some(1);
    }
    is_suffix(last).then_some(last.len_utf8())
}

fn is_url(s: &str) -> bool {
    s.contains("://") || s.starts_with("www.")
}

/// Abbreviations spaCy's English exceptions keep whole (the common ones).
fn is_abbreviation(s: &str) -> bool {
    const ABBREVIATIONS: [&str; 24] = [
        "e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "ms.", "dr.", "st.", "a.m.", "p.m.", "jan.", "feb.", "aug.",
        "sept.", "oct.", "nov.", "dec.", "inc.", "ltd.", "co.", "corp.", "no.", "jr.",
    ];
    s.len() <= 5 && ABBREVIATIONS.iter().any(|a| a.eq_ignore_ascii_case(s))
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
        let mut s = chunk;
        let mut suffixes = Vec::new();
        let mut prefixes = Vec::new();
        while !s.is_empty() && !is_abbreviation(s) {
            if let Some(n) = prefix_len(s) {
                prefixes.push(&s[..n]);
                s = &s[n..];
            } else if let Some(n) = suffix_len(s) {
                suffixes.push(&s[s.len() - n..]);
                s = &s[..s.len() - n];
            } else {
                break;
            }
        }
        out.extend(prefixes);
        if is_url(s) {
            out.push(s);
        } else if !s.is_empty() {
            push_infixes(s, &mut out);
        }
        out.extend(suffixes.into_iter().rev());
    }
    out
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
            ("well-known and/or end.Next", vec!["well", "-", "known", "and", "/", "or", "end", ".", "Next"]),
            ("wait... what…", vec!["wait", "...", "what", "…"]),
            ("see https://example.com/a-b, ok", vec!["see", "https://example.com/a-b", ",", "ok"]),
            ("\"quoted\"", vec!["\"", "quoted", "\""]),
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
