//! The web page at `/`: served with its security headers and without the API key (its own
//! requests carry it), and used in a real browser: Debian's Chromium driven by
//! `tests/browser/ui.mjs` (playwright-core from npm; `scripts/setup_test_browser.sh` installs
//! both) against a server with a small random model: streaming, stop, regenerate, edit,
//! votes kept in SQLite as preference pairs, HTML and script kept as text, a reload, a real
//! restart of the server (stopped and started again on its port while the page is open) and
//! a busy one, and every view (the Next token view's sliders keep what the server's sampler
//! keeps). And `POST /v1/feedback` and `/v1/trace` on their own.

mod common;

use common::*;
use minichat_chat::sampler::{argmax, filter, softmax};
use minichat_model::kv_cache::KvCache;
use minichat_serve::feedback::{preference_pairs, Feedback};
use minichat_serve::{Model, Options, Server};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn the_page_is_served_with_its_policy_and_without_the_key() {
    let addr = start(Options { api_key: Some("sk-test".into()), ..Options::default() });
    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{csp}");
    assert!(page.text().contains(r#"<script type="module" src="/ui/app.js">"#));
    for (file, kind) in [("app.js", "text/javascript"), ("sse.js", "text/javascript"), ("style.css", "text/css")] {
        let r = get(addr, &format!("/ui/{file}"));
        assert_eq!((r.status, r.header("content-type").map(|t| t.starts_with(kind))), (200, Some(true)), "{file}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    assert_eq!(get(addr, "/ui/secret.txt").status, 404);
    assert_eq!(get(addr, "/v1/models").status, 401, "the API still wants the key");
}

#[test]
fn the_chat_page_works_in_chromium() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run scripts/setup_test_browser.sh (it installs it from npm, and Chromium)"
    );
    let votes = std::env::temp_dir().join(format!("minichat-ui-votes-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&votes);
    // A run's metrics log as training writes it: three steps, an evaluation, a sample.
    let metrics = std::env::temp_dir().join(format!("minichat-ui-metrics-{}.jsonl", std::process::id()));
    let step = |s: u64, loss: f32| {
        json!({"step": s, "loss": loss, "lr": 1e-3 / s as f64, "grad_norm": 1.0, "tokens_per_s": 1000.0,
               "mfu": 0.1, "tokens": 1024 * s, "seconds": s as f64})
    };
    let lines = [
        step(1, 5.0),
        step(2, 4.0),
        json!({"step": 2, "val_loss": 4.2, "val_bpb": 1.9}),
        json!({"step": 2, "prompt": "The quick brown fox", "greedy": "over the lazy dog", "sampled": "ran"}),
        step(3, 3.0),
    ];
    std::fs::write(&metrics, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let options = Options {
        parallel: 2,
        max_tokens: 4000,
        feedback: Some(votes.clone()),
        metrics: Some(metrics.clone()),
        ..Options::default()
    };
    // A short grace on shutdown: the script checks that a reply still running is cut.
    let options = Options { shutdown_grace: Duration::from_millis(200), ..options };
    let mut server = Restartable::start(Options { port: 0, ..options });
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
    let mut node = Command::new("node")
        .env("EXPECT_NEXT", expected_next("The quick brown").to_string())
        .env("METRICS_FILE", &metrics)
        .arg(dir.join("ui.mjs"))
        .arg(format!("http://{}/", server.addr))
        .arg(&shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs (the machine's Node.js)");
    let mut errors = node.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(&mut errors).lines().map_while(Result::ok) {
            eprintln!("ui.mjs: {line}");
            text += &format!("{line}\n");
        }
        text
    });
    // The script asks for the server to stop or start on stdout and waits for the answer.
    let mut answer = node.stdin.take().unwrap();
    let mut said = String::new();
    for line in BufReader::new(node.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        eprintln!("ui.mjs: {line}");
        match line.as_str() {
            "server:stop" => {
                server.stop();
                writeln!(answer, "stopped").unwrap();
            }
            "server:start" => {
                server = Restartable::start(Options { port: server.addr.port(), ..server.options.clone() });
                writeln!(answer, "started").unwrap();
            }
            _ => said += &format!("{line}\n"),
        }
    }
    let status = node.wait().unwrap();
    let text = format!("{said}{}", errors.join().unwrap());
    assert!(status.success(), "{text}");
    assert!(text.contains("every check passed"), "{text}");
    server.stop();
    // The page voted the first reply to "Go on" up and its regeneration down: one pair.
    let stored = Feedback::open(&votes).unwrap().votes().unwrap();
    let mut ratings: Vec<i8> = stored.iter().map(|v| v.rating).collect();
    ratings.sort();
    assert_eq!(ratings, [-1, 1]);
    let (pairs, prompts) = preference_pairs(&stored);
    assert_eq!((pairs.len(), prompts), (1, 1));
    let prompt = pairs[0]["prompt"].as_array().unwrap();
    assert_eq!(prompt.last().unwrap()["content"], "Go on");
    assert_eq!(prompt.iter().filter(|m| m["role"] == "assistant").count(), 1, "the first reply is in the prompt");
    assert_eq!(pairs[0]["chosen"][0]["role"], "assistant");
    let _ = std::fs::remove_file(&votes);
    let _ = std::fs::remove_file(&metrics);
}

/// A server on its own thread and runtime that can be stopped (as Ctrl-C does) and started
/// again on the same port.
struct Restartable {
    addr: SocketAddr,
    options: Options,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Restartable {
    fn start(options: Options) -> Restartable {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let kept = options.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let server = Server::bind(slow_model(), options).await.unwrap();
                tx.send(server.local_addr().unwrap()).unwrap();
                server
                    .run(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).expect("the server started");
        Restartable { addr, options: kept, stop: Some(stop), thread: Some(thread) }
    }

    /// Returns once the server has shut down and its port is free.
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the server shut down");
        }
    }
}

/// What the server's sampler keeps after `text` for a few slider settings (the page must
/// keep the same): the count, and the ids when few enough to be listed.
fn expected_next(text: &str) -> serde_json::Value {
    let Model { net, tok, .. } = slow_model();
    let tokens = [vec![tok.bos_id().unwrap()], tok.encode_ordinary(text)].concat();
    let mut cache = KvCache::new(net.config(), net.config().block_size).unwrap();
    net.extend(&mut cache, &tokens).unwrap();
    let cases: Vec<_> = [(1.0f32, 5usize, 1.0f32, 0.0f32), (0.7, 0, 0.5, 0.0), (1.3, 0, 1.0, 0.2), (0.0, 0, 1.0, 0.0), (0.5, 20, 0.9, 0.05)]
        .iter()
        .map(|&(temperature, top_k, top_p, min_p)| {
            let kept: Vec<usize> = if temperature == 0.0 {
                vec![argmax(&cache.logits) as usize]
            } else {
                let p = filter(softmax(&cache.logits, temperature), top_k, top_p, min_p);
                (0..p.len()).filter(|&i| p[i] > 0.0).collect()
            };
            let ids = (kept.len() <= 50).then_some(&kept);
            json!({"temperature": temperature, "top_k": top_k, "top_p": top_p, "min_p": min_p, "kept": kept.len(), "ids": ids})
        })
        .collect();
    json!({"text": text, "cases": cases})
}

#[test]
fn votes_are_checked_and_kept() {
    let votes = std::env::temp_dir().join(format!("minichat-api-votes-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&votes);
    let addr = start(Options { feedback: Some(votes.clone()), ..Options::default() });
    let prompt = json!([{"role": "user", "content": "What is 12*7?"}]);
    let ok = post(addr, "/v1/feedback", &json!({"reply_id": "r1", "rating": 1, "prompt": prompt, "reply": "84"}));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json(), json!({"reply_id": "r1", "rating": 1}));
    for (body, param) in [
        (json!({"rating": 1, "prompt": prompt, "reply": "84"}), "reply_id"),
        (json!({"reply_id": "r2", "rating": 5, "prompt": prompt, "reply": "84"}), "rating"),
        (json!({"reply_id": "r2", "rating": 1, "prompt": "hi", "reply": "84"}), "prompt"),
        (json!({"reply_id": "r2", "rating": 1, "prompt": prompt, "reply": [{"role": "user"}]}), "reply"),
    ] {
        let r = post(addr, "/v1/feedback", &body);
        assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some(param)), "{body}");
    }
    let db = Feedback::open(&votes).unwrap();
    assert_eq!((db.votes().unwrap().len(), db.rating("r1").unwrap()), (1, Some(1)));
    // A server started without a votes file says how to keep them.
    let none = start(Options::default());
    let r = post(none, "/v1/feedback", &json!({"reply_id": "r1", "rating": 1, "prompt": prompt, "reply": "84"}));
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("--feedback"));
    let _ = std::fs::remove_file(&votes);
}

#[test]
fn a_trace_has_every_view_s_data() {
    let addr = start(Options::default());
    let t = post(addr, "/v1/trace", &json!({"text": "The quick brown fox", "top": 3})).json();
    let tokens = t["tokens"].as_array().unwrap();
    let (n, layers, heads, vocab) = (
        tokens.len(),
        t["n_layer"].as_u64().unwrap() as usize + 1,
        t["n_head"].as_u64().unwrap() as usize,
        t["vocab"].as_u64().unwrap() as usize,
    );
    assert!(tokens[0]["special"].as_bool().unwrap() && n > 2, "<|bos|> first: {tokens:?}");
    let b64 = |bytes: usize| bytes.div_ceil(3) * 4;
    assert_eq!(t["attention"].as_str().unwrap().len(), b64((layers - 1) * heads * n * n * 4));
    assert_eq!(t["logits"].as_str().unwrap().len(), b64(vocab * 4));
    for key in ["norms", "lens", "next_rank"] {
        let per_layer = t[key].as_array().unwrap();
        assert!(per_layer.len() == layers && per_layer.iter().all(|l| l.as_array().unwrap().len() == n), "{key}");
    }
    for key in ["attn_writes", "mlp_writes"] {
        let per_block = t[key].as_array().unwrap();
        assert!(per_block.len() == layers - 1 && per_block.iter().all(|l| l.as_array().unwrap().len() == n), "{key}");
    }
    assert_eq!(t["config"]["n_layer"].as_u64(), Some(layers as u64 - 1));
    assert_eq!(t["config"]["family"], "gpt2");
    assert_eq!(t["lens"][0][0].as_array().unwrap().len(), 3);
    assert!(t["next_rank"][0][n - 1].is_null());
    let logits: Vec<f64> = t["next"].as_array().unwrap().iter().map(|c| c["logit"].as_f64().unwrap()).collect();
    assert!(logits.len() == 50 && logits.windows(2).all(|w| w[0] >= w[1]));
    // A character split across tokens: each piece carries its bytes, which together make it.
    let split = post(addr, "/v1/trace", &json!({"text": "🙂", "top": 0})).json();
    let bytes: Vec<u8> = split["tokens"].as_array().unwrap()[1..]
        .iter()
        .flat_map(|x| x["bytes"].as_array().expect("a piece's bytes").iter().map(|b| b.as_u64().unwrap() as u8))
        .collect();
    assert_eq!(bytes, "🙂".as_bytes());
    assert!(tokens.iter().all(|x| x.get("bytes").is_none()), "whole characters have no bytes");
    // A conversation: rendered in the chat format, with what fine-tuning learns.
    let messages = json!([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]);
    let c = post(addr, "/v1/trace", &json!({"messages": messages, "top": 0})).json();
    let trained: Vec<bool> = c["tokens"].as_array().unwrap().iter().map(|x| x["trained"].as_bool().unwrap()).collect();
    assert!(trained.iter().any(|&x| x) && !trained[0]);
    for (body, param) in [
        (json!({}), "text"),
        (json!({"text": "x".repeat(3000)}), "text"),
        (json!({"messages": "hi"}), "messages"),
        (json!({"text": "hi", "top": 99}), "top"),
    ] {
        let r = post(addr, "/v1/trace", &body);
        assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some(param)), "{body}");
    }
}

