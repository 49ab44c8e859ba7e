//! The HTTP API on a real port, checked on the wire: every response shape, the stream format
//! as strict clients read it, sampling settings (seed, stop, n, logprobs, logit_bias), text
//! completions with echo and logprobs, tokenize/detokenize, and `/v1/models`. Ports the
//! model-independent assertions of llama.cpp's server tests (tools/server/tests/unit).

mod common;

use common::*;
use minichat_serve::Options;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::OnceLock;

/// One server for the tests of this file that need no options of their own.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| start(Options { parallel: 4, max_tokens: 64, ..Options::default() }))
}

fn ask(extra: Value) -> Value {
    let mut body =
        json!({"model": "tiny", "messages": [{"role": "user", "content": "What is 12*7?"}], "max_tokens": 24});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

#[test]
fn models_health_and_unknown_model() {
    let addr = server();
    let m = get(addr, "/v1/models").json();
    assert_eq!(m["object"], "list");
    let model = &m["data"][0];
    assert_eq!((model["id"].as_str(), model["object"].as_str()), (Some("tiny"), Some("model")));
    assert_eq!(model["context_length"], 256);
    assert!(model["meta"]["n_params"].as_u64().unwrap() > 10_000);
    assert_eq!(get(addr, "/v1/models/tiny").json()["id"], "tiny");
    assert_eq!(get(addr, "/v1/models/gpt-4").status, 404);
    assert_eq!(get(addr, "/health").json()["status"], "ok");
    let r = post(addr, "/v1/chat/completions", &ask(json!({"model": "gpt-4"})));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["type"], "not_found_error");
}

#[test]
fn a_whole_chat_completion_has_openais_shape() {
    let r = post(server(), "/v1/chat/completions", &ask(json!({"temperature": 0})));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().is_some());
    assert_eq!(v["model"], "tiny");
    let c = &v["choices"][0];
    assert_eq!((c["index"].as_u64(), c["message"]["role"].as_str()), (Some(0), Some("assistant")));
    assert!(["stop", "length"].contains(&c["finish_reason"].as_str().unwrap()));
    let u = &v["usage"];
    let (p, g) = (u["prompt_tokens"].as_u64().unwrap(), u["completion_tokens"].as_u64().unwrap());
    assert!(p > 5 && g > 0 && g <= 24, "{u}");
    assert_eq!(u["total_tokens"].as_u64(), Some(p + g));
}

#[test]
fn the_stream_is_what_strict_clients_parse() {
    let r = post(server(), "/v1/chat/completions", &ask(json!({"stream": true, "seed": 3, "n": 2})));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events = r.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let (id, created) = (&chunks[0]["id"], &chunks[0]["created"]);
    let mut finished = [0, 0];
    for (k, c) in chunks.iter().enumerate() {
        assert_eq!((&c["id"], &c["created"], c["object"].as_str()), (id, created, Some("chat.completion.chunk")));
        assert!(c.get("usage").is_none(), "no usage field unless include_usage: {c}");
        let choice = &c["choices"][0];
        let i = choice["index"].as_u64().unwrap() as usize;
        assert_eq!(choice["delta"].get("role").is_some(), k < 2, "the role comes in each choice's first chunk only");
        match &choice["finish_reason"] {
            Value::Null => assert_eq!(finished[i], 0, "a chunk after the finish: {c}"),
            Value::String(s) => {
                assert!(s == "stop" || s == "length", "{c}");
                assert!(choice["delta"].get("content").is_none(), "the finishing chunk has no content");
                finished[i] += 1;
            }
            other => panic!("finish_reason {other}"),
        }
    }
    assert_eq!(finished, [1, 1]);
}

#[test]
fn usage_comes_last_and_only_when_asked() {
    let body = ask(json!({"stream": true, "stream_options": {"include_usage": true}}));
    let events = post(server(), "/v1/chat/completions", &body).events();
    let n = events.len();
    let usage: Value = serde_json::from_str(&events[n - 2]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["total_tokens"].as_u64().unwrap() > 0);
    for e in &events[..n - 2] {
        let v: Value = serde_json::from_str(e).unwrap();
        assert_eq!(v["usage"], Value::Null, "other chunks carry usage: null");
        assert_eq!(v["choices"].as_array().unwrap().len(), 1);
    }
}

#[test]
fn stream_text_equals_whole_text_at_temperature_0() {
    let addr = server();
    for q in ["What is 12*7?", "Spell cat", "Hello there, how are you today?"] {
        let body = json!({"messages": [{"role": "user", "content": q}], "temperature": 0, "max_tokens": 40});
        let whole = content(&post(addr, "/v1/chat/completions", &body).json());
        let mut s = body.clone();
        s["stream"] = json!(true);
        let streamed = streamed(&post(addr, "/v1/chat/completions", &s).events(), 1);
        assert_eq!(streamed[0], whole, "{q}");
    }
}

