//! Resource limits of extraction, as counts of work rather than timings: a page nested deeply
//! enough to make HTML parsing quadratic is refused before parsing (`nesting`), the pages of a
//! real crawl are far from that bound, and huge attributes or sizes stay within theirs.

use minichat_data::extract::Extractor;
use minichat_data::nesting::{scope_work, MAX_SCOPE_WORK};
use minichat_data::page;
use std::path::Path;

fn nested(tag: &str, n: usize) -> String {
    let text = "<p>The committee met on Tuesday to discuss the new library, which opens next spring.</p>";
    format!("<html><body>{}{text}{}</body></html>", format!("<{tag}>").repeat(n), format!("</{tag}>").repeat(n))
}

#[test]
fn deep_nesting_is_refused_before_parsing() {
    let x = Extractor::default();
    // 100,000 nested divs: 5e9 scope steps, 14 s of parsing; refused after one scan.
    let deep = nested("div", 100_000);
    assert!(scope_work(deep.as_bytes()) > 100 * MAX_SCOPE_WORK);
    assert_eq!(x.extract(&deep), Err("html_too_deep"));
    // 5,000 (12.5 M steps) are parsed as usual.
    let fine = nested("div", 5_000);
    assert!(scope_work(fine.as_bytes()) < MAX_SCOPE_WORK);
    assert_ne!(x.extract(&fine), Err("html_too_deep"));
    // Inline start tags trigger no scope check, however deep: only the one `<p>` inside them.
    assert_eq!(scope_work(nested("b", 100_000).as_bytes()), 100_000);
}

#[test]
fn real_pages_are_far_below_the_bound() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/web/demo.warc.gz");
    let mut most = 0;
    page::for_each_page(&demo, 1 << 26, |p| {
        most = most.max(scope_work(p.content.as_bytes()));
        true
    })
    .unwrap();
    eprintln!("largest scope work on the demo crawl: {most}");
    assert!(most > 0 && most * 100 < MAX_SCOPE_WORK, "{most}");
}

#[test]
fn size_limits_hold() {
    let x = Extractor::default();
    // A 4 MiB attribute is one token to the parser: the text comes out.
    let attr = format!(
        "<html><body><p title=\"{}\">{}</p></body></html>",
        "a".repeat(4 << 20),
        "Real words here. ".repeat(20)
    );
    assert!(x.extract(&attr).unwrap().starts_with("Real words here."));
    // Over the HTML size limit: refused unread.
    let big = "x".repeat(x.max_html_bytes + 1);
    assert_eq!(x.extract(&big), Err("html_too_large"));
}
