//! Character-set detection and decoding of HTML bytes, in the order browsers use (WHATWG
//! "determine the character encoding", simplified): byte-order mark, the HTTP charset, a
//! `<meta>` charset in the first 1024 bytes, valid UTF-8, and else a statistical guess
//! (`chardetng`, Firefox's detector; datatrove uses cchardet there).

use encoding_rs::{Encoding, UTF_8};

/// A page's text and how it was decoded.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    /// Some bytes were invalid in that encoding and became U+FFFD.
    pub had_errors: bool,
}

/// Decodes `bytes`, using `http_charset` (the Content-Type's charset parameter) if it names
/// a known encoding.
pub fn decode(bytes: &[u8], http_charset: Option<&str>) -> Decoded {
    let encoding = detect(bytes, http_charset);
    let (text, encoding, had_errors) = encoding.decode(bytes);
    Decoded { text: text.into_owned(), encoding, had_errors }
}

fn detect(bytes: &[u8], http_charset: Option<&str>) -> &'static Encoding {
    if let Some((enc, _)) = Encoding::for_bom(bytes) {
        return enc;
    }
    let label = |l: &str| Encoding::for_label(l.trim().trim_matches(['"', '\'']).as_bytes());
    if let Some(enc) = http_charset.and_then(label) {
        return enc;
    }
    if let Some(enc) = meta_charset(&bytes[..bytes.len().min(1024)]).and_then(|l| label(&l)) {
        // A page declaring UTF-16 in ASCII-compatible bytes means UTF-8 (WHATWG), which is
        // what `output_encoding` maps UTF-16 to.
        return enc.output_encoding();
    }
    if std::str::from_utf8(bytes).is_ok() {
        return UTF_8;
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    detector.guess(None, chardetng::Utf8Detection::Allow)
}

/// The value after the first `charset=` in a `<meta` tag of `head`, if any.
fn meta_charset(head: &[u8]) -> Option<String> {
    let lower = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&lower[from..], b"<meta") {
        let tag_start = from + i;
        let tag_end = lower[tag_start..].iter().position(|&b| b == b'>').map_or(lower.len(), |e| tag_start + e);
        let tag = &lower[tag_start..tag_end];
        if let Some(c) = memchr::memmem::find(tag, b"charset=") {
            let value: Vec<u8> = tag[c + 8..]
                .iter()
                .copied()
                .skip_while(|&b| b == b'"' || b == b'\'' || b == b' ')
                .take_while(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':' || b == b'.')
                .collect();
            if !value.is_empty() {
                return Some(String::from_utf8_lossy(&value).into_owned());
            }
        }
        from = tag_end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_declared_then_detected_encoding() {
        // "café" in windows-1252, declared by HTTP.
        let d = decode(b"caf\xe9", Some("windows-1252"));
        assert_eq!((d.text.as_str(), d.had_errors), ("café", false));
        // Declared by <meta>.
        let d = decode(b"<meta charset=\"iso-8859-1\"><p>caf\xe9", None);
        assert_eq!(d.encoding.name(), "windows-1252");
        assert!(d.text.ends_with("café"));
        let d = decode(b"<meta http-equiv=Content-Type content='text/html; charset=Shift_JIS'>", None);
        assert_eq!(d.encoding.name(), "Shift_JIS");
        // Undeclared valid UTF-8, and a BOM beating a wrong declaration.
        assert_eq!(decode("naïve".as_bytes(), None).text, "naïve");
        assert_eq!(decode(b"\xef\xbb\xbfhi", Some("latin1")).text, "hi");
        // Undeclared, not UTF-8: guessed (here a legacy single-byte encoding), no U+FFFD.
        let d = decode("Größe und Maße".encode_utf16().map(|c| c as u8).collect::<Vec<u8>>().as_slice(), None);
        assert!(!d.had_errors && d.text.contains("Gr"));
        // An unknown label falls through to detection; invalid UTF-8 declared as UTF-8 is
        // decoded with replacement characters and reported.
        assert_eq!(decode(b"plain", Some("no-such-charset")).text, "plain");
        let d = decode(b"ok \xff\xfe bad", Some("utf-8"));
        assert!(d.had_errors && d.text.contains('\u{FFFD}'));
    }
}
