//! WARC 1.0/1.1 reading (ISO 28500), robust to the damage real crawls have: gzip files with
//! one member per record (or one member for all), zstd (with the `.warc.zst` dictionary
//! frame or without), or plain; garbage between records,
//! truncated members, wrong `Content-Length`s and cut-off files are counted by kind and
//! skipped, and reading resumes at the next record. Nothing here panics or loops on bad bytes
//! (a fuzz target checks that).
//!
//! Why not the `fastwarc` crate: measured with 2.0.0, after any of those faults its iterator
//! returns "No reader set" forever and never reaches the next record.
//!
//! Layout: a `Source` yields decompressed bytes and says where the stream broke (a bad gzip
//! member is skipped by scanning for the next member's magic bytes); the `WarcReader` finds
//! records in those bytes, and never lets a record span a break.

use crate::stats::Counts;
use memchr::memmem;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Longest WARC header block accepted (fastwarc and warcio use 32-64 KiB).
const MAX_HEADER: usize = 64 << 10;
/// Bytes decompressed per `fill`.
const CHUNK: usize = 64 << 10;

/// The name endings of WARC files (Common Crawl's WET files are WARC files named `.warc.wet.gz`).
pub const ENDINGS: [&str; 5] = [".warc", ".warc.gz", ".warc.zst", ".wet", ".wet.gz"];

/// The WARC files named by `inputs` (a folder stands for its WARC files, sorted).
pub fn files(inputs: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>, crate::Error> {
    Ok(minichat_corpus::files_in(inputs, &ENDINGS, "WARC files")?)
}

/// Header fields in file order: (name, value).
pub type Fields = Vec<(String, String)>;

/// One WARC record: its named header fields (in order) and its content block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub version: String,
    pub headers: Fields,
    pub block: Vec<u8>,
}

impl Record {
    /// The first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `WARC-Type`, lowercased ("response", "request", "warcinfo", ...).
    pub fn warc_type(&self) -> String {
        self.header("WARC-Type").unwrap_or("").to_ascii_lowercase()
    }

    /// `WARC-Target-URI` without the angle brackets some writers (wget, WARC 1.0 examples) add.
    pub fn target_uri(&self) -> Option<&str> {
        self.header("WARC-Target-URI").map(|u| u.trim().trim_start_matches('<').trim_end_matches('>'))
    }
}

/// What a `Source::fill` produced.
#[derive(Debug, PartialEq, Eq)]
enum Fill {
    /// Appended some bytes.
    Data,
    /// The bytes that follow do not continue the ones before (a damaged part was skipped).
    Break,
    Eof,
}

/// Decompressed bytes of a WARC file.
trait Source {
    fn fill(&mut self, out: &mut Vec<u8>, counts: &mut Counts) -> io::Result<Fill>;
}

