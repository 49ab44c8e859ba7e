//! A bound on the HTML parser's work before it runs. html5ever, like every HTML5 tree builder,
//! looks down the stack of open elements at each block start tag ("is there a `p` in button
//! scope?"), so a page of deeply nested elements costs the square of its depth: 40,000 nested
//! `<div>`s (440 KB) take 2.2 s to parse, 100,000 take 14 s, and the 8 MiB a page may have
//! would take half an hour. Browsers cap the depth instead (Blink at 512). `scope_work` counts
//! those steps with a linear scan of the tags, and `Extractor::extract` refuses a page over
//! `MAX_SCOPE_WORK` (`html_too_deep`) before parsing it.

/// About 0.15 s of html5ever's scope checks on the build machine (2.8 ns a step, measured on
/// nested `<div>`s). Real pages are far below: the demo crawl's largest is 150,816 steps
/// (`tests/limits.rs`).
pub const MAX_SCOPE_WORK: u64 = 50_000_000;

/// Start tags after which html5ever looks for a `p`, list item or form in scope.
const SCOPE_CHECKED: [&[u8]; 31] = [
    b"address",
    b"article",
    b"aside",
    b"blockquote",
    b"center",
    b"details",
    b"dialog",
    b"dir",
    b"div",
    b"dl",
    b"dd",
    b"dt",
    b"fieldset",
    b"figcaption",
    b"figure",
    b"footer",
    b"form",
    b"h1",
    b"h2",
    b"h3",
    b"h4",
    b"h5",
    b"h6",
    b"header",
    b"hgroup",
    b"li",
    b"main",
    b"menu",
    b"nav",
    b"ol",
    b"p",
];

/// Elements that never stay open: void elements, and those whose end tag may be left out (the
/// parser closes them itself), which a count of start and end tags would otherwise pile up.
const NOT_STACKED: [&[u8]; 32] = [
    b"area",
    b"base",
    b"br",
    b"col",
    b"embed",
    b"hr",
    b"img",
    b"input",
    b"link",
    b"meta",
    b"param",
    b"source",
    b"track",
    b"wbr",
    b"p",
    b"li",
    b"dt",
    b"dd",
    b"tr",
    b"td",
    b"th",
    b"option",
    b"optgroup",
    b"thead",
    b"tbody",
    b"tfoot",
    b"colgroup",
    b"rb",
    b"rt",
    b"rp",
    b"html",
    b"body",
];

/// Elements whose content is text, not tags.
const RAW_TEXT: [&[u8]; 5] = [b"script", b"style", b"textarea", b"title", b"xmp"];

/// The number of stack entries html5ever's scope checks would look at for `html`, estimated from
/// its tags: for each block start tag, the depth of the elements open at that point.
pub fn scope_work(html: &[u8]) -> u64 {
    let (mut depth, mut work) = (0u64, 0u64);
    let mut i = 0;
    while let Some(lt) = memchr::memchr(b'<', &html[i..]) {
        let at = i + lt + 1;
        if html[at..].starts_with(b"!--") {
            match memchr::memmem::find(&html[at..], b"-->") {
                Some(end) => i = at + end + 3,
                None => break,
            }
            continue;
        }
        let closing = html.get(at) == Some(&b'/');
        let name_at = at + usize::from(closing);
        let len = html[name_at..].iter().take_while(|b| b.is_ascii_alphanumeric()).count();
        let Some(gt) = memchr::memchr(b'>', &html[name_at..]) else { break };
        i = name_at + gt + 1;
        if len == 0 || len > 10 {
            continue;
        }
        let mut name = [0u8; 10];
        name[..len].copy_from_slice(&html[name_at..name_at + len]);
        name[..len].make_ascii_lowercase();
        let name = &name[..len];
        let stacked = !NOT_STACKED.contains(&name);
        if closing {
            if stacked {
                depth = depth.saturating_sub(1);
            }
            continue;
        }
        if RAW_TEXT.contains(&name) {
            // Skip to the matching end tag (or the end of the page).
            let rest = &html[i..];
            let end = (0..rest.len())
                .filter(|&k| rest[k] == b'<' && rest.get(k + 1) == Some(&b'/'))
                .find(|&k| rest[k + 2..].len() >= len && rest[k + 2..k + 2 + len].eq_ignore_ascii_case(name));
            // Past its end tag, which closes nothing that was counted.
            i = match end.and_then(|k| memchr::memchr(b'>', &rest[k..]).map(|g| i + k + g + 1)) {
                Some(after) => after,
                None => break,
            };
            continue;
        }
        if SCOPE_CHECKED.contains(&name) {
            work += depth;
        }
        if stacked && html[i - 2] != b'/' {
            depth += 1;
        }
    }
    work
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_depth_at_each_block_start_tag() {
        // div(0) > div(1) > p(2): 0 + 1 + 2.
        assert_eq!(scope_work(b"<div><div><p>x</p></div></div>"), 3);
        // Closed siblings stay shallow; unclosed p and li, void and self-closing tags pile up nothing.
        assert_eq!(scope_work(b"<div></div><div></div><p>a<p>b<li>c<br><img src=x><span/><div></div>"), 0);
        // Tags inside comments and scripts are not tags.
        assert_eq!(scope_work(b"<div><!-- <div><div> --><script>'<div><div>'</script><div></div></div>"), 1);
        let n = 1000u64;
        let deep = format!("{}{}", "<div>".repeat(n as usize), "</div>".repeat(n as usize));
        assert_eq!(scope_work(deep.as_bytes()), n * (n - 1) / 2);
        // Broken markup ends the scan, never panics.
        assert_eq!(scope_work(b"<div><div"), 0);
        assert_eq!(scope_work(b"<</</><!--"), 0);
    }
}
