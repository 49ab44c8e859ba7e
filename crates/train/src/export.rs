//! `export hf`: a run's checkpoint as a Hugging Face model directory that `transformers` loads
//! with `AutoModelForCausalLM` and `AutoTokenizer`:
//!
//! ```text
//! OUT/model.safetensors      weights, Hugging Face names and layouts (as checkpointed)
//! OUT/config.json            GPT2LMHeadModel / LlamaForCausalLM config, bos/eos = our bos
//! OUT/tokenizer.json         the tokenizer (Hugging Face `tokenizers` format)
//! OUT/tokenizer_config.json  PreTrainedTokenizerFast with its special tokens
//! ```

use crate::Error;
use minichat_corpus::atomic_write;
use minichat_tokenizer::{hf, Tokenizer};
use serde_json::{json, Value};
use std::path::Path;

/// Writes the checkpoint `ckpt` (a `checkpoints/step_*` directory) and `tok` into `out`.
pub fn hf_dir(ckpt: &Path, tok: &Tokenizer, out: &Path) -> Result<(), Error> {
    let context = hf_model(ckpt, Some((tok.n_vocab(), tok.bos_id()?)), out)?;
    hf_tokenizer(tok, context, out)
}

/// The weights and `config.json` (with bos/eos ids when a tokenizer's (vocabulary, bos) is
/// given, which must match the model's vocabulary); returns the context length.
pub fn hf_model(ckpt: &Path, tokenizer: Option<(usize, u32)>, out: &Path) -> Result<u64, Error> {
    std::fs::create_dir_all(out).map_err(Error::io(out))?;
    let config_path = ckpt.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(Error::io(&config_path))?;
    let mut config: Value = serde_json::from_str(&text)
        .map_err(|e| Error::Checkpoint { path: config_path.display().to_string(), message: e.to_string() })?;
    if let Some((n_vocab, bos)) = tokenizer {
        let vocab = config["vocab_size"].as_u64().unwrap_or(0) as usize;
        if vocab != n_vocab {
            return Err(Error::Checkpoint {
                path: ckpt.display().to_string(),
                message: format!("model vocabulary {vocab} differs from the tokenizer's {n_vocab}"),
            });
        }
        config["bos_token_id"] = json!(bos);
        config["eos_token_id"] = json!(bos);
    }
    let context = config["n_positions"].as_u64().or(config["max_position_embeddings"].as_u64()).unwrap_or(0);
    let model = ckpt.join("model.safetensors");
    let weights = std::fs::read(&model).map_err(Error::io(&model))?;
    atomic_write(&out.join("model.safetensors"), &weights)?;
    atomic_write(&out.join("config.json"), serde_json::to_string_pretty(&config).expect("json").as_bytes())?;
    Ok(context)
}

/// `tokenizer.json` and `tokenizer_config.json` (PreTrainedTokenizerFast, bos = eos).
pub fn hf_tokenizer(tok: &Tokenizer, context: u64, out: &Path) -> Result<(), Error> {
    let bos = tok.bos_id()?;
    let tokenizer_json = serde_json::to_string(&hf::export(tok)).expect("json");
    atomic_write(&out.join("tokenizer.json"), tokenizer_json.as_bytes())?;
    let bos_text = tok.special_tokens().name(bos).unwrap_or("<|endoftext|>").to_string();
    let tokenizer_config = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": bos_text,
        "eos_token": bos_text,
        "model_max_length": context,
        "clean_up_tokenization_spaces": false,
    });
    let text = serde_json::to_string_pretty(&tokenizer_config).expect("json");
    Ok(atomic_write(&out.join("tokenizer_config.json"), text.as_bytes())?)
}
