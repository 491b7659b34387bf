//! Fuzzes `ProtocolView::parse`, the replay's read of a stored protocol in place (`sverka results`,
//! `sverka publish`), and `SignedView::parse`, `sverka verify`'s stricter read of a published
//! one: arbitrary bytes never panic; whenever `ProtocolView::parse` gives a view, the typed parse
//! of the same bytes (`serde_json::from_slice::<Submission>`, what the replay falls back to and
//! what it used before) succeeds with a protocol holding the same values, counts in the same
//! order; whenever `SignedView::parse` gives one, `Submission::decode_signed` of the same bytes
//! (what `sverka verify` falls back to) accepts them with the same values, signed message and
//! signature, and the plain read gives the same protocol.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sverka_model::protocol_view::{ProtocolView, SignedView};
use sverka_model::submission::Submission;

fuzz_target!(|data: &[u8]| {
    if let Some(signed) = SignedView::parse(data) {
        let decoded = match Submission::decode_signed(data) {
            Ok(decoded) => decoded,
            Err(error) => panic!("a signed view of bytes decode_signed refuses: {error}"),
        };
        assert_eq!(signed.differs_from(&decoded), None, "the signed view and decode_signed differ");
        assert_eq!(ProtocolView::parse(data), Some(signed.protocol), "the two reads differ");
    }
    let Some(view) = ProtocolView::parse(data) else { return };
    let typed: Submission = match serde_json::from_slice(data) {
        Ok(typed) => typed,
        Err(error) => panic!("a view of bytes the typed parse refuses: {error}"),
    };
    assert_eq!(view.differs_from(&typed.payload), None, "the view and the typed parse differ");
});
