//! Fuzzes `ProtocolView::parse`, the replay's read of a stored protocol in place (`sverka results`,
//! `sverka publish`): arbitrary bytes never panic, and whenever it gives a view, the typed parse of
//! the same bytes (`serde_json::from_slice::<Submission>`, what the replay falls back to and what
//! it used before) succeeds with a protocol holding the same values, counts in the same order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sverka_model::protocol_view::ProtocolView;
use sverka_model::submission::{Body, Submission};

fuzz_target!(|data: &[u8]| {
    let Some(view) = ProtocolView::parse(data) else { return };
    let typed: Submission = match serde_json::from_slice(data) {
        Ok(typed) => typed,
        Err(error) => panic!("a view of bytes the typed parse refuses: {error}"),
    };
    let payload = &typed.payload;
    let Body::Protocol(protocol) = &payload.body else { panic!("a view of a non-protocol") };
    assert_eq!(view.v, payload.v);
    assert_eq!(view.election, payload.election);
    assert_eq!(view.signer, payload.signer);
    assert_eq!(view.seq, payload.seq);
    assert_eq!(view.station, protocol.station);
    assert_eq!(view.contest, protocol.contest);
    assert_eq!(view.source, protocol.source);
    assert_eq!(view.supersedes, protocol.supersedes.as_ref().map(|s| (s.index, s.reason)));
    let same = |view: sverka_model::protocol_view::CountsView<'_>,
                typed: &std::collections::BTreeMap<String, u64>| {
        view.iter().eq(typed.iter().map(|(id, value)| (id.as_str(), *value)))
    };
    assert!(same(view.lines, &protocol.lines), "lines differ");
    assert!(same(view.votes, &protocol.votes), "votes differ");
    assert_eq!(view.preferences.iter().count(), protocol.preferences.len());
    for ((party, counts), (typed_party, typed_counts)) in
        view.preferences.iter().zip(&protocol.preferences)
    {
        assert_eq!(party, typed_party);
        assert!(same(counts, typed_counts), "preferences of {party} differ");
    }
});
