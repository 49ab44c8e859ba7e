//! The safetensors weight format (Hugging Face): an 8-byte little-endian header length, a JSON
//! header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the
//! raw little-endian tensor bytes.
//!
//! Loading converts F32, F16 and BF16 to f32 (the engine's dtype) and checks every entry against
//! the file, so a damaged or foreign checkpoint gives an error naming the tensor, never a panic.
//! Saving renders the bytes (`serialize`); the caller writes them (`minichat_corpus::atomic_write`).

use crate::Error;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// One tensor, as f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Headers larger than this are refused (real ones are kilobytes).
const MAX_HEADER: u64 = 100 << 20;

/// Tensors by name, read one at a time: a parsed map, or a file (`Reader`) from which a model
/// takes each tensor straight into its weights, never holding the whole file and every tensor
/// at once (GPT-2 small: peak memory 1.47 -> 0.65 GB when loading a 497 MB checkpoint).
pub trait Tensors {
    /// Every tensor's name.
    fn names(&self) -> Vec<&str>;
    /// The tensor `name`, or None where there is none.
    fn read(&self, name: &str) -> Result<Option<Cow<'_, Tensor>>, Error>;
}

impl Tensors for BTreeMap<String, Tensor> {
    fn names(&self) -> Vec<&str> {
        self.keys().map(String::as_str).collect()
    }

    fn read(&self, name: &str) -> Result<Option<Cow<'_, Tensor>>, Error> {
        Ok(self.get(name).map(Cow::Borrowed))
    }
}

/// Reads a safetensors file.
pub fn load(path: &Path) -> Result<BTreeMap<String, Tensor>, Error> {
    let reader = Reader::open(path)?;
    let mut out = BTreeMap::new();
    for name in reader.names() {
        let tensor = reader.read(name)?.expect("a listed tensor").into_owned();
        out.insert(name.to_string(), tensor);
    }
    Ok(out)
}

/// Parses safetensors bytes; `file` names the source in errors.
pub fn parse(bytes: &[u8], file: &str) -> Result<BTreeMap<String, Tensor>, Error> {
    let format = |message: String| Error::Format { file: file.to_string(), message };
    if bytes.len() < 8 {
        return Err(format(format!("{} bytes is too short for a safetensors file", bytes.len())));
    }
    let header_len = header_len(bytes[..8].try_into().expect("8 bytes"), bytes.len() as u64, file)?;
    let data = &bytes[8 + header_len..];
    let entries = index(&bytes[8..8 + header_len], data.len() as u64, file)?;
    Ok(entries
        .into_iter()
        .map(|(name, e)| {
            let data = decode(e.dtype, &data[e.begin as usize..e.end as usize]);
            (name, Tensor { shape: e.shape, data })
        })
        .collect())
}

/// A safetensors file opened to read its tensors one at a time (`Tensors`); the header is
/// read and checked at `open`, as `parse` checks it.
pub struct Reader {
    file: File,
    path: String,
    /// Where the tensor data starts in the file.
    data_start: u64,
    entries: BTreeMap<String, Entry>,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader, Error> {
        let name = path.display().to_string();
        let io = |e| Error::Io { path: name.clone(), source: e };
        let mut file = File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        if size < 8 {
            return Err(Error::Format {
                file: name,
                message: format!("{size} bytes is too short for a safetensors file"),
            });
        }
        let mut len = [0u8; 8];
        file.read_exact(&mut len).map_err(io)?;
        let header_len = header_len(len, size, &name)?;
        let mut header = vec![0u8; header_len];
        file.read_exact(&mut header).map_err(io)?;
        let data_start = 8 + header_len as u64;
        let entries = index(&header, size - data_start, &name)?;
        Ok(Reader { file, path: name, data_start, entries })
    }
}

impl Tensors for Reader {
    fn names(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }

