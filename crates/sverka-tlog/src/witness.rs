//! C2SP tlog-witness: the `add-checkpoint` request body, the witness's decision on it, and the
//! witness's memory of what it cosigned, all pure (the HTTP service and the state file live in
//! `sverka-server`).
//!
//! Implemented: c2sp.org/tlog-witness as published in C2SP/C2SP `tlog-witness.md` (commit
//! 055270b5, the first version with `cosignature/v1` and `text/x.tlog.size`), §"add-checkpoint":
//!
//! - the body is `old <size>\n`, at most 63 base64 consistency proof lines, an empty line and the
//!   signed checkpoint ([`AddCheckpoint`]);
//! - an unknown origin is 404, no trusted signature 403, an old size above the checkpoint's 400,
//!   an old size other than the last cosigned size 409 with that size, a bad proof 422, the same
//!   size with another root 409 ([`Refusal::http_status`]);
//! - otherwise the witness records the checkpoint and answers with its cosignature lines
//!   (`cosignature/v1`, [`crate::cosignature`]).
//!
//! **Invariant: never two roots for one size, never backwards.** [`Witness::decide`] accepts a
//! checkpoint only if it is the remembered one or a consistent extension of it, so a witness
//! whose state is kept durably cosigns at most one root per size and never a smaller tree.

use std::collections::BTreeMap;

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::cosignature::{CosignatureError, Cosigner};
use crate::hash::{Hash, EMPTY_ROOT};
use crate::merkle::verify_consistency;
use crate::note::{Ed25519Verifier, KeyError, Note, NoteError, VerifierSet};

/// Most consistency proof lines a request may carry (tlog-witness §"add-checkpoint").
pub const MAX_PROOF_LINES: usize = 63;

/// The content type of a 409 answer's body, the witness's size (tlog-witness §"add-checkpoint").
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The first line of the state text; the version changes if the format does.
pub const STATE_FORMAT: &str = "sverka-witness-state/v1";

/// Why a request body is not an `add-checkpoint` request.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum RequestError {
    #[error("the body is not UTF-8 text")]
    NotText,
    #[error("the first line is not `old <size>` with a decimal size without leading zeros")]
    BadOldSize,
    #[error("consistency proof line {0} is not base64 of a 32-byte hash")]
    BadProofLine(usize),
    #[error("more than {MAX_PROOF_LINES} consistency proof lines")]
    ProofTooLong,
    #[error("no empty line between the proof and the checkpoint")]
    NoCheckpoint,
}

/// One `add-checkpoint` request: the size the client believes the witness has, the consistency
/// proof from it, and the signed checkpoint (note bytes, signatures included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    old_size: u64,
    proof: Vec<Hash>,
    checkpoint: Vec<u8>,
}

impl AddCheckpoint {
    /// A request; at most [`MAX_PROOF_LINES`] proof hashes.
    pub fn new(
        old_size: u64,
        proof: Vec<Hash>,
        checkpoint: Vec<u8>,
    ) -> Result<AddCheckpoint, RequestError> {
        if proof.len() > MAX_PROOF_LINES {
            return Err(RequestError::ProofTooLong);
        }
        Ok(AddCheckpoint { old_size, proof, checkpoint })
    }

    /// Parses a request body strictly.
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, RequestError> {
        let text = std::str::from_utf8(body).map_err(|_| RequestError::NotText)?;
        let (first, mut rest) = text.split_once('\n').ok_or(RequestError::BadOldSize)?;
        let old_size =
            first.strip_prefix("old ").and_then(parse_size).ok_or(RequestError::BadOldSize)?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or(RequestError::NoCheckpoint)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(RequestError::ProofTooLong);
            }
            let hash = Hash::from_base64(line).ok_or(RequestError::BadProofLine(proof.len()))?;
            proof.push(hash);
        }
        Ok(AddCheckpoint { old_size, proof, checkpoint: rest.as_bytes().to_vec() })
    }

    /// The request body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            out.push_str(&hash.to_base64());
            out.push('\n');
        }
        out.push('\n');
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.checkpoint);
        bytes
    }

    /// The size the client says the witness last cosigned.
    pub fn old_size(&self) -> u64 {
        self.old_size
    }

    /// The consistency proof from the old size to the checkpoint.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The signed checkpoint's bytes.
    pub fn checkpoint(&self) -> &[u8] {
        &self.checkpoint
    }
}

