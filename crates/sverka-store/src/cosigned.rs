//! Witnessed checkpoints: the log's checkpoint with the witnesses' cosignature lines appended
//! (C2SP tlog-cosignature lines in the signed note, after the log's own signature), kept beside the
//! database so that `sverka serve` can serve them after a restart and `sverka publish` can publish
//! them.
//!
//! ```text
//! DIR/cosigned/latest   the newest checkpoint sent to the witnesses, with the cosignatures it got
//! DIR/cosigned/quorum   the newest checkpoint that got the quorum of cosignatures serve asked for
//! ```
//!
//! Each file is a complete signed note, replaced atomically (temporary file, fsync, rename, fsync
//! of the directory). The store does not judge cosignatures (it does not know the witness keys);
//! the server verifies each one before it gets here, and every verifier checks them again.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use sverka_tlog::{Checkpoint, Hash, Note};

use crate::error::StoreError;
use crate::store::{sync_dir, SignedCheckpoint, Store};

/// Which witnessed checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cosigned {
    /// The newest checkpoint sent to the witnesses, whatever they answered.
    Latest,
    /// The newest checkpoint that reached the quorum.
    Quorum,
}

impl Cosigned {
    fn file_name(self) -> &'static str {
        match self {
            Cosigned::Latest => "latest",
            Cosigned::Quorum => "quorum",
        }
    }
}

/// A checkpoint note with its cosignatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignedCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The signed note: the log's signature line, then one line per cosignature.
    pub note: String,
}

impl CosignedCheckpoint {
    /// Parses a signed checkpoint note (signatures are not verified here).
    pub fn parse(note: &str) -> Result<CosignedCheckpoint, String> {
        let parsed = Note::parse(note.as_bytes()).map_err(|e| e.to_string())?;
        let checkpoint = Checkpoint::parse(parsed.text()).map_err(|e| e.to_string())?;
        Ok(CosignedCheckpoint {
            size: checkpoint.size(),
            root: checkpoint.root(),
            note: note.to_owned(),
        })
    }
}

impl Store {
    fn cosigned_dir(&self) -> PathBuf {
        self.dir().join("cosigned")
    }

    /// Records `note` (a checkpoint this log signed, with cosignature lines) as the latest
    /// witnessed checkpoint, and as the latest with a quorum if `quorum`.
    pub fn put_cosigned(&self, note: &str, quorum: bool) -> Result<(), StoreError> {
        let parsed = CosignedCheckpoint::parse(note)
            .map_err(|e| StoreError::Corrupt(format!("a witnessed checkpoint: {e}")))?;
        // Almost always the latest checkpoint; the whole history only for an older one.
        let signed_here = |c: &SignedCheckpoint| {
            c.size == parsed.size && c.root == parsed.root && note.starts_with(&c.note)
        };
        let ours =
            signed_here(&self.checkpoint()?) || self.checkpoint_history()?.iter().any(signed_here);
        if !ours {
            return Err(StoreError::Corrupt(format!(
                "the witnessed checkpoint of size {} is not one this log signed",
                parsed.size
            )));
        }
        let dir = self.cosigned_dir();
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let mut kinds = vec![Cosigned::Latest];
        if quorum {
            kinds.push(Cosigned::Quorum);
        }
        for kind in kinds {
            let path = dir.join(kind.file_name());
            let temporary = dir.join(format!(".{}.tmp", kind.file_name()));
            let mut file =
                fs::File::create(&temporary).map_err(|e| StoreError::io(&temporary, e))?;
            file.write_all(note.as_bytes()).map_err(|e| StoreError::io(&temporary, e))?;
            file.sync_all().map_err(|e| StoreError::io(&temporary, e))?;
            fs::rename(&temporary, &path).map_err(|e| StoreError::io(&path, e))?;
        }
        sync_dir(&dir)
    }

    /// The witnessed checkpoint of that kind, if the server ever recorded one.
    pub fn cosigned(&self, kind: Cosigned) -> Result<Option<CosignedCheckpoint>, StoreError> {
        let path = self.cosigned_dir().join(kind.file_name());
        let note = match fs::read_to_string(&path) {
            Ok(note) => note,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        CosignedCheckpoint::parse(&note)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))
    }
}
