//! SIGKILL at many moments. For each command, an uninterrupted run gives the reference; then
//! the same command is killed (SIGKILL, no chance to clean up) at points spread over its
//! running time with seeded jitter, some of them twice in a row, and run again to the end. The
//! property: right after a kill, every file under a final name is whole (identical to the
//! reference's), and the rerun always ends with exactly the reference's files. Covers
//! `data run`, `data dedup`, `tokenizer train` and `pretrain` (whose rerun is `--resume` once
//! the run exists; SFT shares its training loop and checkpoints).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn minichat(args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_minichat"));
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// Files under `dir` (paths relative to it) with their contents, leaving out the folders whose
/// names are in `skip` (work in progress) and normalising JSON stats (timings removed).
fn finals(dir: &Path, skip: &[&str]) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().map(|e| e.unwrap().path()) {
            let rel = e.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if skip.iter().any(|s| rel == *s) {
                continue;
            }
            if e.is_dir() {
                walk(root, &e, skip, out);
                continue;
            }
            let mut bytes = std::fs::read(&e).unwrap();
            if rel.ends_with(".json") {
                let mut v: serde_json::Value = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|err| panic!("{rel} is not whole JSON after a kill: {err}"));
                strip_seconds(&mut v);
                bytes = v.to_string().into_bytes();
            } else if rel.ends_with(".svg") {
                // The plot's title is the run's folder name.
                let name = root.file_name().unwrap().to_string_lossy().into_owned();
                bytes = String::from_utf8(bytes).unwrap().replace(&name, "RUN").into_bytes();
            } else if rel.ends_with("metrics.jsonl") {
                let text = String::from_utf8(bytes).unwrap();
                bytes = text
                    .lines()
                    .map(|l| {
                        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                        strip_seconds(&mut v);
                        v.to_string() + "\n"
                    })
                    .collect::<String>()
                    .into_bytes();
            }
            out.insert(rel, bytes);
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, skip, &mut out);
    out
}

fn strip_seconds(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|k, _| !k.contains("seconds") && k != "tokens_per_s" && k != "mfu");
            m.values_mut().for_each(strip_seconds);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_seconds),
        _ => {}
    }
}

/// Kill points over `0..1.2 * total`: evenly spread, each moved by up to half a step.
fn kill_points(total: Duration, n: u32, seed: u64) -> Vec<Duration> {
    let mut s = seed | 1;
    let step = total.mul_f64(1.2) / n;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            step * i + step.mul_f64((s % 1000) as f64 / 1000.0)
        })
        .collect()
}

/// Runs `args(out)` to the end, then kills it at each kill point (twice in a row every third
/// time) and reruns it, checking the property above; `skip` names the work folders.
fn survives_kills(name: &str, args: impl Fn(&Path) -> Vec<String>, skip: &[&str], seed: u64) {
    survives_kills_with(name, &args, &args, skip, true, seed)
}