/// ASCII decimal, no sign, no leading zeros except `0` itself.
fn parse_size(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

/// What a witness remembers of one log: the last checkpoint it cosigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogState {
    pub size: u64,
    pub root: Hash,
}

/// Why a state text was not read.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum StateError {
    #[error("the state does not start with the line {STATE_FORMAT:?}")]
    UnknownFormat,
    #[error("state line {line}: {reason}")]
    BadLine { line: usize, reason: &'static str },
}

/// The last cosigned checkpoint of every log, by origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessState {
    logs: BTreeMap<String, LogState>,
}

impl WitnessState {
    /// Nothing cosigned yet.
    pub fn new() -> WitnessState {
        WitnessState::default()
    }

    /// The last cosigned checkpoint of `origin`.
    pub fn get(&self, origin: &str) -> Option<LogState> {
        self.logs.get(origin).copied()
    }

    /// Records `state` as the last cosigned checkpoint of `origin`.
    pub fn set(&mut self, origin: &str, state: LogState) {
        self.logs.insert(origin.to_owned(), state);
    }

    /// The logs remembered, by origin.
    pub fn logs(&self) -> impl Iterator<Item = (&str, LogState)> {
        self.logs.iter().map(|(origin, state)| (origin.as_str(), *state))
    }

    /// The state as text: the line `sverka-witness-state/v1`, then one line per log, sorted by
    /// origin: `<size> <base64 root> <origin>` (origins have no control characters).
    pub fn to_text(&self) -> String {
        let mut text = format!("{STATE_FORMAT}\n");
        for (origin, state) in &self.logs {
            text.push_str(&format!("{} {} {origin}\n", state.size, state.root.to_base64()));
        }
        text
    }

    /// Parses [`WitnessState::to_text`]'s format strictly.
    pub fn parse(text: &str) -> Result<WitnessState, StateError> {
        let body = text
            .strip_prefix(STATE_FORMAT)
            .and_then(|rest| rest.strip_prefix('\n'))
            .ok_or(StateError::UnknownFormat)?;
        let mut state = WitnessState::new();
        for (offset, line) in body.split_terminator('\n').enumerate() {
            let bad = |reason| StateError::BadLine { line: offset + 2, reason };
            let mut parts = line.splitn(3, ' ');
            let (Some(size), Some(root), Some(origin)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("expected `<size> <root> <origin>`"));
            };
            let size = parse_size(size).ok_or_else(|| bad("size is not a decimal number"))?;
            let root =
                Hash::from_base64(root).ok_or_else(|| bad("root is not base64 of 32 bytes"))?;
            if origin.is_empty() || origin.chars().any(char::is_control) {
                return Err(bad("origin is empty or has a control character"));
            }
            if state.logs.insert(origin.to_owned(), LogState { size, root }).is_some() {
                return Err(bad("origin appears twice"));
            }
        }
        if !body.is_empty() && !body.ends_with('\n') {
            return Err(StateError::BadLine {
                line: body.lines().count() + 1,
                reason: "no final newline",
            });
        }
        Ok(state)
    }
}

/// Why a witness refused a request, with the HTTP status tlog-witness assigns to it.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum Refusal {
    /// 400: not an `add-checkpoint` body.
    #[error("malformed request: {0}")]
    Malformed(#[from] RequestError),
    /// 400: the checkpoint is not a signed note holding a checkpoint.
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(CheckpointError),
    /// 404: the witness follows no log with this origin.
    #[error("unknown log {0:?}")]
    UnknownLog(String),
    /// 403: no signature by a key the witness trusts for this origin verifies.
    #[error("the checkpoint of {origin:?} carries no valid signature by a trusted log key")]
    BadSignature { origin: String },
    /// 400: the old size is above the checkpoint's size.
    #[error("old size {old_size} is above the checkpoint size {size}")]
    OldSizeAboveSize { old_size: u64, size: u64 },
    /// 409: the old size is not the size the witness last cosigned.
    #[error("old size {old_size} is not the size {witness_size} this witness last cosigned")]
    StaleOldSize { old_size: u64, witness_size: u64 },
    /// 409: the checkpoint has the size the witness last cosigned but another root (a fork).
    #[error("size {size} was cosigned with root {cosigned}, not {offered}")]
    ConflictingRoot { size: u64, cosigned: Hash, offered: Hash },
    /// 422: the consistency proof does not connect the old checkpoint to the new one.
    #[error("the consistency proof from size {old_size} to {size} does not verify")]
    BadProof { old_size: u64, size: u64 },
}

