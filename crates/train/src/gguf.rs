//! `export gguf`: a model and its tokenizer as one GGUF file (version 3), the format llama.cpp,
//! Ollama and LM Studio run. The layout follows llama.cpp's `gguf-py` and
//! `convert_hf_to_gguf.py`: a header, metadata key/values (the architecture's hyperparameters
//! under `gpt2.*` or `llama.*`, the tokenizer as `tokenizer.ggml.*`: byte-level tokens in
//! GPT-2's printable form, their types, the merges), tensor descriptions, then the tensors,
//! each aligned to 32 bytes. Matrices are stored as `[out][in]` rows (GGUF's dims list `in`
//! first); 1-D tensors (norms, biases) stay f32 whatever the type chosen for the matrices.
//! Llama's q and k rows are permuted from Hugging Face's rotate-half layout to the interleaved
//! pairs llama.cpp rotates, as the converter does.

use crate::Error;
use minichat_model::config::Family;
use minichat_model::cpu::linear_bf16::to_bf16;
use minichat_model::net::Net;
use minichat_tokenizer::{hf, pretokenize, Tokenizer};

/// GGUF's alignment of the tensor data (`general.alignment`'s default).
const ALIGN: usize = 32;

/// How the weight matrices are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
    Bf16,
}

impl Dtype {
    pub fn parse(s: &str) -> Option<Dtype> {
        match s {
            "f32" => Some(Dtype::F32),
            "f16" => Some(Dtype::F16),
            "bf16" => Some(Dtype::Bf16),
            _ => None,
        }
    }

    /// ggml's type id.
    fn ggml_type(self) -> u32 {
        match self {
            Dtype::F32 => 0,
            Dtype::F16 => 1,
            Dtype::Bf16 => 30,
        }
    }

    /// llama.cpp's `general.file_type` (all f32, mostly f16, mostly bf16).
    fn file_type(self) -> u32 {
        match self {
            Dtype::F32 => 0,
            Dtype::F16 => 1,
            Dtype::Bf16 => 32,
        }
    }
}

/// A metadata value.
enum Value {
    U32(u32),
    F32(f32),
    Bool(bool),
    Str(String),
    Strs(Vec<String>),
    I32s(Vec<i32>),
}

/// A tensor to write: GGUF name, dims (GGUF order: the fastest-varying first) and data.
struct Tensor {
    name: String,
    dims: Vec<usize>,
    data: Vec<f32>,
    dtype: Dtype,
}

/// The GGUF file of `net` and `tok`, matrices stored as `dtype`.
pub fn render(net: &Net, tok: &Tokenizer, dtype: Dtype, name: &str) -> Result<Vec<u8>, Error> {
    let cfg = net.config();
    if tok.n_vocab() > cfg.vocab_size {
        return Err(Error::Config(format!(
            "the tokenizer has {} tokens, more than the model's vocabulary of {}",
            tok.n_vocab(),
            cfg.vocab_size
        )));
    }
    let arch = match cfg.family {
        Family::Gpt2 => "gpt2",
        Family::Llama => "llama",
    };
    let u = |x: usize| Value::U32(x as u32);
    let mut meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::Str(arch.into())),
        ("general.name".into(), Value::Str(name.into())),
        ("general.file_type".into(), Value::U32(dtype.file_type())),
        (format!("{arch}.context_length"), u(cfg.block_size)),
        (format!("{arch}.embedding_length"), u(cfg.n_embd)),
        (format!("{arch}.feed_forward_length"), u(cfg.intermediate_size)),
        (format!("{arch}.block_count"), u(cfg.n_layer)),
        (format!("{arch}.attention.head_count"), u(cfg.n_head)),
    ];
    match cfg.family {
        Family::Gpt2 => meta.push((format!("{arch}.attention.layer_norm_epsilon"), Value::F32(cfg.norm_eps))),
        Family::Llama => meta.extend([
            (format!("{arch}.attention.head_count_kv"), u(cfg.n_kv_head)),
            (format!("{arch}.attention.layer_norm_rms_epsilon"), Value::F32(cfg.norm_eps)),
            (format!("{arch}.rope.freq_base"), Value::F32(cfg.rope_theta)),
            (format!("{arch}.rope.dimension_count"), u(cfg.head_dim())),
            (format!("{arch}.vocab_size"), u(cfg.vocab_size)),
        ]),
    }
    meta.extend(tokenizer_meta(tok, cfg.vocab_size)?);
    let tensors = tensors(net, dtype)?;
    Ok(write(&meta, &tensors))
}

