//! What the server's tests share: a small random model with the chat tokens, a server on a
//! free loopback port, and a plain HTTP/1.1 client over a TCP socket (so what is checked is
//! the bytes on the wire, not a client library's reading of them).

#![allow(dead_code)]

use minichat_model::init::gpt2_init;
use minichat_model::net::Net;
use minichat_model::{Family, ModelConfig};
use minichat_serve::{Model, Options, Server};
use minichat_tokenizer::train::{TrainConfig, Trainer};
use minichat_tokenizer::{Tokenizer, CHAT_SPECIAL_TOKENS};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const TEXT: &str = "The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins \
    with a single step. What is 12*7? It is 84. Spell cat: c-a-t. Zwölf Boxkämpfer jagen Viktor. 日本語 🙂";

pub fn tokenizer() -> Tokenizer {
    tokenizer_with(CHAT_SPECIAL_TOKENS.iter().map(|s| s.to_string()).collect())
}

/// A tokenizer trained on `TEXT` with these special tokens.
pub fn tokenizer_with(special_tokens: Vec<String>) -> Tokenizer {
    let config = TrainConfig {
        vocab_size: 320,
        pattern: "gpt4".into(),
        special_tokens,
        max_doc_chars: None,
        name: "serve-test".into(),
        number_tokens: false,
    };
    let mut trainer = Trainer::new(config).unwrap();
    trainer.add_documents(&vec![TEXT.to_string(); 50]);
    trainer.finish(|_, _| {}).unwrap().0
}

/// The test Python: $MINICHAT_TEST_PYTHON, or the venv that scripts/setup_test_python.sh
/// makes (with the `openai` client and lm-evaluation-harness).
pub fn python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("MINICHAT_TEST_PYTHON") {
        return p.into();
    }
    let venv = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/python");
    assert!(
        venv.exists(),
        "no test Python at {}: run scripts/setup_test_python.sh (the README's test command does)",
        venv.display()
    );
    venv
}

/// A GPT-2 of random weights (seeded): it writes varied text, the same for the same seed.
pub fn model(context: usize) -> Model {
    model_with(tokenizer(), context)
}

pub fn model_with(tok: Tokenizer, context: usize) -> Model {
    let mut cfg = ModelConfig::from_depth(Family::Gpt2, 2, tok.n_vocab());
    (cfg.n_embd, cfg.n_head, cfg.n_kv_head, cfg.intermediate_size, cfg.block_size) = (64, 4, 4, 256, context);
    let mut net = Net::new(cfg).unwrap();
    let params = net.params().to_vec();
    let n_layer = net.config().n_layer;
    gpt2_init(&params, net.buffers().0, n_layer, 7);
    Model { net, tok, search: None, id: "tiny".into() }
}

/// Starts a server with `options` (on a free port) in its own thread; returns its address.
pub fn start(options: Options) -> SocketAddr {
    start_with(model(256), options)
}

pub fn start_with(model: Model, options: Options) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let server = Server::bind(model, Options { port: 0, ..options }).await.unwrap();
            tx.send(server.local_addr().unwrap()).unwrap();
            server.run(std::future::pending()).await.unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(30)).expect("the server started")
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `data:` payloads of an event stream, in order (comments left out).
    pub fn events(&self) -> Vec<String> {
        self.text().split("\n\n").filter_map(|e| e.strip_prefix("data: ")).map(str::to_string).collect()
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    send(&mut s, method, path, headers, body);
    let mut r = BufReader::new(s);
    let (status, headers) = head(&mut r);
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        r.read_to_end(&mut body).unwrap();
    }
    Response { status, headers, body }
}

pub fn send(s: &mut TcpStream, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
}

/// The status line and headers.
pub fn head(r: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status =
        line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    (status, headers)
}

pub fn post(addr: SocketAddr, path: &str, body: &Value) -> Response {
    request(addr, "POST", path, &[], body.to_string().as_bytes())
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"")
}

/// The content of a whole chat response's first choice.
pub fn content(r: &Value) -> String {
    r["choices"][0]["message"]["content"].as_str().unwrap_or_else(|| panic!("no content in {r}")).to_string()
}

/// A stream's text: its content deltas joined, per choice.
pub fn streamed(events: &[String], choices: usize) -> Vec<String> {
    let mut out = vec![String::new(); choices];
    for e in events.iter().filter(|e| e.as_str() != "[DONE]") {
        let v: Value = serde_json::from_str(e).unwrap();
        for c in v["choices"].as_array().unwrap() {
            if let Some(t) = c["delta"]["content"].as_str() {
                out[c["index"].as_u64().unwrap() as usize].push_str(t);
            }
        }
    }
    out
}

/// A streaming response being read as it comes (chunked transfer), on its own connection.
pub struct Live {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    pub text: String,
}

impl Live {
    pub fn open(addr: SocketAddr, path: &str, body: &Value) -> Live {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        send(&mut s, "POST", path, &[], body.to_string().as_bytes());
        let mut reader = BufReader::new(s);
        let (status, headers) = head(&mut reader);
        Live { status, headers, reader, text: String::new() }
    }

    /// Reads chunks until `until` holds of the text so far, or the body ends (false).
    pub fn read_until(&mut self, until: impl Fn(&str) -> bool) -> bool {
        while !until(&self.text) {
            let mut line = String::new();
            if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
                return false;
            }
            let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            if n == 0 {
                return until(&self.text);
            }
            let mut chunk = vec![0; n + 2];
            if self.reader.read_exact(&mut chunk).is_err() {
                return false;
            }
            self.text.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
        true
    }

    /// Reads to the end; returns the `data:` payloads.
    pub fn finish(mut self) -> Vec<String> {
        self.read_until(|_| false);
        self.text.split("\n\n").filter_map(|e| e.strip_prefix("data: ")).map(str::to_string).collect()
    }
}

/// A slower model (wider, longer context) for the tests that need a reply to last.
pub fn slow_model() -> Model {
    let tok = tokenizer();
    let mut cfg = ModelConfig::from_depth(Family::Gpt2, 4, tok.n_vocab());
    (cfg.n_embd, cfg.n_head, cfg.n_kv_head, cfg.intermediate_size, cfg.block_size) = (256, 4, 4, 1024, 2048);
    let mut net = Net::new(cfg).unwrap();
    let params = net.params().to_vec();
    let n_layer = net.config().n_layer;
    gpt2_init(&params, net.buffers().0, n_layer, 7);
    Model { net, tok, search: None, id: "slow".into() }
}

/// A chat request that goes on until `max_tokens` (the tokens that would end it banned).
pub fn endless(addr: SocketAddr, max_tokens: usize, stream: bool) -> Value {
    let ends =
        post(addr, "/tokenize", &serde_json::json!({"content": "<|bos|><|assistant_end|>", "parse_special": true}));
    let ids = ends.json()["tokens"].as_array().unwrap().clone();
    assert_eq!(ids.len(), 2);
    let bias: serde_json::Map<String, Value> = ids.iter().map(|i| (i.to_string(), serde_json::json!(-100))).collect();
    serde_json::json!({"messages": [{"role": "user", "content": "Go on"}], "max_tokens": max_tokens,
                       "logit_bias": bias, "stream": stream, "seed": 5})
}

/// A metric's value from `/metrics`.
pub fn metric(addr: SocketAddr, name: &str) -> f64 {
    let text = get(addr, "/metrics").text();
    let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Waits (up to `secs`) for `cond`.
pub fn wait_for(secs: f64, cond: impl Fn() -> bool) -> bool {
    let t = std::time::Instant::now();
    while t.elapsed().as_secs_f64() < secs {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}
