//! Flat parameter buffers: the table of named tensors inside one buffer (and the matching
//! gradient buffer), held with the backend and the packed decoding copy in `Parameters`, which
//! both model families use for what they share (loading, packing, the inference-path linear
//! layer, gradients by name).

use crate::backend::{Backend, MatrixAt};
use crate::cpu::huge_pages;
use crate::safetensors::{Tensor, Tensors};
use crate::Error;
use std::collections::BTreeMap;

/// One parameter tensor inside the flat buffer.
#[derive(Clone, Debug)]
pub struct Param {
    /// Hugging Face name, e.g. `transformer.h.0.attn.c_attn.weight`.
    pub name: String,
    pub offset: usize,
    /// Shape in our layout (`[out][in]` for linear weights).
    pub shape: Vec<usize>,
    /// Stored transposed in Hugging Face checkpoints (GPT-2 `Conv1D`).
    pub conv1d: bool,
}

impl Param {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The parameters that get weight decay, as index ranges of the flat buffer: matrices, except
/// the token and position embeddings (GPT-2/nanoGPT practice: no decay on norms, biases and
/// embeddings). An untied LM head is a matrix and is decayed.
pub fn decayed_ranges(params: &[Param]) -> Vec<std::ops::Range<usize>> {
    params
        .iter()
        .filter(|p| p.shape.len() == 2 && !is_embedding(&p.name))
        .map(|p| p.offset..p.offset + p.len())
        .collect()
}

/// The blocks' weight matrices, which Muon takes: every 2-D parameter but the token and
/// position embeddings and the LM head (Jordan et al. and nanochat leave those to AdamW: an
/// embedding row is a lookup, not a linear map of the residual stream).
pub fn hidden_matrices(params: &[Param]) -> Vec<crate::muon::Matrix> {
    params
        .iter()
        .filter(|p| p.shape.len() == 2 && !is_embedding(&p.name) && p.name != "lm_head.weight")
        .map(|p| crate::muon::Matrix { offset: p.offset, rows: p.shape[0], cols: p.shape[1] })
        .collect()
}

/// Token and position embeddings, by their Hugging Face names (both families).
fn is_embedding(name: &str) -> bool {
    name.ends_with("wte.weight") || name.ends_with("wpe.weight") || name.contains("embed_tokens")
}

/// Builds a parameter table in order: `add(name, shape, conv1d)` returns the offset.
#[derive(Default)]
pub struct Table {
    pub params: Vec<Param>,
}

impl Table {
    pub fn add(&mut self, name: String, shape: Vec<usize>, conv1d: bool) -> usize {
        let offset = self.len();
        self.params.push(Param { name, offset, shape, conv1d });
        offset
    }

