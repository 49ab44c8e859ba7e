//! The HTTP messages inside WARC response records, read as leniently as warcio (the reader
//! behind pywb and datatrove's WarcReader) reads them, since every common writer stores them
//! differently:
//!
//! - wget and warcio's `capture_http` store the bytes as received: a chunked body is chunked.
//!   Browser-based crawlers (Browsertrix, Webrecorder) store the body the browser decoded, under
//!   the original `Transfer-Encoding: chunked` and `Content-Encoding: gzip` headers. So a
//!   chunked body that does not parse as chunks is read as it is (`chunked_not_chunked`, as
//!   warcio falls back), and a declared content coding that was not applied is skipped
//!   (`encoding_not_applied`).
//! - Some servers compress twice, or compress without saying so: a body that is still gzip after
//!   the declared codings are undone is undone again (`encoding_twice`, `encoding_undeclared`).
//! - Common Crawl's recent crawls store payloads decoded and rename the headers that described
//!   the coding (`X-Crawler-Content-Encoding`, `X-Crawler-Transfer-Encoding`); those are not
//!   codings to undo, and are ignored here by their names.
//! - HTTP/1.0, status lines without a reason phrase, bare LF or mixed line endings, and folded
//!   header lines are all read.

use crate::stats::Counts;
use crate::warc::Fields;
use std::io::Read;

/// Payloads larger than this after decompression are dropped (a gzip bomb stops here).
pub const MAX_PAYLOAD: u64 = 64 << 20;

/// Content codings undone at most this many times beyond the declared ones.
const MAX_EXTRA_CODINGS: usize = 2;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// An HTTP response message: status, header fields in order, and the body as stored.
#[derive(Debug)]
pub struct Response<'a> {
    pub status: u16,
    pub headers: Fields,
    pub body: &'a [u8],
}

impl Response<'_> {
    /// The first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The lowercased tokens of a comma-separated coding header, `identity` left out.
    fn codings(&self, name: &str) -> Vec<String> {
        self.header(name)
            .unwrap_or("")
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty() && c != "identity")
            .collect()
    }
}

/// Parses a response message; None if it has no status line of the form `HTTP/x.y CODE`.
pub fn parse(block: &[u8]) -> Option<Response<'_>> {
    // Blank lines before the status line are tolerated (warcio skips them too).
    let start = block.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let block = &block[start..];
    let (head_len, body_at) = end_of_head(block)?;
    let head = String::from_utf8_lossy(&block[..head_len]);
    let mut lines = head.split('\n').map(|l| l.trim_end_matches('\r'));
    let mut parts = lines.next()?.split_whitespace();
    if !parts.next()?.to_ascii_uppercase().starts_with("HTTP/") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let mut headers: Fields = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // obs-fold (RFC 7230 3.2.4): a continuation of the previous field.
            if let Some((_, v)) = headers.last_mut() {
                *v = format!("{v} {}", line.trim()).trim().to_string();
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Some(Response { status, headers, body: &block[body_at..] })
}

/// Where the header block ends: (its length, where the body starts). The first blank line
/// ends it, whichever line endings the writer used (CRLF, bare LF, or a mix).
fn end_of_head(block: &[u8]) -> Option<(usize, usize)> {
    let mut line_start = 0;
    while let Some(nl) = memchr::memchr(b'\n', &block[line_start..]) {
        let line = &block[line_start..line_start + nl];
        if line.is_empty() || line == b"\r" {
            return Some((line_start, line_start + nl + 1));
        }
        line_start += nl + 1;
    }
    // A message with headers and no body at all, not even the blank line.
    (line_start > 0 && line_start == block.len()).then_some((block.len(), block.len()))
}

