//! The intermediate files of deduplication: an 8-byte magic number, then fixed-size records of
//! two little-endian u64s. Fixed sizes let a reader check a file's length up front and
//! binary-search a sorted file for the start of a key range.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub const SIGNATURES: &[u8; 8] = b"MCDDSIG1";
pub const PAIRS: &[u8; 8] = b"MCDDPAR1";
pub const REMOVALS: &[u8; 8] = b"MCDDRMV1";

const HEADER: u64 = 8;
const RECORD: u64 = 16;

pub type Record = (u64, u64);

/// Writes `records` after `magic`, atomically.
pub fn write(path: &Path, magic: &[u8; 8], records: &[Record]) -> Result<(), crate::Error> {
    let mut bytes = Vec::with_capacity(8 + records.len() * 16);
    bytes.extend_from_slice(magic);
    for (a, b) in records {
        bytes.extend_from_slice(&a.to_le_bytes());
        bytes.extend_from_slice(&b.to_le_bytes());
    }
    super::write_atomic(path, &bytes)
}

/// Reads a whole record file.
pub fn read_all(path: &Path, magic: &[u8; 8]) -> Result<Vec<Record>, crate::Error> {
    let mut reader = Reader::open(path, magic)?;
    let mut out = Vec::with_capacity(reader.len as usize);
    while let Some(r) = reader.next()? {
        out.push(r);
    }
    Ok(out)
}

/// A buffered reader over one record file.
pub struct Reader {
    path: PathBuf,
    file: BufReader<File>,
    /// Records in the file, and the index of the next one.
    len: u64,
    at: u64,
}

impl Reader {
    /// Opens `path`, checking its magic number and that its length is whole records.
    pub fn open(path: &Path, magic: &[u8; 8]) -> Result<Reader, crate::Error> {
        let bad =
            |what: &str| crate::Error::Input(format!("{}: {what}; delete it and rerun its stage", path.display()));
        let mut file = File::open(path).map_err(|e| super::io_error(path, e))?;
        let size = file.metadata().map_err(|e| super::io_error(path, e))?.len();
        let mut head = [0u8; 8];
        if size < HEADER || file.read_exact(&mut head).is_err() || &head != magic {
            return Err(bad("not a minichat dedup file of this kind"));
        }
        if !(size - HEADER).is_multiple_of(RECORD) {
            return Err(bad("its length is not a whole number of records (truncated?)"));
        }
        let len = (size - HEADER) / RECORD;
        Ok(Reader { path: path.to_path_buf(), file: BufReader::with_capacity(1 << 16, file), len, at: 0 })
    }

    fn record_at(&mut self, i: u64) -> Result<Record, crate::Error> {
        self.file.seek(SeekFrom::Start(HEADER + i * RECORD)).map_err(|e| super::io_error(&self.path, e))?;
        self.at = i;
        self.next()?.ok_or_else(|| crate::Error::Input(format!("{}: shorter than it said", self.path.display())))
    }

    /// Positions the reader at the first record whose first field is `key` or more (the file
    /// must be sorted by it).
    pub fn seek_to(&mut self, key: u64) -> Result<(), crate::Error> {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.record_at(mid)?.0 < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.file.seek(SeekFrom::Start(HEADER + lo * RECORD)).map_err(|e| super::io_error(&self.path, e))?;
        self.at = lo;
        Ok(())
    }

    /// The next record, or None at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Record>, crate::Error> {
        if self.at >= self.len {
            return Ok(None);
        }
        let mut buf = [0u8; 16];
        self.file.read_exact(&mut buf).map_err(|e| super::io_error(&self.path, e))?;
        self.at += 1;
        let a = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
        let b = u64::from_le_bytes(buf[8..].try_into().expect("8 bytes"));
        Ok(Some((a, b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_seek_and_damage() {
        let path = std::env::temp_dir().join(format!("minichat-records-{}.sig", std::process::id()));
        let recs: Vec<Record> = (0..1000u64).map(|i| (i * 3, i)).collect();
        write(&path, SIGNATURES, &recs).unwrap();
        assert_eq!(read_all(&path, SIGNATURES).unwrap(), recs);
        let mut r = Reader::open(&path, SIGNATURES).unwrap();
        r.seek_to(301).unwrap();
        assert_eq!(r.next().unwrap(), Some((303, 101)));
        r.seek_to(0).unwrap();
        assert_eq!(r.next().unwrap(), Some((0, 0)));
        r.seek_to(u64::MAX).unwrap();
        assert_eq!(r.next().unwrap(), None);
        assert!(read_all(&path, PAIRS).unwrap_err().to_string().contains("not a minichat dedup file"));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        assert!(read_all(&path, SIGNATURES).unwrap_err().to_string().contains("truncated"));
        std::fs::remove_file(&path).unwrap();
    }
}
