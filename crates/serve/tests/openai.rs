//! The official `openai` Python client (PyPI; `scripts/setup_test_python.sh` installs it in
//! target/test-venv) against the server: plain and streamed chat, n, seeds, stop, logprobs,
//! extra fields, text completions, and errors as the client's exception classes
//! (tests/openai_client.py holds the checks).

mod common;

use common::*;
use minichat_serve::Options;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_official_openai_client_works_against_the_server() {
    let addr = start(Options { api_key: Some("sk-test".into()), max_tokens: 64, ..Options::default() });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/openai_client.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(format!("http://{addr}/v1"))
        .arg("sk-test")
        .env("OPENAI_LOG", "")
        .output()
        .expect("the test Python runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "openai_client.py failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("checks passed"), "{stdout}");
    eprintln!("{stdout}");
}
