//! fastText supervised-model inference in pure Rust, enough to run `lid.176` (the language
//! identifier FineWeb filters with) from its `.bin` or quantized `.ftz` file: the model format
//! (version 12: args, dictionary with pruned n-gram buckets, dense or product-quantized
//! matrices), fastText's tokenisation (whitespace words plus `</s>`, character 2..4-grams
//! hashed with its sign-extending FNV-1a into buckets), the averaged embedding, and the
//! hierarchical-softmax or softmax output. Each step follows facebookresearch/fastText
//! (`dictionary.cc`, `quantmatrix.cc`, `productquantizer.cc`, `loss.cc`); predictions equal
//! the `fasttext` Python package's (tests/lid.rs).

use std::collections::HashMap;
use std::path::Path;

const MAGIC: i32 = 793_712_314;
const EOS: &str = "</s>";
/// fastText's subword boundary marks.
const BOW: &str = "<";
const EOW: &str = ">";

/// A matrix of rows: plain floats, or product-quantized codes.
enum Matrix {
    Dense { n: usize, data: Vec<f32> },
    Quant(QuantMatrix),
}

struct ProductQuantizer {
    nsubq: usize,
    dsub: usize,
    lastdsub: usize,
    centroids: Vec<f32>,
}

/// Centroids per sub-quantizer (8-bit codes).
const KSUB: usize = 256;

impl ProductQuantizer {
    fn centroid(&self, m: usize, code: u8) -> &[f32] {
        let i = code as usize;
        if m == self.nsubq - 1 {
            let at = m * KSUB * self.dsub + i * self.lastdsub;
            &self.centroids[at..at + self.lastdsub]
        } else {
            let at = (m * KSUB + i) * self.dsub;
            &self.centroids[at..at + self.dsub]
        }
    }
}

struct QuantMatrix {
    n: usize,
    codes: Vec<u8>,
    pq: ProductQuantizer,
    /// Per row, a quantized norm (when the model was quantized with `-qnorm`).
    norms: Option<(Vec<u8>, ProductQuantizer)>,
}

impl Matrix {
    fn cols(&self) -> usize {
        match self {
            Matrix::Dense { n, .. } => *n,
            Matrix::Quant(q) => q.n,
        }
    }

    /// `x += alpha * row(i)`.
    fn add_row(&self, x: &mut [f32], i: usize, alpha: f32) {
        match self {
            Matrix::Dense { n, data } => {
                for (a, b) in x.iter_mut().zip(&data[i * n..(i + 1) * n]) {
                    *a += alpha * b;
                }
            }
            Matrix::Quant(q) => {
                let norm = q.norms.as_ref().map_or(1.0, |(codes, npq)| npq.centroid(0, codes[i])[0]);
                let code = &q.codes[q.pq.nsubq * i..q.pq.nsubq * (i + 1)];
                for (m, &c) in code.iter().enumerate() {
                    for (j, v) in q.pq.centroid(m, c).iter().enumerate() {
                        x[m * q.pq.dsub + j] += alpha * norm * v;
                    }
                }
            }
        }
    }

    fn dot_row(&self, x: &[f32], i: usize) -> f32 {
        let mut row = vec![0.0; self.cols()];
        self.add_row(&mut row, i, 1.0);
        row.iter().zip(x).map(|(a, b)| a * b).sum()
    }
}

/// A node of the hierarchical softmax's Huffman tree.
#[derive(Clone, Copy)]
struct Node {
    left: i32,
    right: i32,
    count: i64,
}

pub struct Model {
    nwords: usize,
    bucket: u32,
    minn: usize,
    maxn: usize,
    word_ngrams: usize,
    /// Dictionary entries (words, then labels) by text.
    ids: HashMap<Vec<u8>, usize>,
    labels: Vec<String>,
    /// Kept n-gram buckets after pruning: bucket -> row (None: not pruned).
    pruned: Option<HashMap<u32, u32>>,
    input: Matrix,
    output: Matrix,
    /// Some for hierarchical softmax (loss 1), None for softmax (loss 3).
    tree: Option<Vec<Node>>,
}

