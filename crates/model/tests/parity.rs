//! Parity with Hugging Face `transformers` (`GPT2LMHeadModel`, `LlamaForCausalLM`, PyTorch
//! autograd): logits, loss and every parameter's gradient on tiny random models, and one AdamW
//! step against `torch.optim.AdamW` (fixtures from `scripts/make_model_fixtures.py`).

use minichat_model::adamw::{clip_grad_norm, AdamW};
use minichat_model::gpt::{Activations, Gpt};
use minichat_model::kv_cache::{Batch, Decode, KvCache, Segment};
use minichat_model::llama::{Llama, LlamaActs};
use minichat_model::net::Net;
use minichat_model::params::{decayed_ranges, to_hf, transpose};
use minichat_model::safetensors::{self, Tensor};
use minichat_model::{Cpu, ModelConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpt2_tiny").join(name)
}

/// One recorded case: config, weights, expected tensors, ids and targets, (b, t).
struct Case {
    config: ModelConfig,
    weights: BTreeMap<String, Tensor>,
    expected: BTreeMap<String, Tensor>,
    ids: Vec<u32>,
    targets: Vec<u32>,
    b: usize,
    t: usize,
}

fn case(dir: &str) -> Case {
    let path = |name: &str| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir).join(name);
    let config = ModelConfig::from_hf_json(&std::fs::read_to_string(path("config.json")).unwrap()).unwrap();
    let expected = safetensors::load(&path("expected.safetensors")).unwrap();
    let as_ids = |name: &str| expected[name].data.iter().map(|&x| x as u32).collect::<Vec<u32>>();
    let (ids, targets) = (as_ids("input_ids"), as_ids("targets"));
    let (b, t) = (expected["input_ids"].shape[0], expected["input_ids"].shape[1]);
    Case { config, weights: safetensors::load(&path("model.safetensors")).unwrap(), expected, ids, targets, b, t }
}

/// Elementwise relative error, with elements much smaller than the tensor's RMS judged
/// relative to the RMS (their own magnitude is then rounding noise of the larger terms).
fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let rms = (want.iter().map(|w| (*w as f64).powi(2)).sum::<f64>() / want.len() as f64).sqrt() as f32;
    let mut worst = 0f32;
    for (g, w) in got.iter().zip(want) {
        worst = worst.max((g - w).abs() / w.abs().max(rms).max(f32::MIN_POSITIVE));
    }
    eprintln!("{what}: worst relative error {worst:.2e}");
    assert!(worst < 1e-4, "{what}: worst relative error {worst} (rms {rms})");
}

#[test]
fn gpt2_logits_loss_and_gradients_match_transformers() {
    let Case { config, weights, expected, ids, targets, b, t } = case("gpt2_tiny");
    let mut model = Gpt::new(config.clone()).unwrap();
    model.load_hf(&weights, "model.safetensors").unwrap();
    let mut acts = Activations::new(&config, b, t).unwrap();
    model.forward(&mut acts, &ids, &targets).unwrap();
    assert_close("logits", &acts.logits, &expected["logits"].data);
    let n = (b * t) as f32;
    let loss = -acts.logp.iter().sum::<f32>() / n;
    assert_close("loss", &[loss], &expected["loss"].data);

    // Mean cross-entropy: d loss / d logp = -1/N for every token.
    let dlogp = vec![-1.0 / n; b * t];
    model.backward(&mut acts, &ids, &targets, &dlogp);
    let mut checked = 0;
    for p in model.params.table.clone() {
        let want = &expected[&format!("grad.{}", p.name)];
        assert_close(&format!("grad {}", p.name), &model.params.grad_hf(&p.name).unwrap(), &want.data);
        checked += 1;
    }
    assert_eq!(checked, 4 + 12 * config.n_layer);

    // Then clip to norm 1 and take one AdamW step, as torch.optim.AdamW did, from torch's own
    // gradients: the key bias's true gradient is exactly 0 (softmax ignores a per-row shift), so
    // both sides hold rounding noise there, and Adam's first step g/|g| would amplify it.
    for p in &model.params.table {
        let g = &expected[&format!("grad.{}", p.name)].data;
        let dst = &mut model.params.grads[p.offset..p.offset + p.len()];
        if p.conv1d {
            transpose(dst, g, p.shape[1], p.shape[0]); // HF layout [in][out]
        } else {
            dst.copy_from_slice(g);
        }
    }
    let norm = clip_grad_norm(&mut model.params.grads, 1.0);
    assert_close("grad_norm", &[norm], &expected["grad_norm"].data);
    let decayed = decayed_ranges(&model.params.table);
    assert_eq!(decayed.len(), 4 * model.config.n_layer, "the four linear weights of each block");
    let mut opt = AdamW::new(model.params.weights.len(), 1e-2, (0.9, 0.95), 1e-8, 0.1);
    opt.update(&mut model.params.weights, &model.params.grads, &decayed);
    for p in &model.params.table {
        let ours = to_hf(p, &model.params.weights);
        assert_close(&format!("adamw {}", p.name), &ours, &expected[&format!("adamw.{}", p.name)].data);
    }
}

