//! Shard writers: gzipped JSON Lines of documents (datatrove's `JsonlWriter` format, FineWeb's
//! columns flattened) or Parquet (FineWeb's published format), written to a temporary file and
//! renamed into place when complete, so a crashed or interrupted run never leaves a truncated
//! shard under the final name. A writer dropped unfinished (an error, a full disk) removes its
//! temporary file, and every error names the shard it was writing.

use flate2::write::GzEncoder;
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A temporary file, removed when dropped unless it was renamed into place first.
struct Temp(PathBuf);

impl Temp {
    /// `NAME.tmp.PID` next to the shard, after removing what a killed writer of the same shard
    /// left there (a temporary file with another process id).
    fn for_shard(dst: &Path) -> Temp {
        let tmp = dst.with_extension(format!("tmp.{}", std::process::id()));
        crate::fs::remove_stale_temporaries(&tmp);
        Temp(tmp)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        // Nothing is there after the rename; after a failure this frees the space it took.
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The error, saying which shard was being written (the kind is kept: a full disk stays one).
fn naming(dst: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("writing {}: {e}", dst.display()))
}

pub struct JsonlGzWriter {
    dst: PathBuf,
    tmp: Temp,
    out: GzEncoder<BufWriter<File>>,
    pub written: u64,
}

impl JsonlGzWriter {
    /// Starts `dst` (its folder is created).
    pub fn create(dst: &Path) -> io::Result<JsonlGzWriter> {
        if let Some(dir) = dst.parent() {
            std::fs::create_dir_all(dir).map_err(naming(dst))?;
        }
        let tmp = Temp::for_shard(dst);
        let out =
            GzEncoder::new(BufWriter::new(File::create(&tmp.0).map_err(naming(dst))?), flate2::Compression::default());
        Ok(JsonlGzWriter { dst: dst.to_path_buf(), tmp, out, written: 0 })
    }

    pub fn write(&mut self, row: &impl Serialize) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, row).map_err(io::Error::from).map_err(naming(&self.dst))?;
        self.out.write_all(b"\n").map_err(naming(&self.dst))?;
        self.written += 1;
        Ok(())
    }

    /// Flushes, syncs and renames the shard into place.
    pub fn finish(self) -> io::Result<PathBuf> {
        let named = naming(&self.dst);
        let file = self.out.finish().and_then(|w| w.into_inner().map_err(|e| e.into_error())).map_err(&named)?;
        file.sync_all().map_err(&named)?;
        std::fs::rename(&self.tmp.0, &self.dst).map_err(&named)?;
        Ok(self.dst.clone())
    }
}

/// A shard of kept documents in either format.
pub enum ShardWriter {
    Jsonl(JsonlGzWriter),
    Parquet(ParquetWriter),
}

impl ShardWriter {
    /// `stem` plus `.jsonl.gz` or `.parquet`.
    pub fn create(stem: &Path, parquet: bool) -> io::Result<ShardWriter> {
        let name = stem.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(if parquet {
            ShardWriter::Parquet(ParquetWriter::create(&stem.with_file_name(format!("{name}.parquet")))?)
        } else {
            ShardWriter::Jsonl(JsonlGzWriter::create(&stem.with_file_name(format!("{name}.jsonl.gz")))?)
        })
    }

    pub fn write(&mut self, doc: &crate::Doc) -> io::Result<()> {
        match self {
            ShardWriter::Jsonl(w) => w.write(doc),
            ShardWriter::Parquet(w) => w.write(doc),
        }
    }

    pub fn written(&self) -> u64 {
        match self {
            ShardWriter::Jsonl(w) => w.written,
            ShardWriter::Parquet(w) => w.written,
        }
    }

    pub fn finish(self) -> io::Result<PathBuf> {
        match self {
            ShardWriter::Jsonl(w) => w.finish(),
            ShardWriter::Parquet(w) => w.finish(),
        }
    }
}

/// Rows per Parquet row group.
const ROW_GROUP: usize = 1000;

/// Parquet shards with FineWeb's published columns, snappy-compressed,
/// written like `JsonlGzWriter` (temporary file, renamed when complete).
pub struct ParquetWriter {
    dst: PathBuf,
    tmp: Temp,
    writer: parquet::file::writer::SerializedFileWriter<File>,
    rows: Vec<crate::Doc>,
    pub written: u64,
}