#[test]
fn tokenize_reads_openai_s_encodings_as_tiktoken_does() {
    let addr = start(Options::default());
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tokenizer/tests/fixtures");
    for encoding in ["cl100k_base", "o200k_base"] {
        // Cases written by tiktoken itself (scripts/make_tokenizer_fixtures.py).
        let cases = std::fs::read_to_string(fixtures.join(format!("tiktoken_{encoding}.jsonl"))).unwrap();
        for case in cases.lines().take(40).map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()) {
            let r = post(addr, "/tokenize", &json!({"content": case["text"], "encoding": encoding})).json();
            assert_eq!((&r["tokens"], &r["encoding"]), (&case["ids"], &json!(encoding)), "{case}");
        }
        // Pieces: a split character's parts go as bytes, and all of them add up to the text.
        let r =
            post(addr, "/tokenize", &json!({"content": "naïve 🙂", "encoding": encoding, "with_pieces": true})).json();
        let mut bytes = Vec::new();
        for t in r["tokens"].as_array().unwrap() {
            match &t["piece"] {
                serde_json::Value::String(s) => bytes.extend(s.as_bytes()),
                serde_json::Value::Array(b) => bytes.extend(b.iter().map(|x| x.as_u64().unwrap() as u8)),
                other => panic!("{other}"),
            }
        }
        assert_eq!(String::from_utf8(bytes).unwrap(), "naïve 🙂");
    }
    let r = post(addr, "/tokenize", &json!({"content": "hi", "encoding": "p50k_base"}));
    assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some("encoding")));
}

#[test]
fn the_training_log_is_served_as_it_grows() {
    assert_eq!(get(start(Options::default()), "/v1/training").status, 404, "no run's log given");
    let metrics = std::env::temp_dir().join(format!("minichat-api-metrics-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&metrics);
    let addr = start(Options { metrics: Some(metrics.clone()), ..Options::default() });
    assert_eq!(get(addr, "/v1/training").status, 404, "no metrics yet");
    // The last line is being written: skipped and counted, not an error.
    std::fs::write(&metrics, "{\"step\": 1, \"loss\": 5.0}\n{\"step\": 2, \"lo").unwrap();
    let v = get(addr, "/v1/training").json();
    assert_eq!((v["records"].as_array().unwrap().len(), v["skipped"].as_u64()), (1, Some(1)));
    let _ = std::fs::remove_file(&metrics);
}