/// fastText's 32-bit FNV-1a, with each byte sign-extended first (its `int8_t` cast).
fn hash(bytes: &[u8]) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for &b in bytes {
        h ^= b as i8 as i32 as u32;
        h = h.wrapping_mul(16_777_619);
    }
    h
}

/// A little-endian reader over the model file whose every read is bounds-checked.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.data.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn usize32(&mut self) -> Option<usize> {
        usize::try_from(self.i32()?).ok()
    }
    fn floats(&mut self, n: usize) -> Option<Vec<f32>> {
        let bytes = self.take(n.checked_mul(4)?)?;
        Some(bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    }

    fn pq(&mut self) -> Option<ProductQuantizer> {
        let (dim, nsubq, dsub, lastdsub) = (self.usize32()?, self.usize32()?, self.usize32()?, self.usize32()?);
        if nsubq == 0 || dsub * (nsubq - 1) + lastdsub != dim {
            return None;
        }
        Some(ProductQuantizer { nsubq, dsub, lastdsub, centroids: self.floats(dim.checked_mul(KSUB)?)? })
    }

    fn matrix(&mut self, quantized: bool) -> Option<Matrix> {
        if !quantized {
            let (m, n) = (usize::try_from(self.i64()?).ok()?, usize::try_from(self.i64()?).ok()?);
            return Some(Matrix::Dense { n, data: self.floats(m.checked_mul(n)?)? });
        }
        let qnorm = self.u8()? != 0;
        let (m, n) = (usize::try_from(self.i64()?).ok()?, usize::try_from(self.i64()?).ok()?);
        let codesize = self.usize32()?;
        let codes = self.take(codesize)?.to_vec();
        let pq = self.pq()?;
        if pq.centroids.len() != n * KSUB || codes.len() != m * pq.nsubq {
            return None;
        }
        let norms = match qnorm {
            true => Some((self.take(m)?.to_vec(), self.pq()?)),
            false => None,
        };
        Some(Matrix::Quant(QuantMatrix { n, codes, pq, norms }))
    }
}

impl Model {
    pub fn load(path: &Path) -> Result<Model, crate::Error> {
        let data =
            std::fs::read(path).map_err(|source| crate::Error::Io { path: path.display().to_string(), source })?;
        let bad = |what: &str| crate::Error::Input(format!("{}: {what}", path.display()));
        let mut b = Bytes { data: &data, at: 0 };
        if b.i32() != Some(MAGIC) || b.i32() != Some(12) {
            return Err(bad("not a fastText model file (version 12)"));
        }
        Model::parse(&mut b)
            .ok_or_else(|| bad("malformed or unsupported fastText model (supervised, hs or softmax loss)"))
    }

    fn parse(b: &mut Bytes) -> Option<Model> {
        // Args: dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate t.
        let a: Vec<i32> = (0..12).map(|_| b.i32()).collect::<Option<_>>()?;
        b.take(8)?;
        let (dim, word_ngrams, loss, model, bucket, minn, maxn) = (a[0], a[5], a[6], a[7], a[8], a[9], a[10]);
        if model != 3 || !(loss == 1 || loss == 3) || dim <= 0 || bucket < 0 {
            return None;
        }
        // Dictionary: sizes, entries (NUL-terminated text, count, type), pruned buckets.
        let (size, nwords, nlabels) = (b.usize32()?, b.usize32()?, b.usize32()?);
        let (_ntokens, prune_size) = (b.i64()?, b.i64()?);
        if nwords + nlabels != size {
            return None;
        }
        let mut ids = HashMap::with_capacity(size);
        let (mut labels, mut label_counts) = (Vec::with_capacity(nlabels), Vec::with_capacity(nlabels));
        for i in 0..size {
            let len = b.data.get(b.at..)?.iter().position(|&c| c == 0)?;
            let word = b.take(len)?.to_vec();
            b.take(1)?;
            let (count, kind) = (b.i64()?, b.u8()?);
            if kind == 1 {
                labels.push(String::from_utf8_lossy(&word).trim_start_matches("__label__").to_string());
                label_counts.push(count);
            }
            ids.insert(word, i);
        }
        let pruned = match prune_size {
            n if n < 0 => None,
            n => Some((0..n).map(|_| Some((b.i32()? as u32, b.i32()? as u32))).collect::<Option<HashMap<_, _>>>()?),
        };
        let quant_input = b.u8()? != 0;
        let input = b.matrix(quant_input)?;
        let quantized = matches!(input, Matrix::Quant(_));
        let qout = b.u8()? != 0;
        let output = b.matrix(quantized && qout)?;
        if input.cols() != dim as usize || output.cols() != dim as usize || labels.is_empty() {
            return None;
        }
        let tree = (loss == 1).then(|| huffman(&label_counts));
        Some(Model {
            nwords,
            bucket: bucket as u32,
            minn: minn.max(0) as usize,
            maxn: maxn.max(0) as usize,
            word_ngrams: word_ngrams.max(1) as usize,
            ids,
            labels,
            pruned,
            input,
            output,
            tree,
        })
    }

