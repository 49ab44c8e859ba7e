//! Reading Parquet files: the `text` column streamed row by row (for training, with the
//! `language` column when documents are selected by language), or whole rows with FineWeb's
//! columns (for the data stages).

use crate::{Doc, Error};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, RowAccessor};
use parquet::schema::types::Type;
use std::path::Path;

fn open(path: &Path) -> Result<SerializedFileReader<std::fs::File>, Error> {
    let file = std::fs::File::open(path).map_err(Error::io(path))?;
    SerializedFileReader::new(file)
        .map_err(|e| Error::Bad(format!("{}: not a readable Parquet file: {e}", path.display())))
}

/// Streams the `text` column of `path` (and `language`, when `with_language` and the file has
/// one) into `push(row number, text, language)`, until it returns false. A row whose text is
/// not a string goes to `skip(row number, reason)`.
pub(crate) fn texts(
    path: &Path,
    with_language: bool,
    push: &mut dyn FnMut(u64, String, Option<String>) -> bool,
    skip: &mut dyn FnMut(u64, String),
) -> Result<(), Error> {
    let bad = |message: String| Error::Bad(format!("{}: {message}", path.display()));
    let reader = open(path)?;
    let schema = reader.metadata().file_metadata().schema();
    let field = |name: &str| schema.get_fields().iter().find(|f| f.name() == name).cloned();
    let text = field("text").ok_or_else(|| bad("no column named \"text\"".into()))?;
    let language = field("language").filter(|_| with_language);
    let projection = Type::group_type_builder(schema.name())
        .with_fields([Some(text), language.clone()].into_iter().flatten().collect())
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let rows = reader.get_row_iter(Some(projection)).map_err(|e| bad(e.to_string()))?;
    for (i, row) in rows.enumerate() {
        let row_no = i as u64 + 1;
        let row = row.map_err(|e| bad(format!("row {row_no}: {e}")))?;
        let lang = language.as_ref().and_then(|_| row.get_string(1).ok().cloned());
        match row.get_string(0) {
            Ok(text) => {
                if !push(row_no, text.clone(), lang) {
                    return Ok(());
                }
            }
            Err(e) => skip(row_no, e.to_string()),
        }
    }
    Ok(())
}

/// Every row of `path` as a document with FineWeb's columns (missing ones empty or zero); the
/// file must have a `text` column.
pub(crate) fn docs(path: &Path) -> Result<Vec<Doc>, Error> {
    let bad = |what: String| Error::Bad(format!("{}: {what}", path.display()));
    let reader = open(path)?;
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
        rows.push(Doc {
            text,
            id: string(strings[0]),
            dump: string(strings[1]),
            url: string(strings[2]),
            date: string(strings[3]),
            file_path: string(strings[4]),
            language: string(strings[5]),
            language_score: number(score),
            token_count: number(tokens) as u64,
        });
    }
    Ok(rows)
}
