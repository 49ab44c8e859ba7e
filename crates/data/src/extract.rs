//! Main-content extraction: the page's article text without navigation, footers and other
//! boilerplate, with the `trafilatura` crate (a port of go-trafilatura, itself of Python
//! trafilatura, which FineWeb uses). As FineWeb: precision first, no comments; unlike FineWeb,
//! the external fallbacks are off unless asked for (`with_fallback`; measurements there).
//! Unlike datatrove, its cross-document deduplication cache is off, so a page's text never
//! depends on which pages came before it.
//!
//! No page can hang a worker: HTML over `max_html_bytes`, or nested so deeply that parsing it
//! would take long (`nesting`), is dropped before parsing, and a DOM over `max_tree_size`
//! elements is refused by the extractor, which bounds the work per page
//! (datatrove instead kills a sandbox process after 1 s).

use trafilatura::{ExtractionFocus, HtmlDateMode, Options, TrafilaturaError};

pub struct Extractor {
    opts: Options,
    pub max_html_bytes: usize,
}

impl Default for Extractor {
    fn default() -> Self {
        let mut opts = Options::default().with_focus(ExtractionFocus::FavorPrecision);
        opts.exclude_comments = true;
        opts.deduplicate = false;
        // Only the text is used (our vendored patch, vendor/README.md).
        opts.skip_metadata = true;
        // Measured on the demo crawl: the largest page (2.6 MB, 41k elements) extracts in well
        // under a second; pages past these limits are dropped and counted.
        opts.max_tree_size = Some(100_000);
        opts = opts.with_html_date_mode(HtmlDateMode::Disabled);
        Extractor { opts, max_html_bytes: 8 << 20 }
    }
}

impl Extractor {
    /// With trafilatura's external fallbacks (readability, justext) compared against the main
    /// extraction, as Python trafilatura and FineWeb do. Off by default: on the labelled pages
    /// of bench/extraction_eval.sh they change no score, and they double extraction time.
    pub fn with_fallback(mut self, on: bool) -> Extractor {
        self.opts.enable_fallback = on;
        self
    }

    /// The main text of `html`, or why there is none: `html_too_large`, `html_too_deep`
    /// (`nesting`), `tree_too_large`, `no_content` (too little text), `extract_error`.
    pub fn extract(&self, html: &str) -> Result<String, &'static str> {
        if html.len() > self.max_html_bytes {
            return Err("html_too_large");
        }
        if crate::nesting::scope_work(html.as_bytes()) > crate::nesting::MAX_SCOPE_WORK {
            return Err("html_too_deep");
        }
        match trafilatura::extract(html, &self.opts) {
            Ok(r) if !r.content_text.trim().is_empty() => Ok(html_to_text(&r.content_html)),
            Ok(_) | Err(TrafilaturaError::InsufficientContent { .. }) => Err("no_content"),
            Err(TrafilaturaError::TreeTooLarge(_)) => Err("tree_too_large"),
            Err(_) => Err("extract_error"),
        }
    }
}

/// Elements that start a new line of text.
const BLOCKS: [&str; 30] = [
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "table",
    "tr",
    "section",
    "article",
    "header",
    "footer",
    "figure",
    "figcaption",
    "hr",
    "br",
    "main",
    "aside",
    "details",
    "summary",
];

