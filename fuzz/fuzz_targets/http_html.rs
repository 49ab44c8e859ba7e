//! An HTTP response as a WARC record holds it, to a page's text: the message parser, the
//! transfer and content codings (chunked, gzip, the fallbacks of `http`), charset detection and
//! decoding, and main-text extraction. No panic, no hang; output is valid UTF-8 by type.
#![no_main]
use libfuzzer_sys::fuzz_target;
use minichat_data::stats::Counts;
use minichat_data::{charset, extract::Extractor, http};

fuzz_target!(|data: &[u8]| {
    let mut counts = Counts::default();
    let body = match http::parse(data) {
        Some(resp) => match http::payload(&resp, &mut counts) {
            Ok(p) => p,
            Err(_) => return,
        },
        None => data.to_vec(),
    };
    let decoded = charset::decode(&body, None);
    let _ = Extractor::default().extract(&decoded.text);
});
