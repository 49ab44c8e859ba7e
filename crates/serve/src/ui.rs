//! The web page at `/`: plain HTML, CSS and JavaScript modules embedded in the binary (no build
//! step, nothing loaded from elsewhere, so it works offline), served with a strict
//! Content-Security-Policy: scripts, styles and requests only from this server, no inline
//! script, no plugins, no framing. The page renders what a model or a user writes through
//! `textContent` only (`ui/markdown.js`), so none of it becomes markup. It holds no secret
//! and is served without the API key; its requests carry the key the user gives it.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The page's files: name, content type, content.
const FILES: [(&str, &str, &str); 10] = [
    ("index.html", "text/html; charset=utf-8", include_str!("../ui/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../ui/app.js")),
    ("sse.js", "text/javascript; charset=utf-8", include_str!("../ui/sse.js")),
    ("markdown.js", "text/javascript; charset=utf-8", include_str!("../ui/markdown.js")),
    ("views.js", "text/javascript; charset=utf-8", include_str!("../ui/views.js")),
    ("attention.js", "text/javascript; charset=utf-8", include_str!("../ui/attention.js")),
    ("lens.js", "text/javascript; charset=utf-8", include_str!("../ui/lens.js")),
    ("diagram.js", "text/javascript; charset=utf-8", include_str!("../ui/diagram.js")),
    ("training.js", "text/javascript; charset=utf-8", include_str!("../ui/training.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("../ui/style.css")),
];

/// Only this server's own files and API; nothing inline, nothing embedded, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                       img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Whether a path is the page's (served without the API key).
pub fn is_page(path: &str) -> bool {
    path == "/" || path.starts_with("/ui/")
}

pub async fn index() -> Response {
    file("index.html")
}

pub async fn asset(Path(name): Path<String>) -> Response {
    file(&name)
}

fn file(name: &str) -> Response {
    let Some(&(_, kind, body)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // The page changes with the binary: always ask again (it is small, and served locally).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_writes_no_markup_from_strings() {
        // What keeps a model's or a user's text from running: no HTML parsing of strings.
        for (name, _, body) in FILES.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            for bad in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
                assert!(!body.contains(bad), "{name} uses {bad}");
            }
        }
        let index = FILES[0].2;
        let handler = index.split(" on").skip(1).any(|rest| {
            let name = rest.chars().take_while(char::is_ascii_alphabetic).count();
            name > 0 && rest[name..].starts_with('=')
        });
        assert!(!index.contains("<script>") && !handler, "no inline script or handlers");
    }
}
