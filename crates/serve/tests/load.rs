//! Many clients at once: slots and the bounded queue (503 with Retry-After when full),
//! keep-alive comments while waiting, cancellation of one client's reply (running or queued)
//! freeing its slot and nobody else's, the per-request time limit, and a clean shutdown.

mod common;

use common::*;
use minichat_serve::{Options, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn finish_of(events: &[String]) -> Vec<String> {
    events
        .iter()
        .filter(|e| *e != "[DONE]")
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| v["choices"][0]["finish_reason"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_full_queue_is_a_503_and_a_cancelled_reply_frees_its_slot() {
    let addr = start_with(slow_model(), Options { parallel: 1, queue: 0, max_tokens: 4000, ..Options::default() });
    let mut long = Live::open(addr, "/v1/chat/completions", &endless(addr, 1500, true));
    assert_eq!(long.status, 200);
    assert!(long.read_until(|t| t.matches("\"content\"").count() > 3), "the long reply streams");
    let busy =
        post(addr, "/v1/chat/completions", &json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}));
    assert_eq!(busy.status, 503, "{}", busy.text());
    assert_eq!(busy.header("retry-after"), Some("1"));
    assert_eq!(busy.json()["error"]["type"], "server_busy_error");
    let before = metric(addr, "minichat_generation_tokens_total");
    drop(long);
    assert!(wait_for(10.0, || metric(addr, "minichat_requests_running") == 0.0), "the slot is freed");
    let after = metric(addr, "minichat_generation_tokens_total");
    assert!(after < 1500.0, "the cancelled reply stopped early: {before} then {after} tokens");
    let next =
        post(addr, "/v1/chat/completions", &json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}));
    assert_eq!(next.status, 200);
}

#[test]
fn a_queued_client_that_leaves_cancels_only_itself_and_waiting_streams_get_pings() {
    let addr = start_with(
        slow_model(),
        Options { parallel: 1, queue: 4, ping_interval: Duration::from_millis(30), ..Options::default() },
    );
    let mut running = Live::open(addr, "/v1/chat/completions", &endless(addr, 300, true));
    assert!(running.read_until(|t| t.contains("\"content\"")));
    // A second stream waits for the slot: it hears pings meanwhile, then leaves.
    let mut queued = Live::open(addr, "/v1/chat/completions", &endless(addr, 300, true));
    assert!(queued.read_until(|t| t.contains(": ping")), "keep-alive comments while queued: {}", queued.text);
    assert_eq!(metric(addr, "minichat_requests_waiting"), 1.0);
    drop(queued);
    // The running reply goes on to its end, untouched.
    let events = running.finish();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(finish_of(&events), vec!["length".to_string()]);
    assert!(wait_for(5.0, || metric(addr, "minichat_requests_waiting") == 0.0));
    assert_eq!(metric(addr, "minichat_time_to_first_token_seconds_count"), 1.0, "the queued reply never ran");
}

#[test]
fn the_time_limit_ends_a_reply_with_length() {
    let addr = start_with(
        slow_model(),
        Options { timeout: Duration::from_millis(300), max_tokens: 4000, ..Options::default() },
    );
    let t = Instant::now();
    let r = post(addr, "/v1/chat/completions", &endless(addr, 4000, false));
    assert!(t.elapsed() < Duration::from_secs(20));
    let v = r.json();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() < 4000);
}

#[test]
fn shutdown_cuts_replies_in_flight_with_a_final_event() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let options = Options { port: 0, shutdown_grace: Duration::from_millis(200), ..Options::default() };
            let server = Server::bind(slow_model(), options).await.unwrap();
            addr_tx.send(server.local_addr().unwrap()).unwrap();
            server.run(async { rx.await.unwrap_or(()) }).await.unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    let mut live = Live::open(addr, "/v1/chat/completions", &endless(addr, 1900, true));
    assert!(live.read_until(|t| t.contains("\"content\"")));
    let t = Instant::now();
    tx.send(()).unwrap();
    let events = live.finish();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let last: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    let cut = last["error"]["message"].as_str().unwrap_or_else(|| panic!("the last event {last}"));
    assert!(cut.contains("shutting down"), "{last}");
    server.join().unwrap();
    assert!(t.elapsed() < Duration::from_secs(10), "the server stopped");
    assert!(std::net::TcpStream::connect(addr).is_err(), "and no longer listens");
}