/// Appends up to `CHUNK` bytes read from `r`; returns how many.
fn read_chunk(r: &mut impl Read, out: &mut Vec<u8>) -> io::Result<usize> {
    let n0 = out.len();
    out.resize(n0 + CHUNK, 0);
    let got = loop {
        match r.read(&mut out[n0..]) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    out.truncate(n0 + *got.as_ref().unwrap_or(&0));
    got
}

struct Plain<R>(R);

impl<R: Read> Source for Plain<R> {
    fn fill(&mut self, out: &mut Vec<u8>, _: &mut Counts) -> io::Result<Fill> {
        Ok(if read_chunk(&mut self.0, out)? == 0 { Fill::Eof } else { Fill::Data })
    }
}

/// zstd frames; a damaged frame ends the file (zstd has no member magic to resync on cheaply).
struct Zstd<R: BufRead>(Option<zstd::stream::read::Decoder<'static, R>>);

impl<R: BufRead> Source for Zstd<R> {
    fn fill(&mut self, out: &mut Vec<u8>, counts: &mut Counts) -> io::Result<Fill> {
        let Some(dec) = self.0.as_mut() else { return Ok(Fill::Eof) };
        match read_chunk(dec, out) {
            Ok(0) => Ok(Fill::Eof),
            Ok(_) => Ok(Fill::Data),
            Err(_) => {
                counts.inc("zstd_error");
                self.0 = None;
                Ok(Fill::Break)
            }
        }
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];

/// Members up to this size are decompressed whole and kept only if they check out (CRC and
/// length): a damaged member yields nothing. Larger ones (a whole file in one member) stream.
const MEMBER_BUFFER: usize = 16 << 20;

/// gzip members one after another; a member that fails to decompress is abandoned and reading
/// resumes at the next gzip magic after its start.
struct Gzip<R: BufRead + Seek> {
    idle: Option<R>,
    member: Option<flate2::bufread::GzDecoder<R>>,
    member_start: u64,
    /// The current member is past `MEMBER_BUFFER` and streams.
    streaming: bool,
    eof: bool,
}

impl<R: BufRead + Seek> Gzip<R> {
    fn new(r: R) -> Self {
        Gzip { idle: Some(r), member: None, member_start: 0, streaming: false, eof: false }
    }

    /// Abandons the current member after an error: back to just after its start.
    fn abandon(&mut self, counts: &mut Counts) -> io::Result<Fill> {
        counts.inc("gzip_error");
        let mut r = self.member.take().expect("a member is open").into_inner();
        r.seek(SeekFrom::Start(self.member_start + 1))?;
        self.idle = Some(r);
        Ok(Fill::Break)
    }
}

impl<R: BufRead + Seek> Source for Gzip<R> {
    fn fill(&mut self, out: &mut Vec<u8>, counts: &mut Counts) -> io::Result<Fill> {
        loop {
            if self.eof {
                return Ok(Fill::Eof);
            }
            if self.member.is_none() {
                let mut r = self.idle.take().expect("a reader is idle between members");
                let (skipped, found) = find_magic(&mut r)?;
                if skipped > 0 {
                    counts.inc("garbage_between_members");
                }
                if !found {
                    self.eof = true;
                    return Ok(if skipped > 0 { Fill::Break } else { Fill::Eof });
                }
                self.member_start = r.stream_position()?;
                self.member = Some(flate2::bufread::GzDecoder::new(r));
                self.streaming = false;
                if skipped > 0 {
                    return Ok(Fill::Break);
                }
            }
            let member = self.member.as_mut().expect("set above");
            if self.streaming {
                match read_chunk(member, out) {
                    Ok(0) => self.idle = Some(self.member.take().expect("set").into_inner()),
                    Ok(_) => return Ok(Fill::Data),
                    Err(_) => return self.abandon(counts),
                }
                continue;
            }
            // Decompress the whole member (up to the buffer size) before using any of it.
            let mut whole = Vec::new();
            loop {
                match read_chunk(member, &mut whole) {
                    Ok(0) => break,
                    Ok(_) if whole.len() > MEMBER_BUFFER => {
                        self.streaming = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => return self.abandon(counts),
                }
            }
            if !self.streaming {
                self.idle = Some(self.member.take().expect("set").into_inner());
            }
            if !whole.is_empty() {
                out.extend_from_slice(&whole);
                return Ok(Fill::Data);
            }
        }
    }
}

/// Moves `r` to the next gzip magic; returns the bytes skipped and whether one was found
/// (false: the file ended first).
fn find_magic<R: BufRead + Seek>(r: &mut R) -> io::Result<(u64, bool)> {
    let mut skipped = 0u64;
    // The last bytes of the previous buffer, in case the magic straddles two reads.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok((skipped, false));
        }
        if !tail.is_empty() {
            let back = tail.len();
            let mut hay = std::mem::take(&mut tail);
            hay.extend_from_slice(&buf[..buf.len().min(GZIP_MAGIC.len())]);
            if let Some(i) = memmem::find(&hay, GZIP_MAGIC).filter(|&i| i < back) {
                // It starts in bytes already consumed: step back to it.
                let here = r.stream_position()?;
                r.seek(SeekFrom::Start(here - (back - i) as u64))?;
                return Ok((skipped - (back - i) as u64, true));
            }
        }
        if let Some(i) = memmem::find(buf, GZIP_MAGIC) {
            r.consume(i);
            return Ok((skipped + i as u64, true));
        }
        let n = buf.len();
        tail = buf[n.saturating_sub(GZIP_MAGIC.len() - 1)..].to_vec();
        r.consume(n);
        skipped += n as u64;
    }
}

/// How a WARC file is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Plain,
    Gzip,
    Zstd,
}

impl Kind {
    /// From the first bytes: a magic number at the start, or else (garbage before the first
    /// record) whichever of a gzip magic and a `WARC/1.` line comes first.
    fn detect(head: &[u8]) -> Kind {
        if head.starts_with(GZIP_MAGIC) {
            return Kind::Gzip;
        }
        if head.starts_with(ZSTD_MAGIC) || head.starts_with(DICTIONARY_FRAME) {
            return Kind::Zstd;
        }
        match (memmem::find(head, GZIP_MAGIC), memmem::find(head, b"WARC/1.")) {
            (Some(g), w) if w.is_none_or(|w| g < w) => Kind::Gzip,
            _ => Kind::Plain,
        }
    }

    fn source<R: BufRead + Seek + Send + 'static>(self, r: R) -> io::Result<Box<dyn Source + Send>> {
        Ok(match self {
            Kind::Plain => Box::new(Plain(r)),
            Kind::Gzip => Box::new(Gzip::new(r)),
            Kind::Zstd => {
                let mut r = r;
                let dictionary = read_dictionary(&mut r)?;
                Box::new(Zstd(Some(zstd::stream::read::Decoder::with_dictionary(r, &dictionary)?)))
            }
        })
    }
}