const SCHEMA: &str = "message document {
    REQUIRED BYTE_ARRAY text (UTF8);
    REQUIRED BYTE_ARRAY id (UTF8);
    REQUIRED BYTE_ARRAY dump (UTF8);
    REQUIRED BYTE_ARRAY url (UTF8);
    REQUIRED BYTE_ARRAY date (UTF8);
    REQUIRED BYTE_ARRAY file_path (UTF8);
    REQUIRED BYTE_ARRAY language (UTF8);
    REQUIRED DOUBLE language_score;
    REQUIRED INT64 token_count;
}";

impl ParquetWriter {
    pub fn create(dst: &Path) -> io::Result<ParquetWriter> {
        use parquet::basic::Compression;
        use parquet::file::properties::WriterProperties;
        if let Some(dir) = dst.parent() {
            std::fs::create_dir_all(dir).map_err(naming(dst))?;
        }
        let tmp = Temp::for_shard(dst);
        let schema =
            std::sync::Arc::new(parquet::schema::parser::parse_message_type(SCHEMA).map_err(io::Error::other)?);
        let props = std::sync::Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
        let file = File::create(&tmp.0).map_err(naming(dst))?;
        let writer = parquet::file::writer::SerializedFileWriter::new(file, schema, props)
            .map_err(io::Error::other)
            .map_err(naming(dst))?;
        Ok(ParquetWriter { dst: dst.to_path_buf(), tmp, writer, rows: Vec::new(), written: 0 })
    }

    pub fn write(&mut self, doc: &crate::Doc) -> io::Result<()> {
        self.rows.push(doc.clone());
        self.written += 1;
        if self.rows.len() == ROW_GROUP {
            self.flush().map_err(naming(&self.dst))?;
        }
        Ok(())
    }

    /// Writes the buffered rows as one row group.
    fn flush(&mut self) -> io::Result<()> {
        use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let strings: [fn(&crate::Doc) -> &str; 7] =
            [|d| &d.text, |d| &d.id, |d| &d.dump, |d| &d.url, |d| &d.date, |d| &d.file_path, |d| &d.language];
        let mut group = self.writer.next_row_group().map_err(io::Error::other)?;
        for get in strings {
            let values: Vec<ByteArray> = rows.iter().map(|d| ByteArray::from(get(d))).collect();
            let mut col = group.next_column().map_err(io::Error::other)?.expect("the schema's next column");
            col.typed::<ByteArrayType>().write_batch(&values, None, None).map_err(io::Error::other)?;
            col.close().map_err(io::Error::other)?;
        }
        let scores: Vec<f64> = rows.iter().map(|d| d.language_score).collect();
        let mut col = group.next_column().map_err(io::Error::other)?.expect("the schema's last column");
        col.typed::<DoubleType>().write_batch(&scores, None, None).map_err(io::Error::other)?;
        col.close().map_err(io::Error::other)?;
        let tokens: Vec<i64> = rows.iter().map(|d| d.token_count as i64).collect();
        let mut col = group.next_column().map_err(io::Error::other)?.expect("the schema's last column");
        col.typed::<Int64Type>().write_batch(&tokens, None, None).map_err(io::Error::other)?;
        col.close().map_err(io::Error::other)?;
        group.close().map_err(io::Error::other)?;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<PathBuf> {
        let dst = self.dst.clone();
        let named = naming(&dst);
        self.flush().map_err(&named)?;
        let file = self.writer.into_inner().map_err(io::Error::other).map_err(&named)?;
        file.sync_all().map_err(&named)?;
        std::fs::rename(&self.tmp.0, &dst).map_err(&named)?;
        Ok(dst.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Doc;

    #[test]
    fn parquet_shards_read_back() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use parquet::record::RowAccessor;
        let dst = std::env::temp_dir().join(format!("minichat-out-{}.parquet", std::process::id()));
        let mut w = ParquetWriter::create(&dst).unwrap();
        let docs: Vec<Doc> = (0..2500)
            .map(|i| Doc {
                text: format!("text {i} é"),
                id: format!("<urn:{i}>"),
                language: "en".into(),
                language_score: i as f64 / 2500.0,
                token_count: i,
                ..Doc::default()
            })
            .collect();
        for d in &docs {
            w.write(d).unwrap();
        }
        w.finish().unwrap();
        let reader = SerializedFileReader::new(File::open(&dst).unwrap()).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 3);
        let rows: Vec<_> = reader.get_row_iter(None).unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 2500);
        assert_eq!(rows[7].get_string(0).unwrap(), "text 7 é");
        assert_eq!(rows[7].get_string(1).unwrap(), "<urn:7>");
        assert_eq!(rows[2499].get_double(7).unwrap(), 2499.0 / 2500.0);
        assert_eq!(rows[2499].get_long(8).unwrap(), 2499);
        std::fs::remove_file(&dst).unwrap();
    }
}
