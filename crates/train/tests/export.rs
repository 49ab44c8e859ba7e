//! The Hugging Face export against transformers' own files: a checkpoint made from the model
//! fixtures that transformers saved (`crates/model/tests/fixtures`, from
//! `scripts/make_model_fixtures.py`) exports to exactly the tensors transformers wrote and a
//! config.json that agrees with transformers' on every architecture field, so transformers
//! computes the fixture's logits from the export. (`scripts/check_export.py` checks a trained
//! run end to end, tokenizer included, with transformers itself.)

use minichat_model::adamw::AdamW;
use minichat_model::net::Net;
use minichat_model::optimizer::Optimizer;
use minichat_model::safetensors;
use minichat_model::ModelConfig;
use minichat_train::checkpoint::{self, TrainerState};
use serde_json::Value;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures").join(name)
}

#[test]
fn export_reproduces_the_files_transformers_saved() {
    let dir = std::env::temp_dir().join(format!("minichat-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for name in ["gpt2_tiny", "llama_tiny"] {
        let reference = fixture(name);
        let hf_config: Value =
            serde_json::from_str(&std::fs::read_to_string(reference.join("config.json")).unwrap()).unwrap();
        let config = ModelConfig::from_hf_json(&hf_config.to_string()).unwrap();
        let weights = safetensors::load(&reference.join("model.safetensors")).unwrap();
        let mut net = Net::new(config).unwrap();
        net.load_hf(&weights, "model.safetensors").unwrap();
        let opt = Optimizer::new(AdamW::new(net.weights().len(), 1e-3, (0.9, 0.95), 1e-8, 0.0), None);
        let state = TrainerState {
            step: 1,
            loader: Default::default(),
            tokens_seen: 0,
            train_seconds: 0.0,
            last_val_loss: None,
            checksums: Default::default(),
        };
        let ckpt = checkpoint::save(&dir.join(name).join("checkpoints"), &net, &opt, &state, 1).unwrap();
        let out = dir.join(name).join("hf");
        minichat_train::export::hf_model(&ckpt, None, &out).unwrap();

        // Every tensor transformers saved, with its name, shape and value (tied lm_head aside).
        let exported = safetensors::load(&out.join("model.safetensors")).unwrap();
        for (key, t) in &weights {
            if key == "lm_head.weight" && !exported.contains_key(key) {
                continue; // GPT-2 ties it to wte; transformers re-ties on load.
            }
            assert_eq!(exported.get(key), Some(t), "{name}: {key}");
        }
        assert!(exported.keys().all(|k| weights.contains_key(k)), "{name}: extra tensors");
        // The architecture fields transformers wrote, with the same values.
        let ours: Value = serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
        let fields = [
            "model_type",
            "vocab_size",
            "n_positions",
            "n_embd",
            "n_layer",
            "n_head",
            "n_inner",
            "activation_function",
            "layer_norm_epsilon",
            "max_position_embeddings",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "hidden_act",
            "rms_norm_eps",
            "rope_theta",
            "tie_word_embeddings",
        ];
        for f in fields {
            let (theirs, mine) = (&hf_config[f], &ours[f]);
            if theirs.is_null() {
                continue;
            }
            match (theirs.as_f64(), mine.as_f64()) {
                (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-6 * a.abs(), "{name}: {f}: {theirs} vs {mine}"),
                _ if f == "n_inner" && theirs.is_null() => {}
                _ => assert_eq!(theirs, mine, "{name}: {f}"),
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
