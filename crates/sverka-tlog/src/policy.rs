//! Witness policies: which logs a checkpoint may be signed by and which witnesses must have
//! cosigned it, in the C2SP tlog-policy format (c2sp.org/tlog-policy, editor's copy of 2025:
//! §"Policy file syntax and structure"), and their evaluation on a checkpoint note.
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>|none
//! ```
//!
//! Names share one namespace; a group or the quorum may only name what earlier lines defined, and a
//! group lists each member at most once, so a witness counts towards the quorum in one way only.
//! Log keys are signed-note Ed25519 keys (type 0x01); witness keys are tlog-cosignature Ed25519
//! keys (type 0x04). One deliberate restriction: the file must be UTF-8 (the specification treats
//! octets above 0x7F as opaque; names compare byte for byte either way).
//!
//! [`Policy::evaluate`] checks every cosignature a note carries for the policy's witnesses and says
//! which verified, which are missing and which are bad, and whether the quorum holds. Pure: it
//! reads the text and the note it is given.

use std::collections::HashMap;

use base64::prelude::{Engine as _, BASE64_STANDARD};

use crate::cosignature::{CosignatureError, CosignatureVerifier};
use crate::note::{Ed25519Verifier, KeyError, Note, VerifierSet};

/// The most names (witnesses and groups) and logs a policy may define: far above the 32 of each
/// tlog-policy §"Implementation limits" asks implementations to support.
pub const MAX_POLICY_ITEMS: usize = 1024;

/// Why a policy file was refused; each names its line (1-based).
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum PolicyError {
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    #[error("line {line}: key {vkey:?}: {error}")]
    Key { line: usize, vkey: String, error: KeyError },
    #[error("line {line}: {name:?} is not defined on an earlier line")]
    Undefined { line: usize, name: String },
    #[error("line {line}: the name {name:?} is already defined")]
    DuplicateName { line: usize, name: String },
    #[error("line {line}: the same public key is already defined on line {first}")]
    DuplicateKey { line: usize, first: usize },
    #[error("line {line}: {name:?} is listed twice in the group")]
    DuplicateMember { line: usize, name: String },
    #[error("line {line}: threshold {k} is not between 1 and the {n} members")]
    Threshold { line: usize, k: usize, n: usize },
    #[error("the policy has no quorum line")]
    NoQuorum,
    #[error("line {line}: a second quorum line")]
    SecondQuorum { line: usize },
    #[error("more than {MAX_POLICY_ITEMS} logs or names")]
    TooLarge,
}

/// A name a group or the quorum refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone)]
struct Witness {
    name: String,
    verifier: CosignatureVerifier,
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

/// A parsed policy: log keys, witnesses, groups and the quorum (`None` is `quorum none`).
#[derive(Debug, Clone)]
pub struct Policy {
    logs: Vec<Ed25519Verifier>,
    witnesses: Vec<Witness>,
    groups: Vec<Group>,
    quorum: Option<Member>,
}

/// What one witness's cosignature on a checkpoint came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CosignatureStatus {
    /// It verified; the timestamp the witness signed.
    Verified(u64),
    /// The note carries no line by this witness's key.
    Missing,
    /// A line by this witness's key is there but does not verify.
    Bad(CosignatureError),
}

/// The evaluation of a policy on one checkpoint note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOutcome {
    /// Every witness of the policy, in the order defined, with what its cosignature came to.
    pub witnesses: Vec<(String, CosignatureStatus)>,
    /// Whether the verified cosignatures satisfy the quorum.
    pub quorum_met: bool,
    /// The quorum as written (`none`, a witness or a group name).
    pub quorum: String,
}

impl PolicyOutcome {
    /// Names of the witnesses whose cosignature verified.
    pub fn verified(&self) -> Vec<&str> {
        self.names(|s| matches!(s, CosignatureStatus::Verified(_)))
    }

    /// Names of the witnesses with no cosignature on the note.
    pub fn missing(&self) -> Vec<&str> {
        self.names(|s| *s == CosignatureStatus::Missing)
    }