#[test]
fn a_seed_gives_the_same_text_alone_and_among_other_requests() {
    let addr = server();
    let body = ask(json!({"seed": 42, "temperature": 1.0, "max_tokens": 40}));
    let alone = content(&post(addr, "/v1/chat/completions", &body).json());
    let others: Vec<_> = (0..3)
        .map(|i| {
            std::thread::spawn(move || {
                post(addr, "/v1/chat/completions", &ask(json!({"seed": 100 + i, "max_tokens": 60, "stream": true})))
            })
        })
        .collect();
    let busy = content(&post(addr, "/v1/chat/completions", &body).json());
    for o in others {
        assert_eq!(o.join().unwrap().status, 200);
    }
    assert_eq!(alone, busy);
    let other_seed = content(&post(addr, "/v1/chat/completions", &ask(json!({"seed": 43, "max_tokens": 40}))).json());
    assert_ne!(alone, other_seed, "another seed, another text (random model at temperature 1)");
}

#[test]
fn n_choices_differ_and_follow_seed_plus_index() {
    let addr = server();
    let two = post(addr, "/v1/chat/completions", &ask(json!({"seed": 9, "n": 2, "max_tokens": 30}))).json();
    let texts: Vec<&str> =
        two["choices"].as_array().unwrap().iter().map(|c| c["message"]["content"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), 2);
    assert_ne!(texts[0], texts[1]);
    let second = content(&post(addr, "/v1/chat/completions", &ask(json!({"seed": 10, "max_tokens": 30}))).json());
    assert_eq!(texts[1], second, "choice i samples with seed + i");
}

#[test]
fn stop_strings_end_the_reply_and_are_left_out() {
    let addr = server();
    let full = content(&post(addr, "/v1/chat/completions", &ask(json!({"temperature": 0, "max_tokens": 60}))).json());
    let chars: Vec<char> = full.chars().collect();
    assert!(chars.len() > 10, "{full:?}");
    let stop: String = chars[6..8].iter().collect();
    let want: String = full[..full.find(&stop).unwrap()].to_string();
    for stream in [false, true] {
        let body =
            ask(json!({"temperature": 0, "max_tokens": 60, "stop": [stop.clone(), "\u{1}never"], "stream": stream}));
        let r = post(addr, "/v1/chat/completions", &body);
        let got = if stream { streamed(&r.events(), 1).remove(0) } else { content(&r.json()) };
        assert_eq!(got, want, "stop {stop:?} in {full:?}");
    }
}

