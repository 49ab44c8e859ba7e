//! The generation engine on the tiny transformers fixtures (GPT-2 and Llama with GQA): every
//! greedy token equals the argmax of a full forward pass over everything before it (forced
//! tool tokens included), samples are reproducible from the seed, and each way of ending works.

use minichat_chat::generate::{generate, Completion, Finish, GenerateConfig, ToolHook};
use minichat_chat::sampler::{argmax, SamplerConfig};
use minichat_model::cpu::cross_entropy::IGNORE;
use minichat_model::net::Net;
use std::path::PathBuf;

fn fixture(name: &str) -> Net {
    Net::load_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures").join(name)).unwrap()
}

/// Next-token logits after `seq` from a full forward pass (no cache).
fn full_forward_next(net: &Net, seq: &[u32]) -> Vec<f32> {
    let mut acts = net.acts(1, seq.len()).unwrap();
    net.forward(&mut acts, seq, &vec![IGNORE; seq.len()]).unwrap();
    let v = net.config().vocab_size;
    acts.logits()[(seq.len() - 1) * v..].to_vec()
}

fn run(net: &Net, prompt: &[u32], sampler: &SamplerConfig, cfg: &GenerateConfig) -> Vec<Completion> {
    generate(net, prompt, sampler, cfg, None, &mut |_, _, _| {}).unwrap()
}

fn greedy() -> SamplerConfig {
    SamplerConfig { temperature: 0.0, ..Default::default() }
}

#[test]
fn greedy_tokens_equal_full_forward_argmax_and_samples_are_seeded() {
    for name in ["gpt2_tiny", "llama_tiny"] {
        let net = fixture(name);
        let prompt = [3u32, 14, 15, 9];
        let cfg = GenerateConfig { max_new_tokens: 8, stop_tokens: vec![], samples: 2, show: 0, slide: false };
        let out = run(&net, &prompt, &greedy(), &cfg);
        assert_eq!(out[0], out[1], "{name}: greedy samples differ");
        assert_eq!((out[0].tokens.len(), out[0].finish), (8, Finish::Length));
        for i in 0..out[0].tokens.len() {
            let seq: Vec<u32> = prompt.iter().chain(&out[0].tokens[..i]).copied().collect();
            assert_eq!(argmax(&full_forward_next(&net, &seq)), out[0].tokens[i], "{name}: token {i}");
        }
        // Sampling: the same seed repeats, the N samples differ from one another.
        let hot = SamplerConfig { temperature: 1.5, seed: 11, ..Default::default() };
        let cfg = GenerateConfig { samples: 3, ..cfg };
        let (a, b) = (run(&net, &prompt, &hot, &cfg), run(&net, &prompt, &hot, &cfg));
        assert_eq!(a, b, "{name}: not reproducible");
        assert!(a[0] != a[1] || a[1] != a[2], "{name}: samples identical");
    }
}

#[test]
fn stop_tokens_max_tokens_and_the_context_end_samples() {
    let net = fixture("gpt2_tiny");
    let context = net.config().block_size;
    let prompt = [5u32, 6, 7];
    let cfg = GenerateConfig { max_new_tokens: 100, stop_tokens: vec![], samples: 1, show: 0, slide: false };
    let free = run(&net, &prompt, &greedy(), &cfg);
    assert_eq!(free[0].finish, Finish::Context);
    assert_eq!(prompt.len() + free[0].tokens.len(), context);
    let first = free[0].tokens[0];
    let stopped = run(&net, &prompt, &greedy(), &GenerateConfig { stop_tokens: vec![first], ..cfg.clone() });
    assert_eq!((stopped[0].tokens.len(), stopped[0].finish), (0, Finish::Stop(first)));
    let err = generate(&net, &vec![1; context], &greedy(), &cfg, None, &mut |_, _, _| {}).unwrap_err().to_string();
    assert!(err.contains("no room"), "{err}");
    let bad = SamplerConfig { top_p: 2.0, ..Default::default() };
    assert!(generate(&net, &prompt, &bad, &cfg, None, &mut |_, _, _| {}).is_err());
}