#[test]
fn loading_names_the_bad_tensor() {
    let config = ModelConfig::from_hf_json(&std::fs::read_to_string(fixture("config.json")).unwrap()).unwrap();
    let mut model = Gpt::new(config).unwrap();
    let mut weights = safetensors::load(&fixture("model.safetensors")).unwrap();
    weights.get_mut("transformer.h.1.mlp.c_fc.weight").unwrap().shape = vec![96, 24];
    let err = model.load_hf(&weights, "m.safetensors").unwrap_err().to_string();
    assert!(err.contains("transformer.h.1.mlp.c_fc.weight") && err.contains("shape"), "{err}");
    weights.remove("transformer.ln_f.bias");
    weights.get_mut("transformer.h.1.mlp.c_fc.weight").unwrap().shape = vec![24, 96];
    let err = model.load_hf(&weights, "m.safetensors").unwrap_err().to_string();
    assert!(err.contains("transformer.ln_f.bias") && err.contains("missing"), "{err}");
}

#[test]
fn llama_with_grouped_query_attention_matches_transformers() {
    let Case { config, weights, expected, ids, targets, b, t } = case("llama_tiny");
    assert_eq!((config.n_head, config.n_kv_head), (4, 2));
    let mut model = Llama::new(config.clone()).unwrap();
    model.load_hf(&weights, "model.safetensors").unwrap();
    let mut acts = LlamaActs::new(&config, b, t).unwrap();
    model.forward(&mut acts, &ids, &targets).unwrap();
    assert_close("llama logits", &acts.logits, &expected["logits"].data);
    let n = (b * t) as f32;
    assert_close("llama loss", &[-acts.logp.iter().sum::<f32>() / n], &expected["loss"].data);
    model.backward(&mut acts, &ids, &targets, &vec![-1.0 / n; b * t]);
    for p in &model.params.table {
        let want = &expected[&format!("grad.{}", p.name)];
        assert_close(&format!("llama grad {}", p.name), &model.params.grad_hf(&p.name).unwrap(), &want.data);
    }
    assert_eq!(model.params.table.len(), 3 + 9 * config.n_layer);
}

