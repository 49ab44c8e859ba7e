//! What `/metrics` reports, in Prometheus's text format (names after vLLM's and llama.cpp's):
//! requests running and waiting, requests answered by status, prompt and generated tokens,
//! and histograms of the time to first token and the time between tokens.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Upper bounds of the latency buckets, in seconds (vLLM's, cut to what a CPU sees).
const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// A histogram of seconds.
#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// The sum in microseconds (integer, so it can be atomic).
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|&b| seconds <= b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, c) in BUCKETS.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count());
        let _ = writeln!(out, "{name}_sum {}", self.sum_us.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {}", self.count());
    }
}

/// The server's counters, shared by the handlers and the engine.
#[derive(Default)]
pub struct Metrics {
    /// Choices holding a slot.
    pub running: AtomicUsize,
    /// Requests accepted and not yet in a slot.
    pub waiting: AtomicUsize,
    pub prompt_tokens: AtomicU64,
    /// Of the choices' prompt tokens, those a kept cache held (not fed again).
    pub cached_prompt_tokens: AtomicU64,
    pub generated_tokens: AtomicU64,
    /// Requests answered: 2xx, 4xx, 5xx.
    pub answered: [AtomicU64; 3],
    pub ttft: Histogram,
    pub itl: Histogram,
}

impl Metrics {
    pub fn answered(&self, status: u16) {
        let i = match status {
            0..=399 => 0,
            400..=499 => 1,
            _ => 2,
        };
        self.answered[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, v: usize| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        gauge(&mut out, "minichat_requests_running", "Replies being generated.", self.running.load(Ordering::Relaxed));
        gauge(
            &mut out,
            "minichat_requests_waiting",
            "Requests waiting for a slot.",
            self.waiting.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "minichat_prompt_tokens_total",
            "Prompt tokens fed.",
            self.prompt_tokens.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "minichat_prompt_tokens_cached_total",
            "Prompt tokens a kept KV cache already held (not fed again).",
            self.cached_prompt_tokens.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "minichat_generation_tokens_total",
            "Tokens generated.",
            self.generated_tokens.load(Ordering::Relaxed),
        );
        let _ = writeln!(out, "# HELP minichat_requests_total Requests answered, by status class.");
        let _ = writeln!(out, "# TYPE minichat_requests_total counter");
        for (class, n) in ["2xx", "4xx", "5xx"].iter().zip(&self.answered) {
            let _ = writeln!(out, "minichat_requests_total{{status=\"{class}\"}} {}", n.load(Ordering::Relaxed));
        }
        self.ttft.write(&mut out, "minichat_time_to_first_token_seconds", "Time from arrival to the first token.");
        self.itl.write(&mut out, "minichat_inter_token_latency_seconds", "Time between a reply's tokens.");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.ttft.observe(0.003);
        m.ttft.observe(0.3);
        m.ttft.observe(100.0);
        let text = m.render();
        assert!(text.contains("minichat_time_to_first_token_seconds_bucket{le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("minichat_time_to_first_token_seconds_bucket{le=\"0.5\"} 2"), "{text}");
        assert!(text.contains("minichat_time_to_first_token_seconds_bucket{le=\"+Inf\"} 3"), "{text}");
        assert!(text.contains("minichat_time_to_first_token_seconds_count 3"), "{text}");
    }
}
