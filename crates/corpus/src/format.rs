//! The layouts a file of documents can have, told from its name: plain text, JSON Lines (one
//! object per line with a string `text`) and Parquet (a string column `text`); text and JSON
//! Lines may be gzipped (`.gz`).

use std::path::Path;

/// How a file's documents are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Plain UTF-8 text, cut into documents of at most `documents::TEXT_DOC_BYTES` at line
    /// boundaries.
    Text,
    /// One JSON object per line with a string field `text` (any other fields).
    Jsonl,
    /// Apache Parquet with a string column `text` (FineWeb's shards).
    Parquet,
}

/// The name endings of document shards (what the data stages write and read).
pub const SHARD_ENDINGS: [&str; 3] = [".jsonl.gz", ".jsonl", ".parquet"];

/// The name endings of corpus files (what training reads): shards and text.
pub const CORPUS_ENDINGS: [&str; 5] = [".jsonl.gz", ".jsonl", ".parquet", ".txt", ".txt.gz"];

impl Format {
    /// The format a name says (`.jsonl`, `.json`, `.ndjson`, `.parquet`, each maybe `.gz`;
    /// anything else is text).
    pub fn of(path: &Path) -> Format {
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".jsonl") || name.ends_with(".json") || name.ends_with(".ndjson") {
            Format::Jsonl
        } else if name.ends_with(".parquet") {
            Format::Parquet
        } else {
            Format::Text
        }
    }
}

/// Whether the file is gzipped (by its name).
pub fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// A shard's name without its format ending (`out/output/00003.jsonl.gz` -> `00003`).
pub fn stem(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let lower = name.to_lowercase();
    match SHARD_ENDINGS.iter().find(|e| lower.ends_with(*e)) {
        Some(e) => name[..name.len() - e.len()].to_string(),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_stems_from_names() {
        let of = |n: &str| Format::of(Path::new(n));
        assert_eq!(
            [of("a.jsonl.gz"), of("b.JSON"), of("c.parquet"), of("d.txt"), of("e")],
            [Format::Jsonl, Format::Jsonl, Format::Parquet, Format::Text, Format::Text]
        );
        assert!(is_gz(Path::new("x.txt.GZ")) && !is_gz(Path::new("x.gzip")));
        assert_eq!((stem(Path::new("o/00003.jsonl.gz")), stem(Path::new("b.parquet"))), ("00003".into(), "b".into()));
    }
}
