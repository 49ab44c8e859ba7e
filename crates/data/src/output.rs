//! Output shards: gzipped JSON Lines of documents (datatrove's `JsonlWriter` format, FineWeb's
//! columns flattened), written to a temporary file and renamed into place when complete, so
//! a crashed or interrupted run never leaves a truncated shard under the final name.

use flate2::write::GzEncoder;
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct JsonlGzWriter {
    dst: PathBuf,
    tmp: PathBuf,
    out: GzEncoder<BufWriter<File>>,
    pub written: u64,
}

impl JsonlGzWriter {
    /// Starts `dst` (its folder is created).
    pub fn create(dst: &Path) -> io::Result<JsonlGzWriter> {
        if let Some(dir) = dst.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = dst.with_extension(format!("tmp.{}", std::process::id()));
        let out = GzEncoder::new(BufWriter::new(File::create(&tmp)?), flate2::Compression::default());
        Ok(JsonlGzWriter { dst: dst.to_path_buf(), tmp, out, written: 0 })
    }

    pub fn write(&mut self, row: &impl Serialize) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, row).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    /// Flushes, syncs and renames the shard into place.
    pub fn finish(self) -> io::Result<PathBuf> {
        let file = self.out.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&self.tmp, &self.dst)?;
        Ok(self.dst)
    }
}
