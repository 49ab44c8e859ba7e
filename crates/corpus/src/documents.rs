//! The one reader of documents for everything that trains on text or measures on it (the
//! tokenizer's training and stats, pretraining's token shards, the exam's held-out text, the
//! generated tasks' words): plain text, JSON Lines (`text` field) and Parquet (`text` column,
//! FineWeb's layout), gzipped or not, read in bounded batches so a corpus never has to fit in
//! memory. Plain text is cut into documents of at most [`TEXT_DOC_BYTES`] at line boundaries,
//! so every reader sees the same documents, and a document goes to the same split wherever it
//! is read.
//!
//! Bad records never stop a run: a JSON line that is not JSON or has no string `text` is
//! skipped and counted (the first few are reported with file and line); invalid UTF-8 in a text
//! file is replaced with U+FFFD and counted. Documents can be selected by language: those
//! whose `lang` or `language` field (column) names another language are left out and counted.

use crate::format::{is_gz, Format, CORPUS_ENDINGS};
use crate::Error;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Plain-text files are cut into documents of at most this many bytes (at a line boundary when
/// there is one), so one huge line or file never needs more memory than this.
pub const TEXT_DOC_BYTES: usize = 1 << 16;

/// How to read: batches of about `batch_bytes` of text; with `language`, only documents that
/// are in it or do not say.
#[derive(Clone, Debug)]
pub struct Options {
    pub batch_bytes: usize,
    pub language: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options { batch_bytes: 8 << 20, language: None }
    }
}

/// What reading produced: counts for the report.
#[derive(Clone, Debug, Default)]
pub struct InputStats {
    pub documents: u64,
    pub bytes: u64,
    /// Records that could not be used (bad JSON, missing `text`).
    pub skipped: u64,
    /// Documents left out because they are in another language than the one asked for.
    pub other_language: u64,
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

/// The files `paths` name: a folder stands for its corpus files (`format::CORPUS_ENDINGS`,
/// sorted), `-` for standard input.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for p in paths {
        match p.is_dir() {
            true => files.extend(crate::files_in(std::slice::from_ref(p), &CORPUS_ENDINGS, "corpus files")?),
            false => files.push(p.clone()),
        }
    }
    Ok(files)
}

/// Total size on disk of `paths` (folders: of their corpus files), for progress bars; `None`
/// when one is standard input.
pub fn total_file_bytes(paths: &[PathBuf]) -> Option<u64> {
    let files = expand(paths).ok()?;
    files.iter().map(|p| if p.as_os_str() == "-" { None } else { std::fs::metadata(p).ok().map(|m| m.len()) }).sum()
}

/// Every document of `paths` at once (for small corpora: the exam's text, the tasks' words).
pub fn read_all(paths: &[PathBuf], opts: &Options) -> Result<(Vec<String>, InputStats), Error> {
    let mut docs = Vec::new();
    let stats = read(paths, opts, |batch, _| {
        docs.extend(batch);
        true
    })?;
    Ok((docs, stats))
}

/// Reads every document of `paths` in batches of about 8 MiB; see [`read`].
pub fn for_each_batch(
    paths: &[PathBuf],
    batch_bytes: usize,
    f: impl FnMut(Vec<String>, u64) -> bool,
) -> Result<InputStats, Error> {
    read(paths, &Options { batch_bytes, language: None }, f)
}

/// Reads documents from `paths` (a folder: its corpus files; `-`: standard input, as text) and
/// calls `f` with
/// batches of about `opts.batch_bytes` bytes and the number of file bytes consumed so far (on
/// disk, compressed or not; to set against [`total_file_bytes`]). Stops early if `f` returns
/// false.
pub fn read(
    paths: &[PathBuf],
    opts: &Options,
    mut f: impl FnMut(Vec<String>, u64) -> bool,
) -> Result<InputStats, Error> {
    let mut stats = InputStats::default();
    let mut batch = Vec::new();
    let mut batch_size = 0;
    let mut keep_going = true;
    let consumed = std::rc::Rc::new(std::cell::Cell::new(0u64));
    for path in &expand(paths)? {
        let done_before = consumed.get();
        let mut push = |doc: String, language: Option<&str>, stats: &mut InputStats| {
            if let (Some(want), Some(got)) = (&opts.language, language) {
                if want != got {
                    stats.other_language += 1;
                    return true;
                }
            }
            stats.documents += 1;
            stats.bytes += doc.len() as u64;
            batch_size += doc.len();
            batch.push(doc);
            if batch_size >= opts.batch_bytes {
                batch_size = 0;
                keep_going = f(std::mem::take(&mut batch), consumed.get());
            }
            keep_going
        };
        let io = Error::io(path);
        if path.as_os_str() == "-" {
            read_text(std::io::stdin().lock(), &mut stats, &mut push).map_err(io)?;
            continue;
        }
        match Format::of(path) {
            Format::Parquet => {
                let mut problems = Vec::new();
                crate::parquet_read::texts(
                    path,
                    opts.language.is_some(),
                    &mut |_, text, language| push(text, language.as_deref(), &mut stats),
                    &mut |row, why| problems.push((row, why)),
                )?;
                for (row, why) in problems {
                    stats.problem(path, row, why);
                }
            }
            format => {
                let file = Counting { inner: std::fs::File::open(path).map_err(&io)?, count: consumed.clone() };
                let reader: Box<dyn Read> =
                    if is_gz(path) { Box::new(flate2::read::MultiGzDecoder::new(file)) } else { Box::new(file) };
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

/// Takes a document, its language if the record says, and the counts; false stops the read.
type Push<'a> = dyn FnMut(String, Option<&str>, &mut InputStats) -> bool + 'a;

fn read_jsonl(
    mut reader: impl std::io::BufRead,
    path: &Path,
    stats: &mut InputStats,
    push: &mut Push,
) -> std::io::Result<()> {
    let mut line = Vec::new();
    let mut line_no = 0u64;
    #[derive(serde::Deserialize)]
    struct Record {
        text: Option<serde_json::Value>,
        lang: Option<serde_json::Value>,
        language: Option<serde_json::Value>,
    }
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        line_no += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(Record { text: Some(serde_json::Value::String(text)), lang, language }) => {
                let language = language.as_ref().or(lang.as_ref()).and_then(|l| l.as_str());
                if !push(text, language, stats) {
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
        if !push(doc, None, stats) {
            return Ok(());
        }
    }
    Ok(())
}
