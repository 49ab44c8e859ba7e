//! A run's config TOML (`config.toml`, `--config`) and the model it sizes: a config that
//! validates, or an error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(config) = minichat_train::config::TrainConfig::from_toml(text, "fuzz.toml") {
            let _ = config.model_config(256);
        }
    }
});