    /// The input row of n-gram bucket `h`, if pruning kept it.
    fn bucket_row(&self, h: u32) -> Option<usize> {
        match &self.pruned {
            None => Some(self.nwords + h as usize),
            Some(map) => map.get(&h).map(|&r| self.nwords + r as usize),
        }
    }

    /// Character n-grams of `<word>` (minn..maxn characters, UTF-8 aware), as input rows.
    fn subwords(&self, word: &[u8], rows: &mut Vec<usize>) {
        let w = [BOW.as_bytes(), word, EOW.as_bytes()].concat();
        for i in 0..w.len() {
            if w[i] & 0xC0 == 0x80 {
                continue;
            }
            let (mut j, mut n) = (i, 1);
            while j < w.len() && n <= self.maxn {
                j += 1;
                while j < w.len() && w[j] & 0xC0 == 0x80 {
                    j += 1;
                }
                if n >= self.minn && !(n == 1 && (i == 0 || j == w.len())) {
                    if let Some(r) = self.bucket_row(hash(&w[i..j]) % self.bucket) {
                        rows.push(r);
                    }
                }
                n += 1;
            }
        }
    }

    /// The input rows of one line of text, as fastText's `getLine` (the line ends in `</s>`).
    fn rows(&self, text: &str) -> Vec<usize> {
        let mut rows = Vec::new();
        let mut hashes = Vec::new();
        let is_space = |c: char| matches!(c, ' ' | '\n' | '\r' | '\t' | '\u{b}' | '\u{c}' | '\0');
        for token in text.split(is_space).filter(|t| !t.is_empty()).chain(std::iter::once(EOS)) {
            let bytes = token.as_bytes();
            match self.ids.get(bytes) {
                Some(&id) if id >= self.nwords => continue, // a label in the text
                Some(&id) => {
                    rows.push(id);
                    if token != EOS {
                        self.subwords(bytes, &mut rows);
                    }
                }
                None if token.starts_with("__label__") => continue,
                None => self.subwords(bytes, &mut rows),
            }
            hashes.push(hash(bytes));
        }
        // Word n-grams (lid.176 has none: wordNgrams = 1).
        for i in 0..hashes.len() {
            let mut h = hashes[i] as i32 as i64 as u64;
            for &next in hashes.iter().take((i + self.word_ngrams).min(hashes.len())).skip(i + 1) {
                h = h.wrapping_mul(116_049_371).wrapping_add(next as i32 as i64 as u64);
                if let Some(r) = self.bucket_row((h % self.bucket as u64) as u32) {
                    rows.push(r);
                }
            }
        }
        rows
    }

    /// Every label's probability for `text` (one line: newlines are read as spaces, as the
    /// Python package requires), best first; labels under fastText's pruning floor (1e-5,
    /// hierarchical softmax) are left out, as fastText does with `k = -1`.
    pub fn predict(&self, text: &str) -> Vec<(&str, f32)> {
        let rows = self.rows(text);
        if rows.is_empty() {
            return Vec::new();
        }
        let mut hidden = vec![0.0f32; self.input.cols()];
        for &r in &rows {
            self.input.add_row(&mut hidden, r, 1.0);
        }
        let scale = 1.0 / rows.len() as f32;
        hidden.iter_mut().for_each(|h| *h *= scale);
        let mut out: Vec<(&str, f32)> = match &self.tree {
            Some(tree) => {
                let mut leaves = Vec::new();
                self.dfs(tree, tree.len() - 1, 0.0, &hidden, &mut leaves);
                leaves.into_iter().map(|(i, score)| (self.labels[i].as_str(), score.exp())).collect()
            }
            None => {
                let logits: Vec<f32> = (0..self.labels.len()).map(|i| self.output.dot_row(&hidden, i)).collect();
                let max = logits.iter().copied().fold(f32::MIN, f32::max);
                let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
                logits.iter().enumerate().map(|(i, l)| (self.labels[i].as_str(), (l - max).exp() / sum)).collect()
            }
        };
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }

