use super::*;
use crate::minhash::MinHash;

/// A fresh folder with two JSONL shards: 0 = [a, b], 1 = [a changed at the start, a, b, short].
fn setup(name: &str) -> (PathBuf, Vec<PathBuf>) {
    let dir = std::env::temp_dir().join(format!("minichat-dedup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("in")).unwrap();
    let word = |n: usize| -> String {
        format!("{}{} ", (b'a' + (n % 26) as u8) as char, (b'a' + (n / 26 % 26) as u8) as char)
    };
    let doc = |step: usize| -> String { (0..200).map(|i| word(i * step % 676)).collect() };
    let (a, b) = (doc(7919), doc(31));
    let a_near = format!("intro {}", &a[3..]);
    let line = |t: &str, id: &str| serde_json::json!({ "text": t, "id": id }).to_string();
    let shards = vec![dir.join("in/0.jsonl"), dir.join("in/1.jsonl")];
    std::fs::write(&shards[0], [line(&a, "0-0"), line(&b, "0-1")].join("\n")).unwrap();
    let second = [line(&a_near, "1-0"), line(&a, "1-1"), line(&b, "1-2"), line("too short", "1-3")];
    std::fs::write(&shards[1], second.join("\n")).unwrap();
    (dir, shards)
}

fn ids(path: &Path) -> Vec<String> {
    minichat_corpus::shards::read(path)
        .unwrap()
        .iter()
        .map(|r| r.to_json()["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn keeps_the_first_of_each_cluster() {
    let (dir, shards) = setup("first");
    let work = Work::new(&dir.join("out"));
    let (found, filtered) = all(&shards, &MinHash::new(1), &work, true).unwrap();
    let found = found.unwrap();
    assert_eq!((found.documents, found.exact, found.near, found.clusters), (6, 2, 1, 2));
    assert_eq!((filtered.kept, filtered.removed), (3, 3));
    assert_eq!(ids(&dir.join("out/output/0.jsonl.gz")), ["0-0", "0-1"]);
    assert_eq!(ids(&dir.join("out/output/1.jsonl.gz")), ["1-3"]);
    let removed = minichat_corpus::shards::read(&dir.join("out/removed/dedup/1.jsonl.gz")).unwrap();
    let dup_of: Vec<(String, u64)> = removed
        .iter()
        .map(|r| {
            let d = &r.to_json()["duplicate_of"];
            (d["shard"].as_str().unwrap().rsplit('/').next().unwrap().to_string(), d["line"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(dup_of, [("0.jsonl".to_string(), 1), ("0.jsonl".to_string(), 1), ("0.jsonl".to_string(), 2)]);
    // Everything completed: a second run does nothing.
    assert!(all(&shards, &MinHash::new(1), &work, true).unwrap().0.is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn many_tasks_give_the_same_result_as_one() {
    let (dir, shards) = setup("tasks");
    let one = Work::new(&dir.join("one"));
    all(&shards, &MinHash::new(1), &one, true).unwrap();
    let many = Work::new(&dir.join("many"));
    // Stages out of order are refused with a message naming what is missing.
    let err = buckets(&many, 0, 1).unwrap_err().to_string();
    assert!(err.contains("signatures stage first"), "{err}");
    signatures(&shards, 1, 2, &MinHash::new(1), &many).unwrap();
    let err = buckets(&many, 0, 1).unwrap_err().to_string();
    assert!(err.contains("1 of 2 shards have signatures"), "{err}");
    signatures(&shards, 0, 2, &MinHash::new(1), &many).unwrap();
    // 20 tasks: every band cut into two key ranges.
    for rank in 0..19 {
        buckets(&many, rank, 20).unwrap();
    }
    assert!(clusters(&many).unwrap_err().to_string().contains("incomplete"));
    buckets(&many, 19, 20).unwrap();
    clusters(&many).unwrap();
    for rank in 0..3 {
        filter(&shards, rank, 3, &many, true).unwrap();
    }
    for f in ["output/0.jsonl.gz", "output/1.jsonl.gz", "removed/dedup/1.jsonl.gz", "stats/dedup.json"] {
        let read = |w: &Work| std::fs::read(w.out.join(f)).unwrap();
        assert_eq!(read(&one), read(&many), "{f}");
    }
    // A damaged intermediate file is named, not misread.
    let sig = many.signature_file(3, 1);
    let bytes = std::fs::read(&sig).unwrap();
    std::fs::write(&sig, &bytes[..bytes.len() - 1]).unwrap();
    let err = buckets(&many, 0, 1).unwrap_err().to_string();
    assert!(err.contains("03/00001.sig") && err.contains("truncated"), "{err}");
    // Filtering other inputs than were signed is refused.
    let err = filter(&shards[..1], 0, 1, &many, false).unwrap_err().to_string();
    assert!(err.contains("same inputs"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn parquet_shards_come_out_as_parquet() {
    let (dir, shards) = setup("parquet");
    let pq = dir.join("in/0.parquet");
    let mut w = minichat_corpus::writers::ParquetWriter::create(&pq).unwrap();
    for row in minichat_corpus::shards::read(&shards[0]).unwrap() {
        let text = row.text().to_string();
        w.write(&crate::Doc { text, id: row.to_json()["id"].as_str().unwrap().into(), ..Default::default() }).unwrap();
    }
    w.finish().unwrap();
    let inputs = vec![pq, shards[1].clone()];
    let work = Work::new(&dir.join("out"));
    all(&inputs, &MinHash::new(1), &work, false).unwrap();
    assert_eq!(ids(&dir.join("out/output/0.parquet")), ["0-0", "0-1"]);
    assert_eq!(ids(&dir.join("out/output/1.jsonl.gz")), ["1-3"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
