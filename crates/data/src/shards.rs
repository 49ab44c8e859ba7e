//! Reading document shards back: gzipped or plain JSON Lines (any columns, kept as they are)
//! and Parquet with FineWeb's columns (what `data run --parquet` writes, and FineWeb's own
//! published shards). Later stages (deduplication, the search index) read them through here.

use crate::pipeline::Doc;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The formats a shard can be in, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Parquet,
}

/// The file name endings of document shards.
pub const ENDINGS: [&str; 3] = [".jsonl.gz", ".jsonl", ".parquet"];

impl Format {
    pub fn of(path: &Path) -> Format {
        match path.to_string_lossy().to_lowercase().ends_with(".parquet") {
            true => Format::Parquet,
            false => Format::Jsonl,
        }
    }
}

/// A shard's name without its format ending (`out/output/00003.jsonl.gz` -> `00003`).
pub fn stem(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let lower = name.to_lowercase();
    match ENDINGS.iter().find(|e| lower.ends_with(*e)) {
        Some(e) => name[..name.len() - e.len()].to_string(),
        None => name,
    }
}

/// One document of a shard: a JSON object (JSONL) or a row with FineWeb's columns (Parquet).
#[derive(Clone, Debug)]
pub enum Row {
    Json(serde_json::Value),
    Doc(Doc),
}

impl Row {
    pub fn text(&self) -> &str {
        match self {
            Row::Json(v) => v["text"].as_str().unwrap_or_default(),
            Row::Doc(d) => &d.text,
        }
    }

    /// A string column (`id`, `url`, ...), if the row has it; a borrow, no copy of the row.
    pub fn field(&self, name: &str) -> Option<&str> {
        match self {
            Row::Json(v) => v.get(name).and_then(|x| x.as_str()),
            Row::Doc(d) => match name {
                "text" => Some(&d.text),
                "id" => Some(&d.id),
                "dump" => Some(&d.dump),
                "url" => Some(&d.url),
                "date" => Some(&d.date),
                "file_path" => Some(&d.file_path),
                "language" => Some(&d.language),
                _ => None,
            },
        }
    }

    /// As a JSON object (for exclusion files).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Row::Json(v) => v.clone(),
            Row::Doc(d) => serde_json::to_value(d).expect("a Doc serializes"),
        }
    }
}

/// Every document of a shard, in order. A line that is not a JSON object with a string `text`,
/// or a Parquet file without FineWeb's columns, is an error naming the file and line or row.
pub fn read(path: &Path) -> Result<Vec<Row>, crate::Error> {
    match Format::of(path) {
        Format::Jsonl => read_jsonl(path),
        Format::Parquet => read_parquet(path),
    }
}

fn read_jsonl(path: &Path) -> Result<Vec<Row>, crate::Error> {
    let io = |source| crate::Error::Io { path: path.display().to_string(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    let reader: Box<dyn std::io::Read> =
        if gz { Box::new(flate2::read::MultiGzDecoder::new(file)) } else { Box::new(file) };
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(io)?;
        let bad = |what: String| crate::Error::Input(format!("{} line {}: {what}", path.display(), i + 1));
        let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| bad(format!("not JSON: {e}")))?;
        if !v.get("text").is_some_and(|t| t.is_string()) {
            return Err(bad("no \"text\" string".into()));
        }
        rows.push(Row::Json(v));
    }
    Ok(rows)
}

fn read_parquet(path: &Path) -> Result<Vec<Row>, crate::Error> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::{Field, RowAccessor};
    let bad = |what: String| crate::Error::Input(format!("{}: {what}", path.display()));
    let file =
        std::fs::File::open(path).map_err(|source| crate::Error::Io { path: path.display().to_string(), source })?;
    let reader = SerializedFileReader::new(file).map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let fields = reader.metadata().file_metadata().schema().get_fields().to_vec();
    let column = |name: &str| fields.iter().position(|f| f.name() == name);
    let text = column("text").ok_or_else(|| bad("no column named \"text\"".into()))?;
    let strings: Vec<Option<usize>> =
        ["id", "dump", "url", "date", "file_path", "language"].iter().map(|n| column(n)).collect();
    let (score, tokens) = (column("language_score"), column("token_count"));
    let mut rows = Vec::new();
    for (i, row) in reader.get_row_iter(None).map_err(|e| bad(e.to_string()))?.enumerate() {
        let row = row.map_err(|e| bad(format!("row {}: {e}", i + 1)))?;
        let string = |c: Option<usize>| c.and_then(|c| row.get_string(c).ok().cloned()).unwrap_or_default();
        let number = |c: Option<usize>| match c.and_then(|c| row.get_column_iter().nth(c)).map(|(_, f)| f) {
            Some(Field::Double(v)) => *v,
            Some(Field::Float(v)) => *v as f64,
            Some(Field::Long(v)) => *v as f64,
            Some(Field::Int(v)) => *v as f64,
            _ => 0.0,
        };
        let text = row.get_string(text).map_err(|e| bad(format!("row {}: text: {e}", i + 1)))?.clone();
        rows.push(Row::Doc(Doc {
            text,
            id: string(strings[0]),
            dump: string(strings[1]),
            url: string(strings[2]),
            date: string(strings[3]),
            file_path: string(strings[4]),
            language: string(strings[5]),
            language_score: number(score),
            token_count: number(tokens) as u64,
        }));
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
        std::fs::write(&jsonl, "{\"text\": \"one\", \"extra\": 1}\n{\"text\": \"two\"}\n").unwrap();
        let rows = read(&jsonl).unwrap();
        assert_eq!(rows.iter().map(Row::text).collect::<Vec<_>>(), ["one", "two"]);
        assert_eq!(rows[0].to_json()["extra"], 1);
        let pq = dir.join("b.parquet");
        let mut w = crate::output::ParquetWriter::create(&pq).unwrap();
        let doc = Doc { text: "three".into(), url: "http://x/".into(), token_count: 7, ..Doc::default() };
        w.write(&doc).unwrap();
        w.finish().unwrap();
        match &read(&pq).unwrap()[..] {
            [Row::Doc(d)] => assert_eq!(d, &doc),
            other => panic!("{other:?}"),
        }
        assert_eq!((stem(&pq), stem(&dir.join("00001.jsonl.gz"))), ("b".into(), "00001".into()));
        std::fs::write(&jsonl, "{\"text\": \"one\"}\n{\"text\": 2}\n").unwrap();
        let err = read(&jsonl).unwrap_err().to_string();
        assert!(err.contains("a.jsonl line 2"), "{err}");
        std::fs::write(&pq, "not parquet").unwrap();
        assert!(read(&pq).unwrap_err().to_string().contains("b.parquet"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
