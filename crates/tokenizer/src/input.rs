//! Streaming text input for training and stats: plain text, JSONL (`text` field) and Parquet
//! (`text` column, FineWeb's layout), read in bounded batches so a corpus never has to fit in
//! memory.
//!
//! Bad records never stop a run: a JSONL line that is not JSON or has no string `text` is
//! skipped and counted (the first few are reported with file and line); invalid UTF-8 in a text
//! file is replaced with U+FFFD and counted.

use crate::Error;
use std::io::Read;
use std::path::{Path, PathBuf};

/// How a file's documents are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Plain UTF-8 text, cut into documents of at most [`TEXT_DOC_BYTES`] at line boundaries.
    Text,
    /// One JSON object per line with a string field `text`.
    Jsonl,
    /// Apache Parquet with a string column `text`.
    Parquet,
}

/// Plain-text files are cut into documents of at most this many bytes (at a line boundary when
/// there is one), so one huge line or file never needs more memory than this.
pub const TEXT_DOC_BYTES: usize = 1 << 16;

impl Format {
    /// Guesses the format from the file name (`.jsonl`, `.json`, `.parquet`; else text).
    pub fn detect(path: &Path) -> Format {
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

/// What reading produced: counts for the report.
#[derive(Clone, Debug, Default)]
pub struct InputStats {
    pub documents: u64,
    pub bytes: u64,
    /// Records that could not be used (bad JSON, missing `text`).
    pub skipped: u64,
    /// Invalid UTF-8 sequences replaced with U+FFFD.
    pub replaced: u64,
    /// The first few problems, as `file:line: message`.
    pub problems: Vec<String>,
}

impl InputStats {
    fn problem(&mut self, path: &Path, line: u64, message: impl std::fmt::Display) {
        self.skipped += 1;
        if self.problems.len() < 10 {
            self.problems.push(format!("{}:{line}: {message}", path.display()));
        }
    }
}

/// Total size on disk of `paths`, for progress bars; `None` when one is standard input.
pub fn total_file_bytes(paths: &[PathBuf]) -> Option<u64> {
    paths.iter().map(|p| if p.as_os_str() == "-" { None } else { std::fs::metadata(p).ok().map(|m| m.len()) }).sum()
}

/// Reads documents from `paths` (a path of `-` is standard input, as text) and calls `f` with
/// batches of about `batch_bytes` bytes and the number of file bytes consumed so far (on disk,
/// compressed or not; to set against [`total_file_bytes`]). Stops early if `f` returns false.
pub fn for_each_batch(
    paths: &[PathBuf],
    batch_bytes: usize,
    mut f: impl FnMut(Vec<String>, u64) -> bool,
) -> Result<InputStats, Error> {
    let mut stats = InputStats::default();
    let mut batch = Vec::new();
    let mut batch_size = 0;
    let mut keep_going = true;
    let consumed = std::rc::Rc::new(std::cell::Cell::new(0u64));
    for path in paths {
        let done_before = consumed.get();
        let mut push = |doc: String, stats: &mut InputStats| {
            stats.documents += 1;
            stats.bytes += doc.len() as u64;
            batch_size += doc.len();
            batch.push(doc);
            if batch_size >= batch_bytes {
                batch_size = 0;
                keep_going = f(std::mem::take(&mut batch), consumed.get());
            }
            keep_going
        };
        let io = |e: std::io::Error| Error::Io { path: path.display().to_string(), source: e };
        if path.as_os_str() == "-" {
            read_text(std::io::stdin().lock(), &mut stats, &mut push).map_err(io)?;
            continue;
        }
        match Format::detect(path) {
            Format::Parquet => crate::input_parquet::read(path, &mut stats, &mut push)?,
            format => {
                let file = Counting { inner: std::fs::File::open(path).map_err(io)?, count: consumed.clone() };
                let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
                    Box::new(flate2::read::MultiGzDecoder::new(file))
                } else {
                    Box::new(file)
                };
                let reader = std::io::BufReader::with_capacity(1 << 20, reader);
                if format == Format::Jsonl {
                    read_jsonl(reader, path, &mut stats, &mut push).map_err(io)?;
                } else {
                    read_text(reader, &mut stats, &mut push).map_err(io)?;
                }
            }
        }
        if !keep_going {
            return Ok(stats);
        }
        if let Some(size) = total_file_bytes(std::slice::from_ref(path)) {
            consumed.set(done_before + size); // exact even where the reader did not count
        }
    }
    if !batch.is_empty() {
        f(batch, consumed.get());
    }
    Ok(stats)
}

/// A reader that adds the bytes it reads to a shared counter.
struct Counting<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

type Push<'a> = dyn FnMut(String, &mut InputStats) -> bool + 'a;

fn read_jsonl(
    mut reader: impl std::io::BufRead,
    path: &Path,
    stats: &mut InputStats,
    push: &mut Push,
) -> std::io::Result<()> {
    let mut line = Vec::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        line_no += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        #[derive(serde::Deserialize)]
        struct Record {
            text: Option<serde_json::Value>,
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(Record { text: Some(serde_json::Value::String(text)) }) => {
                if !push(text, stats) {
                    return Ok(());
                }
            }
            Ok(_) => stats.problem(path, line_no, "no string field \"text\""),
            Err(e) => stats.problem(path, line_no, format!("invalid JSON: {e}")),
        }
    }
}

/// Plain text in documents of at most `TEXT_DOC_BYTES`, cut after the last newline of each
/// block (or at a char boundary when a line is longer than a block).
fn read_text(mut reader: impl Read, stats: &mut InputStats, push: &mut Push) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(TEXT_DOC_BYTES * 2);
    let mut eof = false;
    while !eof || !buf.is_empty() {
        while !eof && buf.len() < TEXT_DOC_BYTES {
            let start = buf.len();
            buf.resize(TEXT_DOC_BYTES, 0);
            let n = reader.read(&mut buf[start..])?;
            buf.truncate(start + n);
            eof = n == 0;
        }
        if buf.is_empty() {
            break;
        }
        let cut = if eof && buf.len() <= TEXT_DOC_BYTES {
            buf.len()
        } else {
            let limit = buf.len().min(TEXT_DOC_BYTES);
            match memchr::memrchr(b'\n', &buf[..limit]) {
                Some(i) => i + 1,
                // No newline: cut before a UTF-8 continuation byte run, never inside a char.
                None => (limit.saturating_sub(3)..=limit)
                    .rev()
                    .find(|&i| i == 0 || i == buf.len() || buf[i] & 0xC0 != 0x80)
                    .unwrap_or(limit),
            }
        };
        let cut = cut.max(1).min(buf.len());
        let doc = match String::from_utf8(buf[..cut].to_vec()) {
            Ok(s) => s,
            Err(e) => {
                // Count the invalid sequences themselves (a U+FFFD already in the text is not one).
                stats.replaced += e.as_bytes().utf8_chunks().filter(|c| !c.invalid().is_empty()).count() as u64;
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        buf.drain(..cut);
        if !push(doc, stats) {
            return Ok(());
        }
    }
    Ok(())
}

/// Truncates `text` to at most `max_chars` chars.
pub fn truncate_chars(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
