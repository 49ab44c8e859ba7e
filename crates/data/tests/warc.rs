//! The WARC reader on damaged files: every kind of damage is counted and the records after it
//! are still read.

use minichat_data::page;
use minichat_data::stats::Counts;
use minichat_data::warc::WarcReader;
use proptest::prelude::*;
use std::io::Write;

const MAX: usize = 1 << 20;

fn response(id: usize, http_head: &str, body: &[u8], cl_delta: i64) -> Vec<u8> {
    with_status(id, "HTTP/1.1 200 OK", http_head, body, cl_delta)
}

fn with_status(id: usize, status: &str, http_head: &str, body: &[u8], cl_delta: i64) -> Vec<u8> {
    let mut http = format!("{status}\r\n{http_head}\r\n").into_bytes();
    http.extend_from_slice(body);
    let cl = (http.len() as i64 + cl_delta) as usize;
    let mut rec = format!(
        "WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{id}>\r\nWARC-Target-URI: <http://example.com/{id}>\r\n\
         WARC-Date: 2024-01-0{}T00:00:00Z\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: {cl}\r\n\r\n",
        1 + id % 9
    )
    .into_bytes();
    rec.extend_from_slice(&http);
    rec.extend_from_slice(b"\r\n\r\n");
    rec
}

fn html(id: usize) -> Vec<u8> {
    response(id, "Content-Type: text/html; charset=utf-8\r\n", format!("<html><p>page {id}</p></html>").as_bytes(), 0)
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// The ids of the records read, and the counts.
fn read(bytes: Vec<u8>) -> (Vec<String>, Counts) {
    let mut r = WarcReader::from_bytes(bytes, MAX).unwrap();
    let mut ids = Vec::new();
    for rec in r.by_ref() {
        ids.push(rec.unwrap().header("WARC-Record-ID").unwrap().to_string());
    }
    (ids, r.counts)
}

fn ids(v: &[usize]) -> Vec<String> {
    v.iter().map(|i| format!("<urn:uuid:{i}>")).collect()
}

#[test]
fn reads_plain_gzip_and_zstd_files() {
    let recs: Vec<Vec<u8>> = (1..=3).map(html).collect();
    assert_eq!(read(recs.concat()).0, ids(&[1, 2, 3]));
    assert_eq!(read(recs.iter().map(|r| gz(r)).collect::<Vec<_>>().concat()).0, ids(&[1, 2, 3]));
    // One gzip member for the whole file, and zstd.
    assert_eq!(read(gz(&recs.concat())).0, ids(&[1, 2, 3]));
    assert_eq!(read(zstd::encode_all(&recs.concat()[..], 3).unwrap()).0, ids(&[1, 2, 3]));
}

#[test]
fn damage_is_counted_and_the_rest_is_read() {
    let (a, b, c) = (html(1), html(2), html(3));
    let plain = |parts: &[&[u8]]| read(parts.concat());
    let gzip = |parts: &[Vec<u8>]| read(parts.concat());
    // (case, what was read, the records that must survive, the count that must be non-zero)
    type Case = (&'static str, (Vec<String>, Counts), Vec<usize>, &'static str);
    let cases: Vec<Case> = vec![
        ("garbage between records", plain(&[&a, b"garbage\r\nmore\r\n", &b, &c]), vec![1, 2, 3], "garbage"),
        ("short Content-Length", plain(&[&response(1, "", b"<p>x</p>", -3), &b, &c]), vec![2, 3], "bad_length"),
        ("long Content-Length", plain(&[&response(1, "", b"<p>x</p>", 40), &b, &c]), vec![2, 3], "bad_length"),
        (
            "long Content-Length at the end",
            plain(&[&a, &b, &response(3, "", b"<p>x</p>", 40)]),
            vec![1, 2],
            "truncated",
        ),
        (
            "no Content-Length",
            plain(&[b"WARC/1.0\r\nWARC-Type: response\r\n\r\nxx\r\n\r\n", &b, &c]),
            vec![2, 3],
            "bad_header",
        ),
        ("file cut inside a record", plain(&[&a, &b, &c[..c.len() / 2]]), vec![1, 2], "truncated"),
        (
            "gzip: garbage between members",
            gzip(&[gz(&a), b"garbage".to_vec(), gz(&b), gz(&c)]),
            vec![1, 2, 3],
            "garbage_between_members",
        ),
        ("gzip: truncated member", gzip(&[gz(&a), gz(&b)[..40].to_vec(), gz(&c)]), vec![1, 3], "gzip_error"),
        (
            "gzip: corrupt member",
            gzip(&[
                gz(&a),
                {
                    let mut m = gz(&b);
                    let n = m.len();
                    m[n / 2..n - 8].fill(0x55);
                    m
                },
                gz(&c),
            ]),
            vec![1, 3],
            "gzip_error",
        ),
        (
            "gzip: long Content-Length",
            gzip(&[gz(&response(1, "", b"x", 40)), gz(&b), gz(&c)]),
            vec![2, 3],
            "bad_length",
        ),
        (
            "gzip: garbage before the first member",
            gzip(&[b"junk".to_vec(), gz(&a), gz(&b)]),
            vec![1, 2],
            "garbage_between_members",
        ),
        ("gzip: file cut", gzip(&[gz(&a), gz(&b), gz(&c)[..20].to_vec()]), vec![1, 2], "gzip_error"),
        // A member whose data decompresses but whose CRC is wrong is not trusted.
        (
            "gzip: bad checksum",
            gzip(&[
                gz(&a),
                {
                    let mut m = gz(&b);
                    let n = m.len();
                    m[n - 8] ^= 0xff;
                    m
                },
                gz(&c),
            ]),
            vec![1, 3],
            "gzip_error",
        ),
    ];
    for (name, (got, counts), want, kind) in cases {
        assert_eq!(got, ids(&want), "{name}: {counts:?}");
        assert!(counts.get(kind) > 0, "{name}: {counts:?} lacks {kind}");
        assert_eq!(counts.get("records"), want.len() as u64, "{name}");
    }
    // Trailing garbage and an empty file are fine.
    assert_eq!(read([a.clone(), b"\x00\x01trailing".to_vec()].concat()).0, ids(&[1]));
    assert_eq!(read(Vec::new()).0, ids(&[]));
}

#[test]
fn records_over_the_limit_are_skipped_unread() {
    let big = response(1, "Content-Type: text/html\r\n", &vec![b'x'; 5000], 0);
    let mut r = WarcReader::from_bytes([big, html(2)].concat(), 1000).unwrap();
    let got: Vec<_> = r.by_ref().map(|x| x.unwrap().header("WARC-Record-ID").unwrap().to_string()).collect();
    assert_eq!(got, ids(&[2]));
    assert_eq!(r.counts.get("too_large"), 1);
}

#[test]
fn pages_are_html_responses_decoded_to_text() {
    let chunked = response(
        1,
        "Content-Type: text/html\r\nTransfer-Encoding: chunked\r\n",
        b"5\r\n<p>ab\r\n6\r\nc</p> \r\n0\r\n\r\n",
        0,
    );
    let gzipped = response(
        2,
        "Content-Type: text/html; charset=ISO-8859-1\r\nContent-Encoding: gzip\r\n",
        &gz(b"<p>caf\xe9</p>"),
        0,
    );
    let untyped = response(3, "", b"  <!DOCTYPE html><p>sniffed</p>", 0);
    let pdf = response(4, "Content-Type: application/pdf\r\n", b"%PDF-1.4 \x00\x01", 0);
    let not_found = with_status(5, "HTTP/1.1 404 Not Found", "Content-Type: text/html\r\n", b"<p>gone</p>", 0);
    // Compressed and damaged (a declared coding over plain text is read as not applied).
    let bad_gzip = response(6, "Content-Type: text/html\r\nContent-Encoding: gzip\r\n", &gz(b"<p>x</p>")[..12], 0);
    let bad_http = with_status(7, "garbage", "", b"", 0);
    let request = String::from_utf8(html(8)).unwrap().replace("WARC-Type: response", "WARC-Type: request").into_bytes();
    let latin1 = response(9, "Content-Type: text/html\r\n", b"<meta charset=windows-1252><p>na\xefve</p>", 0);
    let mut reader = WarcReader::from_bytes(
        [chunked, gzipped, untyped, pdf, not_found, bad_gzip, bad_http, request, latin1].concat(),
        MAX,
    )
    .unwrap();
    let mut counts = Counts::default();
    let mut pages = Vec::new();
    for rec in reader.by_ref() {
        pages.extend(page::from_record(&rec.unwrap(), &mut counts));
    }
    let texts: Vec<&str> = pages.iter().map(|p| p.content.as_str()).collect();
    assert_eq!(
        texts,
        ["<p>abc</p> ", "<p>café</p>", "  <!DOCTYPE html><p>sniffed</p>", "<meta charset=windows-1252><p>naïve</p>"]
    );
    assert_eq!(pages[0].url, "http://example.com/1");
    assert_eq!(pages[0].id, "<urn:uuid:1>");
    assert_eq!(pages[0].date, "2024-01-02T00:00:00Z");
    for (kind, n) in
        [("pages", 4), ("not_html", 1), ("not_ok_status", 1), ("bad_encoding", 1), ("bad_http", 1), ("not_response", 1)]
    {
        assert_eq!(counts.get(kind), n, "{kind}: {counts:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Damaging one gzip member (cut, overwritten, or garbage inserted before it) loses at
    /// most that member's record; random bytes anywhere never panic or hang.
    #[test]
    fn one_damaged_member_costs_at_most_one_record(n in 2usize..8, victim in 0usize..8, how in 0u8..3, cut in 1usize..60, junk in proptest::collection::vec(any::<u8>(), 1..40)) {
        let victim = victim % n;
        let mut parts: Vec<Vec<u8>> = (0..n).map(|i| gz(&html(i))).collect();
        match how {
            0 => { let m = &mut parts[victim]; let keep = m.len().saturating_sub(cut).max(1); m.truncate(keep); }
            1 => { let m = &mut parts[victim]; let at = (cut % m.len()).max(10).min(m.len() - 1); for (i, b) in junk.iter().enumerate() { if at + i < m.len() { m[at + i] = *b; } } }
            _ => { parts.insert(victim, junk.clone()); }
        }
        let (got, _) = read(parts.concat());
        let want_all = ids(&(0..n).collect::<Vec<_>>());
        let missing = want_all.iter().filter(|id| !got.contains(id)).count();
        prop_assert!(missing <= 1, "{got:?}");
        prop_assert!(got.iter().all(|id| want_all.contains(id)));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000), prefix in 0usize..3) {
        let mut data = match prefix { 0 => Vec::new(), 1 => vec![0x1f, 0x8b, 0x08], _ => b"WARC/1.0\r\n".to_vec() };
        data.extend(bytes);
        let mut r = WarcReader::from_bytes(data, 1 << 16).unwrap();
        let mut counts = Counts::default();
        for rec in r.by_ref().take(10_000).flatten() {
            let _ = page::from_record(&rec, &mut counts);
        }
    }
}
