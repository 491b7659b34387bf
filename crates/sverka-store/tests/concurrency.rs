//! Many threads submitting at once: every acknowledged submission is in the log exactly once, at
//! the index its receipt names, and the signed checkpoint covers them all.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use sverka_store::{Config, Receipt};

/// Receipts with the bytes they acknowledge.
type Acknowledged = Vec<(Receipt, Vec<u8>)>;

fn many_threads_each_acknowledged_entry_is_present_exactly_once(backend: &Backend) {
    let temp = tempfile::tempdir().unwrap();
    let store =
        backend.init(&temp.path().join("data"), Config { max_batch: 64, ..Config::default() });
    let acknowledged: Arc<Mutex<Acknowledged>> = Arc::default();
    let threads: Vec<_> = (0..8u8)
        .map(|thread| {
            let store = store.clone();
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                for round in 0..25u64 {
                    // Four of this thread's own, in sequence order, plus one that another thread
                    // already had acknowledged: the same bytes from another sender.
                    let mut batch: Vec<Vec<u8>> =
                        (0..4).map(|i| observer_protocol(thread, round * 4 + i + 1)).collect();
                    let repeat = acknowledged.lock().unwrap().last().cloned();
                    if let Some((_, bytes)) = &repeat {
                        batch.push(bytes.clone());
                    }
                    let answers = store.submit_batch(batch.clone());
                    for (bytes, answer) in batch.into_iter().zip(answers) {
                        let receipt = answer.expect("every submission here is valid");
                        if let Some((first, repeated)) = &repeat {
                            if *repeated == bytes {
                                assert_eq!((receipt.index, receipt.new), (first.index, false));
                            }
                        }
                        acknowledged.lock().unwrap().push((receipt, bytes));
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let new: Vec<_> = acknowledged.iter().filter(|(r, _)| r.new).collect();
    assert_eq!(store.tree_size().unwrap(), 1 + 8 * 25 * 4);
    assert_eq!(new.len(), 8 * 25 * 4, "each distinct submission was new exactly once");
    let checkpoint = store.checkpoint_now().unwrap();
    assert_eq!(checkpoint.size, 1 + 8 * 25 * 4);
    assert_log_sound(&store, &acknowledged);
}

both_backends!(many_threads_each_acknowledged_entry_is_present_exactly_once,);
