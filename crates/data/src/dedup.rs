//! Deduplication over document shards (gzipped JSONL, as `data run` writes): exact duplicates
//! (same text, by a 64-bit hash) and near duplicates (MinHash bands, `minhash`), clustered
//! with union-find; each cluster keeps its first document in shard and file order, so the
//! result does not depend on thread scheduling. This runs in one process on all cores; the
//! multi-task, file-based split of datatrove (signatures, buckets, clusters, filter) is next.

use crate::minhash::{MinHash, BANDS};
use rayon::prelude::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// A document's place: (shard, line).
pub type DocRef = (u32, u32);

/// What deduplication found.
#[derive(Debug, Default, serde::Serialize)]
pub struct Found {
    pub documents: u64,
    /// Removed as an exact copy of an earlier document.
    pub exact: u64,
    /// Removed as a near duplicate (sharing a MinHash band) of an earlier document.
    pub near: u64,
    /// Clusters of two or more documents.
    pub clusters: u64,
    /// For every removed document, the one kept in its cluster.
    #[serde(skip)]
    pub removed: std::collections::HashMap<DocRef, DocRef>,
}

/// Reads every line of a gzipped (or plain) JSONL shard.
pub fn read_lines(path: &Path) -> Result<Vec<String>, crate::Error> {
    let io = |source| crate::Error::Io { path: path.display().to_string(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    let reader: Box<dyn std::io::Read> =
        if gz { Box::new(flate2::read::MultiGzDecoder::new(file)) } else { Box::new(file) };
    BufReader::new(reader).lines().collect::<Result<Vec<_>, _>>().map_err(io)
}

/// The `text` field of a JSONL line.
pub fn text_of(line: &str, path: &Path, i: usize) -> Result<String, crate::Error> {
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| crate::Error::Input(format!("{} line {}: not JSON: {e}", path.display(), i + 1)))?;
    v.get("text")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .ok_or_else(|| crate::Error::Input(format!("{} line {}: no \"text\" string", path.display(), i + 1)))
}

/// Union-find whose root is always the smallest index (the first document).
struct Clusters(Vec<u32>);

impl Clusters {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.0[x as usize] != x {
            let parent = self.0[x as usize];
            self.0[x as usize] = self.0[parent as usize];
            x = parent;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = (ra.min(rb), ra.max(rb));
        self.0[hi as usize] = lo;
        true
    }
}

/// Finds the duplicates among `shards` (in this order).
pub fn find(shards: &[PathBuf], minhash: &MinHash) -> Result<Found, crate::Error> {
    // Per document: its place, a hash of its text, and its band keys.
    let mut refs: Vec<DocRef> = Vec::new();
    let mut text_hash: Vec<u64> = Vec::new();
    let mut bands: Vec<Option<[u64; BANDS]>> = Vec::new();
    for (s, path) in shards.iter().enumerate() {
        let lines = read_lines(path)?;
        let texts: Vec<String> =
            lines.iter().enumerate().map(|(i, l)| text_of(l, path, i)).collect::<Result<_, _>>()?;
        let keys: Vec<(u64, Option<[u64; BANDS]>)> =
            texts.par_iter().map(|t| (twox_hash::XxHash64::oneshot(0, t.as_bytes()), minhash.band_keys(t))).collect();
        for (i, (h, k)) in keys.into_iter().enumerate() {
            refs.push((s as u32, i as u32));
            text_hash.push(h);
            bands.push(k);
        }
    }
    let n = refs.len();
    let mut clusters = Clusters((0..n as u32).collect());
    // Exact copies first, so they are counted as exact.
    let mut first: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    let mut exact = vec![false; n];
    for (i, h) in text_hash.iter().enumerate() {
        match first.get(h) {
            Some(&j) => {
                clusters.union(j, i as u32);
                exact[i] = true;
            }
            None => {
                first.insert(*h, i as u32);
            }
        }
    }
    // Near duplicates: documents with equal keys in a band, band by band.
    for b in 0..BANDS {
        let mut keyed: Vec<(u64, u32)> =
            bands.iter().enumerate().filter_map(|(i, k)| k.map(|k| (k[b], i as u32))).collect();
        keyed.par_sort_unstable();
        for pair in keyed.windows(2) {
            if pair[0].0 == pair[1].0 {
                clusters.union(pair[0].1, pair[1].1);
            }
        }
    }
    let mut found = Found { documents: n as u64, ..Found::default() };
    let mut sizes = vec![0u32; n];
    for i in 0..n as u32 {
        let root = clusters.find(i);
        sizes[root as usize] += 1;
        if root != i {
            found.removed.insert(refs[i as usize], refs[root as usize]);
            if exact[i as usize] {
                found.exact += 1;
            } else {
                found.near += 1;
            }
        }
    }
    found.clusters = sizes.iter().filter(|&&s| s > 1).count() as u64;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_of_each_cluster() {
        let dir = std::env::temp_dir().join(format!("minichat-dedup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let word = |n: usize| -> String {
            format!("{}{} ", (b'a' + (n % 26) as u8) as char, (b'a' + (n / 26 % 26) as u8) as char)
        };
        let doc = |step: usize| -> String { (0..200).map(|i| word(i * step % 676)).collect() };
        let (a, b) = (doc(7919), doc(31));
        let a_near = format!("intro {}", &a[3..]);
        let line = |t: &str| serde_json::json!({ "text": t, "id": t.len() }).to_string();
        std::fs::write(dir.join("0.jsonl"), [line(&a), line(&b)].join("\n")).unwrap();
        std::fs::write(dir.join("1.jsonl"), [line(&a_near), line(&a), line(&b)].join("\n")).unwrap();
        let found = find(&[dir.join("0.jsonl"), dir.join("1.jsonl")], &MinHash::new(1)).unwrap();
        assert_eq!((found.documents, found.exact, found.near, found.clusters), (5, 2, 1, 2));
        assert_eq!(found.removed[&(1, 0)], (0, 0));
        assert_eq!(found.removed[&(1, 1)], (0, 0));
        assert_eq!(found.removed[&(1, 2)], (0, 1));
        std::fs::write(dir.join("bad.jsonl"), "{\"text\": 1}\n").unwrap();
        let err = find(&[dir.join("bad.jsonl")], &MinHash::new(1)).unwrap_err().to_string();
        assert!(err.contains("bad.jsonl line 1"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
