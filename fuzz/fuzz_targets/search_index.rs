//! The search index file (`minichat data index`): magic, checksum and varint-coded postings;
//! a damaged file is an error, never a panic or an out-of-bounds read. The checksum is
//! recomputed here half the time, so that the parser behind it is reached.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = minichat_data::index::Index::from_bytes(data, "fuzz.idx");
    if data.len() >= 12 && data[0] & 1 == 1 {
        let mut fixed = b"MCBM25v1".to_vec();
        fixed.extend_from_slice(&data[8..]);
        let crc = crc32fast::hash(&fixed);
        fixed.extend_from_slice(&crc.to_le_bytes());
        if let Ok(index) = minichat_data::index::Index::from_bytes(&fixed, "fuzz.idx") {
            let _ = index.search("the python module", 3);
        }
    }
});