/// `tokenizer.ggml.*`: GPT-2-style byte-level BPE with every token, its type and the merges.
fn tokenizer_meta(tok: &Tokenizer, vocab_size: usize) -> Result<Vec<(String, Value)>, Error> {
    let table = hf::byte_to_unicode();
    let encode = |bytes: &[u8]| bytes.iter().map(|&b| table[b as usize]).collect::<String>();
    let vocab = tok.vocab();
    let mut tokens: Vec<Option<(String, i32)>> = vec![None; vocab_size];
    for (bytes, rank) in vocab.ranks() {
        tokens[rank as usize] = Some((encode(&bytes), 1));
    }
    for (name, id) in tok.special_tokens().iter() {
        tokens[id as usize] = Some((name.to_string(), 3));
    }
    // Ids no token has (a vocabulary padded past the tokenizer's): unused.
    let (tokens, types): (Vec<String>, Vec<i32>) =
        tokens.into_iter().enumerate().map(|(i, t)| t.unwrap_or((format!("[PAD{i}]"), 5))).unzip();
    let mut merges: Vec<(u32, u32, u32, String)> = Vec::new();
    for (bytes, rank) in vocab.ranks() {
        for split in 1..bytes.len() {
            let (l, r) = bytes.split_at(split);
            if let (Some(rl), Some(rr)) = (vocab.rank(l), vocab.rank(r)) {
                merges.push((rank, rl, rr, format!("{} {}", encode(l), encode(r))));
            }
        }
    }
    merges.sort_by_key(|m| (m.0, m.1, m.2));
    let bos = tok.bos_id()?;
    // llama.cpp's pre-tokenizer by name: GPT-2's regex, GPT-4o's, or GPT-4's (which llama.cpp
    // calls Llama 3's; nanochat's, GPT-4's with numbers of 1-2 digits, has no name there and
    // splits numbers as GPT-4's does).
    let pre = match tok.pretokenizer().pattern() {
        p if p == pretokenize::R50K_PATTERN => "gpt-2",
        p if p == pretokenize::O200K_PATTERN => "gpt-4o",
        _ => "llama-bpe",
    };
    Ok(vec![
        ("tokenizer.ggml.model".into(), Value::Str("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::Str(pre.into())),
        ("tokenizer.ggml.tokens".into(), Value::Strs(tokens)),
        ("tokenizer.ggml.token_type".into(), Value::I32s(types)),
        ("tokenizer.ggml.merges".into(), Value::Strs(merges.into_iter().map(|m| m.3).collect())),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(bos)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(bos)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
    ])
}

/// The tensors under llama.cpp's names.
fn tensors(net: &Net, dtype: Dtype) -> Result<Vec<Tensor>, Error> {
    let cfg = net.config();
    let w = net.weights();
    let get = |name: &str| -> Result<(Vec<usize>, Vec<f32>), Error> {
        let p = net
            .params()
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::Config(format!("the model has no parameter {name}")))?;
        Ok((p.shape.clone(), w[p.offset..p.offset + p.len()].to_vec()))
    };
    let mut out = Vec::new();
    let mut add = |gguf: String, (shape, data): (Vec<usize>, Vec<f32>)| {
        let dims: Vec<usize> = shape.iter().rev().copied().collect();
        let dtype = if dims.len() == 1 { Dtype::F32 } else { dtype };
        out.push(Tensor { name: gguf, dims, data, dtype });
    };
    match cfg.family {
        Family::Gpt2 => {
            add("token_embd.weight".into(), get("transformer.wte.weight")?);
            add("position_embd.weight".into(), get("transformer.wpe.weight")?);
            for l in 0..cfg.n_layer {
                let h = |s: &str| format!("transformer.h.{l}.{s}");
                let b = |s: &str| format!("blk.{l}.{s}");
                for (ours, theirs) in [
                    ("ln_1.weight", "attn_norm.weight"),
                    ("ln_1.bias", "attn_norm.bias"),
                    ("attn.c_attn.weight", "attn_qkv.weight"),
                    ("attn.c_attn.bias", "attn_qkv.bias"),
                    ("attn.c_proj.weight", "attn_output.weight"),
                    ("attn.c_proj.bias", "attn_output.bias"),
                    ("ln_2.weight", "ffn_norm.weight"),
                    ("ln_2.bias", "ffn_norm.bias"),
                    ("mlp.c_fc.weight", "ffn_up.weight"),
                    ("mlp.c_fc.bias", "ffn_up.bias"),
                    ("mlp.c_proj.weight", "ffn_down.weight"),
                    ("mlp.c_proj.bias", "ffn_down.bias"),
                ] {
                    add(b(theirs), get(&h(ours))?);
                }
            }
            add("output_norm.weight".into(), get("transformer.ln_f.weight")?);
            add("output_norm.bias".into(), get("transformer.ln_f.bias")?);
            // The LM head is tied to the embedding; llama.cpp's converter writes it out too.
            add("output.weight".into(), get("transformer.wte.weight")?);
        }
        Family::Llama => {
            add("token_embd.weight".into(), get("model.embed_tokens.weight")?);
            let (hd, c) = (cfg.head_dim(), cfg.n_embd);
            for l in 0..cfg.n_layer {
                let m = |s: &str| format!("model.layers.{l}.{s}");
                let b = |s: &str| format!("blk.{l}.{s}");
                add(b("attn_norm.weight"), get(&m("input_layernorm.weight"))?);
                let (qs, q) = get(&m("self_attn.q_proj.weight"))?;
                add(b("attn_q.weight"), (qs, permute(&q, cfg.n_head, hd, c)));
                let (ks, k) = get(&m("self_attn.k_proj.weight"))?;
                add(b("attn_k.weight"), (ks, permute(&k, cfg.n_kv_head, hd, c)));
                add(b("attn_v.weight"), get(&m("self_attn.v_proj.weight"))?);
                add(b("attn_output.weight"), get(&m("self_attn.o_proj.weight"))?);
                add(b("ffn_norm.weight"), get(&m("post_attention_layernorm.weight"))?);
                add(b("ffn_gate.weight"), get(&m("mlp.gate_proj.weight"))?);
                add(b("ffn_up.weight"), get(&m("mlp.up_proj.weight"))?);
                add(b("ffn_down.weight"), get(&m("mlp.down_proj.weight"))?);
            }
            add("output_norm.weight".into(), get("model.norm.weight")?);
            add("output.weight".into(), get("lm_head.weight")?);
        }
    }
    Ok(out)
}

/// Rows of a q or k projection (`heads` heads of `d` rows, `c` columns) from Hugging Face's
/// rotate-half order (dims i and i + d/2 paired) to interleaved pairs (2i and 2i + 1), as
/// `LlamaModel.permute` in llama.cpp's converter does.
fn permute(w: &[f32], heads: usize, d: usize, c: usize) -> Vec<f32> {
    let mut out = vec![0.0; w.len()];
    let half = d / 2;
    for h in 0..heads {
        for i in 0..half {
            for (j, from) in [(2 * i, i), (2 * i + 1, half + i)] {
                let (dst, src) = ((h * d + j) * c, (h * d + from) * c);
                out[dst..dst + c].copy_from_slice(&w[src..src + c]);
            }
        }
    }
    out
}

/// Rounds f32 to IEEE half (to nearest, ties to even; overflow to infinity).
pub fn to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // Subnormal half (or zero): shift the mantissa with its implicit one.
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = m >> shift;
        let rest = m & ((1 << shift) - 1);
        let mid = 1 << (shift - 1);
        let round = u32::from(rest > mid || (rest == mid && half & 1 == 1));
        return sign | (half + round) as u16;
    }
    let half = ((e as u32) << 10) | (mant >> 13);
    let rest = mant & 0x1fff;
    let round = u32::from(rest > 0x1000 || (rest == 0x1000 && half & 1 == 1));
    sign | (half + round) as u16
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    let ty = |out: &mut Vec<u8>, t: u32| out.extend(t.to_le_bytes());
    match v {
        Value::U32(x) => {
            ty(out, 4);
            out.extend(x.to_le_bytes());
        }
        Value::F32(x) => {
            ty(out, 6);
            out.extend(x.to_le_bytes());
        }
        Value::Bool(b) => {
            ty(out, 7);
            out.push(u8::from(*b));
        }
        Value::Str(s) => {
            ty(out, 8);
            put_str(out, s);
        }
        Value::Strs(list) => {
            ty(out, 9);
            ty(out, 8);
            out.extend((list.len() as u64).to_le_bytes());
            list.iter().for_each(|s| put_str(out, s));
        }
        Value::I32s(list) => {
            ty(out, 9);
            ty(out, 5);
            out.extend((list.len() as u64).to_le_bytes());
            list.iter().for_each(|x| out.extend(x.to_le_bytes()));
        }
    }
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(ALIGN), 0);
}

