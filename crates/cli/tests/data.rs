//! `minichat data ...` through the real binary, on the committed demo crawl.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn minichat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_minichat")).args(args).output().unwrap()
}

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/web/demo.warc.gz")
}

fn counts(args: &[&str]) -> serde_json::Value {
    let out = minichat(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn inspect_counts_the_demo_crawl() {
    let c = counts(&["data", "inspect", "--json", demo().to_str().unwrap()]);
    // wget wrote a request and a response per URL, 541 of them pages (200, text/html) and 113
    // broken links of the partial mirror (404).
    assert_eq!(c["type_response"], 654);
    assert_eq!(c["type_request"], 654);
    assert_eq!(c["pages"], 541);
    assert_eq!(c["not_ok_status"], 113);
    assert!(c.get("garbage").is_none() && c.get("truncated").is_none());
}

#[test]
fn inspect_survives_a_damaged_file_and_names_a_missing_one() {
    let dir = std::env::temp_dir().join(format!("minichat-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The demo cut in the middle, then garbage, then the whole demo again.
    let bytes = std::fs::read(demo()).unwrap();
    let damaged = [&bytes[..bytes.len() / 2], b"not a gzip member", &bytes[..]].concat();
    let file = dir.join("damaged.warc.gz");
    std::fs::write(&file, damaged).unwrap();
    let c = counts(&["data", "inspect", "--json", dir.to_str().unwrap()]);
    let pages = c["pages"].as_u64().unwrap();
    assert!(pages > 541 + 200 && pages < 2 * 541, "{c}");
    assert!(c["garbage_between_members"].as_u64().unwrap() + c["gzip_error"].as_u64().unwrap_or(0) >= 1, "{c}");
    let out = minichat(&["data", "inspect", "/no/such.warc.gz"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such.warc.gz"));
    std::fs::remove_dir_all(&dir).unwrap();
}