#[test]
fn tool_hook_forces_its_result_into_the_sequence() {
    let net = fixture("llama_tiny");
    let prompt = [2u32, 30, 31];
    let cfg = GenerateConfig { max_new_tokens: 10, stop_tokens: vec![], samples: 1, show: 0, slide: false };
    let plain = run(&net, &prompt, &greedy(), &cfg)[0].tokens.clone();
    // Treat the first greedy token as "call start" and the first later, different one as
    // "call end": the hook sees what was between and forces two tokens after it.
    let start = plain[0];
    let end_at = (1..plain.len()).find(|&j| plain[j] != start && !plain[1..j].contains(&plain[j])).unwrap();
    let end = plain[end_at];
    let mut seen = Vec::new();
    let mut call = |span: &[u32]| {
        seen.push(span.to_vec());
        vec![40, 41]
    };
    let mut streamed = Vec::new();
    let out =
        generate(&net, &prompt, &greedy(), &cfg, Some(ToolHook { start, end, call: &mut call }), &mut |_, t, d| {
            streamed.push((t, d.is_none()))
        })
        .unwrap();
    let c = &out[0];
    let open = plain[..end_at].iter().rposition(|&t| t == start).unwrap();
    assert_eq!(seen[0], plain[open + 1..end_at].to_vec());
    assert_eq!(&c.tokens[..end_at + 1], &plain[..end_at + 1]);
    assert_eq!(&c.tokens[end_at + 1..end_at + 3], &[40, 41]);
    assert_eq!(&c.forced[end_at..end_at + 4], &[false, true, true, false]);
    assert_eq!(streamed.iter().map(|s| s.0).collect::<Vec<_>>(), c.tokens);
    assert!(streamed[end_at + 1].1 && streamed[end_at + 2].1, "forced tokens are streamed without a draw");
    // Forced tokens do not count against max_new_tokens: the call, 2 forced, 1 more drawn.
    let short = GenerateConfig { max_new_tokens: end_at + 2, ..cfg.clone() };
    let mut call = |_: &[u32]| vec![40, 41];
    let hook = Some(ToolHook { start, end, call: &mut call });
    let c = &generate(&net, &prompt, &greedy(), &short, hook, &mut |_, _, _| {}).unwrap()[0];
    let drawn = c.forced.iter().filter(|&&f| !f).count();
    assert_eq!((c.finish, drawn, c.tokens.len() - drawn), (Finish::Length, end_at + 2, c.forced.len() - drawn));
    assert!(c.tokens.len() >= end_at + 4);
    // After the forced tokens, greedy decoding continues from the sequence that includes them.
    let seq: Vec<u32> = prompt.iter().chain(&c.tokens[..end_at + 3]).copied().collect();
    assert_eq!(argmax(&full_forward_next(&net, &seq)), c.tokens[end_at + 3]);
}

#[test]
fn packed_bf16_decoding_stays_close_to_f32() {
    use minichat_model::kv_cache::KvCache;
    for name in ["gpt2_tiny", "llama_tiny"] {
        let net = fixture(name);
        let mut packed = fixture(name);
        packed.pack_for_inference();
        let seq = [3u32, 14, 15, 9, 2, 6];
        let (mut a, mut b) = (KvCache::new(net.config(), 8).unwrap(), KvCache::new(net.config(), 8).unwrap());
        // Prefill, then one token at a time (both through the bf16 weights: few rows each).
        net.extend(&mut a, &seq[..3]).unwrap();
        packed.extend(&mut b, &seq[..3]).unwrap();
        for &t in &seq[3..] {
            net.extend(&mut a, &[t]).unwrap();
            packed.extend(&mut b, &[t]).unwrap();
            let scale = a.logits.iter().map(|x| x.abs()).fold(0.0, f32::max);
            let worst = a.logits.iter().zip(&b.logits).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max) / scale;
            assert!(worst < 2e-2, "{name}: bf16 logits off by {worst} relative");
            assert!(worst > 0.0, "{name}: the packed path was not used");
        }
    }
}

#[test]
fn sliding_window_keeps_generating_past_the_context() {
    let net = fixture("gpt2_tiny");
    let context = net.config().block_size;
    let prompt = [5u32, 6, 7];
    let cfg = GenerateConfig { max_new_tokens: 3 * context, stop_tokens: vec![], samples: 1, show: 0, slide: true };
    let out = run(&net, &prompt, &greedy(), &cfg);
    assert_eq!((out[0].tokens.len(), out[0].finish), (3 * context, Finish::Length));
    // The first slide comes when the context is full: the next token continues from the
    // newest half, re-prefilled.
    let k = context - prompt.len();
    let seq: Vec<u32> = prompt.iter().chain(&out[0].tokens[..k]).copied().collect();
    let kept = &seq[seq.len() - context / 2..];
    assert_eq!(argmax(&full_forward_next(&net, kept)), out[0].tokens[k]);
}