    /// Witnesses whose cosignature is there but does not verify, with why.
    pub fn bad(&self) -> Vec<(&str, &CosignatureError)> {
        self.witnesses
            .iter()
            .filter_map(|(name, status)| match status {
                CosignatureStatus::Bad(error) => Some((name.as_str(), error)),
                _ => None,
            })
            .collect()
    }

    fn names(&self, keep: impl Fn(&CosignatureStatus) -> bool) -> Vec<&str> {
        self.witnesses.iter().filter(|(_, s)| keep(s)).map(|(n, _)| n.as_str()).collect()
    }
}

/// The raw public key inside a vkey (`name+id+base64(type ‖ key)`), to find duplicates.
fn raw_key(vkey: &str) -> Option<Vec<u8>> {
    let bytes = BASE64_STANDARD.decode(vkey.rsplit('+').next()?).ok()?;
    bytes.get(1..).map(<[u8]>::to_vec)
}

/// The state of a parse in progress.
#[derive(Default)]
struct Parser {
    logs: Vec<Ed25519Verifier>,
    witnesses: Vec<Witness>,
    groups: Vec<Group>,
    names: HashMap<String, Member>,
    keys: HashMap<Vec<u8>, usize>,
    quorum: Option<(usize, Option<Member>)>,
}

impl Parser {
    fn new_key(&mut self, line: usize, vkey: &str) -> Result<(), PolicyError> {
        let raw = raw_key(vkey).unwrap_or_else(|| vkey.as_bytes().to_vec());
        if let Some(&first) = self.keys.get(&raw) {
            return Err(PolicyError::DuplicateKey { line, first });
        }
        self.keys.insert(raw, line);
        Ok(())
    }

    fn new_name(&mut self, line: usize, name: &str, member: Member) -> Result<(), PolicyError> {
        if name == "none" || self.names.contains_key(name) {
            return Err(PolicyError::DuplicateName { line, name: name.to_string() });
        }
        if self.names.len() >= MAX_POLICY_ITEMS {
            return Err(PolicyError::TooLarge);
        }
        self.names.insert(name.to_string(), member);
        Ok(())
    }

    fn lookup(&self, line: usize, name: &str) -> Result<Member, PolicyError> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| PolicyError::Undefined { line, name: name.to_string() })
    }

    fn line(&mut self, line: usize, words: &[&str]) -> Result<(), PolicyError> {
        let syntax = |reason: &str| PolicyError::Syntax { line, reason: reason.to_string() };
        let key_error =
            |vkey: &str, error| PolicyError::Key { line, vkey: vkey.to_string(), error };
        match words {
            ["log", vkey] | ["log", vkey, _] => {
                let verifier = Ed25519Verifier::from_vkey(vkey).map_err(|e| key_error(vkey, e))?;
                self.new_key(line, vkey)?;
                if self.logs.len() >= MAX_POLICY_ITEMS {
                    return Err(PolicyError::TooLarge);
                }
                self.logs.push(verifier);
            }
            ["log", ..] => return Err(syntax("expected `log <vkey> [<url>]`")),
            ["witness", name, vkey] | ["witness", name, vkey, _] => {
                let verifier =
                    CosignatureVerifier::from_vkey(vkey).map_err(|e| key_error(vkey, e))?;
                self.new_key(line, vkey)?;
                self.new_name(line, name, Member::Witness(self.witnesses.len()))?;
                self.witnesses.push(Witness { name: name.to_string(), verifier });
            }
            ["witness", ..] => return Err(syntax("expected `witness <name> <vkey> [<url>]`")),
            ["group", name, threshold, members @ ..] if !members.is_empty() => {
                self.group(line, name, threshold, members)?
            }
            ["group", ..] => return Err(syntax("expected `group <name> all|any|<k> <name>...`")),
            ["quorum", name] => {
                if self.quorum.is_some() {
                    return Err(PolicyError::SecondQuorum { line });
                }
                let member = if *name == "none" { None } else { Some(self.lookup(line, name)?) };
                self.quorum = Some((line, member));
            }
            ["quorum", ..] => return Err(syntax("expected `quorum <name>` or `quorum none`")),
            [other, ..] => {
                return Err(syntax(&format!(
                    "unknown keyword {other:?} (expected log, witness, group or quorum)"
                )))
            }
            [] => {}
        }
        Ok(())
    }

    fn group(
        &mut self,
        line: usize,
        name: &str,
        threshold: &str,
        members: &[&str],
    ) -> Result<(), PolicyError> {
        let n = members.len();
        let k = match threshold {
            "all" => n,
            "any" => 1,
            digits if digits.bytes().all(|b| b.is_ascii_digit()) && !digits.is_empty() => {
                digits.parse::<usize>().unwrap_or(usize::MAX)
            }
            _ => {
                return Err(PolicyError::Syntax {
                    line,
                    reason: format!("threshold {threshold:?} is not all, any or a number"),
                })
            }
        };
        if k == 0 || k > n {
            return Err(PolicyError::Threshold { line, k, n });
        }
        let mut resolved = Vec::with_capacity(n);
        for member in members {
            let member_ref = self.lookup(line, member)?;
            if resolved.contains(&member_ref) {
                return Err(PolicyError::DuplicateMember { line, name: member.to_string() });
            }
            resolved.push(member_ref);
        }
        self.new_name(line, name, Member::Group(self.groups.len()))?;
        self.groups.push(Group { name: name.to_string(), threshold: k, members: resolved });
        Ok(())
    }
}