#[test]
fn logprobs_tokens_concatenate_to_the_content() {
    let addr = server();
    let body = ask(json!({"temperature": 0, "logprobs": true, "top_logprobs": 3, "max_tokens": 30}));
    let v = post(addr, "/v1/chat/completions", &body).json();
    let entries = v["choices"][0]["logprobs"]["content"].as_array().unwrap();
    let text: String = entries.iter().map(|e| e["token"].as_str().unwrap()).collect();
    assert_eq!(text, content(&v));
    for e in entries {
        assert!(e["logprob"].as_f64().unwrap() <= 0.0);
        assert!(e["bytes"].is_array());
        let top = e["top_logprobs"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        // Greedy: the drawn token is the most likely one.
        assert_eq!(top[0]["token"], e["token"]);
    }
    // Streamed, every content chunk carries its own tokens' entries.
    let mut s = body.clone();
    s["stream"] = json!(true);
    let mut joined = String::new();
    for e in post(addr, "/v1/chat/completions", &s).events().iter().filter(|e| *e != "[DONE]") {
        let c: Value = serde_json::from_str(e).unwrap();
        if let Some(list) = c["choices"][0]["logprobs"]["content"].as_array() {
            joined.extend(list.iter().map(|e| e["token"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(joined, content(&v));
}

#[test]
fn logit_bias_bans_tokens() {
    let addr = server();
    let body = json!({"prompt": "The quick", "temperature": 0, "max_tokens": 20});
    let v = post(
        addr,
        "/v1/completions",
        &json!({"prompt": "The quick", "temperature": 0, "max_tokens": 20, "logprobs": 0}),
    )
    .json();
    let first = v["choices"][0]["logprobs"]["tokens"][0].as_str().unwrap().to_string();
    let ids = post(addr, "/tokenize", &json!({"content": first})).json()["tokens"].clone();
    let mut banned = body.clone();
    banned["logit_bias"] = json!({ ids[0].to_string(): -100 });
    banned["logprobs"] = json!(0);
    let b = post(addr, "/v1/completions", &banned).json();
    let tokens = b["choices"][0]["logprobs"]["tokens"].as_array().unwrap();
    assert!(!tokens.iter().any(|t| t.as_str() == Some(first.as_str())), "{first:?} in {tokens:?}");
}

#[test]
fn text_completions_take_every_prompt_form_and_echo_logprobs() {
    let addr = server();
    let ids = post(addr, "/tokenize", &json!({"prompt": "A journey of", "add_special_tokens": true})).json()["tokens"]
        .clone();
    let n_ids = ids.as_array().unwrap().len();
    // lm-evaluation-harness's loglikelihood request: token ids, echo, logprobs 1, one token.
    let body = json!({"prompt": [ids.clone(), ids.clone()], "max_tokens": 1, "temperature": 0, "logprobs": 1, "echo": true, "seed": 1});
    let v = post(addr, "/v1/completions", &body).json();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"].as_array().unwrap().len(), 2);
    let lp = &v["choices"][0]["logprobs"];
    let tokens = lp["token_logprobs"].as_array().unwrap();
    assert_eq!(tokens.len(), n_ids + 1, "the prompt's tokens and one more");
    assert_eq!(tokens[0], Value::Null, "the first token has no context");
    for (l, top) in tokens.iter().zip(lp["top_logprobs"].as_array().unwrap()).skip(1) {
        assert!(l.as_f64().unwrap() <= 0.0);
        assert_eq!(top.as_object().unwrap().len(), 1);
    }
    assert_eq!(v["choices"][0]["logprobs"], v["choices"][1]["logprobs"], "the same prompt, the same scores");
    let text = v["choices"][0]["text"].as_str().unwrap();
    let joined: String = lp["tokens"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(text, joined);
    let offsets: Vec<u64> = lp["text_offset"].as_array().unwrap().iter().map(|o| o.as_u64().unwrap()).collect();
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]) && offsets[0] == 0);
    // Ids without `<|bos|>` get one in front, not echoed: the first token is then scored, and
    // scored as after the text prompt of the same words; `add_special_tokens: false` sends
    // them as they are.
    let plain = post(addr, "/tokenize", &json!({"prompt": "A journey of"})).json()["tokens"].clone();
    assert_eq!(plain.as_array().unwrap().len() + 1, n_ids);
    let scores = |prompt: Value, add: bool| {
        let body = json!({"prompt": prompt, "max_tokens": 1, "temperature": 0, "logprobs": 1, "echo": true, "add_special_tokens": add});
        post(addr, "/v1/completions", &body).json()["choices"][0]["logprobs"]["token_logprobs"].clone()
    };
    let with_bos = scores(plain.clone(), true);
    assert_eq!(with_bos.as_array().unwrap().len(), n_ids, "the prompt as sent, and one more");
    assert!(with_bos[0].as_f64().is_some(), "the first token is scored after <|bos|>");
    assert_eq!(with_bos, scores(json!("A journey of"), true));
    assert_eq!(with_bos.as_array().unwrap()[..], tokens[1..], "as the ids that start with <|bos|>");
    assert_eq!(scores(plain, false)[0], Value::Null, "sent as it is: nothing before the first token");
    // Special tokens' text in a text prompt is those tokens: no second <|bos|> (and the one
    // written is echoed).
    let written = scores(json!("<|bos|>A journey of"), true);
    assert_eq!((&written[0], &written.as_array().unwrap()[1..]), (&Value::Null, &with_bos.as_array().unwrap()[..]));
    // A text prompt, echoed without logprobs; a list of texts.
    let e = post(addr, "/v1/completions", &json!({"prompt": "Hello", "echo": true, "max_tokens": 3})).json();
    assert!(e["choices"][0]["text"].as_str().unwrap().starts_with("Hello"));
    let two = post(addr, "/v1/completions", &json!({"prompt": ["a", "b"], "max_tokens": 2, "n": 2})).json();
    assert_eq!(two["choices"].as_array().unwrap().len(), 4);
    // Streamed: chunks, then [DONE].
    let s = post(addr, "/v1/completions", &json!({"prompt": "Hello", "max_tokens": 5, "stream": true}));
    let events = s.events();
    assert_eq!(events.last().unwrap(), "[DONE]");
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["object"], "text_completion");
}

/// A character split across tokens: the tokens' texts still add up to the choice's text (the
/// first part's text is empty, the token that ends the character has all of it, as in vLLM),
/// in the echoed prompt and in generated text, so `text_offset` points into the text.
#[test]
fn split_characters_keep_tokens_adding_up_to_the_text() {
    let addr = server();
    let joined = |choice: &Value| -> String {
        choice["logprobs"]["tokens"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect()
    };
    let pieces = post(addr, "/tokenize", &json!({"content": "🙂", "with_pieces": true})).json()["tokens"].clone();
    let ids: Vec<u64> = pieces.as_array().unwrap().iter().map(|p| p["id"].as_u64().unwrap()).collect();
    assert!(ids.len() > 1, "the emoji is split in the tiny tokenizer: {pieces}");
    let body = json!({"prompt": "a 🙂 b", "max_tokens": 1, "echo": true, "logprobs": 1, "temperature": 0});
    let v = post(addr, "/v1/completions", &body).json();
    let c = &v["choices"][0];
    assert!(c["text"].as_str().unwrap().starts_with("a 🙂 b"));
    assert_eq!(joined(c), c["text"].as_str().unwrap());
    let tokens = c["logprobs"]["tokens"].as_array().unwrap();
    assert!(tokens.iter().any(|t| t == "") && tokens.iter().any(|t| t.as_str().unwrap().contains('🙂')), "{tokens:?}");
    // Generated: only the emoji's first piece can be drawn, so each is half a character.
    let body = json!({"prompt": "a", "max_tokens": 2, "logprobs": 1, "logit_bias": {ids[0].to_string(): 100}});
    for stream in [false, true] {
        let mut b = body.clone();
        b["stream"] = json!(stream);
        let r = post(addr, "/v1/completions", &b);
        let choices: Vec<Value> = if stream {
            let events = r.events();
            events[..events.len() - 1]
                .iter()
                .map(|e| serde_json::from_str::<Value>(e).unwrap()["choices"][0].clone())
                .collect()
        } else {
            vec![r.json()["choices"][0].clone()]
        };
        let text: String = choices.iter().map(|c| c["text"].as_str().unwrap()).collect();
        let tokens: String = choices.iter().filter(|c| !c["logprobs"].is_null()).map(joined).collect();
        assert_eq!((text.as_str(), tokens.as_str()), ("\u{FFFD}\u{FFFD}", "\u{FFFD}\u{FFFD}"), "stream: {stream}");
    }
}

#[test]
fn tokenize_and_detokenize_round_trip() {
    let addr = server();
    for text in ["Hello world", "Zwölf Boxkämpfer", "日本語 🙂", ""] {
        let t = post(addr, "/tokenize", &json!({"content": text, "with_pieces": true})).json();
        let ids: Vec<Value> = t["tokens"].as_array().unwrap().iter().map(|p| p["id"].clone()).collect();
        assert_eq!(t["count"].as_u64(), Some(ids.len() as u64));
        let back = post(addr, "/detokenize", &json!({"tokens": ids})).json();
        assert_eq!((back["content"].as_str(), back["prompt"].as_str()), (Some(text), Some(text)));
    }
    let t = post(addr, "/tokenize", &json!({"prompt": "Hi", "return_token_strs": true})).json();
    assert_eq!(t["token_strs"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect::<String>(), "Hi");
    let info = get(addr, "/tokenizer_info").json();
    assert!(info["eos_token"].is_string());
    assert_eq!(post(addr, "/detokenize", &json!({"tokens": [99999]})).status, 400);
    assert_eq!(post(addr, "/tokenize", &json!({})).json()["error"]["param"], "content");
}

#[test]
fn bad_requests_are_400s_that_name_the_field() {
    let addr = server();
    let r = request(addr, "POST", "/v1/chat/completions", &[], b"{\"messages\": [");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("not valid JSON"));
    for (body, param) in [
        (json!({"messages": "hi"}), "messages"),
        (json!({"messages": [{}]}), "messages[0].role"),
        (json!({"messages": [{"role": "user", "content": 5}]}), "messages[0].content"),
        (ask(json!({"temperature": "hot"})), "temperature"),
        (ask(json!({"n": 0})), "n"),
        (ask(json!({"top_logprobs": 30, "logprobs": true})), "top_logprobs"),
        (ask(json!({"logit_bias": {"99999": 5}})), "logit_bias"),
        (ask(json!({"response_format": {"type": "sound"}})), "response_format.type"),
        (json!({"messages": [{"role": "assistant", "content": "hi"}]}), "messages"),
        (
            json!({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "assistant", "content": "c"}]}),
            "messages",
        ),
    ] {
        let r = post(addr, "/v1/chat/completions", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        let e = &r.json()["error"];
        assert_eq!(e["param"], param, "{body}: {e}");
        assert_eq!(e["type"], "invalid_request_error");
        assert!(e["message"].as_str().unwrap().len() > 10);
    }
    // Unknown fields and nulls are accepted.
    let r = post(
        addr,
        "/v1/chat/completions",
        &ask(json!({"foo": {"bar": 1}, "temperature": null, "tools": null, "user": "x"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(post(addr, "/v1/completions", &json!({"prompt": 5})).json()["error"]["param"], "prompt");
    assert_eq!(get(addr, "/nowhere").status, 404);
}

#[test]
fn a_prompt_longer_than_the_context_is_a_400_with_both_counts_before_any_stream() {
    let addr = server();
    let long = "word ".repeat(400);
    for stream in [false, true] {
        let r = post(
            addr,
            "/v1/chat/completions",
            &json!({"messages": [{"role": "user", "content": long}], "stream": stream}),
        );
        assert_eq!(r.status, 400);
        let e = &r.json()["error"];
        assert_eq!(e["type"], "exceed_context_size_error");
        assert_eq!(e["n_ctx"], 256);
        assert!(e["n_prompt_tokens"].as_u64().unwrap() > 256);
    }
    let r = post(addr, "/v1/completions", &json!({"prompt": long}));
    assert_eq!((r.status, r.json()["error"]["param"].as_str()), (400, Some("prompt")));
}

#[test]
fn a_body_over_the_limit_is_a_413() {
    let addr = start(Options { max_body_bytes: 1000, ..Options::default() });
    let r = post(addr, "/v1/chat/completions", &ask(json!({"pad": "x".repeat(2000)})));
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    assert_eq!(post(addr, "/v1/chat/completions", &ask(json!({}))).status, 200);
}

#[test]
fn the_api_key_guards_all_but_health_and_preflight() {
    let addr = start(Options {
        api_key: Some("sesame".into()),
        cors_origins: vec!["http://ui.test".into()],
        ..Options::default()
    });
    let body = ask(json!({})).to_string();
    for headers in [vec![], vec![("Authorization", "Bearer wrong")], vec![("X-Api-Key", "sesam")]] {
        let r = request(addr, "POST", "/v1/chat/completions", &headers, body.as_bytes());
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["error"]["type"], "authentication_error");
    }
    assert_eq!(request(addr, "GET", "/v1/models", &[], b"").status, 401);
    for headers in [vec![("Authorization", "Bearer sesame")], vec![("X-Api-Key", "sesame")]] {
        assert_eq!(request(addr, "POST", "/v1/chat/completions", &headers, body.as_bytes()).status, 200);
    }
    assert_eq!(get(addr, "/health").status, 200);
    let pre = request(
        addr,
        "OPTIONS",
        "/v1/chat/completions",
        &[("Origin", "http://ui.test"), ("Access-Control-Request-Method", "POST")],
        b"",
    );
    assert!(pre.status < 300, "preflight {}", pre.status);
    assert_eq!(pre.header("access-control-allow-origin"), Some("http://ui.test"));
    let other = request(addr, "OPTIONS", "/v1/models", &[("Origin", "http://evil.test")], b"");
    assert_eq!(other.header("access-control-allow-origin"), None, "only the allowed origins");
}

#[test]
fn metrics_count_requests_and_tokens() {
    let addr = start(Options::default());
    post(addr, "/v1/chat/completions", &ask(json!({"max_tokens": 5})));
    let m = get(addr, "/metrics");
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    // The engine counts a reply's tokens just after its last event went out.
    assert!(wait_for(5.0, || metric(addr, "minichat_generation_tokens_total") >= 1.0));
    assert!(wait_for(5.0, || metric(addr, "minichat_requests_running") == 0.0));
    assert!(metric(addr, "minichat_prompt_tokens_total") > 5.0);
    assert_eq!(metric(addr, "minichat_time_to_first_token_seconds_count"), 1.0);
    assert!(metric(addr, "minichat_requests_total{status=\"2xx\"}") >= 1.0);
}

#[test]
fn a_base_model_serves_text_completions_and_refuses_chat() {
    let tok = tokenizer_with(vec!["<|endoftext|>".into()]);
    let addr = start_with(model_with(tok, 128), Options::default());
    let r = post(addr, "/v1/completions", &json!({"prompt": "The quick", "max_tokens": 5, "temperature": 0}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["usage"]["completion_tokens"], 5);
    let chat = post(addr, "/v1/chat/completions", &ask(json!({})));
    assert_eq!(chat.status, 400);
    assert!(chat.json()["error"]["message"].as_str().unwrap().contains("no chat format"), "{}", chat.text());
    assert_eq!(get(addr, "/tokenizer_info").json()["eos_token"], "<|endoftext|>");
}
