//! C2SP tlog-checkpoint v1.0.0: the note text `<origin>\n<size>\n<base64 root>\n[extension lines]`
//! (§"Note text"), built, parsed strictly, signed into a signed note, and opened from one.

use std::fmt;

use crate::hash::Hash;
use crate::note::{Note, NoteError, NoteSigner, VerifierSet, MAX_NOTE_SIZE};

/// Why a checkpoint was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CheckpointError {
    /// The origin line is empty or contains a control character.
    #[error("checkpoint origin is empty or contains a control character")]
    BadOrigin,
    /// The size line is not a decimal without sign or leading zeros that fits in 64 bits.
    #[error("checkpoint size is not a decimal number without leading zeros")]
    BadSize,
    /// The root line is not canonical base64 of exactly 32 bytes.
    #[error("checkpoint root hash is not base64 of 32 bytes")]
    BadRoot,
    /// An extension line is empty or contains a control character.
    #[error("checkpoint extension line {0} is empty or contains a control character")]
    BadExtension(usize),
    /// Fewer than three lines, or the text does not end in a newline.
    #[error("checkpoint text needs at least three newline-terminated lines")]
    BadLayout,
    /// The text is larger than a note may be.
    #[error("checkpoint text is too large")]
    TooLarge,
    /// The checkpoint is for another log.
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    WrongOrigin { expected: String, found: String },
    /// The signed note around the checkpoint was rejected.
    #[error("checkpoint note rejected")]
    Note(#[from] NoteError),
}

/// A log's signed statement "this log has `size` entries and root hash `root`".
#[derive(Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

fn is_line(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(char::is_control)
}

/// Parses the tree size line: ASCII decimal, no sign, no leading zeros except `0` itself.
fn parse_size(text: &str) -> Result<u64, CheckpointError> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (text.len() > 1 && text.starts_with('0')) {
        return Err(CheckpointError::BadSize);
    }
    text.parse().map_err(|_| CheckpointError::BadSize)
}

