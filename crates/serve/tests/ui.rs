//! The web page at `/`: served with its security headers and without the API key (its own
//! requests carry it), and used in a real browser: Debian's Chromium driven by
//! `tests/browser/ui.mjs` (playwright-core from npm; `scripts/setup_test_browser.sh` installs
//! both) against a server with a small random model: streaming, stop, regenerate, edit,
//! votes kept in SQLite as preference pairs, HTML and script kept as text, a reload, and the
//! banners. And `POST /v1/feedback` on its own.

mod common;

use common::*;
use minichat_serve::feedback::{preference_pairs, Feedback};
use minichat_serve::Options;
use serde_json::json;
use std::path::Path;
use std::process::Command;

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
    let options = Options { parallel: 2, max_tokens: 4000, feedback: Some(votes.clone()), ..Options::default() };
    let addr = start_with(slow_model(), options);
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
    let out = Command::new("node")
        .arg(dir.join("ui.mjs"))
        .arg(format!("http://{addr}/"))
        .arg(&shots)
        .output()
        .expect("node runs (the machine's Node.js)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("every check passed"), "{text}");
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
