//! HTML pages from WARC response records: the HTTP message is parsed, the payload un-chunked
//! and decompressed, kept only if it is HTML, and decoded to text (`charset`). Like datatrove's
//! WarcReader, the type comes from Common Crawl's `WARC-Identified-Payload-Type` header, and
//! from the HTTP `Content-Type` when that is missing (wget and most other crawlers).

use crate::charset;
use crate::stats::Counts;
use crate::warc::{Fields, Record};
use std::io::Read;

/// An HTML page and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// `WARC-Record-ID`.
    pub id: String,
    pub url: String,
    /// `WARC-Date`.
    pub date: String,
    pub html: String,
}

/// Payloads larger than this after decompression are dropped (a gzip bomb stops here).
const MAX_PAYLOAD: u64 = 64 << 20;

/// The page in a record, or None (counted by reason in `counts`: `not_response`,
/// `bad_http`, `not_ok_status`, `not_html`, `bad_encoding` for an undecodable
/// Content-/Transfer-Encoding, `too_large`, `empty`). Pages with bytes invalid in their charset
/// are kept (with U+FFFD) and counted as `invalid_chars`.
pub fn from_record(rec: &Record, counts: &mut Counts) -> Option<Page> {
    if rec.warc_type() != "response" {
        counts.inc("not_response");
        return None;
    }
    let Some((status, headers, body)) = parse_http(&rec.block) else {
        counts.inc("bad_http");
        return None;
    };
    if !(200..300).contains(&status) {
        counts.inc("not_ok_status");
        return None;
    }
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let content_type = header("Content-Type");
    let mime = rec
        .header("WARC-Identified-Payload-Type")
        .or(content_type)
        .map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let is_html = match mime.as_deref() {
        Some("text/html") | Some("application/xhtml+xml") => true,
        Some(m) if !m.is_empty() => false,
        // No type at all: sniff, as browsers do.
        _ => looks_like_html(body),
    };
    if !is_html {
        counts.inc("not_html");
        return None;
    }
    let mut payload = body.to_vec();
    if header("Transfer-Encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked")) {
        let Some(p) = dechunk(&payload) else {
            counts.inc("bad_encoding");
            return None;
        };
        payload = p;
    }
    match header("Content-Encoding").map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("identity") => {}
        Some(enc @ ("gzip" | "x-gzip" | "deflate")) => match decompress(enc, &payload) {
            Ok(p) => payload = p,
            Err(too_large) => {
                counts.inc(if too_large { "too_large" } else { "bad_encoding" });
                return None;
            }
        },
        Some(_) => {
            counts.inc("bad_encoding");
            return None;
        }
    }
    if payload.iter().all(|b| b.is_ascii_whitespace()) {
        counts.inc("empty");
        return None;
    }
    let charset = content_type.and_then(|t| {
        t.split(';')
            .skip(1)
            .find_map(|p| p.trim().strip_prefix("charset=").or_else(|| p.trim().strip_prefix("CHARSET=")))
    });
    let decoded = charset::decode(&payload, charset);
    if decoded.had_errors {
        counts.inc("invalid_chars");
    }
    counts.inc("pages");
    Some(Page {
        id: rec.header("WARC-Record-ID").unwrap_or("").to_string(),
        url: rec.target_uri().unwrap_or("").to_string(),
        date: rec.header("WARC-Date").unwrap_or("").to_string(),
        html: decoded.text,
    })
}

/// Status code, header fields and body of an HTTP response message.
fn parse_http(block: &[u8]) -> Option<(u16, Fields, &[u8])> {
    let (head_len, body_at) = match memchr::memmem::find(block, b"\r\n\r\n") {
        Some(i) => (i, i + 4),
        None => memchr::memmem::find(block, b"\n\n").map(|i| (i, i + 2))?,
    };
    let head = String::from_utf8_lossy(&block[..head_len]);
    let mut lines = head.split('\n').map(|l| l.trim_end_matches('\r'));
    let status_line = lines.next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    Some((status, headers, &block[body_at..]))
}

fn looks_like_html(body: &[u8]) -> bool {
    let start: Vec<u8> = body.iter().copied().skip_while(|b| b.is_ascii_whitespace()).take(64).collect();
    let lower = start.to_ascii_lowercase();
    lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") || lower.starts_with(b"<head")
}

/// Undoes HTTP/1.1 chunked transfer coding; None if malformed.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = memchr::memchr(b'\n', data)?;
        let size_text = std::str::from_utf8(&data[..eol]).ok()?.trim();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 1..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = &data[size..];
        data = data.strip_prefix(b"\r\n").or_else(|| data.strip_prefix(b"\n"))?;
    }
}

/// gzip or deflate (zlib, or raw as some servers send); Err(true) if over `MAX_PAYLOAD`.
fn decompress(encoding: &str, data: &[u8]) -> Result<Vec<u8>, bool> {
    let read_all = |r: &mut dyn Read| -> Result<Vec<u8>, bool> {
        let mut out = Vec::new();
        r.take(MAX_PAYLOAD + 1).read_to_end(&mut out).map_err(|_| false)?;
        if out.len() as u64 > MAX_PAYLOAD {
            return Err(true);
        }
        Ok(out)
    };
    if encoding == "deflate" {
        return read_all(&mut flate2::read::ZlibDecoder::new(data))
            .or_else(|_| read_all(&mut flate2::read::DeflateDecoder::new(data)));
    }
    read_all(&mut flate2::read::MultiGzDecoder::new(data))
}

/// Calls `f` with every HTML page of the WARC file at `path`, in file order, until it returns
/// false; returns the reader's and the page counts together, plus `type_<WARC-Type>` per
/// record type. Only an unreadable file is an error.
pub fn for_each_page(
    path: &std::path::Path,
    max_record: usize,
    mut f: impl FnMut(Page) -> bool,
) -> Result<Counts, crate::Error> {
    let io_err = |source| crate::Error::Io { path: path.display().to_string(), source };
    let mut reader = crate::warc::WarcReader::open(path, max_record).map_err(io_err)?;
    let mut counts = Counts::default();
    while let Some(rec) = reader.next_record().map_err(io_err)? {
        counts.inc(&format!("type_{}", rec.warc_type()));
        if let Some(page) = from_record(&rec, &mut counts) {
            if !f(page) {
                break;
            }
        }
    }
    counts.merge(&reader.counts);
    Ok(counts)
}
