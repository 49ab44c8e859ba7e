//! One rank of the chain as the library runs it (`data::run`): stopped part-way through its
//! second file, opened again and finished, it writes the same shards, exclusions and counts
//! as a run never stopped; a finished rank is not run again, and a changed command is refused.

use minichat_corpus::shards;
use minichat_data::pipeline::Pipeline;
use minichat_data::run::{Opened, Options, Outcome, Rank};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Records `skip..skip + n` of the demo crawl as a WARC file of their own.
fn demo_subset(path: &Path, skip: usize, n: usize) {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/web/demo.warc.gz");
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(demo).unwrap()).read_to_end(&mut text).unwrap();
    let text = String::from_utf8_lossy(&text).into_owned();
    let mut out = Vec::new();
    for r in text.split("WARC/1.0\r\n").filter(|r| !r.is_empty()).skip(skip).take(n) {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"WARC/1.0\r\n").unwrap();
        e.write_all(r.as_bytes()).unwrap();
        out.extend(e.finish().unwrap());
    }
    std::fs::write(path, out).unwrap();
}

fn open(files: &[PathBuf], out: &Path, exclusions: bool) -> Opened {
    Rank::open(files, Options { out: out.into(), rank: 0, world: 1, parquet: false, exclusions }).unwrap()
}

fn ready(opened: Opened) -> Rank {
    match opened {
        Opened::Ready(r) => *r,
        Opened::Completed(m) => panic!("already completed: {}", m.display()),
    }
}

/// Every file under `dir` with its rows (stats without their timings).
fn written(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for sub in ["output", "removed/language", "removed/gopher_quality", "stats"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
        for e in entries.map(|e| e.unwrap().path()) {
            let body = match sub {
                "stats" => {
                    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&e).unwrap()).unwrap();
                    v["stages"].as_array_mut().unwrap().iter_mut().for_each(|s| s["seconds"] = 0.into());
                    v.to_string()
                }
                _ => shards::read(&e).unwrap().iter().map(|r| r.to_json().to_string() + "\n").collect(),
            };
            out.push((format!("{sub}/{}", e.file_name().unwrap().to_string_lossy()), body));
        }
    }
    out.sort();
    out
}

#[test]
fn a_stopped_rank_resumes_to_the_same_result_as_one_never_stopped() {
    let dir = std::env::temp_dir().join(format!("minichat-data-rank-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let files = [dir.join("a.warc.gz"), dir.join("b.warc.gz")];
    demo_subset(&files[0], 0, 20);
    demo_subset(&files[1], 20, 100);
    let pipeline = Pipeline::fineweb("test");
    let never = AtomicBool::new(false);
    let (whole, stopped) = (dir.join("whole"), dir.join("stopped"));
    let Outcome::Finished { kept, .. } = ready(open(&files, &whole, true)).run(&pipeline, &never, || {}).unwrap()
    else {
        panic!("not finished")
    };
    assert!(kept > 0);
    // Stop once 10 pages of the second file are done (the pages in flight finish).
    let first_file_pages = minichat_data::page::for_each_page(&files[0], 1 << 26, |_| true).unwrap().get("pages");
    let (stop, pages) = (AtomicBool::new(false), AtomicUsize::new(0));
    let on_page = || {
        if pages.fetch_add(1, Ordering::SeqCst) + 1 == first_file_pages as usize + 10 {
            stop.store(true, Ordering::SeqCst);
        }
    };
    match ready(open(&files, &stopped, true)).run(&pipeline, &stop, on_page).unwrap() {
        Outcome::Stopped { files_done, pages_done, .. } => assert!(files_done == 1 && pages_done >= 10),
        Outcome::Finished { .. } => panic!("not stopped"),
    }
    assert!(stopped.join("partial/00000.json").exists() && !stopped.join("completions/00000").exists());
    // The same command with other flags may not resume it.
    let err = Rank::open(&files, Options { out: stopped.clone(), rank: 0, world: 1, parquet: true, exclusions: true });
    assert!(err.err().unwrap().to_string().contains("other input files or flags"));
    let rank = ready(open(&files, &stopped, true));
    assert_eq!(rank.resumed().map(|(f, _)| f), Some(1));
    assert!(matches!(rank.run(&pipeline, &never, || {}).unwrap(), Outcome::Finished { .. }));
    assert!(!stopped.join("partial/00000.json").exists());
    assert_eq!(written(&stopped), written(&whole));
    assert!(written(&whole).len() >= 4);
    // A completed rank does nothing when opened again.
    assert!(matches!(open(&files, &stopped, true), Opened::Completed(_)));
    std::fs::remove_dir_all(&dir).unwrap();
}