    /// fastText's `HierarchicalSoftmaxLoss::dfs` with k = all and threshold 0: log
    /// probabilities accumulate down the tree, `ln(p + 1e-5)` as its `std_log`.
    fn dfs(&self, tree: &[Node], node: usize, score: f32, hidden: &[f32], leaves: &mut Vec<(usize, f32)>) {
        let floor = 1e-5f32.ln();
        if score < floor {
            return;
        }
        let n = tree[node];
        if n.left < 0 && n.right < 0 {
            leaves.push((node, score));
            return;
        }
        let f = 1.0 / (1.0 + (-self.output.dot_row(hidden, node - self.labels.len())).exp());
        self.dfs(tree, n.left as usize, score + (1.0 - f + 1e-5).ln(), hidden, leaves);
        self.dfs(tree, n.right as usize, score + (f + 1e-5).ln(), hidden, leaves);
    }
}

/// fastText's `buildTree`: a Huffman tree over the label counts (sorted descending, as its
/// dictionary keeps them); leaves first, then the internal nodes, the root last.
fn huffman(counts: &[i64]) -> Vec<Node> {
    let osz = counts.len();
    let mut tree = vec![Node { left: -1, right: -1, count: 1_000_000_000_000_000 }; 2 * osz - 1];
    for (t, &c) in tree.iter_mut().zip(counts) {
        t.count = c;
    }
    let (mut leaf, mut node) = (osz as i64 - 1, osz);
    for i in osz..2 * osz - 1 {
        let mut mini = [0usize; 2];
        for m in &mut mini {
            if leaf >= 0 && tree[leaf as usize].count < tree[node].count {
                *m = leaf as usize;
                leaf -= 1;
            } else {
                *m = node;
                node += 1;
            }
        }
        tree[i] =
            Node { left: mini[0] as i32, right: mini[1] as i32, count: tree[mini[0]].count + tree[mini[1]].count };
    }
    tree
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_sign_extends_bytes_like_fasttext() {
        // FNV-1a of "a": (2166136261 ^ 97) * 16777619 mod 2^32.
        assert_eq!(hash(b"a"), 0xe40c292c);
        // A byte over 0x7f is XORed as a negative int8 (all high bits set).
        let plain = (2_166_136_261u32 ^ 0xc3).wrapping_mul(16_777_619);
        let signed = (2_166_136_261u32 ^ 0xffff_ffc3).wrapping_mul(16_777_619);
        assert_eq!(hash(&[0xc3]), signed);
        assert_ne!(hash(&[0xc3]), plain);
    }

    #[test]
    fn huffman_tree_joins_the_two_rarest() {
        let tree = huffman(&[5, 3, 2, 1]);
        // 1 + 2 -> node 4; then node 4 (3) and leaf 1 (3): a leaf goes first only when it is
        // strictly rarer, so node 5 = (node 4, leaf 1); then leaf 0 + node 5 -> root 6.
        assert_eq!((tree[4].left, tree[4].right, tree[4].count), (3, 2, 3));
        assert_eq!((tree[5].left, tree[5].right, tree[5].count), (4, 1, 6));
        assert_eq!((tree[6].left, tree[6].right, tree[6].count), (0, 5, 11));
    }

    #[test]
    fn garbage_is_an_error_naming_the_file() {
        let path = std::env::temp_dir().join(format!("minichat-ft-{}.ftz", std::process::id()));
        std::fs::write(&path, [0xba, 0x16, 0x4f, 0x2f, 12, 0, 0, 0, 1, 2, 3]).unwrap();
        let err = Model::load(&path).err().unwrap().to_string();
        assert!(err.contains("malformed") && err.contains("minichat-ft-"), "{err}");
        std::fs::remove_file(&path).unwrap();
    }
}
