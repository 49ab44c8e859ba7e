//! The `.tiktoken` rank-file format: one line per token, `base64(token bytes) SP rank LF`.
//!
//! This is the format OpenAI publishes cl100k_base/o200k_base/r50k_base in, that tiktoken and
//! nanochat load, and the body of minichat's own tokenizer file. Gzipped files (`.gz`) are read
//! transparently. Parse errors name the line.

use crate::Error;
use std::io::Read;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4), as the rank files use.
pub fn base64_encode(bytes: &[u8], out: &mut String) {
    for chunk in bytes.chunks(3) {
        let n = chunk.len();
        let v =
            (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        out.push(B64[(v >> 18) as usize & 63] as char);
        out.push(B64[(v >> 12) as usize & 63] as char);
        out.push(if n > 1 { B64[(v >> 6) as usize & 63] as char } else { '=' });
        out.push(if n > 2 { B64[v as usize & 63] as char } else { '=' });
    }
}

/// Strict base64 decoding: length a multiple of 4, padding only at the end.
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (q, quad) in text.chunks(4).enumerate() {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && q + 1 != quads) {
            return None;
        }
        let mut v = 0u32;
        for &c in &quad[..4 - pad] {
            v = v << 6 | value(c)?;
        }
        v <<= 6 * pad as u32;
        out.push((v >> 16) as u8);
        if pad < 2 {
            out.push((v >> 8) as u8);
        }
        if pad < 1 {
            out.push(v as u8);
        }
    }
    Some(out)
}

/// Parses rank-file text. `source` names the file in errors. Ranks must be unique, and so must
/// token byte strings; gaps in the ranks are allowed (p50k_base has one).
pub fn parse(data: &[u8], source: &str) -> Result<Vec<(Vec<u8>, u32)>, Error> {
    let mut out = Vec::with_capacity(data.len() / 12);
    let err = |line: usize, message: String| Error::RankFile { file: source.to_string(), line, message };
    for (idx, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line_no = idx + 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        let space = memchr::memchr(b' ', line)
            .ok_or_else(|| err(line_no, "expected `<base64 token> <rank>`, found no space".into()))?;
        let (token, rank) = (&line[..space], &line[space + 1..]);
        let bytes = base64_decode(token)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| err(line_no, format!("invalid base64 token {:?}", String::from_utf8_lossy(token))))?;
        let rank = std::str::from_utf8(rank)
            .ok()
            .and_then(|r| r.parse::<u32>().ok())
            .filter(|&r| r < u32::MAX)
            .ok_or_else(|| err(line_no, format!("invalid rank {:?}", String::from_utf8_lossy(rank))))?;
        out.push((bytes, rank));
    }
    if out.is_empty() {
        return Err(err(0, "no tokens".into()));
    }
    check_unique(&out).map_err(|(line, message)| err(line, message))?;
    Ok(out)
}

/// Checks that ranks and byte strings are unique: (1-based entry number, message) on failure.
fn check_unique(ranks: &[(Vec<u8>, u32)]) -> Result<(), (usize, String)> {
    let mut seen_rank = rustc_hash::FxHashMap::default();
    let mut seen_bytes = rustc_hash::FxHashMap::default();
    for (i, (bytes, rank)) in ranks.iter().enumerate() {
        if let Some(first) = seen_rank.insert(*rank, i) {
            return Err((i + 1, format!("rank {rank} already used by entry {}", first + 1)));
        }
        if let Some(first) = seen_bytes.insert(bytes.as_slice(), i) {
            return Err((i + 1, format!("token bytes already listed by entry {}", first + 1)));
        }
    }
    Ok(())
}

/// Reads a rank file from disk (gzip if its name ends in `.gz`).
pub fn load(path: &std::path::Path) -> Result<Vec<(Vec<u8>, u32)>, Error> {
    let data = read_maybe_gz(path)?;
    parse(&data, &path.display().to_string())
}

/// Reads a file, gunzipping it when its name ends in `.gz`.
pub fn read_maybe_gz(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    let io = |e: std::io::Error| Error::Io { path: path.display().to_string(), source: e };
    let raw = std::fs::read(path).map_err(io)?;
    if path.extension().is_some_and(|e| e == "gz") {
        gunzip(&raw).map_err(io)
    } else {
        Ok(raw)
    }
}

/// Decompresses gzip data.
pub fn gunzip(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len() * 3);
    flate2::read::GzDecoder::new(raw).read_to_end(&mut out)?;
    Ok(out)
}

/// Writes ranks (sorted by rank) in the rank-file format.
pub fn render(ranks: &[(Vec<u8>, u32)]) -> String {
    let mut sorted: Vec<&(Vec<u8>, u32)> = ranks.iter().collect();
    sorted.sort_by_key(|(_, r)| *r);
    let mut out = String::with_capacity(ranks.len() * 12);
    for (bytes, rank) in sorted {
        base64_encode(bytes, &mut out);
        out.push(' ');
        out.push_str(&rank.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_all_lengths() {
        for len in 0..20 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut s = String::new();
            base64_encode(&bytes, &mut s);
            assert_eq!(base64_decode(s.as_bytes()).unwrap(), bytes);
        }
        assert_eq!(base64_decode(b"IQ==").unwrap(), b"!");
        assert!(base64_decode(b"IQ=").is_none());
        assert!(base64_decode(b"I===").is_none());
        assert!(base64_decode(b"IQ==IQ==").is_none());
        assert!(base64_decode(b"I*==").is_none());
    }

    #[test]
    fn parse_names_the_bad_line() {
        let e = parse(b"IQ== 0\nIg== 1\nnot base64 2\n", "x.tiktoken").unwrap_err();
        assert_eq!(e.to_string(), "x.tiktoken:3: invalid base64 token \"not\"");
        let e = parse(b"IQ== 0\nIg== one\n", "x").unwrap_err();
        assert!(e.to_string().starts_with("x:2: invalid rank"), "{e}");
        let e = parse(b"IQ== 0\nIg==\n", "x").unwrap_err();
        assert!(e.to_string().starts_with("x:2: expected"), "{e}");
        let e = parse(b"IQ== 0\nIg== 0\n", "x").unwrap_err();
        assert!(e.to_string().contains("rank 0 already used by entry 1"), "{e}");
        assert!(parse(b"", "x").is_err());
    }

    #[test]
    fn render_then_parse_round_trips() {
        let ranks = vec![(b"a".to_vec(), 1), (b"\x00\xff".to_vec(), 0), (b" the".to_vec(), 7)];
        let text = render(&ranks);
        assert!(text.starts_with("AP8= 0\n"));
        let mut back = parse(text.as_bytes(), "t").unwrap();
        back.sort_by_key(|(_, r)| *r);
        let mut expected = ranks.clone();
        expected.sort_by_key(|(_, r)| *r);
        assert_eq!(back, expected);
    }
}
