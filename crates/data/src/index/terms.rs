//! The terms of a text for the search index: maximal runs of alphanumeric characters,
//! lowercased; runs longer than 40 characters (hashes, base64) are left out.

const MAX_TERM_CHARS: usize = 40;

pub fn terms(text: &str) -> Vec<String> {
    spans(text).into_iter().filter(|(_, _, w)| w.chars().count() <= MAX_TERM_CHARS).map(|(_, _, w)| w).collect()
}

/// Every maximal run of alphanumeric characters of `text`, long ones included: its byte range
/// and its lowercased text.
pub(super) fn spans(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i, text[s..i].to_lowercase()));
                start = None;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn lowercased_alphanumeric_runs() {
        assert_eq!(super::terms("Hello, World! x86_64 café 3.14"), ["hello", "world", "x86", "64", "café", "3", "14"]);
        assert!(super::terms(&"a".repeat(41)).is_empty());
    }
}
