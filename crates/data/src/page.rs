//! Pages from WARC records: HTML from `response` records (the HTTP message read by `http`,
//! leniently as warcio reads it) and from `resource` records, plain text from the `conversion`
//! records of Common Crawl's WET files, and identical-payload `revisit` records resolved to an
//! original earlier in the same file. The HTML is kept only if it is HTML and is decoded to
//! text (`charset`). Like datatrove's WarcReader, the type comes from Common Crawl's
//! `WARC-Identified-Payload-Type` header, and from the HTTP `Content-Type` when that is missing
//! (wget and most other crawlers).

use crate::charset;
use crate::http;
use crate::stats::Counts;
use crate::warc::Record;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// A page and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// `WARC-Record-ID` (for a WET conversion, the id of the response it was made from).
    pub id: String,
    pub url: String,
    /// `WARC-Date`.
    pub date: String,
    /// The decoded HTML, or the text if `kind` is `Text`.
    pub content: String,
    pub kind: Kind,
}

/// What a page's content is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Html,
    /// Text already extracted (a WET file's conversion record): extraction is skipped.
    Text,
}

/// The page in a record, or None, counting why in `counts` (see `Pages::page`). A revisit
/// is never resolved here: `Pages` remembers the originals.
pub fn from_record(rec: &Record, counts: &mut Counts) -> Option<Page> {
    Pages::with_memory(0).page(rec, counts)
}

/// Identical-payload revisits are resolved against the pages of the last this many bytes.
const REVISIT_MEMORY: usize = 64 << 20;

/// Reads the pages of one file's records in order, remembering the recent HTML pages by
/// `WARC-Record-ID` and `WARC-Payload-Digest` so that a later revisit record (wget
/// `--warc-dedup`, recrawls) gets its original's content under its own URL and date.
pub struct Pages {
    memory: HashMap<String, Arc<str>>,
    /// Keys in the order remembered, with their content's size, for forgetting the oldest.
    order: VecDeque<(String, usize)>,
    bytes: usize,
    limit: usize,
}

impl Default for Pages {
    fn default() -> Self {
        Pages::with_memory(REVISIT_MEMORY)
    }
}

impl Pages {
    /// Remembering at most `limit` bytes of pages for revisits.
    pub fn with_memory(limit: usize) -> Pages {
        Pages { memory: HashMap::new(), order: VecDeque::new(), bytes: 0, limit }
    }

    /// The page in a record, or None. Counted in `counts`: `pages`, and why a record is no page:
    /// `not_response` (requests, warcinfo, metadata, ...), `not_http` (a response over another
    /// protocol: Heritrix's `dns:`), `bad_http`, `not_ok_status`, `not_html`, `bad_encoding`
    /// for a coding that cannot be undone, `too_large`, `empty`; revisits as `revisit` and
    /// `revisit_resolved` or `revisit_unresolved`; pages from `resource` and `conversion`
    /// records as `from_resource` and `from_conversion`; `payload_truncated` for a page the
    /// crawler cut (`WARC-Truncated`, kept), `invalid_chars` for a page with bytes invalid in
    /// its charset (kept, with U+FFFD), and the leniencies of `http::payload`.
    pub fn page(&mut self, rec: &Record, counts: &mut Counts) -> Option<Page> {
        let page = match rec.warc_type().as_str() {
            "response" => self.response(rec, counts),
            "resource" => resource(rec, counts),
            "conversion" => conversion(rec, counts),
            "revisit" => self.revisit(rec, counts),
            _ => {
                counts.inc("not_response");
                None
            }
        }?;
        if rec.header("WARC-Truncated").is_some() {
            counts.inc("payload_truncated");
        }
        counts.inc("pages");
        Some(page)
    }

    fn response(&mut self, rec: &Record, counts: &mut Counts) -> Option<Page> {
        let scheme = rec.target_uri().and_then(|u| u.split_once(':')).map(|(s, _)| s.to_ascii_lowercase());
        if scheme.is_some_and(|s| s != "http" && s != "https") {
            counts.inc("not_http");
            return None;
        }
        let Some(resp) = http::parse(&rec.block) else {
            counts.inc("bad_http");
            return None;
        };
        if !(200..300).contains(&resp.status) {
            counts.inc("not_ok_status");
            return None;
        }
        let content_type = resp.header("Content-Type");
        let identified = rec.header("WARC-Identified-Payload-Type");
        let html = http::payload(&resp, counts).map_err(|reason| counts.inc(reason)).ok()?;
        let page = html_page(rec, identified.or(content_type), content_type, &html, counts)?;
        self.remember(rec, &page.content);
        Some(page)
    }

    /// Keeps a page's content under its record id and payload digest, forgetting the oldest
    /// beyond the limit.
    fn remember(&mut self, rec: &Record, content: &str) {
        if content.len() > self.limit {
            return;
        }
        let shared: Arc<str> = Arc::from(content);
        let keys = [rec.header("WARC-Record-ID"), rec.header("WARC-Payload-Digest")];
        for key in keys.into_iter().flatten().filter(|k| !k.is_empty()) {
            self.memory.insert(key.to_string(), shared.clone());
            self.order.push_back((key.to_string(), content.len()));
            self.bytes += content.len();
        }
        while self.bytes > self.limit {
            let (key, size) = self.order.pop_front().expect("bytes are counted per key");
            self.bytes -= size;
            // A key remembered again later keeps its newer entry.
            if !self.order.iter().any(|(k, _)| *k == key) {
                self.memory.remove(&key);
            }
        }
    }