/// The extracted HTML as text, one block element per line (as Python trafilatura's text
/// output; the crate's own `content_text` puts the whole page on one line, which would blind
/// the line-based C4 and FineWeb filters). Whitespace inside a line is collapsed, except in
/// `<pre>`, whose lines are kept; table cells are joined by " | "; the text of a list item
/// (`li`, and `dt` and `dd`, which trafilatura also makes items) starts with "- ", as in
/// Python trafilatura's text (FineWeb's), unless the item starts with a block of its own.
pub fn html_to_text(html: &str) -> String {
    use scraper::node::Node;
    let doc = scraper::Html::parse_fragment(html);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    fn flush(line: &mut String, lines: &mut Vec<String>) {
        let t = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if !t.is_empty() {
            lines.push(t);
        }
        line.clear();
    }
    // Depth-first walk with explicit enter/leave events.
    let mut stack = vec![(doc.tree.root(), false)];
    let mut in_pre = 0usize;
    // In a list item whose text has not started yet.
    let mut item = false;
    while let Some((node, leaving)) = stack.pop() {
        match node.value() {
            Node::Element(e) => {
                let name = e.name();
                let block = BLOCKS.contains(&name);
                if leaving {
                    if name == "pre" {
                        in_pre -= 1;
                    }
                    if block {
                        flush(&mut line, &mut lines);
                    } else if matches!(name, "td" | "th") {
                        line.push_str(" | ");
                    }
                    continue;
                }
                if block {
                    flush(&mut line, &mut lines);
                    item = matches!(name, "li" | "dt" | "dd");
                }
                if name == "pre" {
                    in_pre += 1;
                }
                stack.push((node, true));
            }
            Node::Text(t) => {
                if item && !t.trim().is_empty() {
                    line.push_str("- ");
                    item = false;
                }
                if in_pre > 0 {
                    // Keep the code's own lines.
                    let mut parts = t.split('\n');
                    if let Some(first) = parts.next() {
                        line.push_str(first);
                    }
                    for p in parts {
                        flush(&mut line, &mut lines);
                        line.push_str(p);
                    }
                } else {
                    line.push_str(t);
                }
                continue;
            }
            _ => {
                if !leaving {
                    stack.push((node, true));
                } else {
                    continue;
                }
            }
        }
        for child in node.children().rev() {
            stack.push((child, false));
        }
    }
    flush(&mut line, &mut lines);
    // Cells joined by " | " leave a trailing separator.
    lines.iter().map(|l| l.trim_end_matches(" |").to_string()).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_article_and_drops_the_chrome() {
        let para = "The committee met on Tuesday to discuss the new library, which will open next spring \
                    with a reading room, a children's corner and a small cafe run by volunteers. ";
        let html = format!(
            "<html><head><title>News</title></head><body><nav><a href='/'>Home</a> <a href='/x'>About us</a></nav>\
             <article><h1>Library plans</h1><p>{para}</p><p>{para}</p><p>{para}</p></article>\
             <footer>Copyright 2024 Example Town. All rights reserved.</footer></body></html>"
        );
        let text = Extractor::default().extract(&html).unwrap();
        assert!(text.contains("The committee met on Tuesday"), "{text}");
        assert!(!text.contains("About us") && !text.contains("Copyright"), "{text}");
        assert_eq!(text.lines().count(), 4, "a line per heading and paragraph: {text}");
        assert_eq!(Extractor::default().extract("<html><body><nav>menu</nav></body></html>"), Err("no_content"));
        let e = Extractor { max_html_bytes: 10, ..Extractor::default() };
        assert_eq!(e.extract(&html), Err("html_too_large"));
    }

    /// The vendored crate's patches (vendor/README.md): text that the unpatched crate lost or
    /// glued together, on the shapes of real pages where it happened.
    #[test]
    fn patched_crate_keeps_tails_and_spaces() {
        let para = "The committee met on Tuesday to discuss the new library, which will open next spring \
                    with a reading room, a children's corner and a small cafe run by volunteers.";
        let page = |body: &str| {
            format!("<html><body><article><h1>Plans</h1><p>{para}</p><p>{para}</p>{body}</article></body></html>")
        };
        let x = Extractor::default();
        // Text after a blockquote, directly in its parent (newspaper4k's article_with_br page).
        let quote = x.extract(&page("<div><blockquote>\"We lied.\"<br>— Mike</blockquote> After the quote, the story goes on for a while.<br><br>Next.</div>")).unwrap();
        assert!(quote.contains("After the quote, the story goes on"), "{quote}");
        // Text after an orphan formatting element.
        let orphan = x
            .extract(&page(
                "<div>In 2002, the<br><em>LA Times</em> <a href='/x'>reported</a> on his role in the task force.</div>",
            ))
            .unwrap();
        assert!(orphan.contains("reported on his role in the task force."), "{orphan}");
        // Spaces around inline elements in a definition list (Sphinx's API pages; the crate, as
        // Python, starts a line at the first inline element of the item's paragraph).
        let dl = x.extract(&page("<dl><dt>f()</dt><dd><p>Writes the string to <em>file</em>, which defaults to <code>sys.stderr</code>. Done.</p></dd></dl>")).unwrap();
        assert!(dl.contains("file, which defaults to sys.stderr. Done."), "{dl}");
    }

    #[test]
    fn html_becomes_lines() {
        let html = "<h1>Title &amp; more</h1><p>One  <em>two</em>\nthree.</p><ul><li>a</li><li>b</li></ul>\
                    <pre>x = 1\ny = 2</pre><table><tr><td>c1</td><td>c2</td></tr></table><p>end<br>next</p>";
        assert_eq!(html_to_text(html), "Title & more\nOne two three.\n- a\n- b\nx = 1\ny = 2\nc1 | c2\nend\nnext");
        // Items as trafilatura writes them: "- " before an item's own text, not before a block.
        let html = "<dl><dt>\n<em>exception</em> E</dt><dd><p>Raised.</p></dd></dl><ol><li><a>x</a> y</li></ol>";
        assert_eq!(html_to_text(html), "- exception E\nRaised.\n- x y");
    }
}
