//! Fuzzes `ProtocolView::parse`, the replay's read of a stored protocol in place (`sverka results`,
//! `sverka publish`): arbitrary bytes never panic, and whenever it gives a view, the typed parse of
//! the same bytes (`serde_json::from_slice::<Submission>`, what the replay falls back to and what
//! it used before) succeeds with a protocol holding the same values, counts in the same order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sverka_model::protocol_view::ProtocolView;
use sverka_model::submission::Submission;

fuzz_target!(|data: &[u8]| {
    let Some(view) = ProtocolView::parse(data) else { return };
    let typed: Submission = match serde_json::from_slice(data) {
        Ok(typed) => typed,
        Err(error) => panic!("a view of bytes the typed parse refuses: {error}"),
    };
    assert_eq!(view.differs_from(&typed.payload), None, "the view and the typed parse differ");
});
