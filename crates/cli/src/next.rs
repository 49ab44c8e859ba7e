//! `minichat next RUN --text T`: the model's next-token distribution after a text (the "what
//! does the model predict" view), as a table of the most likely tokens or as JSON with every
//! logit (which `scripts/check_export.py` compares with transformers).

use anyhow::{bail, Result};
use clap::Args;
use minichat_model::kv_cache::KvCache;
use minichat_model::net::Net;
use minichat_model::safetensors;
use minichat_model::ModelConfig;
use minichat_tokenizer::tokenizer_file;
use minichat_train::run::Run;
use minichat_train::tokenize::bos_id;
use std::path::PathBuf;

#[derive(Args)]
pub struct NextArgs {
    /// A run directory (made by `minichat pretrain`).
    run: PathBuf,
    /// The text to continue (a bos token is put before it, as in training).
    #[arg(long)]
    text: String,
    /// A checkpoint directory of the run (default: the latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// How many of the most likely next tokens to show.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Print JSON: the token ids fed and every next-token logit.
    #[arg(long)]
    json: bool,
}

pub fn run(a: NextArgs) -> Result<()> {
    let run = Run::new(&a.run);
    let ckpt = crate::export::pick_checkpoint(&run, a.checkpoint)?;
    let tok = tokenizer_file::load(&run.tokenizer().display().to_string(), "gpt4")?;
    let config = ModelConfig::from_hf_json(&std::fs::read_to_string(ckpt.join("config.json"))?)?;
    let mut net = Net::new(config)?;
    net.load_hf(&safetensors::load(&ckpt.join("model.safetensors"))?, "model.safetensors")?;
    let mut ids = vec![bos_id(&tok)?];
    ids.extend(tok.encode_ordinary(&a.text));
    if ids.len() > net.config().block_size {
        bail!("{} tokens do not fit the context of {}", ids.len(), net.config().block_size);
    }
    let mut cache = KvCache::new(net.config(), ids.len())?;
    net.extend(&mut cache, &ids)?;
    let logits = &cache.logits;
    if a.json {
        println!("{}", serde_json::json!({ "ids": ids, "logits": logits }));
        return Ok(());
    }
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let z: f64 = logits.iter().map(|&x| ((x - max) as f64).exp()).sum();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&i, &j| logits[j].total_cmp(&logits[i]));
    for &i in order.iter().take(a.top) {
        let p = ((logits[i] - max) as f64).exp() / z;
        let text = String::from_utf8_lossy(&tok.decode_bytes(&[i as u32]).unwrap_or_default()).into_owned();
        println!("{:>7.3}%  {i:>6}  {text:?}", p * 100.0);
    }
    Ok(())
}
