//! Token shards: the training data on disk, one file per shard, llm.c's `.bin` idea with a
//! checksum. Layout (little-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `MCTOKENS` |
//! | 8..12 | version (1) |
//! | 12..16 | bytes per token: 2 (vocab ≤ 65536) or 4 |
//! | 16..24 | token count |
//! | 24..28 | CRC-32 of the token bytes |
//! | 28..32 | vocabulary size of the tokenizer that wrote it |
//! | 32..36 | the document separator (bos) id |
//! | 36..64 | zero |
//! | 64.. | token ids |
//!
//! Documents are concatenated, each preceded by the bos token. Files are written atomically.

use crate::Error;
use std::path::Path;

const MAGIC: &[u8; 8] = b"MCTOKENS";
const VERSION: u32 = 1;
pub const HEADER_BYTES: usize = 64;

/// What a shard's header says about its tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardInfo {
    pub count: u64,
    pub vocab_size: u32,
    pub bos: u32,
}

/// Writes `tokens` as a shard at `path` (temp file + rename).
pub fn write(path: &Path, tokens: &[u32], vocab_size: u32, bos: u32) -> Result<(), Error> {
    let width = if vocab_size <= 1 << 16 { 2 } else { 4 };
    let mut body = Vec::with_capacity(tokens.len() * width);
    for &t in tokens {
        if t >= vocab_size {
            return Err(Error::Data(format!(
                "{}: token id {t} is outside the vocabulary of {vocab_size}",
                path.display()
            )));
        }
        if width == 2 {
            body.extend_from_slice(&(t as u16).to_le_bytes());
        } else {
            body.extend_from_slice(&t.to_le_bytes());
        }
    }
    let mut file = Vec::with_capacity(HEADER_BYTES + body.len());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&VERSION.to_le_bytes());
    file.extend_from_slice(&(width as u32).to_le_bytes());
    file.extend_from_slice(&(tokens.len() as u64).to_le_bytes());
    file.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    file.extend_from_slice(&vocab_size.to_le_bytes());
    file.extend_from_slice(&bos.to_le_bytes());
    file.resize(HEADER_BYTES, 0);
    file.extend_from_slice(&body);
    Ok(minichat_corpus::atomic_write(path, &file)?)
}

/// Reads a shard, checking magic, version, length and checksum.
pub fn read(path: &Path) -> Result<(ShardInfo, Vec<u32>), Error> {
    let data = std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
    let bad = |m: String| Error::Data(format!("{}: {m}", path.display()));
    if data.len() < HEADER_BYTES || &data[..8] != MAGIC {
        return Err(bad("not a minichat token shard (bad magic or shorter than the header)".into()));
    }
    let u32_at = |i: usize| u32::from_le_bytes(data[i..i + 4].try_into().expect("4 bytes"));
    let version = u32_at(8);
    if version != VERSION {
        return Err(bad(format!("shard version {version}, this build reads {VERSION}")));
    }
    let width = u32_at(12) as usize;
    if width != 2 && width != 4 {
        return Err(bad(format!("{width} bytes per token (2 or 4 expected)")));
    }
    let count = u64::from_le_bytes(data[16..24].try_into().expect("8 bytes"));
    let body = &data[HEADER_BYTES..];
    if body.len() as u64 != count * width as u64 {
        return Err(bad(format!(
            "truncated or padded: header says {count} tokens, the file holds {} bytes of them",
            body.len()
        )));
    }
    if crc32fast::hash(body) != u32_at(24) {
        return Err(bad("checksum mismatch: the file is corrupt".into()));
    }
    let info = ShardInfo { count, vocab_size: u32_at(28), bos: u32_at(32) };
    let tokens = if width == 2 {
        body.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32).collect()
    } else {
        body.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    };
    Ok((info, tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption_is_caught() {
        let dir = std::env::temp_dir().join(format!("minichat-shard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for vocab in [300u32, 100_000] {
            let path = dir.join(format!("s{vocab}.tok"));
            let tokens: Vec<u32> = (0..1000).map(|i| i * 97 % vocab).collect();
            write(&path, &tokens, vocab, 5).unwrap();
            let (info, back) = read(&path).unwrap();
            assert_eq!(
                (info, back.as_slice()),
                (ShardInfo { count: 1000, vocab_size: vocab, bos: 5 }, tokens.as_slice())
            );
            let mut bytes = std::fs::read(&path).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            std::fs::write(&path, &bytes).unwrap();
            assert!(read(&path).unwrap_err().to_string().contains("checksum"));
            std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
            assert!(read(&path).unwrap_err().to_string().contains("truncated"));
            std::fs::write(&path, b"hello").unwrap();
            assert!(read(&path).unwrap_err().to_string().contains("not a minichat token shard"));
        }
        assert!(write(&dir.join("x.tok"), &[7], 5, 0).unwrap_err().to_string().contains("outside"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