    fn read(&self, name: &str) -> Result<Option<Cow<'_, Tensor>>, Error> {
        let Some(e) = self.entries.get(name) else { return Ok(None) };
        let io = |e| Error::Io { path: self.path.clone(), source: e };
        let mut file = &self.file;
        file.seek(SeekFrom::Start(self.data_start + e.begin)).map_err(io)?;
        let data = if e.dtype == Dtype::F32 && cfg!(target_endian = "little") {
            // Straight into the f32s (no second copy of the largest tensor, the embedding).
            let mut data = vec![0f32; ((e.end - e.begin) / 4) as usize];
            // SAFETY: any 4 bytes are a valid f32, and the byte view covers exactly `data`;
            // the file's little-endian order is the machine's.
            let bytes = unsafe { std::slice::from_raw_parts_mut(data.as_mut_ptr().cast::<u8>(), data.len() * 4) };
            file.read_exact(bytes).map_err(io)?;
            data
        } else {
            let mut raw = vec![0u8; (e.end - e.begin) as usize];
            file.read_exact(&mut raw).map_err(io)?;
            decode(e.dtype, &raw)
        };
        Ok(Some(Cow::Owned(Tensor { shape: e.shape.clone(), data })))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Dtype {
    F32,
    F16,
    Bf16,
}

/// Where one tensor lies in the data part of a file, checked against it.
struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    begin: u64,
    end: u64,
}

/// The header's length from the file's first 8 bytes, checked against the file's size.
fn header_len(bytes: [u8; 8], size: u64, file: &str) -> Result<usize, Error> {
    let header_len = u64::from_le_bytes(bytes);
    if header_len > MAX_HEADER || header_len > size - 8 {
        let message = format!("header length {header_len} does not fit the file ({size} bytes)");
        return Err(Error::Format { file: file.to_string(), message });
    }
    Ok(header_len as usize)
}

/// Reads the JSON header and checks every entry against the `data_len` bytes of data: dtype,
/// shape, offsets inside the data and matching the shape, no two tensors overlapping.
fn index(header: &[u8], data_len: u64, file: &str) -> Result<BTreeMap<String, Entry>, Error> {
    let format = |message: String| Error::Format { file: file.to_string(), message };
    let header: Map<String, Value> =
        serde_json::from_slice(header).map_err(|e| format(format!("header is not a JSON object: {e}")))?;
    let mut out = BTreeMap::new();
    let mut spans = Vec::new();
    for (name, entry) in &header {
        if name == "__metadata__" {
            continue;
        }
        let bad = |message: String| Error::Tensor { file: file.to_string(), tensor: name.clone(), message };
        let dtype = entry.get("dtype").and_then(Value::as_str).ok_or_else(|| bad("no dtype".into()))?;
        let shape: Vec<usize> = entry
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|s| s.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
            .ok_or_else(|| bad("shape is not a list of sizes".into()))?;
        let offsets: Vec<u64> = entry
            .get("data_offsets")
            .and_then(Value::as_array)
            .and_then(|s| s.iter().map(Value::as_u64).collect())
            .filter(|o: &Vec<u64>| o.len() == 2)
            .ok_or_else(|| bad("data_offsets is not [begin, end]".into()))?;
        let (begin, end) = (offsets[0], offsets[1]);
        if begin > end || end > data_len {
            return Err(bad(format!("data_offsets [{begin}, {end}] are outside the {data_len}-byte data")));
        }
        let numel =
            shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| bad("shape overflows".into()))?;
        let (kind, width) = match dtype {
            "F32" => (Dtype::F32, 4),
            "F16" => (Dtype::F16, 2),
            "BF16" => (Dtype::Bf16, 2),
            other => return Err(bad(format!("dtype {other} is not supported (F32, F16, BF16)"))),
        };
        if numel.checked_mul(width) != Some((end - begin) as usize) {
            let want = numel as u128 * width as u128;
            return Err(bad(format!("{} bytes for shape {shape:?} of {dtype} (expected {want})", end - begin)));
        }
        spans.push((begin, end, name.clone()));
        out.insert(name.clone(), Entry { dtype: kind, shape, begin, end });
    }
    spans.sort();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format(format!("tensors {} and {} overlap", w[0].2, w[1].2)));
        }
    }
    Ok(out)
}

/// A tensor's little-endian bytes as f32.
fn decode(dtype: Dtype, raw: &[u8]) -> Vec<f32> {
    match dtype {
        Dtype::F32 => raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect(),
        Dtype::Bf16 => {
            raw.chunks_exact(2).map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16)).collect()
        }
        Dtype::F16 => raw.chunks_exact(2).map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect(),
    }
}

/// IEEE half to f32 (exact).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: renormalise.
            let shift = frac.leading_zeros() - 21;
            sign | ((113 - shift) << 23) | ((frac << shift) & 0x3ff) << 13
        }
        (31, _) => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 112) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

