//! The terms of a text for the search index: maximal runs of alphanumeric characters,
//! lowercased; runs longer than 40 characters (hashes, base64) are left out.

const MAX_TERM_CHARS: usize = 40;

pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.chars().count() <= MAX_TERM_CHARS)
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn lowercased_alphanumeric_runs() {
        assert_eq!(super::terms("Hello, World! x86_64 café 3.14"), ["hello", "world", "x86", "64", "café", "3", "14"]);
        assert!(super::terms(&"a".repeat(41)).is_empty());
    }
}
