//! The web page at `/`: served with its security headers and without the API key (its own
//! requests carry it), and used in a real browser: Debian's Chromium driven by
//! `tests/browser/ui.mjs` (playwright-core from npm; `scripts/setup_test_browser.sh` installs
//! both) against a server with a small random model: streaming, stop, regenerate, edit,
//! HTML and script kept as text, a reload, and the banners.

mod common;

use common::*;
use minichat_serve::Options;
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
    let addr = start_with(slow_model(), Options { parallel: 2, max_tokens: 4000, ..Options::default() });
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
}