impl Policy {
    /// Parses a policy file (tlog-policy §"Structure": whitespace is spaces and tabs, `#` starts a
    /// comment line, blank lines are ignored; only tab and newline among control characters).
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let mut parser = Parser::default();
        for (i, raw) in text.split('\n').enumerate() {
            let line = i + 1;
            if raw.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return Err(PolicyError::Syntax {
                    line,
                    reason: "control character (only tab and newline are allowed)".into(),
                });
            }
            let trimmed = raw.trim_matches([' ', '\t']);
            if trimmed.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = trimmed.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            parser.line(line, &words)?;
        }
        let Some((_, quorum)) = parser.quorum else {
            return Err(PolicyError::NoQuorum);
        };
        Ok(Policy { logs: parser.logs, witnesses: parser.witnesses, groups: parser.groups, quorum })
    }

    /// The policy "at least `k` of these witnesses" (`k` 0 means `quorum none`), for command-line
    /// flags. Witness keys are tlog-cosignature vkeys; each witness is named by its key name.
    pub fn k_of(logs: &[&str], witnesses: &[&str], k: usize) -> Result<Policy, PolicyError> {
        let mut text = String::new();
        for log in logs {
            text.push_str(&format!("log {log}\n"));
        }
        let mut names = Vec::new();
        for vkey in witnesses {
            let name = vkey.split('+').next().unwrap_or_default();
            text.push_str(&format!("witness {name} {vkey}\n"));
            names.push(name);
        }
        match k {
            0 => text.push_str("quorum none\n"),
            _ => {
                let joined = names.join(" ");
                text.push_str(&format!("group flags {k} {joined}\nquorum flags\n"));
            }
        }
        Policy::parse(&text)
    }

    /// The log keys the policy accepts (empty: the log is known from elsewhere).
    pub fn logs(&self) -> &[Ed25519Verifier] {
        &self.logs
    }

    /// The log keys as a set for [`crate::Checkpoint::open`].
    pub fn log_verifiers(&self) -> Result<VerifierSet, KeyError> {
        VerifierSet::with(self.logs.iter().map(|l| Box::new(l.clone()) as _).collect())
    }

    /// The witness names, in the order defined.
    pub fn witness_names(&self) -> Vec<&str> {
        self.witnesses.iter().map(|w| w.name.as_str()).collect()
    }

    /// Checks every witness's cosignature on `note` and whether the quorum is met. The note's log
    /// signature is not checked here ([`crate::Checkpoint::open`] does that).
    pub fn evaluate(&self, note: &Note) -> PolicyOutcome {
        let witnesses: Vec<(String, CosignatureStatus)> = self
            .witnesses
            .iter()
            .map(|w| {
                let status = match w.verifier.verify_in_note(note) {
                    Ok(Some(timestamp)) => CosignatureStatus::Verified(timestamp),
                    Ok(None) => CosignatureStatus::Missing,
                    Err(error) => CosignatureStatus::Bad(error),
                };
                (w.name.clone(), status)
            })
            .collect();
        let cosigned: Vec<bool> =
            witnesses.iter().map(|(_, s)| matches!(s, CosignatureStatus::Verified(_))).collect();
        let quorum_met = self.quorum.is_none_or(|m| self.witnessed(m, &cosigned));
        let quorum = match self.quorum {
            None => "none".to_string(),
            Some(Member::Witness(i)) => self.witnesses[i].name.clone(),
            Some(Member::Group(i)) => self.groups[i].name.clone(),
        };
        PolicyOutcome { witnesses, quorum_met, quorum }
    }

    /// tlog-policy §"Defining a witness group": a group witnesses a checkpoint when at least k of
    /// its members do. Groups only name earlier definitions, so this recursion ends.
    fn witnessed(&self, member: Member, cosigned: &[bool]) -> bool {
        match member {
            Member::Witness(i) => cosigned[i],
            Member::Group(i) => {
                let group = &self.groups[i];
                let met = group.members.iter().filter(|&&m| self.witnessed(m, cosigned)).count();
                met >= group.threshold
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::cosignature::Cosigner;
    use crate::hash::leaf_hash;
    use crate::note::Ed25519Signer;

    fn log() -> Ed25519Signer {
        Ed25519Signer::from_seed("cec.example/log", &[1; 32]).unwrap()
    }

    fn witness(name: &str, seed: u8) -> Cosigner {
        Cosigner::from_seed(name, &[seed; 32]).unwrap()
    }

    /// Parties X (three witnesses, two needed) and one NGO, as in the issue's example policy.
    fn party_and_ngo() -> String {
        format!(
            "# two of three party witnesses and the NGO\n\
             log {}\n\n\
             witness X1 {}\n  witness X2\t{} https://x2.example/\nwitness X3 {}\n\
             group parties 2 X1 X2 X3\n\
             witness NGO {}\n\
             group all-of-them all parties NGO\n\
             quorum all-of-them\n",
            log().verifier().to_vkey(),
            witness("x1.example", 11).verifier().to_vkey(),
            witness("x2.example", 12).verifier().to_vkey(),
            witness("x3.example", 13).verifier().to_vkey(),
            witness("ngo.example", 20).verifier().to_vkey(),
        )
    }

    fn note_cosigned_by(cosigners: &[Cosigner]) -> Note {
        let checkpoint = Checkpoint::new("cec.example/log", 42, leaf_hash(b"x")).unwrap();
        let mut note = checkpoint.sign(&log()).unwrap();
        for c in cosigners {
            note.add_signature(c.cosign(&checkpoint, 1_700_000_000).unwrap()).unwrap();
        }
        note
    }

    #[test]
    fn two_of_three_parties_and_the_ngo_meet_the_quorum_and_one_party_does_not() {
        let policy = Policy::parse(&party_and_ngo()).unwrap();
        assert_eq!(policy.logs().len(), 1);
        assert_eq!(policy.witness_names(), ["X1", "X2", "X3", "NGO"]);
        let met = policy.evaluate(&note_cosigned_by(&[
            witness("x1.example", 11),
            witness("x3.example", 13),
            witness("ngo.example", 20),
        ]));
        assert!(met.quorum_met);
        assert_eq!(met.verified(), ["X1", "X3", "NGO"]);
        assert_eq!(met.missing(), ["X2"]);
        assert_eq!(met.quorum, "all-of-them");

        let short = policy
            .evaluate(&note_cosigned_by(&[witness("x1.example", 11), witness("ngo.example", 20)]));
        assert!(!short.quorum_met);
        assert_eq!(short.missing(), ["X2", "X3"]);
        let no_ngo = policy
            .evaluate(&note_cosigned_by(&[witness("x1.example", 11), witness("x2.example", 12)]));
        assert!(!no_ngo.quorum_met);
    }

    #[test]
    fn a_forged_cosignature_is_bad_and_does_not_count() {
        let policy = Policy::parse(&party_and_ngo()).unwrap();
        let mut note = note_cosigned_by(&[witness("x1.example", 11), witness("ngo.example", 20)]);
        // X2's key name and key id, but a signature over another checkpoint.
        let other = Checkpoint::new("cec.example/log", 43, leaf_hash(b"x")).unwrap();
        note.add_signature(witness("x2.example", 12).cosign(&other, 1_700_000_000).unwrap())
            .unwrap();
        let outcome = policy.evaluate(&note);
        assert!(!outcome.quorum_met);
        assert_eq!(outcome.bad().len(), 1);
        assert_eq!(outcome.bad()[0].0, "X2");
        assert!(matches!(outcome.bad()[0].1, CosignatureError::BadSignature { .. }));
    }

    #[test]
    fn quorum_none_and_the_flag_form() {
        let none = Policy::parse("quorum none\n").unwrap();
        assert!(none.evaluate(&note_cosigned_by(&[])).quorum_met);
        let w1 = witness("w1.example", 31).verifier().to_vkey();
        let w2 = witness("w2.example", 32).verifier().to_vkey();
        let policy = Policy::k_of(&[], &[&w1, &w2], 2).unwrap();
        assert_eq!(policy.witness_names(), ["w1.example", "w2.example"]);
        assert!(!policy.evaluate(&note_cosigned_by(&[witness("w1.example", 31)])).quorum_met);
        assert!(
            policy
                .evaluate(&note_cosigned_by(&[
                    witness("w1.example", 31),
                    witness("w2.example", 32)
                ]))
                .quorum_met
        );
    }

    #[test]
    fn malformed_policies_are_refused_with_their_line() {
        let w1 = witness("w1.example", 31).verifier().to_vkey();
        let w2 = witness("w2.example", 32).verifier().to_vkey();
        let cases: Vec<(String, PolicyError)> = vec![
            (format!("witness A {w1}\n"), PolicyError::NoQuorum),
            (
                format!("witness A {w1}\nquorum B\n"),
                PolicyError::Undefined { line: 2, name: "B".into() },
            ),
            (
                format!("quorum A\nwitness A {w1}\n"),
                PolicyError::Undefined { line: 1, name: "A".into() },
            ),
            (
                format!("witness A {w1}\nwitness A {w2}\nquorum A\n"),
                PolicyError::DuplicateName { line: 2, name: "A".into() },
            ),
            (
                format!("witness A {w1}\nwitness B {w1}\nquorum A\n"),
                PolicyError::DuplicateKey { line: 2, first: 1 },
            ),
            (
                format!("witness A {w1}\ngroup G 2 A A\nquorum G\n"),
                PolicyError::DuplicateMember { line: 2, name: "A".into() },
            ),
            (
                format!("witness A {w1}\ngroup G 3 A\nquorum G\n"),
                PolicyError::Threshold { line: 2, k: 3, n: 1 },
            ),
            (
                format!("witness A {w1}\nquorum A\nquorum none\n"),
                PolicyError::SecondQuorum { line: 3 },
            ),
            (
                format!("witness none {w1}\nquorum none\n"),
                PolicyError::DuplicateName { line: 1, name: "none".into() },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Policy::parse(&text).unwrap_err(), expected, "{text}");
        }
        // A log key given as a witness key (type 0x01, not 0x04) is refused on its line.
        let log_key = log().verifier().to_vkey();
        assert!(matches!(
            Policy::parse(&format!("witness A {log_key}\nquorum A\n")),
            Err(PolicyError::Key { line: 1, .. })
        ));
        assert!(matches!(
            Policy::parse("quorum none\nwitnesses A\n"),
            Err(PolicyError::Syntax { line: 2, .. })
        ));
    }
}
