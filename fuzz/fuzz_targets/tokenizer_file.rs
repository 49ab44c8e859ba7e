//! minichat's tokenizer-file parser on arbitrary bytes; a file that loads must encode and
//! decode arbitrary text without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use minichat_tokenizer::tokenizer_file;

fuzz_target!(|data: &[u8]| {
    let mut file = b"minichat-tokenizer 1\n".to_vec();
    file.extend_from_slice(data);
    if let Ok(tok) = tokenizer_file::parse(&file, "fuzz") {
        let text = String::from_utf8_lossy(data);
        let ids = tok.encode_ordinary(&text);
        assert_eq!(tok.decode_bytes(&ids).unwrap(), text.as_bytes());
    }
});