    /// Total number of values.
    pub fn len(&self) -> usize {
        self.params.last().map_or(0, |p| p.offset + p.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Copies Hugging Face tensors into `weights`; each parameter must be present with its exact
/// shape, and no unknown tensor may be present except those `ignored` accepts.
pub fn load_hf(
    params: &[Param],
    weights: &mut [f32],
    tensors: &impl Tensors,
    file: &str,
    ignored: impl Fn(&str) -> bool,
) -> Result<(), Error> {
    let known: std::collections::HashSet<&str> = params.iter().map(|p| p.name.as_str()).collect();
    if let Some(extra) = tensors.names().into_iter().find(|k| !known.contains(k) && !ignored(k)) {
        return Err(Error::Tensor {
            file: file.into(),
            tensor: extra.to_string(),
            message: "not a parameter of this model config".into(),
        });
    }
    for p in params {
        let bad = |message: String| Error::Tensor { file: file.into(), tensor: p.name.clone(), message };
        let t = tensors.read(&p.name)?.ok_or_else(|| bad("missing".into()))?;
        let hf_shape: Vec<usize> = if p.conv1d { vec![p.shape[1], p.shape[0]] } else { p.shape.clone() };
        if t.shape != hf_shape {
            return Err(bad(format!("shape {:?}, expected {hf_shape:?}", t.shape)));
        }
        if let Some(i) = t.data.iter().position(|x| !x.is_finite()) {
            return Err(bad(format!("value {} at index {i} is not finite", t.data[i])));
        }
        let dst = &mut weights[p.offset..p.offset + p.len()];
        if p.conv1d {
            transpose(dst, &t.data, hf_shape[0], hf_shape[1]);
        } else {
            dst.copy_from_slice(&t.data);
        }
    }
    Ok(())
}

/// A model's parameters on its backend: the table, the flat weight and gradient buffers in
/// its layout, and (after `pack`) a copy of the weights packed for decoding.
pub struct Parameters<B: Backend> {
    pub backend: B,
    pub table: Vec<Param>,
    pub weights: B::Buf,
    pub grads: B::Buf,
    /// The packed copy (bf16 on the CPU); None until `pack`, dropped when weights are loaded.
    pub packed: Option<B::Packed>,
}

impl<B: Backend> Parameters<B> {
    /// The parameters of `table`, all zero, on `backend`.
    pub(crate) fn zeroed(backend: B, table: Table) -> Parameters<B> {
        let total = table.len();
        let (weights, grads) = (backend.zeros(total), backend.zeros(total));
        Parameters { table: table.params, weights, grads, packed: None, backend }
    }

    /// Loads Hugging Face weights (`load_hf`) into a new weight buffer.
    pub(crate) fn load_hf(
        &mut self,
        tensors: &impl Tensors,
        file: &str,
        ignored: impl Fn(&str) -> bool,
    ) -> Result<(), Error> {
        let len = self.table.last().map_or(0, |p| p.offset + p.len());
        let mut host = huge_pages::zeroed(len);
        load_hf(&self.table, &mut host, tensors, file, ignored)?;
        // The old weights go before the new ones are placed (one copy of the model, not two).
        self.weights = self.backend.zeros(0);
        self.weights = self.backend.upload_vec(host);
        self.packed = None;
        Ok(())
    }

    /// Packs `matrices` of the weights for memory-bound decoding. Call again after the weights
    /// change.
    pub(crate) fn pack(&mut self, matrices: &[MatrixAt]) {
        self.packed = Some(self.backend.pack(&self.weights, matrices));
    }

    /// A linear layer of a decoding pass over its first `rows` rows, row-invariant or not (see
    /// `kv_cache::Plan`): the packed weights when there are some.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn decode_linear(
        &self,
        out: &mut B::Buf,
        inp: &B::Buf,
        rows: usize,
        invariant: bool,
        weight: usize,
        bias: Option<usize>,
        c: usize,
        oc: usize,
    ) {
        let (packed, w) = (self.packed.as_ref(), &self.weights);
        self.backend.linear_decode(out, inp, 0..rows, invariant, packed, w, weight, bias, c, oc);
    }

    /// The gradient of the parameter `name` in Hugging Face layout (for comparisons).
    pub fn grad_hf(&self, name: &str) -> Option<Vec<f32>> {
        let p = self.table.iter().find(|p| p.name == name)?;
        Some(to_hf(p, &self.backend.download(&self.grads)))
    }
}

/// The files of a Hugging Face model folder, rendered: `model.safetensors` (HF names and
/// layouts) and `config.json`, so that `from_pretrained(dir)` in transformers loads the folder
/// they are written to.
pub fn hf_files(config: &crate::ModelConfig, params: &[Param], weights: &[f32]) -> [(&'static str, Vec<u8>); 2] {
    let tensors: BTreeMap<String, Tensor> = params
        .iter()
        .map(|p| {
            let shape = if p.conv1d { vec![p.shape[1], p.shape[0]] } else { p.shape.clone() };
            (p.name.clone(), Tensor { shape, data: to_hf(p, weights) })
        })
        .collect();
    let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    let json = serde_json::to_string_pretty(&config.to_hf_json()).expect("config serializes");
    [("model.safetensors", crate::safetensors::serialize(&tensors, &metadata)), ("config.json", json.into_bytes())]
}

/// One parameter's values from a flat buffer, in Hugging Face layout.
pub fn to_hf(p: &Param, buffer: &[f32]) -> Vec<f32> {
    let g = &buffer[p.offset..p.offset + p.len()];
    if p.conv1d {
        let mut out = vec![0.0; g.len()];
        transpose(&mut out, g, p.shape[0], p.shape[1]);
        out
    } else {
        g.to_vec()
    }
}

/// `dst[c][r] = src[r][c]` for a `rows × cols` source.
pub fn transpose(dst: &mut [f32], src: &[f32], rows: usize, cols: usize) {
    for r in 0..rows {
        for c in 0..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}
