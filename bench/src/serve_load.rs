//! A load generator for OpenAI-compatible servers: C clients, each sending streamed
//! `/v1/completions` requests back to back for a fixed time; prints aggregate generated
//! tokens/s, p50/p99 time to first token and inter-token latency, and the server's peak
//! resident memory. A request still waiting for its first token at the end counts with its wait
//! so far (a lower bound: left out, it would flatter the server that keeps more waiting). Any
//! server that speaks the API can be measured (`bench/serve.sh` runs it against `minichat
//! serve` and llama.cpp's `llama-server`).
//!
//!   serve-load --url http://127.0.0.1:8000 --label NAME --clients 1,4,16 --seconds 20
//!              [--max-tokens 128] [--prompt-words 24] [--pid PID] [--ban TOKEN_ID]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Args {
    url: String,
    label: String,
    clients: Vec<usize>,
    seconds: f64,
    max_tokens: usize,
    prompt_words: usize,
    pid: Option<u32>,
    ban: Option<u32>,
}

fn args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8000".into(),
        label: "server".into(),
        clients: vec![1, 4, 16, 64],
        seconds: 20.0,
        max_tokens: 128,
        prompt_words: 24,
        pid: None,
        ban: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = v,
            "--label" => a.label = v,
            "--clients" => a.clients = v.split(',').map(|c| c.parse().expect("--clients 1,4,16")).collect(),
            "--seconds" => a.seconds = v.parse().expect("--seconds S"),
            "--max-tokens" => a.max_tokens = v.parse().expect("--max-tokens N"),
            "--prompt-words" => a.prompt_words = v.parse().expect("--prompt-words N"),
            "--pid" => a.pid = Some(v.parse().expect("--pid PID")),
            "--ban" => a.ban = Some(v.parse().expect("--ban ID")),
            _ => panic!("unknown flag {flag}"),
        }
    }
    a
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    tokens: usize,
    ttft: Vec<f64>,
    itl: Vec<f64>,
    errors: usize,
    /// Requests with no token by the end (their waits are in `ttft`).
    waiting: usize,
}

/// One streamed request; stops reading at `deadline`.
fn request(host: &str, body: &str, deadline: Instant, seen: &mut Seen) {
    let Ok(mut s) = TcpStream::connect(host) else {
        seen.errors += 1;
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
    let req = format!(
        "POST /v1/completions HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        seen.errors += 1;
        return;
    }
    let t0 = Instant::now();
    let mut last: Option<Instant> = None;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    let mut status_ok = None;
    // A request still without a token at the end counts its wait so far as its time to first
    // token: leaving it out would favour the server that keeps more requests waiting (under
    // overload, the slower one). Each such wait is below the request's true time, so every
    // percentile printed is at most the true one.
    let censor = |seen: &mut Seen, last: Option<Instant>| {
        if last.is_none() && deadline > t0 {
            seen.ttft.push(deadline.duration_since(t0).as_secs_f64());
            seen.waiting += 1;
        }
    };
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return censor(seen, last),
            Ok(_) => {}
        }
        if status_ok.is_none() {
            status_ok = Some(line.contains(" 200 "));
            if status_ok == Some(false) {
                seen.errors += 1;
                return;
            }
        }
        let Some(data) = line.trim_end().strip_prefix("data: ") else { continue };
        if data == "[DONE]" {
            return censor(seen, last);
        }
        // A chunk carrying text is a generated token (both servers send one per token).
        let has_text = data.contains("\"text\":\"") && !data.contains("\"text\":\"\"");
        if !has_text {
            continue;
        }
        let now = Instant::now();
        if now >= deadline {
            return censor(seen, last);
        }
        match last {
            None => seen.ttft.push(now.duration_since(t0).as_secs_f64()),
            Some(t) => seen.itl.push(now.duration_since(t).as_secs_f64()),
        }
        last = Some(now);
        seen.tokens += 1;
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// The server's peak resident memory in MiB (VmHWM), if its pid was given.
fn peak_mib(pid: Option<u32>) -> f64 {
    let Some(pid) = pid else { return f64::NAN };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

fn main() {
    let a = args();
    let host = a.url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "then", "runs", "far"];
    let prompt: Vec<&str> = (0..a.prompt_words).map(|i| words[i % words.len()]).collect();
    let ban = a.ban.map(|id| format!(", \"logit_bias\": {{\"{id}\": -100}}")).unwrap_or_default();
    // Each request's prompt starts with its own number, so every request feeds its whole
    // prompt on both servers (a kept cache shares only the first token or two), as different
    // users' messages do; the same prompt every time would measure one cold prefill per slot
    // and cached ones after it.
    let body = |n: usize| {
        format!(
            "{{\"prompt\": \"{n} {}\", \"max_tokens\": {}, \"temperature\": 0.8, \"seed\": 1, \"stream\": true, \"ignore_eos\": true{ban}}}",
            prompt.join(" "),
            a.max_tokens
        )
    };
    let sent = AtomicUsize::new(0);
    // One request first, not counted: each server's first pass pays for what later ones reuse.
    request(
        &host,
        &body(sent.fetch_add(1, Ordering::Relaxed)),
        Instant::now() + Duration::from_secs(600),
        &mut Seen::default(),
    );
    for &clients in &a.clients {
        let seen = Mutex::new(Seen::default());
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(a.seconds);
        std::thread::scope(|scope| {
            for _ in 0..clients {
                scope.spawn(|| {
                    let mut mine = Seen::default();
                    while Instant::now() < deadline {
                        request(&host, &body(sent.fetch_add(1, Ordering::Relaxed)), deadline, &mut mine);
                    }
                    let mut all = seen.lock().unwrap();
                    all.tokens += mine.tokens;
                    all.errors += mine.errors;
                    all.waiting += mine.waiting;
                    all.ttft.extend(mine.ttft);
                    all.itl.extend(mine.itl);
                });
            }
        });
        let wall = start.elapsed().as_secs_f64().min(a.seconds);
        let mut s = seen.lock().unwrap();
        let (t50, t99) = (percentile(&mut s.ttft, 0.5), percentile(&mut s.ttft, 0.99));
        let (i50, i99) = (percentile(&mut s.itl, 0.5), percentile(&mut s.itl, 0.99));
        println!(
            "{} clients={clients}: {:.1} tokens/s, ttft p50 {:.1} ms p99 {:.1} ms, itl p50 {:.1} ms p99 {:.1} ms, \
             {} requests started, {} waiting at the end, {} errors, peak {:.0} MiB",
            a.label,
            s.tokens as f64 / wall,
            t50 * 1e3,
            t99 * 1e3,
            i50 * 1e3,
            i99 * 1e3,
            s.ttft.len() - s.waiting,
            s.waiting,
            s.errors,
            peak_mib(a.pid)
        );
    }
}
