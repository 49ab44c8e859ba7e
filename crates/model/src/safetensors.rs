//! The safetensors weight format (Hugging Face): an 8-byte little-endian header length, a JSON
//! header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the
//! raw little-endian tensor bytes.
//!
//! Loading converts F32, F16 and BF16 to f32 (the engine's dtype) and checks every entry against
//! the file, so a damaged or foreign checkpoint gives an error naming the tensor, never a panic.
//! Saving renders the bytes (`serialize`); the caller writes them (`minichat_corpus::atomic_write`).

use crate::Error;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// One tensor, as f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Headers larger than this are refused (real ones are kilobytes).
const MAX_HEADER: u64 = 100 << 20;

/// Reads a safetensors file.
pub fn load(path: &Path) -> Result<BTreeMap<String, Tensor>, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
    parse(&bytes, &path.display().to_string())
}

/// Parses safetensors bytes; `file` names the source in errors.
pub fn parse(bytes: &[u8], file: &str) -> Result<BTreeMap<String, Tensor>, Error> {
    let format = |message: String| Error::Format { file: file.to_string(), message };
    if bytes.len() < 8 {
        return Err(format(format!("{} bytes is too short for a safetensors file", bytes.len())));
    }
    let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if header_len > MAX_HEADER || header_len > (bytes.len() - 8) as u64 {
        return Err(format(format!("header length {header_len} does not fit the file ({} bytes)", bytes.len())));
    }
    let data = &bytes[8 + header_len as usize..];
    let header: Map<String, Value> = serde_json::from_slice(&bytes[8..8 + header_len as usize])
        .map_err(|e| format(format!("header is not a JSON object: {e}")))?;
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
        if begin > end || end > data.len() as u64 {
            return Err(bad(format!("data_offsets [{begin}, {end}] are outside the {}-byte data", data.len())));
        }
        let numel =
            shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| bad("shape overflows".into()))?;
        let width = match dtype {
            "F32" => 4,
            "F16" | "BF16" => 2,
            other => return Err(bad(format!("dtype {other} is not supported (F32, F16, BF16)"))),
        };
        if (end - begin) as usize != numel * width {
            return Err(bad(format!(
                "{} bytes for shape {shape:?} of {dtype} (expected {})",
                end - begin,
                numel * width
            )));
        }
        let raw = &data[begin as usize..end as usize];
        let values: Vec<f32> = match dtype {
            "F32" => raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect(),
            "BF16" => {
                raw.chunks_exact(2).map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16)).collect()
            }
            _ => raw.chunks_exact(2).map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect(),
        };
        spans.push((begin, end, name.clone()));
        out.insert(name.clone(), Tensor { shape, data: values });
    }
    spans.sort();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format(format!("tensors {} and {} overlap", w[0].2, w[1].2)));
        }
    }
    Ok(out)
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
