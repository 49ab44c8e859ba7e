//! WARC files written by real tools (`scripts/make_warc_writer_fixtures.py`: wget, warcio,
//! warcprox, a browser-based crawler's way of storing, Common Crawl's conventions and its WET
//! form, .warc.zst with a dictionary): every writer gives the same three pages, byte for byte the pages of the
//! demo crawl that were served, and the leniencies each writer needs are counted.

use minichat_data::page::{self, Kind, Page};
use minichat_data::pipeline::{Pipeline, Stage};
use minichat_data::stats::Counts;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const PAGES: [&str; 3] = ["library/posix.html", "library/urllib.error.html", "library/cgitb.html"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/writers").join(name)
}

fn read(path: &Path) -> (Vec<Page>, Counts) {
    let mut pages = Vec::new();
    let counts = page::for_each_page(path, 1 << 26, |p| {
        pages.push(p);
        true
    })
    .unwrap();
    (pages, counts)
}

/// The served pages, as the demo crawl holds them: page name -> HTML.
fn originals() -> BTreeMap<&'static str, String> {
    let (pages, _) = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/web/demo.warc.gz"));
    PAGES
        .iter()
        .map(|&name| {
            let p = pages.iter().find(|p| p.url.ends_with(&format!("/pydoc/{name}"))).expect("in the demo crawl");
            (name, p.content.clone())
        })
        .collect()
}

/// The page named `name` among `pages` (by the end of its URL), once.
fn named<'a>(pages: &'a [Page], name: &str) -> Vec<&'a Page> {
    pages.iter().filter(|p| p.url.ends_with(name)).collect()
}

#[test]
fn every_writer_gives_the_served_pages() {
    let want = originals();
    for (file, revisits) in [
        ("wget.warc.gz", 0),
        ("wget.warc", 0),
        ("wget-whole.warc.gz", 0),
        ("warcio.warc.gz", 0),
        ("warcprox.warc.gz", 1),
        ("browser.warc.gz", 0),
        ("archiveteam.warc.zst", 0),
    ] {
        let (pages, counts) = read(&fixture(file));
        assert_eq!(pages.len(), 3 + revisits, "{file}: {counts:?}");
        for name in PAGES {
            let found = named(&pages, name);
            assert!(!found.is_empty(), "{file}: no {name}");
            for p in found {
                assert_eq!(p.kind, Kind::Html);
                assert!(p.content == want[name], "{file}: {} differs from the page served", p.url);
                assert!(p.id.starts_with("<urn:uuid:") && !p.date.is_empty(), "{file}: {p:?}");
            }
        }
        for bad in ["bad_http", "bad_encoding", "garbage", "truncated", "bad_length", "gzip_error", "invalid_chars"] {
            assert_eq!(counts.get(bad), 0, "{file}: {bad} in {counts:?}");
        }
    }
}

#[test]
fn each_writer_needs_its_own_leniencies() {
    // wget: the bytes as received (chunked, gzip); requests and its metadata records are no pages.
    let (_, c) = read(&fixture("wget.warc.gz"));
    assert_eq!((c.get("type_request"), c.get("type_metadata"), c.get("type_resource")), (3, 1, 1), "{c:?}");
    assert_eq!((c.get("chunked_not_chunked"), c.get("encoding_not_applied")), (0, 0), "{c:?}");
    // A browser-based crawler stores the decoded body under the original coding headers.
    let (_, c) = read(&fixture("browser.warc.gz"));
    assert_eq!((c.get("chunked_not_chunked"), c.get("encoding_not_applied")), (2, 1), "{c:?}");
    // warcprox dedups the same payload under another URL into a revisit record.
    let (pages, c) = read(&fixture("warcprox.warc.gz"));
    assert_eq!((c.get("revisit"), c.get("revisit_resolved"), c.get("pages")), (1, 1, 4), "{c:?}");
    let again = named(&pages, "/again/library/posix.html");
    let first = named(&pages, "/raw/library/posix.html");
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].id, first[0].id);
    assert_eq!(again[0].content, first[0].content);
    // Without its original in the same input a revisit is counted, not guessed.
    let mut lone = page::Pages::with_memory(0);
    let mut reader = minichat_data::warc::WarcReader::open(&fixture("warcprox.warc.gz"), 1 << 26).unwrap();
    let mut c = Counts::default();
    while let Some(rec) = reader.next_record().unwrap() {
        let _ = lone.page(&rec, &mut c);
    }
    assert_eq!((c.get("revisit_unresolved"), c.get("pages")), (1, 3), "{c:?}");
}

#[test]
fn warc_zst_needs_its_dictionary() {
    let bytes = std::fs::read(fixture("archiveteam.warc.zst")).unwrap();
    assert_eq!(&bytes[..4], &[0x5d, 0x2a, 0x4d, 0x18]);
    let dictionary_frame = 8 + u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    // Without the dictionary frame the first record does not decompress.
    let mut r = minichat_data::warc::WarcReader::from_bytes(bytes[dictionary_frame..].to_vec(), 1 << 26).unwrap();
    assert!(r.next_record().unwrap().is_none());
    assert_eq!(r.counts.get("zstd_error"), 1, "{:?}", r.counts);
    // A cut dictionary frame is an error naming the file, not a silent empty file.
    let dir = std::env::temp_dir().join(format!("minichat-writers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.warc.zst");
    std::fs::write(&cut, &bytes[..dictionary_frame / 2]).unwrap();
    let err = page::for_each_page(&cut, 1 << 26, |_| true).unwrap_err().to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(err.contains("cut.warc.zst") && err.contains("dictionary"), "{err}");
}

#[test]
fn common_crawl_conventions_and_wet() {
    let want = originals();
    let (pages, c) = read(&fixture("commoncrawl.warc.gz"));
    // The dns: response is Heritrix's; the X-Crawler- headers describe codings already undone.
    assert_eq!((c.get("not_http"), c.get("payload_truncated"), c.get("pages")), (1, 1, 3), "{c:?}");
    assert_eq!((c.get("encoding_not_applied"), c.get("chunked_not_chunked")), (0, 0), "{c:?}");
    for (p, name) in pages.iter().zip(PAGES) {
        assert!(p.url.ends_with(name));
        if name == PAGES[2] {
            // Cut at half its bytes by the writer.
            assert!(want[name].starts_with(&p.content) && p.content.len() * 2 <= want[name].len() + 4);
        } else {
            assert!(p.content == want[name], "{}", p.url);
        }
    }
    let (texts, c) = read(&fixture("commoncrawl.warc.wet.gz"));
    assert_eq!((c.get("from_conversion"), c.get("pages"), c.get("not_response")), (3, 3, 1), "{c:?}");
    for (t, p) in texts.iter().zip(&pages) {
        // A WET text carries the id of the response it was made from.
        assert_eq!((t.kind, &t.id, &t.url), (Kind::Text, &p.id, &p.url));
    }
    assert!(texts[0].content.contains("posix — The most common POSIX system calls"), "{}", texts[0].content);

    // The chain takes a WET text as it is: no extraction.
    let pipeline = Pipeline::fineweb("CC-TEST");
    let processed = pipeline.process(texts[0].clone(), "commoncrawl.warc.wet.gz");
    let doc = match processed.result {
        Ok(doc) => doc,
        Err((stage, reason, doc)) => {
            assert_ne!(stage, Stage::Extract, "{reason}");
            doc
        }
    };
    assert!(doc.text.contains("The most common POSIX system calls"), "{}", doc.text);
}