/// The same, rerunning with `rerun(out)`, and checking the files right after a kill only if
/// `whole_after_kill` (a log or a checkpoint that a later one replaces is not final).
fn survives_kills_with(
    name: &str,
    args: &dyn Fn(&Path) -> Vec<String>,
    rerun: &dyn Fn(&Path) -> Vec<String>,
    skip: &[&str],
    whole_after_kill: bool,
    seed: u64,
) {
    let dir = std::env::temp_dir().join(format!("minichat-crash-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let whole = dir.join("whole");
    let t = Instant::now();
    assert!(minichat(&args(&whole)).status().unwrap().success(), "{name}: the uninterrupted run failed");
    let total = t.elapsed();
    let reference = finals(&whole, skip);
    assert!(!reference.is_empty());
    for (i, at) in kill_points(total, 8, seed).into_iter().enumerate() {
        let out: PathBuf = dir.join(format!("killed-{i}"));
        let kills = if i % 3 == 2 { 2 } else { 1 };
        for k in 0..kills {
            let mut child = minichat(&if k == 0 { args(&out) } else { rerun(&out) }).spawn().unwrap();
            std::thread::sleep(if k == 0 { at } else { at / 2 });
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            if !whole_after_kill {
                continue;
            }
            for (rel, bytes) in finals(&out, skip) {
                if rel.contains(".tmp") {
                    continue; // a temporary name, never read as a result
                }
                assert!(
                    reference.get(&rel) == Some(&bytes),
                    "{name}: {rel} is under its final name but not whole after a kill at {at:?}"
                );
            }
        }
        assert!(minichat(&rerun(&out)).status().unwrap().success(), "{name}: the rerun after a kill at {at:?} failed");
        let got = finals(&out, skip);
        let stray: Vec<&String> = got.keys().filter(|k| !reference.contains_key(*k)).collect();
        assert!(stray.is_empty(), "{name}: files the uninterrupted run has not, after a kill at {at:?}: {stray:?}");
        let differ: Vec<&String> = reference.keys().filter(|k| got.get(*k) != reference.get(*k)).collect();
        assert!(differ.is_empty(), "{name}: after a kill at {at:?} and a rerun these differ: {differ:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Records 20..220 of the demo crawl (67 pages): about 2 s of `data run` in a debug build.
fn demo_part(dir: &Path) -> PathBuf {
    use std::io::{Read, Write};
    let mut text = Vec::new();
    let demo = std::fs::File::open(root().join("data/web/demo.warc.gz")).unwrap();
    flate2::read::MultiGzDecoder::new(demo).read_to_end(&mut text).unwrap();
    let text = String::from_utf8_lossy(&text).into_owned();
    let mut out = Vec::new();
    for r in text.split("WARC/1.0\r\n").filter(|r| !r.is_empty()).skip(20).take(200) {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"WARC/1.0\r\n").unwrap();
        e.write_all(r.as_bytes()).unwrap();
        out.extend(e.finish().unwrap());
    }
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("part.warc.gz");
    std::fs::write(&path, out).unwrap();
    path
}

fn s(x: &Path) -> String {
    x.to_str().unwrap().to_string()
}

#[test]
fn data_run_survives_sigkill() {
    let input = std::env::temp_dir().join(format!("minichat-crash-input-{}", std::process::id()));
    let warc = demo_part(&input);
    let args = |out: &Path| {
        ["--threads", "1", "data", "run", &s(&warc), "-o", &s(out), "--exclusions"].map(String::from).to_vec()
    };
    survives_kills("data-run", args, &["partial"], 7);
    std::fs::remove_dir_all(&input).unwrap();
}

#[test]
fn data_dedup_survives_sigkill() {
    // The corpus as one shard: 742 documents, 13 exact duplicates.
    let input = std::env::temp_dir().join(format!("minichat-crash-shards-{}", std::process::id()));
    std::fs::create_dir_all(&input).unwrap();
    std::fs::copy(root().join("data/corpus.jsonl"), input.join("corpus.jsonl")).unwrap();
    let args = |out: &Path| ["data", "dedup", &s(&input), "-o", &s(out), "--exclusions"].map(String::from).to_vec();
    survives_kills("data-dedup", args, &["work"], 11);
    std::fs::remove_dir_all(&input).unwrap();
}

#[test]
fn tokenizer_training_survives_sigkill() {
    let corpus = root().join("data/corpus.jsonl");
    let args = |out: &Path| {
        let file = out.join("tok.mctok");
        ["--threads", "1", "tokenizer", "train", &s(&corpus), "-o", &s(&file), "-v", "2000"].map(String::from).to_vec()
    };
    survives_kills("tokenizer", args, &[], 13);
}

#[test]
fn pretraining_survives_sigkill() {
    // A one-layer model, 12 steps, a checkpoint every 2: about 2 s in a debug build. After a
    // kill, the rerun is what a user types: `--resume` once the run exists (its config is
    // written last, after the tokenizer and the shards), else the same command.
    let input = std::env::temp_dir().join(format!("minichat-crash-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&input).unwrap();
    let words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "house", "big", "red"];
    let text: String = (0..300)
        .map(|d| {
            let s: Vec<&str> = (0..10 + d % 5).map(|i| words[(d * 5 + i * i + i) % words.len()]).collect();
            format!("{{\"text\": \"{}.\"}}\n", s.join(" "))
        })
        .collect();
    let corpus = input.join("corpus.jsonl");
    std::fs::write(&corpus, text).unwrap();
    let args = |out: &Path| {
        let flags = ["--depth", "1", "--context", "16", "--micro-batch", "2", "--steps", "12", "--eval-every", "4"];
        let more = ["--sample-every", "0", "--checkpoint-every", "2"];
        let base = ["pretrain", "--corpus", &s(&corpus), "-t", "r50k_base", "-o", &s(out)].map(String::from);
        base.into_iter().chain(flags.iter().chain(more.iter()).map(|f| f.to_string())).collect()
    };
    let rerun = |out: &Path| {
        if out.join("config.toml").exists() {
            vec!["pretrain".to_string(), "--resume".to_string(), s(out)]
        } else {
            args(out)
        }
    };
    survives_kills_with("pretrain", &args, &rerun, &[], false, 17);
    std::fs::remove_dir_all(&input).unwrap();
}
