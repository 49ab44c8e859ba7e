//! The safetensors parser (header JSON, dtypes, shapes and offsets) and Hugging Face
//! `config.json` on arbitrary bytes: an error, never a panic or an allocation the input does
//! not pay for.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = minichat_model::safetensors::parse(data, "fuzz.safetensors");
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(config) = minichat_model::config::ModelConfig::from_hf_json(text) {
            let _ = config.validate();
        }
    }
});
