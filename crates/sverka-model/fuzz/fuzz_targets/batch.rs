//! Fuzzes the splitter of `POST /api/v1/submissions/batch` bodies (`sverka_model::batch::split`):
//! arbitrary bytes never panic; an accepted body gives at least one item, each a non-empty slice
//! of the body itself; JSON-lines items hold no line break, array items are JSON values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sverka_model::batch::split;

fuzz_target!(|data: &[u8]| {
    let Ok(items) = split(data) else { return };
    assert!(!items.is_empty());
    let body = data.as_ptr_range();
    let array = data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    for item in items {
        assert!(!item.is_empty());
        let range = item.as_ptr_range();
        assert!(body.start <= range.start && range.end <= body.end, "an item outside the body");
        if array {
            assert!(serde_json::from_slice::<serde::de::IgnoredAny>(item).is_ok());
        } else {
            assert!(!item.contains(&b'\n'));
            assert!(!item.iter().all(u8::is_ascii_whitespace));
        }
    }
});
