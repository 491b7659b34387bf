//! Witnessed checkpoints kept by the store (`DIR/cosigned/`): only a checkpoint this log signed,
//! with lines appended after the log's own, is recorded; `sverka publish` writes it as
//! `checkpoint` when it is the latest, and the log's note alone otherwise.

mod common;

use common::*;
use sverka_store::{Config, Cosigned, PublishOptions, StoreError};
use sverka_tlog::{Checkpoint, Cosigner};

fn a_witnessed_checkpoint_is_recorded_only_if_the_log_signed_it_and_is_published(
    backend: &Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend.init(&dir.path().join("data"), Config::default());
    store.submit(observer_protocol(0, 1)).unwrap();
    let signed_checkpoint = store.checkpoint_now().unwrap();
    assert_eq!(store.cosigned(Cosigned::Latest).unwrap(), None);

    let witness = Cosigner::from_seed("witness.example", &[5; 32]).unwrap();
    let line =
        witness.cosign_text(&checkpoint_text(&signed_checkpoint.note), 1_700_000_000).unwrap();
    let witnessed = format!("{}{}", signed_checkpoint.note, line.to_line());
    store.put_cosigned(&witnessed, false).unwrap();
    let latest = store.cosigned(Cosigned::Latest).unwrap().unwrap();
    assert_eq!((latest.size, latest.note.as_str()), (signed_checkpoint.size, witnessed.as_str()));
    assert_eq!(
        store.cosigned(Cosigned::Quorum).unwrap(),
        None,
        "below quorum: not recorded as such"
    );

    let public = dir.path().join("public");
    store.publish(&public, &PublishOptions::default()).unwrap();
    assert_eq!(std::fs::read_to_string(public.join("checkpoint")).unwrap(), witnessed);

    // A note the log never signed (another root for the size) is refused and changes nothing.
    let other =
        Checkpoint::new(store.origin(), signed_checkpoint.size, sverka_tlog::leaf_hash(b"x"));
    let log_key = std::fs::read_to_string(dir.path().join("data/keys/log.key")).unwrap();
    let log = sverka_tlog::Ed25519Signer::from_skey(log_key.trim()).unwrap();
    let forged = String::from_utf8(other.unwrap().sign(&log).unwrap().to_bytes()).unwrap();
    assert!(matches!(store.put_cosigned(&forged, true), Err(StoreError::Corrupt(_))));
    assert_eq!(store.cosigned(Cosigned::Latest).unwrap().unwrap().note, witnessed);
    assert_eq!(store.cosigned(Cosigned::Quorum).unwrap(), None);
}

fn checkpoint_text(note: &str) -> String {
    sverka_tlog::Note::parse(note.as_bytes()).unwrap().text().to_owned()
}

both_backends!(a_witnessed_checkpoint_is_recorded_only_if_the_log_signed_it_and_is_published,);
