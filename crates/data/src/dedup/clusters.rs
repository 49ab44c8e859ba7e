//! Stage 3: union-find over every band's pairs; each cluster keeps its first document (the
//! smallest shard and line), and every other member goes on its shard's removal list.

use super::{records, DocRef, Work, BANDS, EXACT_BAND};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// What deduplication found.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Found {
    pub shards: usize,
    pub documents: u64,
    /// Removed as an exact copy of an earlier document.
    pub exact: u64,
    /// Removed as a near duplicate (sharing a MinHash band) of an earlier document.
    pub near: u64,
    /// Clusters of two or more documents.
    pub clusters: u64,
}

/// Union-find whose root is always the smallest document of its set.
#[derive(Default)]
struct Sets(HashMap<DocRef, DocRef>);

impl Sets {
    fn find(&mut self, x: DocRef) -> DocRef {
        let mut root = x;
        while let Some(&p) = self.0.get(&root).filter(|&&p| p != root) {
            root = p;
        }
        // Path compression: everything on the way now points at the root.
        let mut at = x;
        while at != root {
            let next = self.0.insert(at, root).unwrap_or(root);
            at = next;
        }
        root
    }

    fn union(&mut self, a: DocRef, b: DocRef) {
        self.0.entry(a).or_insert(a);
        self.0.entry(b).or_insert(b);
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0.insert(ra.max(rb), ra.min(rb));
        }
    }
}

/// The pairs files of each band, checked to be one complete set of key ranges.
fn pairs_files(work: &Work) -> Result<Vec<PathBuf>, crate::Error> {
    let dir = work.pairs_dir();
    let missing = || crate::Error::Input(format!("{}: no pairs; run the buckets stage first", dir.display()));
    let mut by_band: Vec<HashMap<usize, Vec<usize>>> = vec![HashMap::new(); BANDS];
    for e in std::fs::read_dir(&dir).map_err(|_| missing())?.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".pairs") else { continue };
        let nums: Vec<usize> = stem.replace("-of-", "-").split('-').filter_map(|n| n.parse().ok()).collect();
        if let [band, part, parts] = nums[..] {
            if band < BANDS {
                by_band[band].entry(parts).or_default().push(part);
            }
        }
    }
    let mut files = Vec::new();
    for (band, sets) in by_band.iter().enumerate() {
        let complete: Vec<usize> =
            sets.iter().filter(|(&parts, got)| (0..parts).all(|p| got.contains(&p))).map(|(&parts, _)| parts).collect();
        match complete[..] {
            [parts] => files.extend((0..parts).map(|p| dir.join(super::buckets::pairs_name(band, p, parts)))),
            [] => {
                return Err(crate::Error::Input(format!(
                    "{}: band {band} is incomplete; finish every buckets task first",
                    dir.display()
                )))
            }
            _ => {
                return Err(crate::Error::Input(format!(
                    "{}: band {band} has complete sets from runs with different task counts; delete the folder and rerun the buckets stage",
                    dir.display()
                )))
            }
        }
    }
    Ok(files)
}

/// Clusters the pairs and writes each shard's removal list and OUT/stats/dedup.json.
/// Returns None when this stage already completed.
pub fn clusters(work: &Work) -> Result<Option<Found>, crate::Error> {
    if work.done("clusters", 0, 1) {
        return Ok(None);
    }
    let shards = work.shards()?;
    let mut sets = Sets::default();
    let mut exact: HashSet<DocRef> = HashSet::new();
    for path in pairs_files(work)? {
        let is_exact = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{EXACT_BAND:02}-")));
        for (first, other) in records::read_all(&path, records::PAIRS)? {
            sets.union(first, other);
            if is_exact {
                exact.insert(other);
            }
        }
    }
    let mut found =
        Found { shards: shards.len(), documents: shards.iter().map(|s| s.documents as u64).sum(), ..Found::default() };
    let mut removals: Vec<Vec<records::Record>> = vec![Vec::new(); shards.len()];
    let mut roots = HashSet::new();
    let members: Vec<DocRef> = sets.0.keys().copied().collect();
    for doc in members {
        let root = sets.find(doc);
        if root == doc {
            roots.insert(root);
            continue;
        }
        let shard = super::shard_of(doc);
        if shard >= shards.len() || super::line_of(doc) >= shards[shard].documents {
            return Err(crate::Error::Input(format!(
                "{}: a pair names shard {shard} line {}, which the manifest does not have; rerun signatures and buckets",
                work.pairs_dir().display(),
                super::line_of(doc)
            )));
        }
        let is_exact = exact.contains(&doc);
        match is_exact {
            true => found.exact += 1,
            false => found.near += 1,
        }
        removals[shard].push((super::line_of(doc) as u64 | (is_exact as u64) << 63, root));
    }
    found.clusters = roots.len() as u64;
    for (s, mut list) in removals.into_iter().enumerate() {
        list.sort_unstable();
        records::write(&work.removal_file(s), records::REMOVALS, &list)?;
    }
    let json = serde_json::to_vec_pretty(&found).expect("stats serialize");
    super::write_atomic(&work.out.join("stats").join("dedup.json"), &json)?;
    work.complete("clusters", 0, 1)?;
    Ok(Some(found))
}
