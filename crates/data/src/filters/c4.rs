//! C4's line and document heuristics (Raffel et al. 2020), as datatrove's `C4QualityFilter`:
//! lines with a word over 1000 characters, under 3 words, mentioning "javascript" or a
//! cookie/terms policy are removed (and, unless disabled as FineWeb does, lines without
//! terminal punctuation); Wikipedia citation marks are deleted; a document with "lorem ipsum"
//! or a curly bracket in a kept line, or under 5 sentences, is dropped. The text becomes the
//! kept lines joined by newlines.

use super::Filter;
use crate::text::{py_len, splitlines};
use crate::words::count_sentences;

pub struct C4Quality {
    pub remove_citations: bool,
    pub filter_no_terminal_punct: bool,
    pub min_num_sentences: usize,
    pub min_words_per_line: usize,
    pub max_word_length: usize,
    pub filter_lorem_ipsum: bool,
    pub filter_javascript: bool,
    pub filter_curly_bracket: bool,
    pub filter_policy: bool,
}

impl Default for C4Quality {
    fn default() -> Self {
        C4Quality {
            remove_citations: true,
            filter_no_terminal_punct: true,
            min_num_sentences: 5,
            min_words_per_line: 3,
            max_word_length: 1000,
            filter_lorem_ipsum: true,
            filter_javascript: true,
            filter_curly_bracket: true,
            filter_policy: true,
        }
    }
}

const POLICY: [&str; 6] =
    ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"];

/// Deletes `[12]`, `[]`, `[edit]` and `[citation needed]` (`\[\d*]|\[edit]|\[citation needed]`).
fn remove_citations(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let skip = if after[digits..].starts_with(']') {
            Some(digits + 1)
        } else if after.starts_with("edit]") {
            Some(5)
        } else if after.starts_with("citation needed]") {
            Some(16)
        } else {
            None
        };
        match skip {
            Some(n) => rest = &after[n..],
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Filter for C4Quality {
    fn name(&self) -> &'static str {
        "c4_quality"
    }

    fn apply(&self, text: &mut String) -> Result<(), &'static str> {
        let mut sentences = 0;
        let mut kept: Vec<String> = Vec::new();
        for line in splitlines(text) {
            let line = line.trim();
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.iter().any(|w| py_len(w) > self.max_word_length) {
                continue;
            }
            let line = if self.remove_citations { remove_citations(line) } else { line.to_string() };
            if self.filter_no_terminal_punct && (!line.ends_with(['.', '?', '!', '"', '\'']) || line.ends_with("...")) {
                continue;
            }
            if words.len() < self.min_words_per_line {
                continue;
            }
            let lower = line.to_lowercase();
            if self.filter_lorem_ipsum && lower.contains("lorem ipsum") {
                return Err("lorem_ipsum");
            }
            if self.filter_javascript && lower.contains("javascript") {
                continue;
            }
            if self.filter_curly_bracket && line.contains('{') {
                return Err("curly_bracket");
            }
            if self.filter_policy && POLICY.iter().any(|p| lower.contains(p)) {
                continue;
            }
            sentences += count_sentences(&line);
            kept.push(line);
        }
        if sentences < self.min_num_sentences {
            return Err("too_few_sentences");
        }
        *text = kept.join("\n").trim().to_string();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c4_rules() {
        let f = C4Quality { filter_no_terminal_punct: false, ..C4Quality::default() };
        let mut t = "Menu\nThe first line has words.[3] It goes on.\nWe use cookies to track you.\n\
                     Enable JavaScript to view this site.\nA third line here. And more text. \
                     Even more.[citation needed]\nLast one is here."
            .to_string();
        assert_eq!(f.apply(&mut t), Ok(()));
        assert_eq!(
            t,
            "The first line has words. It goes on.\nA third line here. And more text. Even more.\nLast one is here."
        );
        let mut t = "One sentence only here.".to_string();
        assert_eq!(f.apply(&mut t), Err("too_few_sentences"));
        let mut t = "function f() { return 1; } is code.".to_string();
        assert_eq!(f.apply(&mut t), Err("curly_bracket"));
        let mut t = "Lorem ipsum dolor sit amet.".to_string();
        assert_eq!(f.apply(&mut t), Err("lorem_ipsum"));
        // With the terminal-punctuation rule, lines must end in . ? ! " or '.
        let strict = C4Quality::default();
        let mut t = "No stop at the end\nOne. Two. Three. Four. Five.".to_string();
        assert_eq!(strict.apply(&mut t), Ok(()));
        assert_eq!(t, "One. Two. Three. Four. Five.");
        assert_eq!(remove_citations("a[1] b[] c[edit] d[x]"), "a b c d[x]");
    }
}
