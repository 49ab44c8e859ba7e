//! Search results as a search engine shows them: for each of the best passages, the snippet
//! of at most `max_chars` characters that holds the most of the query (its distinct terms,
//! weighted by their idf), whitespace squeezed, with `...` where it was cut. This is what the
//! assistant's `search` tool returns: a small model's context has no room for whole passages.

use super::terms::spans;
use super::{terms, Index};

/// Passages a search tool result holds, and characters per snippet at most (a context of 256
/// tokens holds two such snippets with the question and the answer).
pub const TOOL_HITS: usize = 2;
pub const TOOL_SNIPPET_CHARS: usize = 200;

impl Index {
    /// The part of `text` of at most `max_chars` characters (about: cut at word starts and
    /// ends) that best matches `query`; the start of `text` when nothing matches.
    pub fn snippet(&self, text: &str, query: &str, max_chars: usize) -> String {
        let mut q = terms(query);
        q.sort();
        q.dedup();
        let weights: Vec<f32> = q.iter().map(|t| self.idf(t).max(1e-3)).collect();
        let words = spans(text);
        if words.is_empty() {
            return text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(max_chars).collect();
        }
        let is_query = |term: &str| q.binary_search_by(|t| t.as_str().cmp(term)).ok();
        // The best window starts at a query word (or at the text's start).
        let (mut best, mut best_score) = (0, -1.0f32);
        for (i, (start, _, term)) in words.iter().enumerate() {
            if i > 0 && is_query(term).is_none() {
                continue;
            }
            let mut seen = vec![false; q.len()];
            let mut score = 0.0;
            for (_, w_end, term) in &words[i..] {
                if text[*start..*w_end].chars().count() > max_chars {
                    break;
                }
                if let Some(k) = is_query(term).filter(|&k| !seen[k]) {
                    seen[k] = true;
                    score += weights[k];
                }
            }
            if score > best_score {
                (best, best_score) = (i, score);
            }
        }
        let start = words[best].0;
        // As many words as fit after the start (at least one).
        let mut end = words[best..]
            .iter()
            .take_while(|w| text[start..w.1].chars().count() <= max_chars)
            .last()
            .map_or(words[best].1, |w| w.1);
        // Keep the punctuation right after the last word (a path's ".py", a full stop).
        end += text[end..].find(char::is_whitespace).unwrap_or(text.len() - end).min(4);
        let body = text[start..end].split_whitespace().collect::<Vec<_>>().join(" ");
        let body: String = body.chars().take(max_chars).collect();
        let cut_before = if text[..start].trim().is_empty() { "" } else { "..." };
        let cut_after = if text[end..].trim().is_empty() { "" } else { "..." };
        format!("{cut_before}{body}{cut_after}")
    }

    /// What the assistant's `search` tool gets back for `query` (`minichat_chat::tools::Search`):
    /// the snippets of the `TOOL_HITS` best passages. `chat`, the exam, `tasks make` and the
    /// server all search through this, so the results a model trains on are those it gets.
    pub fn tool_result(&self, query: &str) -> String {
        self.snippets(query, TOOL_HITS, TOOL_SNIPPET_CHARS)
    }

    /// The snippets of the `k` best passages for `query`, one per line; empty when no passage
    /// has a query term.
    pub fn snippets(&self, query: &str, k: usize, max_chars: usize) -> String {
        let hits = self.search(query, k);
        hits.iter().map(|h| self.snippet(&h.passage.text, query, max_chars)).collect::<Vec<_>>().join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minichat_corpus::shards::Row;

    fn index(texts: &[&str]) -> Index {
        let docs: Vec<(String, Row)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (i.to_string(), Row::Json(serde_json::json!({ "text": t }))))
            .collect();
        Index::build(&docs, 1000)
    }

    #[test]
    fn snippets_hold_the_query_terms() {
        let text = "Intro words here. More filler text about nothing at all.\nSource code: Lib/copy.py\nThe copy module makes copies.";
        let idx = index(&[text, "unrelated module text"]);
        let s = idx.snippet(text, "copy module source code", 54);
        assert_eq!(s, "...Source code: Lib/copy.py The copy module makes copies.");
        assert!(s.chars().count() <= 54 + 6, "{s}");
        // No match: the start.
        assert_eq!(idx.snippet("alpha beta gamma", "zeta", 10), "alpha beta...");
        assert_eq!(idx.snippet("short", "zeta", 100), "short");
        assert_eq!(idx.snippet("!!  ??", "zeta", 4), "!! ?");
        let found = idx.snippets("copy source", 2, 40);
        assert_eq!(found.lines().count(), 1, "{found}");
        assert!(found.contains("Lib/copy.py"));
        assert_eq!(idx.snippets("zzz qqq", 2, 40), "");
    }
}