/// The payload with the transfer and content codings undone, counting in `counts` each
/// leniency used; Err is the reason to drop it (`bad_encoding` or `too_large`).
pub fn payload(resp: &Response<'_>, counts: &mut Counts) -> Result<Vec<u8>, &'static str> {
    let mut data = resp.body.to_vec();
    for coding in resp.codings("Transfer-Encoding").iter().rev() {
        if coding == "chunked" {
            data = match dechunk(&data) {
                Dechunked::Whole(d) => d,
                Dechunked::Cut(d) => {
                    counts.inc("chunked_incomplete");
                    d
                }
                Dechunked::NotChunked => {
                    counts.inc("chunked_not_chunked");
                    data
                }
            };
        } else {
            data = undo(coding, data, counts)?;
        }
    }
    let declared = resp.codings("Content-Encoding");
    for coding in declared.iter().rev() {
        data = undo(coding, data, counts)?;
    }
    for _ in 0..MAX_EXTRA_CODINGS {
        if !data.starts_with(GZIP_MAGIC) {
            break;
        }
        match decompress("gzip", &data) {
            Ok(d) => {
                counts.inc(if declared.is_empty() { "encoding_undeclared" } else { "encoding_twice" });
                data = d;
            }
            Err(true) => return Err("too_large"),
            // Bytes that only start like gzip: leave them to the charset decoder.
            Err(false) => break,
        }
    }
    Ok(data)
}

/// Undoes one content (or transfer) coding. A coding that does not decode, on a body that
/// looks like text, was declared but not applied: the body is kept as it is.
fn undo(coding: &str, data: Vec<u8>, counts: &mut Counts) -> Result<Vec<u8>, &'static str> {
    let result = match coding {
        "gzip" | "x-gzip" | "deflate" => decompress(coding, &data),
        _ => Err(false),
    };
    match result {
        Ok(d) => Ok(d),
        Err(true) => Err("too_large"),
        Err(false) if looks_like_text(&data) => {
            counts.inc("encoding_not_applied");
            Ok(data)
        }
        Err(false) => Err("bad_encoding"),
    }
}

/// Whether the first bytes look like text in some ASCII-compatible charset, not like the
/// output of a compressor (which has control bytes about every 10 bytes).
fn looks_like_text(data: &[u8]) -> bool {
    let head = &data[..data.len().min(1024)];
    let control = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)).count();
    !head.starts_with(GZIP_MAGIC) && control * 100 <= head.len()
}

/// What undoing the chunked coding gave.
#[derive(Debug, PartialEq, Eq)]
enum Dechunked {
    /// Every chunk up to the last (zero-size) one.
    Whole(Vec<u8>),
    /// The chunks before the data ended or stopped parsing (a truncated record).
    Cut(Vec<u8>),
    /// The first chunk-size line does not parse: the body is not chunked.
    NotChunked,
}

