//! Document shards read back whole, every column kept, for the data stages (filtering,
//! deduplication, the search index): gzipped or plain JSON Lines (any columns, kept as they
//! are) and Parquet with FineWeb's columns (what `data run --parquet` writes, and FineWeb's own
//! published shards).

use crate::format::{is_gz, Format};
use crate::{Doc, Error};
use std::io::{BufRead, BufReader};
use std::path::Path;

/// One document of a shard: a JSON object (JSONL) or a row with FineWeb's columns (Parquet).
#[derive(Clone, Debug)]
pub enum Row {
    Json(serde_json::Value),
    Doc(Doc),
}

impl Row {
    pub fn text(&self) -> &str {
        self.field("text").unwrap_or_default()
    }

    /// A string column (`id`, `url`, ...), if the row has it; a borrow, no copy of the row.
    pub fn field(&self, name: &str) -> Option<&str> {
        match self {
            Row::Json(v) => v.get(name).and_then(|x| x.as_str()),
            Row::Doc(d) => d.field(name),
        }
    }

    /// As a JSON object (for exclusion files).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Row::Json(v) => v.clone(),
            Row::Doc(d) => serde_json::to_value(d).expect("a Doc serializes"),
        }
    }

    /// As a document with FineWeb's columns (those a JSON row lacks are empty or zero).
    pub fn to_doc(&self) -> Doc {
        match self {
            Row::Doc(d) => d.clone(),
            Row::Json(v) => {
                let s = |k: &str| self.field(k).unwrap_or_default().to_string();
                Doc {
                    text: s("text"),
                    id: s("id"),
                    dump: s("dump"),
                    url: s("url"),
                    date: s("date"),
                    file_path: s("file_path"),
                    language: s("language"),
                    language_score: v.get("language_score").and_then(|x| x.as_f64()).unwrap_or(0.0),
                    token_count: v.get("token_count").and_then(|x| x.as_u64()).unwrap_or(0),
                }
            }
        }
    }
}

/// Every document of a shard, in order. A line that is not a JSON object with a string `text`,
/// or a Parquet file without a `text` column, is an error naming the file and line or row.
pub fn read(path: &Path) -> Result<Vec<Row>, Error> {
    match Format::of(path) {
        Format::Jsonl => read_jsonl(path),
        Format::Parquet => Ok(crate::parquet_read::docs(path)?.into_iter().map(Row::Doc).collect()),
        Format::Text => Err(Error::Bad(format!(
            "{}: not a document shard (its name should end in {})",
            path.display(),
            crate::format::SHARD_ENDINGS.join(", ")
        ))),
    }
}

fn read_jsonl(path: &Path) -> Result<Vec<Row>, Error> {
    let io = Error::io(path);
    let file = std::fs::File::open(path).map_err(&io)?;
    let reader: Box<dyn std::io::Read> =
        if is_gz(path) { Box::new(flate2::read::MultiGzDecoder::new(file)) } else { Box::new(file) };
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(&io)?;
        let bad = |what: String| Error::Bad(format!("{} line {}: {what}", path.display(), i + 1));
        let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| bad(format!("not JSON: {e}")))?;
        if !v.get("text").is_some_and(|t| t.is_string()) {
            return Err(bad("no \"text\" string".into()));
        }
        rows.push(Row::Json(v));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jsonl_and_parquet_and_names_bad_lines() {
        let dir = std::env::temp_dir().join(format!("minichat-shards-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let jsonl = dir.join("a.jsonl");
        std::fs::write(&jsonl, "{\"text\": \"one\", \"extra\": 1, \"token_count\": 3}\n{\"text\": \"two\"}\n").unwrap();
        let rows = read(&jsonl).unwrap();
        assert_eq!(rows.iter().map(Row::text).collect::<Vec<_>>(), ["one", "two"]);
        assert_eq!(rows[0].to_json()["extra"], 1);
        assert_eq!((rows[0].to_doc().text.as_str(), rows[0].to_doc().token_count), ("one", 3));
        let pq = dir.join("b.parquet");
        let mut w = crate::writers::ParquetWriter::create(&pq).unwrap();
        let doc = Doc { text: "three".into(), url: "http://x/".into(), token_count: 7, ..Doc::default() };
        w.write(&doc).unwrap();
        w.finish().unwrap();
        match &read(&pq).unwrap()[..] {
            [Row::Doc(d)] => assert_eq!(d, &doc),
            other => panic!("{other:?}"),
        }
        std::fs::write(&jsonl, "{\"text\": \"one\"}\n{\"text\": 2}\n").unwrap();
        let err = read(&jsonl).unwrap_err().to_string();
        assert!(err.contains("a.jsonl line 2"), "{err}");
        std::fs::write(&pq, "not parquet").unwrap();
        assert!(read(&pq).unwrap_err().to_string().contains("b.parquet"));
        assert!(read(&dir.join("c.txt")).unwrap_err().to_string().contains("not a document shard"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
