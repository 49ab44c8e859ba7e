//! Memory does not grow over thousands of requests (alone in its process, so that nothing
//! else moves the resident size).

mod common;

use common::*;
use minichat_serve::Options;
use serde_json::json;

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn memory_does_not_grow_over_thousands_of_requests() {
    let addr = start(Options { parallel: 4, ..Options::default() });
    let body = json!({"messages": [{"role": "user", "content": "What is 12*7?"}], "max_tokens": 4, "logprobs": true, "top_logprobs": 2});
    let run = |n: usize| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let body = body.clone();
                std::thread::spawn(move || {
                    for i in 0..n / 4 {
                        let mut b = body.clone();
                        b["stream"] = json!(i % 2 == 0);
                        assert_eq!(post(addr, "/v1/chat/completions", &b).status, 200);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
    };
    run(400);
    let before = rss_kib();
    run(2000);
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 16 * 1024, "resident memory grew by {grown} KiB over 2,000 requests");
}