/// Undoes HTTP/1.1 chunked transfer coding (RFC 7230 4.1; extensions and trailers ignored).
fn dechunk(mut data: &[u8]) -> Dechunked {
    let mut out = Vec::new();
    let mut first = true;
    loop {
        let size = memchr::memchr(b'\n', data).and_then(|eol| {
            let line = std::str::from_utf8(&data[..eol]).ok()?;
            let hex = line.split(';').next()?.trim();
            let size = (!hex.is_empty() && hex.len() <= 16).then(|| usize::from_str_radix(hex, 16).ok())??;
            Some((size, eol + 1))
        });
        let Some((size, after)) = size else {
            return if first { Dechunked::NotChunked } else { Dechunked::Cut(out) };
        };
        first = false;
        data = &data[after..];
        if size == 0 {
            return Dechunked::Whole(out);
        }
        let Some(chunk) = data.get(..size) else {
            out.extend_from_slice(data);
            return Dechunked::Cut(out);
        };
        out.extend_from_slice(chunk);
        data = &data[size..];
        match data.strip_prefix(b"\r\n").or_else(|| data.strip_prefix(b"\n")) {
            Some(rest) => data = rest,
            None => return Dechunked::Cut(out),
        }
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
    if !data.starts_with(GZIP_MAGIC) {
        return Err(false);
    }
    read_all(&mut flate2::read::MultiGzDecoder::new(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode(head: &str, body: &[u8]) -> (Result<Vec<u8>, &'static str>, Counts) {
        let block = [head.as_bytes(), body].concat();
        let resp = parse(&block).expect("parses");
        let mut counts = Counts::default();
        (payload(&resp, &mut counts), counts)
    }

    #[test]
    fn status_lines_and_line_endings() {
        for block in [
            &b"HTTP/1.0 200\r\nContent-Type: text/html\r\n\r\n<p>x</p>"[..],
            b"HTTP/1.1 200 OK\nContent-Type: text/html\n\n<p>x</p>",
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\n\r\n<p>x</p>",
            b"\r\nhttp/1.1 200 OK\r\nContent-Type:\r\n text/html\r\n\r\n<p>x</p>",
        ] {
            let r = parse(block).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(block)));
            assert_eq!((r.status, r.header("content-type"), r.body), (200, Some("text/html"), &b"<p>x</p>"[..]));
        }
        // A body with CRLF CRLF after headers ended by LF LF: the first blank line ends them.
        let r = parse(b"HTTP/1.1 200 OK\nA: b\n\nline\r\n\r\nmore").unwrap();
        assert_eq!(r.body, b"line\r\n\r\nmore");
        assert!(parse(b"garbage\r\n\r\n").is_none());
        assert_eq!(parse(b"HTTP/1.1 304 Not Modified\r\n").unwrap().status, 304);
    }

    #[test]
    fn chunked_bodies_chunked_or_not() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let (p, c) = decode(head, b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n");
        assert_eq!((p.unwrap(), c.is_empty()), (b"abcde".to_vec(), true));
        let (p, c) = decode(head, b"<!doctype html><p>stored de-chunked</p>");
        assert_eq!(p.unwrap(), b"<!doctype html><p>stored de-chunked</p>");
        assert_eq!(c.get("chunked_not_chunked"), 1);
        let (p, c) = decode(head, b"3\r\nabc\r\n10\r\nde");
        assert_eq!((p.unwrap(), c.get("chunked_incomplete")), (b"abcde".to_vec(), 1));
    }

    #[test]
    fn content_codings_applied_or_not() {
        let head = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n";
        let (p, c) = decode(head, &gz(b"<p>once</p>"));
        assert_eq!((p.unwrap(), c.is_empty()), (b"<p>once</p>".to_vec(), true));
        let (p, c) = decode(head, b"<p>declared, not applied</p>");
        assert_eq!((p.unwrap(), c.get("encoding_not_applied")), (b"<p>declared, not applied</p>".to_vec(), 1));
        let (p, c) = decode(head, &gz(&gz(b"<p>twice</p>")));
        assert_eq!((p.unwrap(), c.get("encoding_twice")), (b"<p>twice</p>".to_vec(), 1));
        let (p, c) = decode("HTTP/1.1 200 OK\r\n\r\n", &gz(b"<p>undeclared</p>"));
        assert_eq!((p.unwrap(), c.get("encoding_undeclared")), (b"<p>undeclared</p>".to_vec(), 1));
        let (p, _) = decode("HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\n\r\n", &gz(&gz(b"<p>2</p>")));
        assert_eq!(p.unwrap(), b"<p>2</p>");
        // Common Crawl's renamed header says what was undone already.
        let (p, c) = decode("HTTP/1.1 200 OK\r\nX-Crawler-Content-Encoding: gzip\r\n\r\n", b"<p>cc</p>");
        assert_eq!((p.unwrap(), c.is_empty()), (b"<p>cc</p>".to_vec(), true));
        // Binary under a coding that cannot be undone is dropped, not read as text.
        let binary: Vec<u8> = (0..200u32).map(|i| (i * 7 % 256) as u8).collect();
        assert_eq!(decode("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\n", &binary).0, Err("bad_encoding"));
        let mut corrupt = gz(b"<p>corrupt</p>");
        corrupt.truncate(12);
        assert_eq!(decode(head, &corrupt).0, Err("bad_encoding"));
    }

    #[test]
    fn chunked_and_gzipped_together() {
        let body = gz(b"<p>both</p>");
        let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
        chunked.extend_from_slice(&body);
        chunked.extend_from_slice(b"\r\n0\r\n\r\n");
        let (p, c) =
            decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n", &chunked);
        assert_eq!((p.unwrap(), c.is_empty()), (b"<p>both</p>".to_vec(), true));
    }
}
