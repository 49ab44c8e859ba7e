//! Gopher's quality filter (Rae et al. 2021), as datatrove's `GopherQualityFilter`: word
//! count, mean word length, symbol-to-word ratios, bullet and ellipsis lines, alphabetic words
//! and stop words. "Words" exclude symbol-only words for the count and the mean length.

use super::Filter;
use crate::text::{is_punctuation, py_len, splitlines};
use crate::words::words;
use std::collections::HashSet;

pub struct GopherQuality {
    pub min_doc_words: usize,
    pub max_doc_words: usize,
    pub min_avg_word_length: f64,
    pub max_avg_word_length: f64,
    pub max_symbol_word_ratio: f64,
    pub max_bullet_lines_ratio: f64,
    pub max_ellipsis_lines_ratio: f64,
    pub max_non_alpha_words_ratio: f64,
    /// Distinct stop words required (datatrove since 2024; FineWeb's release counted
    /// occurrences).
    pub min_stop_words: usize,
    pub stop_words: Vec<String>,
}

impl Default for GopherQuality {
    fn default() -> Self {
        GopherQuality {
            min_doc_words: 50,
            max_doc_words: 100_000,
            min_avg_word_length: 3.0,
            max_avg_word_length: 10.0,
            max_symbol_word_ratio: 0.1,
            max_bullet_lines_ratio: 0.9,
            max_ellipsis_lines_ratio: 0.3,
            max_non_alpha_words_ratio: 0.8,
            min_stop_words: 2,
            stop_words: ["the", "be", "to", "of", "and", "that", "have", "with"].map(String::from).to_vec(),
        }
    }
}

impl Filter for GopherQuality {
    fn name(&self) -> &'static str {
        "gopher_quality"
    }

    fn apply(&self, text: &mut String) -> Result<(), &'static str> {
        let text = text.as_str();
        let words = words(text);
        let non_symbol: Vec<&str> = words.iter().copied().filter(|w| w.chars().any(|c| !is_punctuation(c))).collect();
        if non_symbol.len() < self.min_doc_words {
            return Err("gopher_short_doc");
        }
        if non_symbol.len() > self.max_doc_words {
            return Err("gopher_long_doc");
        }
        let avg = non_symbol.iter().map(|w| py_len(w)).sum::<usize>() as f64 / non_symbol.len() as f64;
        if avg < self.min_avg_word_length {
            return Err("gopher_below_avg_threshold");
        }
        if avg > self.max_avg_word_length {
            return Err("gopher_above_avg_threshold");
        }
        let n_words = words.len() as f64;
        if text.matches('#').count() as f64 / n_words > self.max_symbol_word_ratio {
            return Err("gopher_too_many_hashes");
        }
        if (text.matches("...").count() + text.matches('…').count()) as f64 / n_words > self.max_symbol_word_ratio {
            return Err("gopher_too_many_ellipsis");
        }
        let lines = splitlines(text);
        let n_lines = lines.len() as f64;
        let bullets = lines.iter().filter(|l| l.trim_start().starts_with(['•', '-'])).count();
        if bullets as f64 / n_lines > self.max_bullet_lines_ratio {
            return Err("gopher_too_many_bullets");
        }
        let ellipsis = lines.iter().filter(|l| l.trim_end().ends_with("...") || l.trim_end().ends_with('…')).count();
        if ellipsis as f64 / n_lines > self.max_ellipsis_lines_ratio {
            return Err("gopher_too_many_end_ellipsis");
        }
        let alpha = words.iter().filter(|w| w.chars().any(char::is_alphabetic)).count();
        if (alpha as f64) / n_words < self.max_non_alpha_words_ratio {
            return Err("gopher_below_alpha_threshold");
        }
        let present: HashSet<&str> = words.iter().copied().collect();
        if self.stop_words.iter().filter(|w| present.contains(w.as_str())).count() < self.min_stop_words {
            return Err("gopher_enough_stop_words");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROSE: &str = "The history of the river is long and the people who live near it have \
        many stories to tell. Farmers grow wheat and barley in the fields, and fishermen take \
        their boats out early with nets. In the evening the town square fills with music, food \
        and conversation that lasts until late. Visitors often say that the valley has a calm \
        beauty which is hard to find elsewhere in the region today.";

    #[test]
    fn quality_rules() {
        let f = GopherQuality::default();
        let check = |t: &str| f.apply(&mut t.to_string());
        assert_eq!(check(PROSE), Ok(()));
        assert_eq!(check("Too short to keep."), Err("gopher_short_doc"));
        assert_eq!(check(&"a b c d e f g h i j ".repeat(10)), Err("gopher_below_avg_threshold"));
        assert_eq!(check(&format!("{PROSE} {}", "#tag ".repeat(20))), Err("gopher_too_many_hashes"));
        let code = "x = 1 + 2 ; y = f ( x ) ; z = [ 1 , 2 , 3 ] ; print ( z ) ; ".repeat(8);
        assert!(check(&format!("{code} the and of")).is_err());
        let no_stop = PROSE
            .replace("the ", "a ")
            .replace("The ", "A ")
            .replace(" and ", " plus ")
            .replace(" to ", " into ")
            .replace(" with ", " via ")
            .replace(" have ", " hold ")
            .replace(" that ", " which ");
        assert_eq!(check(&no_stop), Err("gopher_enough_stop_words"));
    }
}
