//! The WARC reader and page parser on arbitrary bytes (plain, or behind a gzip/zstd magic):
//! no panic, no hang, no unbounded memory.
#![no_main]
use libfuzzer_sys::fuzz_target;
use minichat_data::page;
use minichat_data::stats::Counts;
use minichat_data::warc::WarcReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = WarcReader::from_bytes(data.to_vec(), 1 << 20) else { return };
    let mut counts = Counts::default();
    while let Ok(Some(rec)) = reader.next_record() {
        let _ = page::from_record(&rec, &mut counts);
    }
});