const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
/// The skippable frame (magic 0x184D2A5D, little-endian) that starts a `.warc.zst` whose records
/// were compressed with a dictionary: the dictionary, itself zstd-compressed or not (the
/// `.warc.zst` convention of the Internet Archive and ArchiveTeam's wget-at).
const DICTIONARY_FRAME: &[u8] = &[0x5d, 0x2a, 0x4d, 0x18];
/// Dictionaries are some hundred KiB; a larger one is refused rather than read into memory.
const MAX_DICTIONARY: u64 = 16 << 20;

/// Reads the dictionary frame at the start of a `.warc.zst`, if there is one (else empty).
fn read_dictionary<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    if !r.fill_buf()?.starts_with(DICTIONARY_FRAME) {
        return Ok(Vec::new());
    }
    let mut head = [0u8; 8];
    r.read_exact(&mut head)?;
    let size = u32::from_le_bytes(head[4..].try_into().expect("4 bytes")) as u64;
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("zstd dictionary frame: {what}"));
    if size > MAX_DICTIONARY {
        return Err(bad("over 16 MiB"));
    }
    let mut dictionary = Vec::new();
    r.take(size).read_to_end(&mut dictionary)?;
    if (dictionary.len() as u64) < size {
        return Err(bad("cut off"));
    }
    if dictionary.starts_with(ZSTD_MAGIC) {
        let mut plain = Vec::new();
        zstd::stream::read::Decoder::new(&dictionary[..])?.take(MAX_DICTIONARY + 1).read_to_end(&mut plain)?;
        if plain.len() as u64 > MAX_DICTIONARY {
            return Err(bad("over 16 MiB"));
        }
        dictionary = plain;
    }
    Ok(dictionary)
}

/// Reads the records of one WARC file, counting what it had to skip in `counts`:
/// `garbage` (bytes between records that are no record), `bad_header` (no parsable header or
/// Content-Length), `bad_length` (the block is not followed by CRLF CRLF: a wrong
/// Content-Length), `truncated` (a record cut by the end of the file or a damaged member),
/// `too_large` (over `max_record` bytes, skipped unread), `gzip_error`,
/// `garbage_between_members`, `zstd_error`. `records` counts the records returned.
pub struct WarcReader {
    src: Box<dyn Source + Send>,
    buf: Vec<u8>,
    pos: usize,
    /// Offsets in `buf` where the stream broke, ascending.
    breaks: Vec<usize>,
    eof: bool,
    max_record: usize,
    pub counts: Counts,
}