/// Serialises f32 tensors (sorted by name, as the reference implementation does) with
/// optional string metadata.
pub fn serialize(tensors: &BTreeMap<String, Tensor>, metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let mut header = Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), serde_json::to_value(metadata).expect("strings serialize"));
    }
    let mut offset = 0usize;
    for (name, t) in tensors {
        let len = t.data.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    let mut json = serde_json::to_vec(&header).expect("header serializes");
    // Pad the header with spaces so the data starts 8-byte aligned, as safetensors does.
    while !(8 + json.len()).is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + offset);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for t in tensors.values() {
        for x in &t.data {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BTreeMap<String, Tensor> {
        let mut m = BTreeMap::new();
        m.insert("wte.weight".into(), Tensor { shape: vec![2, 3], data: vec![1.0, -2.0, 3.5, 0.0, 1e-8, -0.25] });
        m.insert("ln_f.bias".into(), Tensor { shape: vec![3], data: vec![0.5, 0.25, -1.0] });
        m
    }

    #[test]
    fn round_trips() {
        let bytes = serialize(&sample(), &BTreeMap::from([("format".to_string(), "pt".to_string())]));
        assert_eq!((8 + u64::from_le_bytes(bytes[..8].try_into().unwrap())) % 8, 0);
        assert_eq!(parse(&bytes, "x").unwrap(), sample());
    }

    #[test]
    fn half_precision_converts_exactly() {
        for (h, f) in [
            (0x3c00u16, 1.0f32),
            (0xc000, -2.0),
            (0x7bff, 65504.0),
            (0x0001, 5.960_464_5e-8),
            (0x0003, 1.788_139_3e-7),
            (0x03ff, 6.097_555e-5),
            (0x0000, 0.0),
        ] {
            assert_eq!(f16_to_f32(h), f, "{h:#x}");
        }
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
    }

    #[test]
    fn a_file_reads_tensor_by_tensor_as_parse_does() {
        let dir = std::env::temp_dir().join(format!("minichat-st-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        std::fs::write(&path, serialize(&sample(), &BTreeMap::new())).unwrap();
        let reader = Reader::open(&path).unwrap();
        assert_eq!(reader.names(), vec!["ln_f.bias", "wte.weight"]);
        assert_eq!(reader.read("wte.weight").unwrap().unwrap().into_owned(), sample()["wte.weight"]);
        assert!(reader.read("nope").unwrap().is_none());
        assert_eq!(load(&path).unwrap(), sample());
        // BF16, by hand: 1.0 and -0.5.
        let header = br#"{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#;
        let mut bf16 = (header.len() as u64).to_le_bytes().to_vec();
        bf16.extend_from_slice(header);
        bf16.extend_from_slice(&[0x80, 0x3f, 0x00, 0xbf]);
        std::fs::write(&path, &bf16).unwrap();
        let want = Tensor { shape: vec![2], data: vec![1.0, -0.5] };
        assert_eq!(Reader::open(&path).unwrap().read("x").unwrap().unwrap().into_owned(), want);
        assert_eq!(parse(&bf16, "x").unwrap()["x"], want);
        let good = std::fs::read(&path).unwrap();
        for (cut, want) in [(5, "too short"), (good.len() - 4, "outside")] {
            std::fs::write(&path, &good[..cut]).unwrap();
            let err = Reader::open(&path).err().unwrap().to_string();
            assert!(err.contains("m.safetensors") && err.contains(want), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damaged_files_name_the_problem() {
        let good = serialize(&sample(), &BTreeMap::new());
        assert!(parse(&good[..5], "f").unwrap_err().to_string().contains("too short"));
        assert!(parse(&good[..good.len() - 4], "f").unwrap_err().to_string().contains("outside"));
        let mut huge = good.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse(&huge, "f").unwrap_err().to_string().contains("does not fit"));
        let mut wrong_dtype = good.clone();
        let at = good.windows(5).position(|w| w == b"\"F32\"").unwrap();
        wrong_dtype[at..at + 5].copy_from_slice(b"\"I64\"");
        let err = parse(&wrong_dtype, "m.safetensors").unwrap_err().to_string();
        assert!(err.starts_with("m.safetensors: tensor ") && err.contains("I64"), "{err}");
    }
}
