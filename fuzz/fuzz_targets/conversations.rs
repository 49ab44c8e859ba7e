//! Conversation files (OpenAI chat messages and the other formats `dataset` reads) and
//! preference pairs (TRL's formats), strict and lenient: an error or counted skips naming the
//! line, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for strict in [false, true] {
        let _ = minichat_chat::dataset::read(&text, "fuzz.jsonl", strict);
        let _ = minichat_chat::preference::read(&text, "fuzz.jsonl", strict);
    }
});