impl WarcReader {
    /// Opens a WARC file, detecting gzip and zstd by their magic bytes.
    pub fn open(path: &Path, max_record: usize) -> io::Result<WarcReader> {
        let mut r = BufReader::with_capacity(1 << 16, File::open(path)?);
        let kind = Kind::detect(r.fill_buf()?);
        Ok(WarcReader::with_source(kind.source(r)?, max_record))
    }

    /// Reads WARC bytes from memory (plain, gzip or zstd), as `open` does a file.
    pub fn from_bytes(bytes: Vec<u8>, max_record: usize) -> io::Result<WarcReader> {
        let kind = Kind::detect(&bytes[..bytes.len().min(1 << 16)]);
        Ok(WarcReader::with_source(kind.source(io::Cursor::new(bytes))?, max_record))
    }

    fn with_source(src: Box<dyn Source + Send>, max_record: usize) -> WarcReader {
        WarcReader {
            src,
            buf: Vec::new(),
            pos: 0,
            breaks: Vec::new(),
            eof: false,
            max_record,
            counts: Counts::default(),
        }
    }

    /// Reads more bytes; false at the end of the file.
    fn more(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        // Drop what was read, so the buffer holds about one record.
        if self.pos > (1 << 20) && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.breaks.retain(|&b| b > self.pos);
            self.breaks.iter_mut().for_each(|b| *b -= self.pos);
            self.pos = 0;
        }
        match self.src.fill(&mut self.buf, &mut self.counts)? {
            Fill::Data => Ok(true),
            Fill::Break => {
                if self.breaks.last() != Some(&self.buf.len()) {
                    self.breaks.push(self.buf.len());
                }
                Ok(true)
            }
            Fill::Eof => {
                self.eof = true;
                Ok(false)
            }
        }
    }

    /// Makes `buf[pos..pos + n]` available if the file has it; false if it ends first.
    fn have(&mut self, n: usize) -> io::Result<bool> {
        while self.buf.len() < self.pos + n {
            if !self.more()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The first break after `pos`, if any.
    fn next_break(&self) -> Option<usize> {
        self.breaks.iter().copied().find(|&b| b > self.pos)
    }

    /// Moves `pos` to the next plausible record start (`WARC/1.` at a line start or right
    /// after a break) at or after `from`, reading as needed; false at end of file.
    fn resync(&mut self, from: usize) -> io::Result<bool> {
        self.pos = from;
        loop {
            let limit = self.next_break().unwrap_or(self.buf.len());
            let hay = &self.buf[self.pos..limit];
            if hay.starts_with(b"WARC/1.")
                && (self.pos == 0 || self.buf[self.pos - 1] == b'\n' || self.breaks.contains(&self.pos))
            {
                return Ok(true);
            }
            if let Some(i) = memmem::find(hay, b"\nWARC/1.") {
                self.pos += i + 1;
                return Ok(true);
            }
            if limit < self.buf.len() {
                self.pos = limit;
                continue;
            }
            // Keep a few bytes in case the marker straddles the next read.
            self.pos = self.pos.max(self.buf.len().saturating_sub(8));
            if !self.more()? {
                self.pos = self.buf.len();
                return Ok(false);
            }
        }
    }

    /// The next record, or None at the end of the file. Errors are only I/O errors of the file
    /// itself; damaged records are counted and skipped.
    pub fn next_record(&mut self) -> io::Result<Option<Record>> {
        loop {
            // Blank lines between records are allowed.
            loop {
                if !self.have(1)? {
                    return Ok(None);
                }
                match self.buf[self.pos] {
                    b'\r' | b'\n' => self.pos += 1,
                    _ => break,
                }
            }
            if !self.have(7)? || !self.buf[self.pos..].starts_with(b"WARC/1.") {
                self.counts.inc("garbage");
                let from = self.pos + 1;
                if !self.resync(from)? {
                    return Ok(None);
                }
                continue;
            }
            // (Offsets are taken from `pos` after each read: reading may compact the buffer.)
            let Some(header_len) = self.header_len()? else {
                // No end of header: cut off by a break, the end of the file, or too long.
                self.counts.inc(if self.eof || self.next_break().is_some() { "truncated" } else { "bad_header" });
                if !self.resync(self.pos + 1)? {
                    return Ok(None);
                }
                continue;
            };
            let (start, body) = (self.pos, self.pos + header_len);
            let Some((version, headers, length)) = parse_header(&self.buf[start..body]) else {
                self.counts.inc("bad_header");
                if !self.resync(start + 1)? {
                    return Ok(None);
                }
                continue;
            };
            if length > self.max_record {
                self.counts.inc("too_large");
                self.skip(body, length)?;
                continue;
            }
            let complete = self.have(header_len + length + 4)?;
            let (start, body) = (self.pos, self.pos + header_len);
            let end = body + length;
            if !complete || self.breaks.iter().any(|&b| b > start && b < end + 4) {
                // The record runs past the end of the file or across a damaged member; look
                // for records inside what was read (a too-large Content-Length swallows them).
                self.counts.inc("truncated");
                if !self.resync(body)? {
                    return Ok(None);
                }
                continue;
            }
            if &self.buf[end..end + 4] != b"\r\n\r\n" {
                self.counts.inc("bad_length");
                if !self.resync(body)? {
                    return Ok(None);
                }
                continue;
            }
            let block = self.buf[body..end].to_vec();
            self.pos = end + 4;
            self.counts.inc("records");
            return Ok(Some(Record { version, headers, block }));
        }
    }

    /// Length of the header block at `pos` including its blank line, reading as needed; None
    /// if none ends within `MAX_HEADER` bytes, before a break, or before the end of the file.
    fn header_len(&mut self) -> io::Result<Option<usize>> {
        let mut searched = 0usize;
        loop {
            let limit = self.next_break().unwrap_or(self.buf.len()).min(self.pos + MAX_HEADER);
            let hay = &self.buf[self.pos..limit];
            // Lines end in CRLF; a bare LF is accepted too (some writers).
            let from = searched.saturating_sub(3);
            if let Some(i) = memmem::find(&hay[from..], b"\n\r\n") {
                return Ok(Some(from + i + 3));
            }
            if let Some(i) = memmem::find(&hay[from..], b"\n\n") {
                return Ok(Some(from + i + 2));
            }
            searched = hay.len();
            if limit < self.buf.len() || searched >= MAX_HEADER || !self.more()? {
                return Ok(None);
            }
        }
    }

    /// Skips a block of `length` bytes at `body` without keeping it (plus its CRLF CRLF).
    fn skip(&mut self, body: usize, length: usize) -> io::Result<()> {
        let mut left = length + 4;
        self.pos = body;
        while left > 0 {
            if self.pos == self.buf.len() && !self.more()? {
                return Ok(());
            }
            if let Some(b) = self.next_break() {
                if b - self.pos < left.min(self.buf.len() - self.pos) {
                    self.pos = b;
                    return Ok(());
                }
            }
            let n = left.min(self.buf.len() - self.pos);
            self.pos += n;
            left -= n;
        }
        Ok(())
    }
}

impl Iterator for WarcReader {
    type Item = io::Result<Record>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// Parses a header block (version line, `Name: value` lines, continuation lines); returns the
/// version, the fields and the Content-Length, or None if any of them is missing or invalid.
fn parse_header(block: &[u8]) -> Option<(String, Fields, usize)> {
    let text = String::from_utf8_lossy(block);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let version = lines.next()?.trim().to_string();
    let mut headers: Fields = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // A folded continuation of the previous field.
            let (_, v) = headers.last_mut()?;
            v.push(' ');
            v.push_str(line.trim());
            continue;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let length = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("Content-Length"))?.1.parse().ok()?;
    Some((version, headers, length))
}
