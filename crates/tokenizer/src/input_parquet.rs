//! Parquet input: the `text` column of each row (FineWeb's shards keep the document there).

use crate::input::InputStats;
use crate::Error;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::RowAccessor;
use parquet::schema::types::Type;
use std::path::Path;
use std::sync::Arc;

/// Streams the `text` column of `path` row by row into `push`.
pub(crate) fn read(
    path: &Path,
    stats: &mut InputStats,
    push: &mut dyn FnMut(String, &mut InputStats) -> bool,
) -> Result<(), Error> {
    let bad = |message: String| Error::Input { path: path.display().to_string(), line: 0, message };
    let file = std::fs::File::open(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
    let reader = SerializedFileReader::new(file).map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let schema = reader.metadata().file_metadata().schema();
    let text_field = schema
        .get_fields()
        .iter()
        .find(|f| f.name() == "text")
        .cloned()
        .ok_or_else(|| bad("no column named \"text\"".into()))?;
    let projection = Type::group_type_builder(schema.name())
        .with_fields(vec![Arc::clone(&text_field)])
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let rows = reader.get_row_iter(Some(projection)).map_err(|e| bad(e.to_string()))?;
    for (i, row) in rows.enumerate() {
        let row_no = i as u64 + 1;
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                return Err(Error::Input {
                    path: path.display().to_string(),
                    line: row_no as usize,
                    message: format!("row {row_no}: {e}"),
                })
            }
        };
        match row.get_string(0) {
            Ok(text) => {
                if !push(text.clone(), stats) {
                    return Ok(());
                }
            }
            Err(e) => {
                stats.skipped += 1;
                if stats.problems.len() < 10 {
                    stats.problems.push(format!("{}: row {row_no}: {e}", path.display()));
                }
            }
        }
    }
    Ok(())
}
