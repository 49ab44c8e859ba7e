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

/// The rows of a gzipped JSONL shard.
fn read_jsonl_gz(path: &Path) -> Vec<serde_json::Value> {
    use std::io::Read;
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut s).unwrap();
    s.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A fresh folder `DIR/warcs` holding two slices of the demo crawl: its first records (the
/// start page, the French and German chapters) and 100 pages of the Python docs.
fn two_warcs(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("minichat-data-{name}-{}", std::process::id()));
    let warcs = dir.join("warcs");
    std::fs::create_dir_all(&warcs).unwrap();
    demo_subset(&warcs, "a.warc.gz", 0, 20);
    demo_subset(&warcs, "b.warc.gz", 20, 200);
    (dir, warcs)
}

/// A small WARC from the demo crawl: its first `n` records (one gzip member each).
fn demo_subset(dir: &Path, name: &str, skip: usize, n: usize) -> PathBuf {
    use std::io::{Read, Write};
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(demo()).unwrap()).read_to_end(&mut text).unwrap();
    let text = String::from_utf8_lossy(&text).into_owned();
    let records: Vec<&str> = text.split("WARC/1.0\r\n").filter(|r| !r.is_empty()).collect();
    let path = dir.join(name);
    let mut out = Vec::new();
    for r in records.iter().skip(skip).take(n) {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"WARC/1.0\r\n").unwrap();
        e.write_all(r.as_bytes()).unwrap();
        out.extend(e.finish().unwrap());
    }
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn run_writes_shards_stats_and_markers_and_shards_by_rank() {
    let (dir, warcs) = two_warcs("run");
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["data", "run", warcs.to_str().unwrap(), "-o", o, "--exclusions"];
        args.extend(extra);
        minichat(&args)
    };
    for rank in ["0", "1"] {
        let r = run(&["--rank", rank, "--world-size", "2"]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let stats = |rank: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(out.join(format!("stats/0000{rank}.json"))).unwrap()).unwrap()
    };
    let (s0, s1) = (stats("0"), stats("1"));
    assert_eq!((s0["files"].as_u64(), s1["files"].as_u64()), (Some(1), Some(1)));
    // Every page entered the chain; the kept ones are in the output shard.
    let docs = read_jsonl_gz(&out.join("output/00001.jsonl.gz"));
    assert!(!docs.is_empty());
    for d in &docs {
        for col in ["text", "id", "dump", "url", "date", "file_path", "language", "language_score", "token_count"] {
            assert!(!d[col].is_null(), "{col} missing in {d}");
        }
        // GPT-2 tokens: a few characters each.
        let (chars, tokens) = (d["text"].as_str().unwrap().chars().count() as f64, d["token_count"].as_f64().unwrap());
        assert!(tokens > chars / 10.0 && tokens < chars / 2.0, "{tokens} tokens for {chars} characters");
        assert_eq!(d["language"], "en");
    }
    let stages = s1["stages"].as_array().unwrap();
    assert_eq!(stages[0]["docs_in"], s1["reader"]["pages"]);
    assert_eq!(stages.last().unwrap()["docs_out"].as_u64().unwrap(), docs.len() as u64);
    // The French and German chapters are dropped by the language filter, with the reason.
    assert!(s0["stages"][2]["dropped"]["language"].as_u64().unwrap() >= 6, "{s0}");
    assert!(out.join("removed/language/00000.jsonl.gz").exists());
    for rank in ["0", "1"] {
        assert!(out.join(format!("completions/0000{rank}")).exists());
    }
    // A completed rank is skipped on relaunch; a rank outside the world is an error.
    let again = run(&["--rank", "0", "--world-size", "2"]);
    assert!(again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already completed"));
    assert!(!run(&["--rank", "2", "--world-size", "2"]).status.success());
    // Parquet output: FineWeb's format, read back through the tokenizer's Parquet input; the
    // language from fastText lid.176.
    let pq = dir.join("pq");
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lid/lid.176.ftz");
    let b = warcs.join("b.warc.gz");
    let (b, pq_dir, model) = (b.to_str().unwrap(), pq.to_str().unwrap(), model.to_str().unwrap());
    let r = minichat(&["data", "run", b, "-o", pq_dir, "--parquet", "--lid-model", model]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let fasttext_stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pq.join("stats/00000.json")).unwrap()).unwrap();
    assert!(fasttext_stats["stages"][2]["dropped"]["language"].as_u64().unwrap() > 0, "{fasttext_stats}");
    let shard = pq.join("output/00000.parquet");
    assert!(std::fs::read(&shard).unwrap().starts_with(b"PAR1"));
    let stats = minichat(&["tokenizer", "stats", shard.to_str().unwrap(), "-t", "r50k_base"]);
    let stats_out = String::from_utf8_lossy(&stats.stdout);
    let kept = fasttext_stats["stages"].as_array().unwrap().last().unwrap()["docs_out"].as_u64().unwrap();
    assert!(stats.status.success() && stats_out.contains(&format!("corpus: {kept} documents")), "{stats_out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dedup_keeps_the_first_of_each_cluster() {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("minichat-data-dedup-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("in")).unwrap();
    let word = |n: usize| format!("{}{} ", (b'a' + (n % 26) as u8) as char, (b'a' + (n / 26 % 26) as u8) as char);
    let doc = |step: usize| -> String { (0..300).map(|i| word(i * step % 676)).collect() };
    let (a, b) = (doc(7919), doc(31));
    let near = format!("A new first line. {}", &a[3..]);
    let shard = |name: &str, texts: &[&str]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for (i, t) in texts.iter().enumerate() {
            writeln!(e, "{}", serde_json::json!({"text": t, "id": format!("{name}-{i}")})).unwrap();
        }
        std::fs::write(dir.join("in").join(format!("{name}.jsonl.gz")), e.finish().unwrap()).unwrap();
    };
    shard("00000", &[&a, &b]);
    shard("00001", &[&near, &a, "something else entirely, short"]);
    let out = dir.join("out");
    let r = minichat(&["data", "dedup", dir.join("in").to_str().unwrap(), "-o", out.to_str().unwrap(), "--exclusions"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("stats/dedup.json")).unwrap()).unwrap();
    assert_eq!(
        (stats["documents"].as_u64(), stats["exact"].as_u64(), stats["near"].as_u64()),
        (Some(5), Some(1), Some(1))
    );
    let ids = |path: PathBuf| -> Vec<String> {
        read_jsonl_gz(&path).iter().map(|v| v["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(out.join("output/00000.jsonl.gz")), ["00000-0", "00000-1"]);
    assert_eq!(ids(out.join("output/00001.jsonl.gz")), ["00001-2"]);
    assert_eq!(ids(out.join("removed/dedup/00001.jsonl.gz")), ["00001-0", "00001-1"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn slurm_scripts_run_the_chain_then_the_dedup_stages() {
    let (dir, warcs) = two_warcs("slurm");
    let out = dir.join("out");
    let r = minichat(&[
        "data",
        "slurm",
        warcs.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--tasks",
        "2",
        "--partition",
        "cpu",
        "--cpus-per-task",
        "1",
        "--dedup-tasks",
        "3",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let run = std::fs::read_to_string(out.join("slurm/data-run.sbatch")).unwrap();
    assert!(
        run.contains("#SBATCH --array=0-1")
            && run.contains("#SBATCH --partition=cpu")
            && run.contains("--world-size 2"),
        "{run}"
    );
    // Run the scripts as Slurm would: each array task, then the dependent dedup job.
    let bash = |script: &str, env: &[(&str, &str)]| {
        let out = Command::new("bash").arg(out.join("slurm").join(script)).envs(env.iter().copied()).output().unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    };
    for task in ["0", "1"] {
        bash(
            "data-run.sbatch",
            &[("SLURM_ARRAY_TASK_ID", task), ("SLURM_ARRAY_TASK_COUNT", "2"), ("SLURM_CPUS_PER_TASK", "1")],
        );
    }
    assert!(out.join("completions/00000").exists() && out.join("completions/00001").exists());
    // The deduplication stages: three arrays of 3 tasks around the single clusters task.
    for stage in ["signatures", "buckets", "clusters", "filter"] {
        let script = format!("dedup-{stage}.sbatch");
        let tasks: &[&str] = if stage == "clusters" { &["0"] } else { &["0", "1", "2"] };
        for task in tasks {
            let count = tasks.len().to_string();
            bash(&script, &[("SLURM_ARRAY_TASK_ID", task), ("SLURM_ARRAY_TASK_COUNT", &count)]);
        }
    }
    assert!(out.join("dedup/stats/dedup.json").exists() && out.join("dedup/output/00001.jsonl.gz").exists());
    let kept = read_jsonl_gz(&out.join("dedup/output/00000.jsonl.gz")).len()
        + read_jsonl_gz(&out.join("dedup/output/00001.jsonl.gz")).len();
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("dedup/stats/dedup.json")).unwrap()).unwrap();
    let removed = stats["exact"].as_u64().unwrap() + stats["near"].as_u64().unwrap();
    assert_eq!(kept as u64 + removed, stats["documents"].as_u64().unwrap(), "{stats}");
    let syntax = Command::new("bash").arg("-n").arg(out.join("slurm/submit.sh")).output().unwrap();
    assert!(syntax.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn index_then_search_finds_the_passage() {
    let dir = std::env::temp_dir().join(format!("minichat-data-index-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let docs = [
        ("a", "Bread needs flour, water, salt and yeast.\nKnead it for ten minutes."),
        ("b", "The Rust compiler checks borrows at compile time.\nIt has no garbage collector."),
        ("c", "Sourdough bread rises with a starter instead of yeast."),
    ];
    let lines: Vec<String> = docs
        .iter()
        .map(|(id, t)| serde_json::json!({"id": id, "url": format!("http://x/{id}"), "text": t}).to_string())
        .collect();
    std::fs::write(dir.join("docs.jsonl"), lines.join("\n")).unwrap();
    let idx = dir.join("docs.idx");
    let r = minichat(&["data", "index", dir.join("docs.jsonl").to_str().unwrap(), "-o", idx.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stdout).contains("3 documents -> 3 passages"));
    let r = minichat(&["data", "search", idx.to_str().unwrap(), "garbage collector", "--json", "-k", "2"]);
    let hits: Vec<serde_json::Value> =
        String::from_utf8_lossy(&r.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0]["doc_id"].as_str(), hits[0]["url"].as_str()), (Some("b"), Some("http://x/b")));
    let r = minichat(&["data", "search", idx.to_str().unwrap(), "yeast bread", "--json"]);
    let ids: Vec<String> = String::from_utf8_lossy(&r.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["doc_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["c", "a"], "the shorter passage with both terms first");
    // A damaged index is refused with its name.
    std::fs::write(&idx, b"MCBM25v1 but not really").unwrap();
    let r = minichat(&["data", "search", idx.to_str().unwrap(), "bread"]);
    assert!(!r.status.success() && String::from_utf8_lossy(&r.stderr).contains("docs.idx"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn extract_prints_the_main_text_of_html_files() {
    let dir = std::env::temp_dir().join(format!("minichat-data-extract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let para = "The committee met on Tuesday to discuss the new library, which will open next spring with \
                a reading room, a children's corner and a small cafe run by volunteers.";
    let page = format!(
        "<html><head><meta charset=\"iso-8859-1\"></head><body><nav><a href='/'>Home</a></nav><article>\
         <h1>Library plans</h1><p>{para}</p><p>{para}</p><p>Caf\u{e9} opens at nine.</p></article></body></html>"
    );
    let latin1: Vec<u8> = page.chars().map(|c| c as u32 as u8).collect();
    std::fs::write(dir.join("a.html"), latin1).unwrap();
    std::fs::write(dir.join("b.html"), "<html><body><nav>menu</nav></body></html>").unwrap();
    let out = minichat(&["data", "extract", "--json", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let text = rows[0]["text"].as_str().unwrap();
    assert!(text.starts_with("Library plans\nThe committee") && text.ends_with("Café opens at nine."), "{text}");
    assert!(!text.contains("Home"));
    assert_eq!(rows[1]["error"], "no_content");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ctrl_c_keeps_the_work_done_and_the_rerun_finishes_it() {
    let (dir, _) = two_warcs("sigint");
    let warc = demo_subset(&dir, "part.warc.gz", 0, 700);
    let (w, stopped, whole) = (warc.to_str().unwrap(), dir.join("stopped"), dir.join("whole"));
    let child = Command::new(env!("CARGO_BIN_EXE_minichat"))
        .args(["--threads", "1", "data", "run", w, "-o", stopped.to_str().unwrap(), "--exclusions"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("run the same command again to resume"), "{stderr}");
    assert!(stopped.join("partial/00000.json").exists() && !stopped.join("completions/00000").exists());
    let resumed = minichat(&["data", "run", w, "-o", stopped.to_str().unwrap(), "--exclusions"]);
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("resuming rank 0"));
    assert!(resumed.status.success() && stopped.join("completions/00000").exists());
    assert!(!stopped.join("partial/00000.json").exists());
    // The same documents, exclusions and counts as a run never interrupted.
    assert!(minichat(&["data", "run", w, "-o", whole.to_str().unwrap(), "--exclusions"]).status.success());
    for f in ["output/00000.jsonl.gz", "removed/language/00000.jsonl.gz", "removed/gopher_quality/00000.jsonl.gz"] {
        assert_eq!(read_jsonl_gz(&stopped.join(f)), read_jsonl_gz(&whole.join(f)), "{f}");
    }
    let counts = |d: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("stats/00000.json")).unwrap()).unwrap();
        for s in v["stages"].as_array_mut().unwrap() {
            s.as_object_mut().unwrap().remove("seconds");
        }
        v
    };
    assert_eq!(counts(&stopped), counts(&whole));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn filter_runs_chosen_stages_over_shards_and_keeps_other_columns() {
    let dir = std::env::temp_dir().join(format!("minichat-data-filter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let en = "The town committee met on Tuesday evening to discuss the new public library in the old mill.\n\
              It will open next spring with a large reading room and a quiet corner for study.\n\
              Children get their own floor, with picture books, puzzles and a small theatre for readings.\n\
              A cafe run by volunteers will sell coffee, tea and cakes baked by the local school.\n\
              Write to library@example.org for the opening hours, which the council has not settled yet.\n\
              The mayor thanked everyone who gave books, money or time to make the project happen.";
    let fr = "Le comité s'est réuni mardi pour discuter de la nouvelle bibliothèque, qui ouvrira au printemps \
              prochain avec une salle de lecture, un coin pour les enfants et un petit café tenu par des bénévoles.";
    let spam = format!("{en} ").repeat(5);
    let rows: Vec<String> = [("en", en), ("fr", fr), ("spam", spam.as_str())]
        .iter()
        .map(|(id, t)| serde_json::json!({"text": t, "id": id, "source": "test"}).to_string())
        .collect();
    std::fs::write(dir.join("docs.jsonl"), rows.join("\n")).unwrap();
    let ids = |out: &Path| -> Vec<String> {
        read_jsonl_gz(&out.join("output/docs.jsonl.gz")).iter().map(|v| v["id"].as_str().unwrap().to_string()).collect()
    };
    let (input, lang_only, all) = (dir.join("docs.jsonl"), dir.join("lang"), dir.join("all"));
    let r = minichat(&[
        "data",
        "filter",
        input.to_str().unwrap(),
        "-o",
        lang_only.to_str().unwrap(),
        "--stages",
        "language",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(ids(&lang_only), ["en", "spam"]);
    let r = minichat(&["data", "filter", input.to_str().unwrap(), "-o", all.to_str().unwrap(), "--exclusions"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(ids(&all), ["en"]);
    let kept = &read_jsonl_gz(&all.join("output/docs.jsonl.gz"))[0];
    assert_eq!((kept["source"].as_str(), kept["language"].as_str()), (Some("test"), Some("en")));
    assert!(
        !kept["text"].as_str().unwrap().contains("library@example.org") && kept["token_count"].as_u64().unwrap() > 30
    );
    let spam_row = &read_jsonl_gz(&all.join("removed/gopher_repetition/docs.jsonl.gz"))[0];
    assert_eq!(spam_row["filter_stage"], "gopher_repetition");
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(all.join("stats/filter-00000.json")).unwrap()).unwrap();
    assert_eq!(stats["stages"][1]["dropped"]["language"], 1, "{stats}");
    let bad =
        minichat(&["data", "filter", input.to_str().unwrap(), "-o", all.to_str().unwrap(), "--stages", "extract"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("no stage \"extract\""));
    std::fs::remove_dir_all(&dir).unwrap();
}
