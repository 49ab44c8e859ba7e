//! FineWeb's own filter (Penedo et al. 2024), as datatrove's `FineWebQualityFilter`: drops
//! text where few lines end in terminal punctuation, most lines are short, duplicated lines
//! hold over 1% of the characters, or there are many newlines per word.

use super::gopher_repetition::find_duplicates;
use super::Filter;
use crate::text::{is_terminal_punctuation, py_len};
use crate::words::words;

pub struct FineWebQuality {
    pub line_punct_thr: f64,
    pub line_punct_exclude_zero: bool,
    pub short_line_thr: f64,
    pub short_line_length: usize,
    pub char_duplicates_ratio: f64,
    pub new_line_ratio: f64,
}

impl Default for FineWebQuality {
    fn default() -> Self {
        FineWebQuality {
            line_punct_thr: 0.12,
            line_punct_exclude_zero: false,
            short_line_thr: 0.67,
            short_line_length: 30,
            char_duplicates_ratio: 0.01,
            new_line_ratio: 0.3,
        }
    }
}

impl Filter for FineWebQuality {
    fn name(&self) -> &'static str {
        "fineweb_quality"
    }

    fn apply(&self, text: &mut String) -> Result<(), &'static str> {
        let text = text.as_str();
        let lines: Vec<&str> = text.split('\n').filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            return Err("empty");
        }
        let n = lines.len() as f64;
        let ratio =
            lines.iter().filter(|l| l.chars().next_back().is_some_and(is_terminal_punctuation)).count() as f64 / n;
        if ratio < self.line_punct_thr && !(ratio == 0.0 && self.line_punct_exclude_zero) {
            return Err("line_punct_ratio");
        }
        let ratio = lines.iter().filter(|l| py_len(l) <= self.short_line_length).count() as f64 / n;
        if ratio > self.short_line_thr {
            return Err("short_line_ratio");
        }
        let chars = py_len(text) - text.matches('\n').count();
        if find_duplicates(lines.iter().copied()).1 as f64 / chars as f64 > self.char_duplicates_ratio {
            return Err("char_dup_ratio");
        }
        if text.matches('\n').count() as f64 / words(text).len() as f64 > self.new_line_ratio {
            return Err("list_ratio");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fineweb_rules() {
        let f = FineWebQuality::default();
        let check = |t: &str| f.apply(&mut t.to_string());
        let good = "This is a complete sentence that ends properly here.\nAnd another one follows it, also complete.";
        assert_eq!(check(good), Ok(()));
        assert_eq!(check("\n  \n"), Err("empty"));
        assert_eq!(check("no punctuation here at all\nnor here either my friend"), Err("line_punct_ratio"));
        assert_eq!(
            check("Short.\nTiny.\nSmall.\nThis line is long enough to count as a real line."),
            Err("short_line_ratio")
        );
        let dup = format!("{good}\nThis is a complete sentence that ends properly here.");
        assert_eq!(check(&dup), Err("char_dup_ratio"));
    }
}