impl Refusal {
    /// The HTTP status tlog-witness requires for this refusal.
    pub fn http_status(&self) -> u16 {
        match self {
            Refusal::Malformed(_)
            | Refusal::BadCheckpoint(_)
            | Refusal::OldSizeAboveSize { .. } => 400,
            Refusal::UnknownLog(_) => 404,
            Refusal::BadSignature { .. } => 403,
            Refusal::StaleOldSize { .. } | Refusal::ConflictingRoot { .. } => 409,
            Refusal::BadProof { .. } => 422,
        }
    }

    /// For a 409, the size the witness last cosigned (the body, `text/x.tlog.size`).
    pub fn witness_size(&self) -> Option<u64> {
        match self {
            Refusal::StaleOldSize { witness_size, .. } => Some(*witness_size),
            Refusal::ConflictingRoot { size, .. } => Some(*size),
            _ => None,
        }
    }

    /// Whether the request carried a valid log signature, so it is evidence against the log
    /// (a fork or a bad proof), worth keeping.
    pub fn is_evidence(&self) -> bool {
        matches!(self, Refusal::ConflictingRoot { .. } | Refusal::BadProof { .. })
    }
}

/// A checkpoint the witness may cosign: it and the state to record before answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub checkpoint: Checkpoint,
    /// The checkpoint's note text, which the cosignature signs.
    pub text: String,
    pub new_state: LogState,
}

