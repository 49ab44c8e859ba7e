//! The index file: `MCBM25v1`, the passages (document id, url, text, length in terms), the
//! terms in sorted order with their postings (passage gaps and term frequencies as LEB128
//! varints), then a CRC-32 of everything before it. Written whole and renamed into place;
//! a damaged file is an error naming it, never a wrong answer.

use super::{Index, Passage};
use std::path::Path;

const MAGIC: &[u8; 8] = b"MCBM25v1";

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over the file's bytes whose every read is bounds-checked.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.data.get(self.at)?;
            self.at += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = self.varint()? as usize;
        let bytes = self.data.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        std::str::from_utf8(bytes).ok()
    }
}

impl Index {
    /// Writes the index to `path` (atomically).
    pub fn save(&self, path: &Path) -> Result<(), crate::Error> {
        let mut out = MAGIC.to_vec();
        put_varint(&mut out, self.passages.len() as u64);
        for (p, &len) in self.passages.iter().zip(&self.lengths) {
            put_str(&mut out, &p.doc_id);
            put_str(&mut out, &p.url);
            put_str(&mut out, &p.text);
            put_varint(&mut out, len as u64);
        }
        let mut terms: Vec<(&String, &Vec<(u32, u32)>)> = self.postings.iter().collect();
        terms.sort();
        put_varint(&mut out, terms.len() as u64);
        for (term, list) in terms {
            put_str(&mut out, term);
            put_varint(&mut out, list.len() as u64);
            let mut last = 0;
            for &(p, tf) in list {
                put_varint(&mut out, (p - last) as u64);
                put_varint(&mut out, tf as u64);
                last = p;
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        minichat_corpus::atomic_write(path, &out).map_err(crate::Error::from)
    }

    /// Reads an index written by `save`.
    pub fn load(path: &Path) -> Result<Index, crate::Error> {
        let data =
            std::fs::read(path).map_err(|source| crate::Error::Io { path: path.display().to_string(), source })?;
        Index::from_bytes(&data, &path.display().to_string())
    }

    /// Reads the bytes of an index file; `name` (its path) is what errors are about.
    pub fn from_bytes(data: &[u8], name: &str) -> Result<Index, crate::Error> {
        let bad = |what: &str| crate::Error::Input(format!("{name}: {what}"));
        if data.len() < 12 || &data[..8] != MAGIC {
            return Err(bad("not a minichat search index (made by `minichat data index`)"));
        }
        let (body, crc) = data.split_at(data.len() - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(bad("checksum mismatch: the file is damaged; rebuild it with `minichat data index`"));
        }
        parse(&body[8..]).ok_or_else(|| bad("malformed index (a bad length or id); rebuild it"))
    }
}

fn parse(data: &[u8]) -> Option<Index> {
    let mut b = Bytes { data, at: 0 };
    let mut index = Index::default();
    let n = b.varint()? as usize;
    for _ in 0..n {
        let (doc_id, url, text) = (b.str()?.to_string(), b.str()?.to_string(), b.str()?.to_string());
        index.passages.push(Passage { doc_id, url, text });
        index.lengths.push(u32::try_from(b.varint()?).ok()?);
    }
    let terms = b.varint()? as usize;
    for _ in 0..terms {
        let term = b.str()?.to_string();
        let count = b.varint()? as usize;
        let mut list = Vec::with_capacity(count.min(n));
        let mut p = 0u64;
        for _ in 0..count {
            // Gaps from the previous passage; a sum past u64 is damage (found by fuzzing).
            p = p.checked_add(b.varint()?)?;
            let tf = u32::try_from(b.varint()?).ok()?;
            if p >= n as u64 {
                return None;
            }
            list.push((p as u32, tf));
        }
        index.postings.insert(term, list);
    }
    (b.at == data.len()).then_some(index)
}