fn tensor_bytes(t: &Tensor) -> Vec<u8> {
    match t.dtype {
        Dtype::F32 => t.data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Dtype::F16 => t.data.iter().flat_map(|&x| to_f16(x).to_le_bytes()).collect(),
        Dtype::Bf16 => t.data.iter().flat_map(|&x| to_bf16(x).to_le_bytes()).collect(),
    }
}

/// Header, metadata, tensor infos, then the aligned data.
fn write(meta: &[(String, Value)], tensors: &[Tensor]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(b"GGUF");
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((meta.len() as u64).to_le_bytes());
    for (k, v) in meta {
        put_str(&mut out, k);
        put_value(&mut out, v);
    }
    let data: Vec<Vec<u8>> = tensors.iter().map(tensor_bytes).collect();
    let mut offset = 0usize;
    for (t, bytes) in tensors.iter().zip(&data) {
        put_str(&mut out, &t.name);
        out.extend((t.dims.len() as u32).to_le_bytes());
        t.dims.iter().for_each(|&d| out.extend((d as u64).to_le_bytes()));
        out.extend(t.dtype.ggml_type().to_le_bytes());
        out.extend((offset as u64).to_le_bytes());
        offset = (offset + bytes.len()).next_multiple_of(ALIGN);
    }
    pad(&mut out);
    for bytes in &data {
        out.extend(bytes);
        pad(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_rounds_like_ieee() {
        for (x, want) in [
            (0.0f32, 0x0000u16),
            (-0.0, 0x8000),
            (1.0, 0x3c00),
            (-2.0, 0xc000),
            (65504.0, 0x7bff),
            (1e6, 0x7c00),
            (6.0e-8, 0x0001),
            (0.333_333_34, 0x3555),
            (f32::INFINITY, 0x7c00),
        ] {
            assert_eq!(to_f16(x), want, "{x}");
        }
        // Halfway between two halves rounds to the even one.
        assert_eq!(to_f16(1.0 + 1.0 / 2048.0), 0x3c00);
        assert_eq!(to_f16(1.0 + 3.0 / 2048.0), 0x3c02);
    }

    #[test]
    fn permute_interleaves_the_halves_of_each_head() {
        // One head of d = 4, one column: rows [a0 a1 b0 b1] -> [a0 b0 a1 b1].
        assert_eq!(permute(&[0.0, 1.0, 2.0, 3.0], 1, 4, 1), vec![0.0, 2.0, 1.0, 3.0]);
    }
}