/// Why a witness could not be set up.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum WitnessError {
    #[error("log key: {0}")]
    Key(#[from] KeyError),
    #[error("cosigning: {0}")]
    Cosignature(#[from] CosignatureError),
}

/// A witness: its cosigning key and the log keys it trusts, by origin (a log's origin is its key
/// name, as tlog-checkpoint recommends).
pub struct Witness {
    cosigner: Cosigner,
    logs: BTreeMap<String, VerifierSet>,
}

impl Witness {
    /// A witness cosigning with `cosigner` for the logs of these keys (several keys may share an
    /// origin: a log rotating its key).
    pub fn new(
        cosigner: Cosigner,
        log_keys: Vec<Ed25519Verifier>,
    ) -> Result<Witness, WitnessError> {
        let mut logs: BTreeMap<String, VerifierSet> = BTreeMap::new();
        for key in log_keys {
            let origin = crate::note::NoteVerifier::name(&key).to_owned();
            logs.entry(origin).or_default().add(Box::new(key))?;
        }
        Ok(Witness { cosigner, logs })
    }

    /// The cosigning key.
    pub fn cosigner(&self) -> &Cosigner {
        &self.cosigner
    }

    /// The origins followed.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// The checks of tlog-witness §"add-checkpoint", in its order: may `request` be cosigned given
    /// what the witness remembers (`state`)?
    pub fn decide(
        &self,
        request: &AddCheckpoint,
        state: &WitnessState,
    ) -> Result<Accepted, Refusal> {
        let note = Note::parse(request.checkpoint())
            .map_err(|e| Refusal::BadCheckpoint(CheckpointError::Note(e)))?;
        let checkpoint = Checkpoint::parse(note.text()).map_err(Refusal::BadCheckpoint)?;
        let origin = checkpoint.origin();
        let keys = self
            .logs
            .get(origin)
            .ok_or_else(|| Refusal::UnknownLog(origin.chars().take(200).collect()))?;
        match note.verify(keys) {
            Ok(_) => {}
            Err(NoteError::NoKnownSignature | NoteError::BadSignature { .. }) => {
                return Err(Refusal::BadSignature { origin: origin.to_owned() })
            }
            Err(other) => return Err(Refusal::BadCheckpoint(CheckpointError::Note(other))),
        }
        let (old_size, size) = (request.old_size(), checkpoint.size());
        if old_size > size {
            return Err(Refusal::OldSizeAboveSize { old_size, size });
        }
        let known = state.get(origin).unwrap_or(LogState { size: 0, root: EMPTY_ROOT });
        if old_size != known.size {
            return Err(Refusal::StaleOldSize { old_size, witness_size: known.size });
        }
        if size == known.size && checkpoint.root() != known.root {
            return Err(Refusal::ConflictingRoot {
                size,
                cosigned: known.root,
                offered: checkpoint.root(),
            });
        }
        verify_consistency(old_size, size, request.proof(), &known.root, &checkpoint.root())
            .map_err(|_| Refusal::BadProof { old_size, size })?;
        let new_state = LogState { size, root: checkpoint.root() };
        Ok(Accepted { text: note.text().to_owned(), checkpoint, new_state })
    }

    /// The `200` answer's body: the cosignature line(s) of an accepted checkpoint at POSIX time
    /// `timestamp`.
    pub fn cosign(&self, accepted: &Accepted, timestamp: u64) -> Result<String, CosignatureError> {
        Ok(self.cosigner.cosign_text(&accepted.text, timestamp)?.to_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::CosignatureVerifier;
    use crate::hash::leaf_hash;
    use crate::merkle::{consistency_proof, MemoryTree};
    use crate::note::{Ed25519Signer, NoteSignature};

    const ORIGIN: &str = "cec.example/log";

    struct Fixture {
        log: Ed25519Signer,
        witness: Witness,
        tree: MemoryTree,
    }

    fn fixture() -> Fixture {
        let log = Ed25519Signer::from_seed(ORIGIN, &[3; 32]).unwrap();
        let cosigner = Cosigner::from_seed("witness.example", &[4; 32]).unwrap();
        let witness = Witness::new(cosigner, vec![log.verifier()]).unwrap();
        let leaves: Vec<Hash> = (0..40u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        Fixture { log, witness, tree: MemoryTree::from_leaf_hashes(&leaves) }
    }

    impl Fixture {
        fn note(&self, size: u64) -> Vec<u8> {
            let root = self.tree.root_at(size).unwrap();
            Checkpoint::new(ORIGIN, size, root).unwrap().sign(&self.log).unwrap().to_bytes()
        }

        fn request(&self, old: u64, size: u64) -> AddCheckpoint {
            let mut tree = self.tree.clone();
            let proof = consistency_proof(&mut tree, old, size).unwrap();
            AddCheckpoint::new(old, proof, self.note(size)).unwrap()
        }
    }

    #[test]
    fn the_spec_example_body_parses_and_prints_identically() {
        // tlog-witness §"add-checkpoint", example request body.
        let body = "old 20852014\n\
            PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\
            jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\
            5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n\
            /6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\
            \n\
            example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
            \n\
            — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
        let request = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!(request.old_size(), 20_852_014);
        assert_eq!(request.proof().len(), 4);
        assert!(request.checkpoint().starts_with(b"example.com/behind-the-sofa\n20852163\n"));
        assert_eq!(request.to_bytes(), body.as_bytes());
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let hash = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=";
        for (body, want) in [
            ("old 01\n\nx".to_string(), RequestError::BadOldSize),
            ("old -1\n\nx".to_string(), RequestError::BadOldSize),
            ("new 1\n\nx".to_string(), RequestError::BadOldSize),
            ("old 1".to_string(), RequestError::BadOldSize),
            (format!("old 1\n{hash}\n"), RequestError::NoCheckpoint),
            ("old 1\nAAAA\n\nx".to_string(), RequestError::BadProofLine(0)),
            (format!("old 1\n{}\nx", format!("{hash}\n").repeat(64)), RequestError::ProofTooLong),
        ] {
            assert_eq!(AddCheckpoint::parse(body.as_bytes()), Err(want), "{body:?}");
        }
        assert_eq!(AddCheckpoint::parse(b"old 1\n\xff\n\nx"), Err(RequestError::NotText));
    }

    #[test]
    fn a_first_checkpoint_is_cosigned_and_the_cosignature_verifies() {
        let f = fixture();
        let accepted = f.witness.decide(&f.request(0, 10), &WitnessState::new()).unwrap();
        assert_eq!(accepted.new_state, LogState { size: 10, root: f.tree.root_at(10).unwrap() });
        let body = f.witness.cosign(&accepted, 1_700_000_000).unwrap();
        let line = NoteSignature::parse_line(body.strip_suffix('\n').unwrap(), 0).unwrap();
        let verifier = CosignatureVerifier::from_vkey(&f.witness.cosigner().verifier().to_vkey());
        assert_eq!(verifier.unwrap().verify(&accepted.text, &line), Ok(1_700_000_000));
    }

    #[test]
    fn each_refusal_has_the_status_the_spec_gives_it() {
        let f = fixture();
        let mut state = WitnessState::new();
        state.set(ORIGIN, LogState { size: 10, root: f.tree.root_at(10).unwrap() });
        let decide = |request: &AddCheckpoint| f.witness.decide(request, &state);

        assert!(decide(&f.request(10, 25)).is_ok());
        assert!(decide(&f.request(10, 10)).is_ok(), "the same checkpoint again is cosigned");

        let stranger = Ed25519Signer::from_seed("other.example", &[9; 32]).unwrap();
        let unknown = Checkpoint::new("other.example", 3, f.tree.root_at(3).unwrap());
        let unknown = unknown.unwrap().sign(&stranger).unwrap().to_bytes();
        let refusal = decide(&AddCheckpoint::new(10, vec![], unknown).unwrap()).unwrap_err();
        assert_eq!(refusal.http_status(), 404);

        let impostor = Ed25519Signer::from_seed(ORIGIN, &[8; 32]).unwrap();
        let forged = Checkpoint::new(ORIGIN, 25, f.tree.root_at(25).unwrap());
        let forged = forged.unwrap().sign(&impostor).unwrap().to_bytes();
        let mut tree = f.tree.clone();
        let proof = consistency_proof(&mut tree, 10, 25).unwrap();
        let refusal = decide(&AddCheckpoint::new(10, proof, forged).unwrap()).unwrap_err();
        assert_eq!(refusal, Refusal::BadSignature { origin: ORIGIN.into() });
        assert_eq!(refusal.http_status(), 403);

        let refusal = decide(&f.request(5, 25)).unwrap_err();
        assert_eq!((refusal.http_status(), refusal.witness_size()), (409, Some(10)));

        let refusal = decide(&AddCheckpoint::new(30, vec![], f.note(25)).unwrap()).unwrap_err();
        assert_eq!(refusal.http_status(), 400);

        let mut bad_proof = f.request(10, 25);
        bad_proof.proof[0] = leaf_hash(b"not in the tree");
        assert_eq!(decide(&bad_proof).unwrap_err().http_status(), 422);
        let rollback = decide(&AddCheckpoint::new(10, vec![], f.note(7)).unwrap()).unwrap_err();
        assert_eq!(rollback.http_status(), 400, "a smaller tree than the old size is refused");
    }

    #[test]
    fn a_fork_of_the_cosigned_size_is_refused_with_409() {
        let f = fixture();
        let mut state = WitnessState::new();
        state.set(ORIGIN, LogState { size: 10, root: f.tree.root_at(10).unwrap() });
        let fork_root = leaf_hash(b"another history");
        let fork = Checkpoint::new(ORIGIN, 10, fork_root).unwrap().sign(&f.log).unwrap();
        let request = AddCheckpoint::new(10, vec![], fork.to_bytes()).unwrap();
        let refusal = f.witness.decide(&request, &state).unwrap_err();
        assert!(matches!(refusal, Refusal::ConflictingRoot { size: 10, .. }));
        assert_eq!((refusal.http_status(), refusal.witness_size()), (409, Some(10)));
        assert!(refusal.is_evidence());
    }

    #[test]
    fn the_state_text_round_trips_and_is_pinned() {
        let mut state = WitnessState::new();
        state.set("b.example/log two", LogState { size: 7, root: EMPTY_ROOT });
        state.set("a.example", LogState { size: 0, root: EMPTY_ROOT });
        let empty = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let text =
            format!("sverka-witness-state/v1\n0 {empty} a.example\n7 {empty} b.example/log two\n");
        assert_eq!(state.to_text(), text);
        assert_eq!(WitnessState::parse(&text), Ok(state));
        assert_eq!(
            WitnessState::parse("sverka-witness-state/v2\n"),
            Err(StateError::UnknownFormat)
        );
        assert!(WitnessState::parse(&format!("sverka-witness-state/v1\n07 {empty} a\n")).is_err());
        assert!(WitnessState::parse(&format!(
            "sverka-witness-state/v1\n7 {empty} a\n7 {empty} a\n"
        ))
        .is_err());
        assert!(WitnessState::parse(&format!("sverka-witness-state/v1\n7 {empty} a")).is_err());
    }
}