    /// A revisit record: its original's content if that was an HTML page of this file, found
    /// by `WARC-Refers-To` or, for identical-payload revisits, `WARC-Payload-Digest`.
    fn revisit(&mut self, rec: &Record, counts: &mut Counts) -> Option<Page> {
        counts.inc("revisit");
        let found = [rec.header("WARC-Refers-To"), rec.header("WARC-Payload-Digest")]
            .into_iter()
            .flatten()
            .find_map(|key| self.memory.get(key).cloned());
        let Some(content) = found else {
            counts.inc("revisit_unresolved");
            return None;
        };
        counts.inc("revisit_resolved");
        Some(Page { content: content.to_string(), ..placed(rec, Kind::Html) })
    }
}

/// A page with the record's id, URL and date, and no content yet.
fn placed(rec: &Record, kind: Kind) -> Page {
    Page {
        id: rec.header("WARC-Record-ID").unwrap_or("").to_string(),
        url: rec.target_uri().unwrap_or("").to_string(),
        date: rec.header("WARC-Date").unwrap_or("").to_string(),
        content: String::new(),
        kind,
    }
}

/// `bytes` decoded as an HTML page if `mime` (or, with none, the bytes themselves) says HTML;
/// the charset comes from `content_type`.
fn html_page(
    rec: &Record,
    mime: Option<&str>,
    content_type: Option<&str>,
    bytes: &[u8],
    counts: &mut Counts,
) -> Option<Page> {
    let is_html = match mime.map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase()).as_deref() {
        Some("text/html") | Some("application/xhtml+xml") => true,
        Some(m) if !m.is_empty() => false,
        // No type at all: sniff, as browsers do.
        _ => looks_like_html(bytes),
    };
    if !is_html {
        counts.inc("not_html");
        return None;
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        counts.inc("empty");
        return None;
    }
    let charset = content_type.and_then(|t| {
        t.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case("charset").then_some(v)
        })
    });
    let decoded = charset::decode(bytes, charset);
    if decoded.had_errors {
        counts.inc("invalid_chars");
    }
    Some(Page { content: decoded.text, ..placed(rec, Kind::Html) })
}

/// A `resource` record holds the content itself, typed by the record's `Content-Type`.
fn resource(rec: &Record, counts: &mut Counts) -> Option<Page> {
    let content_type = rec.header("Content-Type");
    let page = html_page(rec, content_type, content_type, &rec.block, counts)?;
    counts.inc("from_resource");
    Some(page)
}

/// A WET `conversion` record: UTF-8 text extracted from the response it refers to, whose id
/// the page takes (so a WET run's ids are those of a WARC run on the same crawl).
fn conversion(rec: &Record, counts: &mut Counts) -> Option<Page> {
    let mime = rec.header("Content-Type").map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if mime.as_deref().is_some_and(|m| m != "text/plain") {
        counts.inc("not_html");
        return None;
    }
    if rec.block.iter().all(|b| b.is_ascii_whitespace()) {
        counts.inc("empty");
        return None;
    }
    let decoded = charset::decode(&rec.block, Some("utf-8"));
    if decoded.had_errors {
        counts.inc("invalid_chars");
    }
    counts.inc("from_conversion");
    let mut page = placed(rec, Kind::Text);
    if let Some(original) = rec.header("WARC-Refers-To") {
        page.id = original.to_string();
    }
    Some(Page { content: decoded.text, ..page })
}

fn looks_like_html(body: &[u8]) -> bool {
    let start: Vec<u8> = body.iter().copied().skip_while(|b| b.is_ascii_whitespace()).take(64).collect();
    let lower = start.to_ascii_lowercase();
    lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") || lower.starts_with(b"<head")
}

/// Calls `f` with every page of the WARC (or WET) file at `path`, in file order, until it
/// returns false; returns the reader's and the page counts together, plus `type_<WARC-Type>`
/// per record type. Only an unreadable file is an error.
pub fn for_each_page(
    path: &std::path::Path,
    max_record: usize,
    mut f: impl FnMut(Page) -> bool,
) -> Result<Counts, crate::Error> {
    let io_err = |source| crate::Error::Io { path: path.display().to_string(), source };
    let mut reader = crate::warc::WarcReader::open(path, max_record).map_err(io_err)?;
    let mut counts = Counts::default();
    let mut pages = Pages::default();
    while let Some(rec) = reader.next_record().map_err(io_err)? {
        counts.inc(&format!("type_{}", rec.warc_type()));
        if let Some(page) = pages.page(&rec, &mut counts) {
            if !f(page) {
                break;
            }
        }
    }
    counts.merge(&reader.counts);
    Ok(counts)
}