impl Checkpoint {
    /// A checkpoint without extension lines. The origin must be a non-empty line.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Checkpoint, CheckpointError> {
        if !is_line(origin) {
            return Err(CheckpointError::BadOrigin);
        }
        Ok(Checkpoint { origin: origin.to_owned(), size, root, extensions: Vec::new() })
    }

    /// The same checkpoint with these extension lines (each non-empty, no newline). The spec does
    /// not recommend them: monitors cannot audit them.
    pub fn with_extensions(
        mut self,
        extensions: Vec<String>,
    ) -> Result<Checkpoint, CheckpointError> {
        if let Some(bad) = extensions.iter().position(|line| !is_line(line)) {
            return Err(CheckpointError::BadExtension(bad));
        }
        self.extensions = extensions;
        Ok(self)
    }

    /// The origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The extension lines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// Parses checkpoint note text strictly (tlog-checkpoint §"Note text").
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        if text.len() > MAX_NOTE_SIZE {
            return Err(CheckpointError::TooLarge);
        }
        let body = text.strip_suffix('\n').ok_or(CheckpointError::BadLayout)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::BadLayout);
        };
        let size = parse_size(size)?;
        let root = Hash::from_base64(root).ok_or(CheckpointError::BadRoot)?;
        Checkpoint::new(origin, size, root)?.with_extensions(lines.map(str::to_owned).collect())
    }

    /// The note text, ending in a newline.
    pub fn to_text(&self) -> String {
        let mut text = format!("{}\n{}\n{}\n", self.origin, self.size, self.root.to_base64());
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// A signed note carrying this checkpoint, signed by `signer` (the log's key, whose name
    /// should be the origin).
    pub fn sign(&self, signer: &dyn NoteSigner) -> Result<Note, CheckpointError> {
        let mut note = Note::new(&self.to_text())?;
        note.sign(signer)?;
        Ok(note)
    }

    /// Parses a signed checkpoint, verifies it against the log's keys (signed-note rules: unknown
    /// signatures such as cosignatures are ignored) and parses its text.
    pub fn open(
        bytes: &[u8],
        log_keys: &VerifierSet,
    ) -> Result<(Checkpoint, Note), CheckpointError> {
        let note = Note::open(bytes, log_keys)?;
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok((checkpoint, note))
    }

    /// [`Checkpoint::open`] for a verifier that follows one log: the origin line must also be
    /// `origin` (tlog-checkpoint: the origin identifies the log; a key may sign for several).
    pub fn open_for_origin(
        bytes: &[u8],
        origin: &str,
        log_keys: &VerifierSet,
    ) -> Result<(Checkpoint, Note), CheckpointError> {
        let (checkpoint, note) = Checkpoint::open(bytes, log_keys)?;
        if checkpoint.origin != origin {
            return Err(CheckpointError::WrongOrigin {
                expected: origin.chars().take(200).collect(),
                found: checkpoint.origin.chars().take(200).collect(),
            });
        }
        Ok((checkpoint, note))
    }
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checkpoint({:?}, {}, {})", self.origin, self.size, self.root.to_base64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of c2sp.org/tlog-checkpoint.
    const SPEC_TEXT: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn the_spec_example_parses_and_prints_identically() {
        let checkpoint = Checkpoint::parse(SPEC_TEXT).unwrap();
        assert_eq!(checkpoint.origin(), "example.com/behind-the-sofa");
        assert_eq!(checkpoint.size(), 20_852_163);
        assert_eq!(checkpoint.to_text(), SPEC_TEXT);
        let with_ext = format!("{SPEC_TEXT}ext one\nsecond\n");
        assert_eq!(Checkpoint::parse(&with_ext).unwrap().extensions(), ["ext one", "second"]);
    }

    #[test]
    fn signed_checkpoints_open_only_for_their_origin_and_key() {
        use crate::note::Ed25519Signer;
        let signer = Ed25519Signer::from_seed("log.example", &[5; 32]).unwrap();
        let stranger = Ed25519Signer::from_seed("log.example", &[6; 32]).unwrap();
        let checkpoint = Checkpoint::parse(SPEC_TEXT).unwrap();
        let bytes = checkpoint.sign(&signer).unwrap().to_bytes();
        let keys = VerifierSet::with(vec![Box::new(signer.verifier())]).unwrap();
        let (opened, note) =
            Checkpoint::open_for_origin(&bytes, "example.com/behind-the-sofa", &keys).unwrap();
        assert_eq!(opened, checkpoint);
        assert_eq!(note.signatures().len(), 1);
        assert!(matches!(
            Checkpoint::open_for_origin(&bytes, "other.example", &keys),
            Err(CheckpointError::WrongOrigin { .. })
        ));
        let other_keys = VerifierSet::with(vec![Box::new(stranger.verifier())]).unwrap();
        assert_eq!(
            Checkpoint::open(&bytes, &other_keys),
            Err(CheckpointError::Note(NoteError::NoKnownSignature))
        );
    }

    #[test]
    fn malformed_checkpoints_are_rejected() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        for (text, want) in [
            (format!("o\n01\n{root}\n"), CheckpointError::BadSize),
            (format!("o\n+1\n{root}\n"), CheckpointError::BadSize),
            (format!("o\n-1\n{root}\n"), CheckpointError::BadSize),
            (format!("o\n 1\n{root}\n"), CheckpointError::BadSize),
            (format!("o\n18446744073709551616\n{root}\n"), CheckpointError::BadSize),
            (format!("o\n1\n{root}"), CheckpointError::BadLayout),
            ("o\n1\n".to_string(), CheckpointError::BadLayout),
            ("o\n1\nAAAA\n".to_string(), CheckpointError::BadRoot),
            (format!("o\n1\n{}\n", &root[..43]), CheckpointError::BadRoot),
            (format!("\n1\n{root}\n"), CheckpointError::BadOrigin),
            (format!("o\n1\n{root}\n\n"), CheckpointError::BadExtension(0)),
            (format!("o\n1\n{root}\na\n\nb\n"), CheckpointError::BadExtension(1)),
        ] {
            assert_eq!(Checkpoint::parse(&text), Err(want), "{text:?}");
        }
        assert_eq!(
            Checkpoint::parse(&format!("o\n18446744073709551615\n{root}\n")).unwrap().size(),
            u64::MAX
        );
        assert_eq!(Checkpoint::parse(&format!("o\n0\n{root}\n")).unwrap().size(), 0);
    }
}
