//! Fuzzes the tlog-tiles path parser: arbitrary strings never panic, and every accepted path is
//! the canonical encoding of what it parsed to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sverka_tlog::tile::{parse_path, TilePath};

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    match parse_path(path) {
        Ok(TilePath::Hash(tile)) => assert_eq!(tile.path(), path),
        Ok(TilePath::Entries(bundle)) => assert_eq!(bundle.path(), path),
        Err(_) => {}
    }
});