#[test]
fn a_client_that_leaves_a_whole_reply_cancels_it() {
    let addr = start_with(slow_model(), Options { parallel: 1, max_tokens: 4000, ..Options::default() });
    let body = endless(addr, 1900, false);
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    send(&mut s, "POST", "/v1/chat/completions", &[], body.to_string().as_bytes());
    assert!(wait_for(10.0, || metric(addr, "minichat_requests_running") == 1.0), "the reply runs");
    drop(s);
    assert!(wait_for(10.0, || metric(addr, "minichat_requests_running") == 0.0), "and stops when its client leaves");
    assert!(metric(addr, "minichat_generation_tokens_total") < 1900.0);
}

/// llama.cpp's `test_completion_parallel_slots` and `test_consistent_result_same_seed`: more
/// requests than slots all get their answer, and each is the text it gets alone, whatever the
/// slots and the prefill chunk.
#[test]
fn more_requests_than_slots_each_get_the_text_they_get_alone() {
    let prompts =
        ["The quick brown fox", "A journey of a thousand miles", "What is 12*7?", "Spell cat:", "日本語", "Zwölf"];
    let body = |p: &str| json!({"prompt": p, "max_tokens": 16, "temperature": 0.9, "seed": 11});
    let alone: Vec<Value> = {
        let addr = start(Options { parallel: 1, prefill_chunk: 3, ..Options::default() });
        prompts.iter().map(|p| post(addr, "/v1/completions", &body(p)).json()["choices"][0]["text"].clone()).collect()
    };
    let addr = start(Options { parallel: 2, prefill_chunk: 256, ..Options::default() });
    let together: Vec<_> = prompts
        .iter()
        .map(|p| {
            let b = body(p);
            std::thread::spawn(move || post(addr, "/v1/completions", &b))
        })
        .collect();
    for (i, t) in together.into_iter().enumerate() {
        let r = t.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["choices"][0]["text"], alone[i], "prompt {i}");
    }
}

/// A finished reply's KV cache is kept: a prompt that shares its start (the same prompt again,
/// or the prompt and the reply with more after them, as a chat's next turn) feeds only the
/// rest, says so in `usage.prompt_tokens_details.cached_tokens` and the metrics, and gets the
/// same text and log-probabilities as from a server that keeps nothing.
#[test]
fn a_prompt_that_shares_a_kept_cache_feeds_only_the_rest_and_gets_the_same_reply() {
    let ask = |addr, prompt: &str| {
        let body = json!({"prompt": prompt, "max_tokens": 12, "temperature": 0.9, "seed": 5, "logprobs": 2});
        let r = post(addr, "/v1/completions", &body);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    let cached = |v: &Value| v["usage"]["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap();
    let cold = start(Options { parallel: 1, prompt_cache: false, prefill_chunk: 4, ..Options::default() });
    let warm = start(Options { parallel: 1, prefill_chunk: 4, ..Options::default() });
    let first = "The quick brown fox jumps over the lazy dog";
    let a = ask(warm, first);
    let prompt_tokens = a["usage"]["prompt_tokens"].as_u64().unwrap();
    assert_eq!(cached(&a), 0);
    let again = ask(warm, first);
    assert_eq!(cached(&again), prompt_tokens - 1, "all but the last token held");
    assert_eq!(again["choices"], a["choices"]);
    let next = format!("{first}{} And then", a["choices"][0]["text"].as_str().unwrap());
    let going_on = ask(warm, &next);
    assert!(cached(&going_on) >= prompt_tokens - 1, "{}", going_on["usage"]);
    let from_cold = ask(cold, &next);
    assert_eq!(cached(&from_cold), 0);
    assert_eq!(going_on["choices"], from_cold["choices"]);
    assert!(metric(warm, "minichat_prompt_tokens_cached_total") >= (2 * prompt_tokens - 2) as f64);
    assert_eq!(metric(cold, "minichat_prompt_tokens_cached_total"), 0.0);
}
