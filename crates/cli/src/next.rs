//! `minichat next RUN --text T`: the model's next-token distribution after a text (the "what
//! does the model predict" view), as a table of the most likely tokens or as JSON with every
//! logit (which `scripts/check_export.py` compares with transformers).

use anyhow::{bail, Result};
use clap::Args;
use minichat_model::kv_cache::KvCache;
use minichat_train::run::Run;
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
    let model = Run::open(&a.run)?.load_model(a.checkpoint.as_deref(), false)?;
    let (net, tok) = (&model.net, &model.tok);
    let mut ids = vec![tok.bos_id()?];
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