#[test]
fn saved_models_load_back_identically() {
    for dir in ["gpt2_tiny", "llama_tiny"] {
        let Case { config, weights, .. } = case(dir);
        let out = std::env::temp_dir().join(format!("minichat-save-{}-{dir}", std::process::id()));
        let (params, flat) = if dir == "gpt2_tiny" {
            let mut m = Gpt::new(config.clone()).unwrap();
            m.load_hf(&weights, dir).unwrap();
            (m.params.table.clone(), m.params.weights.clone())
        } else {
            let mut m = Llama::new(config.clone()).unwrap();
            m.load_hf(&weights, dir).unwrap();
            (m.params.table.clone(), m.params.weights.clone())
        };
        std::fs::create_dir_all(&out).unwrap();
        for (name, bytes) in minichat_model::params::hf_files(&config, &params, &flat) {
            std::fs::write(out.join(name), bytes).unwrap();
        }
        let again = ModelConfig::from_hf_json(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
        assert_eq!(again, config);
        let reread = safetensors::load(&out.join("model.safetensors")).unwrap();
        for p in &params {
            assert_eq!(reread[&p.name], weights[&p.name], "{dir}: {}", p.name);
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn kv_cache_decoding_equals_the_full_forward() {
    let Case { config, weights, ids, targets, t, .. } = case("gpt2_tiny");
    let mut model = Gpt::new(config.clone()).unwrap();
    model.load_hf(&weights, "model.safetensors").unwrap();
    // Full forward over the first sequence.
    let mut acts = Activations::new(&config, 1, t).unwrap();
    model.forward(&mut acts, &ids[..t], &targets[..t]).unwrap();
    let v = config.vocab_size;
    let mut cache = KvCache::new(&config, t).unwrap();
    for (pos, &tok) in ids[..t].iter().enumerate() {
        let logits = model.decode(&mut cache, tok).unwrap();
        assert_close(&format!("decode logits at {pos}"), logits, &acts.logits[pos * v..(pos + 1) * v]);
    }
    assert!(model.decode(&mut cache, 0).unwrap_err().to_string().contains("full"));
    // Prefill then decode gives the same last logits.
    cache.clear();
    let last = model.prefill(&mut cache, &ids[..t]).unwrap().to_vec();
    assert_close("prefill logits", &last, &acts.logits[(t - 1) * v..]);
}

#[test]
fn llama_kv_cache_decoding_equals_the_full_forward() {
    let Case { config, weights, ids, targets, t, .. } = case("llama_tiny");
    let mut model = Llama::new(config.clone()).unwrap();
    model.load_hf(&weights, "model.safetensors").unwrap();
    let mut acts = LlamaActs::new(&config, 1, t).unwrap();
    model.forward(&mut acts, &ids[t..2 * t], &targets[t..2 * t]).unwrap();
    let v = config.vocab_size;
    let mut cache = KvCache::new(&config, t).unwrap();
    for (pos, &tok) in ids[t..2 * t].iter().enumerate() {
        let logits = model.decode(&mut cache, tok).unwrap();
        assert_close(&format!("llama decode logits at {pos}"), logits, &acts.logits[pos * v..(pos + 1) * v]);
    }
}

/// Feeds the first sequence through a capturing cache in two chunks (a batched prefill, then
/// the rest): the captured attention probabilities and hidden states must equal transformers'
/// `output_attentions` / `output_hidden_states` (all but the last hidden state, which
/// transformers returns after the final norm).
fn check_capture<M: Decode<Cpu>>(model: &M, config: &ModelConfig, expected: &BTreeMap<String, Tensor>, ids: &[u32]) {
    let (t, c, h) = (ids.len(), config.n_embd, config.n_head);
    let mut cache = KvCache::new(config, t + 2).unwrap();
    cache.enable_capture(&Cpu, config);
    let split = t / 2;
    model.prefill(&mut cache, &ids[..split]).unwrap();
    model.extend(&mut cache, &ids[split..]).unwrap();
    let (m, cap) = (cache.max_len(), cache.capture.as_ref().unwrap());
    for i in 0..config.n_layer {
        let want = &expected[&format!("hidden.{i}")].data[..t * c]; // sequence 0
        assert_close(&format!("captured hidden state {i}"), &cap.hidden[i][..t * c], want);
    }
    for l in 0..config.n_layer {
        let want = &expected[&format!("attention.{l}")].data[..h * t * t];
        let got: Vec<f32> = (0..h)
            .flat_map(|hd| (0..t).flat_map(move |i| (0..t).map(move |j| (hd, i, j))))
            .map(|(hd, i, j)| cap.attention[l][(hd * m + i) * m + j])
            .collect();
        assert_close(&format!("captured attention {l}"), &got, want);
    }
}

#[test]
fn kv_cache_captures_attention_and_hidden_states_like_transformers() {
    let Case { config, weights, expected, ids, t, .. } = case("gpt2_tiny");
    let mut model = Gpt::new(config.clone()).unwrap();
    model.load_hf(&weights, "model.safetensors").unwrap();
    check_capture(&model, &config, &expected, &ids[..t]);
    let Case { config, weights, expected, ids, t, .. } = case("llama_tiny");
    let mut model = Llama::new(config.clone()).unwrap();
    model.load_hf(&weights, "model.safetensors").unwrap();
    check_capture(&model, &config, &expected, &ids[..t]);
}

/// Feeds sequences alone, then as a batch of mixed segments (one-token steps, a short and a
/// long chunk): the logits equal the full forward's, and in an invariant batch (packed bf16
/// weights or not) each sequence's logits are bit for bit those it gets alone, and those it
/// gets fed one token at a time: they depend on the tokens only, however they were cut (what
/// reusing a cache's prefix for another prompt needs).
fn check_batch<M: Decode<Cpu>>(model: &M, config: &ModelConfig, ids: &[u32], full: &[f32], packed: bool) {
    let (t, v) = (ids.len(), config.vocab_size);
    // Each sequence feeds the same tokens, cut differently: a prompt chunk, then pieces.
    let cuts: [&[usize]; 4] = [&[4, 1, 1], &[1, 1, 1], &[3, 9, 1], &[12, 1, 2]];
    assert!(t >= 15, "the cuts mix one-token steps and chunks");
    for invariant in [false, true] {
        let mut one_by_one = KvCache::new(config, t).unwrap();
        let mut batch = Batch::new(invariant);
        let singly: Vec<Vec<f32>> = (0..t)
            .map(|i| {
                model.extend_batch(&mut batch, &mut [Segment { cache: &mut one_by_one, tokens: &ids[i..=i] }]).unwrap();
                one_by_one.logits.clone()
            })
            .collect();
        let mut alone: Vec<Vec<Vec<f32>>> = Vec::new();
        for cut in cuts {
            let (mut cache, mut at, mut out) = (KvCache::new(config, t).unwrap(), 0, Vec::new());
            let mut batch = Batch::new(invariant);
            for &n in cut {
                let tokens = &ids[at..at + n];
                model.extend_batch(&mut batch, &mut [Segment { cache: &mut cache, tokens }]).unwrap();
                at += n;
                out.push(cache.logits.clone());
                if !packed {
                    assert_close(&format!("logits after {at}"), &cache.logits, &full[(at - 1) * v..at * v]);
                }
                if invariant {
                    assert_eq!(cache.logits, singly[at - 1], "after {at} tokens cut {cut:?}: not as fed one by one");
                }
            }
            alone.push(out);
        }
        // All four side by side, step by step.
        let mut caches: Vec<KvCache> = (0..cuts.len()).map(|_| KvCache::new(config, t).unwrap()).collect();
        let mut at = vec![0; cuts.len()];
        let mut batch = Batch::new(invariant);
        for step in 0..3 {
            let ns: Vec<usize> = cuts.iter().map(|c| c[step]).collect();
            let mut segments: Vec<Segment> = caches
                .iter_mut()
                .zip(&at)
                .zip(&ns)
                .map(|((cache, &a), &n)| Segment { cache, tokens: &ids[a..a + n] })
                .collect();
            model.extend_batch(&mut batch, &mut segments).unwrap();
            for (s, cache) in caches.iter().enumerate() {
                at[s] += ns[s];
                if invariant {
                    assert_eq!(cache.logits, alone[s][step], "sequence {s} step {step}: the batch changed its logits");
                } else if !packed {
                    assert_close(
                        &format!("batched {s} at {}", at[s]),
                        &cache.logits,
                        &full[(at[s] - 1) * v..at[s] * v],
                    );
                }
            }
        }
    }
}

/// Sixteen token ids of a fixture's vocabulary (its whole context), and the full forward's
/// logits of them.
fn long_sequence<M>(config: &ModelConfig, forward: impl Fn(&[u32], &[u32]) -> Vec<f32>, _: &M) -> (Vec<u32>, Vec<f32>) {
    let t = config.block_size;
    let ids: Vec<u32> = (0..t).map(|i| (i * 7 + 3) as u32 % config.vocab_size as u32).collect();
    let full = forward(&ids, &ids);
    (ids, full)
}

#[test]
fn batched_decoding_equals_decoding_alone() {
    let Case { config, weights, .. } = case("gpt2_tiny");
    let mut model = Gpt::new(config.clone()).unwrap();
    model.load_hf(&weights, "model.safetensors").unwrap();
    let forward = |ids: &[u32], targets: &[u32]| {
        let mut acts = Activations::new(&config, 1, ids.len()).unwrap();
        model.forward(&mut acts, ids, targets).unwrap();
        acts.logits.clone()
    };
    let (ids, full) = long_sequence(&config, forward, &model);
    check_batch(&model, &config, &ids, &full, false);
    model.pack_for_inference();
    check_batch(&model, &config, &ids, &full, true);
    let Case { config, weights, .. } = case("llama_tiny");
    let mut model = Llama::new(config.clone()).unwrap();
    model.load_hf(&weights, "model.safetensors").unwrap();
    let forward = |ids: &[u32], targets: &[u32]| {
        let mut acts = LlamaActs::new(&config, 1, ids.len()).unwrap();
        model.forward(&mut acts, ids, targets).unwrap();
        acts.logits.clone()
    };
    let (ids, full) = long_sequence(&config, forward, &model);
    check_batch(&model, &config, &ids, &full, false);
    model.pack_for_inference();
    check_batch(&model, &config, &ids, &full, true);
}

/// Rows with no target skip the LM head (`minichat_model::head`): their log-probabilities are 0,
/// and the rest's, and every gradient, are those of a pass over every row in which those rows'
/// derivatives are 0.
#[test]
fn the_head_runs_only_on_the_rows_with_a_target() {
    for dir in ["gpt2_tiny", "llama_tiny"] {
        let Case { config, weights, ids, targets, b, t, .. } = case(dir);
        assert!(!targets.contains(&minichat_model::cpu::cross_entropy::IGNORE));
        // Targets on two runs of rows of each sequence, none elsewhere.
        let kept = |i: usize| matches!(i % t, 1..=3) || i % t == t - 1;
        let sparse: Vec<u32> = targets
            .iter()
            .enumerate()
            .map(|(i, &x)| if kept(i) { x } else { minichat_model::cpu::cross_entropy::IGNORE })
            .collect();
        let dlogp: Vec<f32> = (0..b * t).map(|i| if kept(i) { -1.0 - i as f32 / 10.0 } else { 0.0 }).collect();
        let run = |targets: &[u32]| -> (Vec<f32>, Vec<f32>) {
            let mut net = if dir == "gpt2_tiny" {
                let mut model = Gpt::new(config.clone()).unwrap();
                model.load_hf(&weights, "model.safetensors").unwrap();
                Net::Gpt(model)
            } else {
                let mut model = Llama::new(config.clone()).unwrap();
                model.load_hf(&weights, "model.safetensors").unwrap();
                Net::Llama(model)
            };
            let mut acts = net.acts(b, t).unwrap();
            net.forward(&mut acts, &ids, targets).unwrap();
            let logp = acts.logp().to_vec();
            net.backward(&mut acts, &ids, targets, &dlogp);
            (logp, net.buffers().1.clone())
        };
        let (dense_logp, dense_grads) = run(&targets);
        let (logp, grads) = run(&sparse);
        let want: Vec<f32> = dense_logp.iter().enumerate().map(|(i, &x)| if kept(i) { x } else { 0.0 }).collect();
        assert!(logp.iter().enumerate().all(|(i, &x)| kept(i) || x == 0.0), "{dir}: rows without a target");
        assert_close(&format!("{dir} logp"), &logp, &want);
        assert_close(&format!("{dir} gradients"), &grads, &dense_grads);
    }
}
