//! The calculator tool's expression parser and exact arithmetic on what a model writes: a value
//! or an error, never a panic, a hang or a huge allocation (powers and factorials are bounded).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(expr) = std::str::from_utf8(data) {
        let _ = minichat_chat::tools::calculator::evaluate(expr);
    }
});
