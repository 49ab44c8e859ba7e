use super::*;

fn doc(id: &str, text: &str) -> (String, Row) {
    (format!("place-{id}"), Row::Json(serde_json::json!({ "id": id, "url": format!("http://x/{id}"), "text": text })))
}

#[test]
fn passages_follow_lines_and_cut_long_ones() {
    assert_eq!(passages("a b\nc d\ne f", 4), ["a b\nc d", "e f"]);
    assert_eq!(passages("a b c d e", 2), ["a b", "c d", "e"]);
    assert!(passages(" \n\n", 5).is_empty());
}

#[test]
fn scores_are_lucene_bm25() {
    let docs = [doc("1", "the cat sat"), doc("2", "the dog sat on the cat mat"), doc("3", "a bird")];
    let index = Index::build(&docs, 100);
    // By hand: N = 3, average length (3 + 7 + 2) / 3 = 4; "cat" is in 2 passages.
    let idf = (1.0f32 + (3.0 - 2.0 + 0.5) / (2.0 + 0.5)).ln();
    let s = |tf: f32, len: f32| idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / 4.0));
    let hits = index.search("Cat!", 10);
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].passage.doc_id, "1");
    assert!((hits[0].score - s(1.0, 3.0)).abs() < 1e-6);
    assert!((hits[1].score - s(1.0, 7.0)).abs() < 1e-6);
    // Rarer terms weigh more: "dog" (one passage) beats "the" (two).
    assert_eq!(index.search("the dog", 1)[0].passage.doc_id, "2");
    assert!(index.search("unicorn", 5).is_empty());
    assert_eq!(index.search("bird", 5)[0].passage.url, "http://x/3");
}

#[test]
fn file_round_trip_and_damage() {
    let docs: Vec<(String, Row)> = (0..50)
        .map(|i| doc(&i.to_string(), &format!("passage number {i} about topic{}\nmore é text", i % 7)))
        .collect();
    let index = Index::build(&docs, 5);
    let path = std::env::temp_dir().join(format!("minichat-index-{}.idx", std::process::id()));
    index.save(&path).unwrap();
    let back = Index::load(&path).unwrap();
    assert_eq!(back.passages, index.passages);
    assert_eq!(back.terms(), index.terms());
    let (a, b) = (index.search("topic3 number", 5), back.search("topic3 number", 5));
    assert_eq!(
        a.iter().map(|h| (&h.passage.doc_id, h.score)).collect::<Vec<_>>(),
        b.iter().map(|h| (&h.passage.doc_id, h.score)).collect::<Vec<_>>()
    );
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    assert!(Index::load(&path).unwrap_err().to_string().contains("checksum"));
    std::fs::write(&path, b"nonsense").unwrap();
    assert!(Index::load(&path).unwrap_err().to_string().contains("not a minichat search index"));
    std::fs::remove_file(&path).unwrap();
}

/// Found by `cargo fuzz run search_index`: posting gaps whose sum passes u64 (with a valid
/// checksum) overflowed instead of being refused as damage.
#[test]
fn posting_gaps_past_u64_are_damage() {
    let mut bytes = b"MCBM25v1".to_vec();
    // Two passages ("", "", "", length 0), one term "t" with two postings: passage 1 (a gap of
    // 1), then a gap of u64::MAX.
    bytes.extend([2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, b't', 2, 1, 1]);
    bytes.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    bytes.push(1);
    let crc = crc32fast::hash(&bytes);
    bytes.extend(crc.to_le_bytes());
    let err = Index::from_bytes(&bytes, "crafted.idx").unwrap_err().to_string();
    assert!(err.contains("crafted.idx") && err.contains("malformed"), "{err}");
}
