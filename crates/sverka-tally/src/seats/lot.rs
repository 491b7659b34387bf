//! Drawing of lots from a public seed, and the record of every lot drawn.
//!
//! Where the law says "by lot", sverka draws deterministically, so anyone can recompute the
//! draw: each tied contender `id` gets the ticket
//!
//! ```text
//! SHA-256( seed ‖ 0x00 ‖ context ‖ 0x00 ‖ id )      (FIPS 180-4, UTF-8 bytes)
//! ```
//!
//! and the contenders are ranked by ticket, smallest first (bytewise; ties between tickets,
//! which would need a SHA-256 collision, by id). The first `places` contenders win. The
//! `context` names what is being decided (for example `dhondt seat 54`), so one seed gives
//! independent draws for independent decisions; a contender's ticket does not depend on who
//! else is tied. Seeds and ids contain no NUL (they are validated to have no control
//! characters), so the encoding is unambiguous.
//!
//! Every draw is reported as a [`TieBreak`]: who was tied, for what, every ticket, who won.

use std::cmp::Ordering;

use sha2::{Digest, Sha256};

/// The longest seed accepted, in bytes.
pub const MAX_SEED_BYTES: usize = 1024;

/// The public seed of the drawing of lots (for example a value announced before the count).
/// Any text without control characters, at most [`MAX_SEED_BYTES`]; may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct LotSeed(String);

/// A seed with control characters or too long.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    /// Over [`MAX_SEED_BYTES`].
    #[error("seed is longer than {MAX_SEED_BYTES} bytes")]
    TooLong,
    /// Control characters (including NUL) are not allowed.
    #[error("seed contains a control character")]
    ControlCharacter,
}

impl LotSeed {
    /// Validates a seed.
    pub fn new(seed: &str) -> Result<Self, SeedError> {
        if seed.len() > MAX_SEED_BYTES {
            return Err(SeedError::TooLong);
        }
        if seed.chars().any(char::is_control) {
            return Err(SeedError::ControlCharacter);
        }
        Ok(Self(seed.to_owned()))
    }

    /// The seed as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ticket of `id` in the draw named `context`.
    pub fn ticket(&self, context: &str, id: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.0.as_bytes());
        hasher.update([0u8]);
        hasher.update(context.as_bytes());
        hasher.update([0u8]);
        hasher.update(id.as_bytes());
        hasher.finalize().into()
    }
}

/// One contender's ticket in a draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    id: String,
    ticket: [u8; 32],
}

impl Ticket {
    /// The contender (party or candidate id).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The ticket, SHA-256 as above.
    pub fn ticket(&self) -> [u8; 32] {
        self.ticket
    }

    /// The ticket in lowercase hex.
    pub fn ticket_hex(&self) -> String {
        self.ticket.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A tie broken by lot: `tied` contenders were equal for `places` places in the decision named
/// `context`; `tickets` lists them in drawn order; the first `places` of them won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TieBreak {
    context: String,
    places: u32,
    tickets: Vec<Ticket>,
}

impl TieBreak {
    /// Draws `places` winners among `tied` (distinct ids; `places < tied.len()`).
    pub fn draw(seed: &LotSeed, context: &str, tied: &[&str], places: u32) -> Self {
        let mut tickets: Vec<Ticket> = tied
            .iter()
            .map(|id| Ticket { id: (*id).to_owned(), ticket: seed.ticket(context, id) })
            .collect();
        tickets.sort_by(|a, b| a.ticket.cmp(&b.ticket).then_with(|| a.id.cmp(&b.id)));
        Self { context: context.to_owned(), places, tickets }
    }

    /// What was decided, as hashed into the tickets.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// How many of the tied won.
    pub fn places(&self) -> u32 {
        self.places
    }

    /// The tied contenders, sorted by id.
    pub fn tied(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.tickets.iter().map(|t| t.id.as_str()).collect();
        ids.sort_unstable();
        ids
    }

    /// Every ticket, in drawn order (winners first).
    pub fn tickets(&self) -> &[Ticket] {
        &self.tickets
    }

    /// The winners, in drawn order.
    pub fn winners(&self) -> Vec<&str> {
        self.tickets.iter().take(self.places as usize).map(|t| t.id.as_str()).collect()
    }

    /// Whether `id` won.
    pub fn won(&self, id: &str) -> bool {
        self.winners().contains(&id)
    }
}

/// Picks the best `k` of `items` under `better` (`Less` = first is better), drawing lots when
/// the cut falls inside a group of equals. Returns the indices chosen (best first; a lot's
/// winners in drawn order) and the lot, if one was drawn. `id` names an item (distinct);
/// items that are equal under `better` but not cut apart keep id order, so the result never
/// depends on the order of `items`.
pub(crate) fn select_best<'s, T>(
    items: &'s [T],
    k: usize,
    better: impl Fn(&T, &T) -> Ordering,
    id: impl Fn(&'s T) -> &'s str,
    seed: &LotSeed,
    context: &str,
) -> (Vec<usize>, Option<TieBreak>) {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        better(&items[a], &items[b]).then_with(|| id(&items[a]).cmp(id(&items[b])))
    });
    if k >= items.len() {
        return (order, None);
    }
    if k == 0 {
        return (Vec::new(), None);
    }
    let boundary = &items[order[k - 1]];
    if better(boundary, &items[order[k]]) != Ordering::Equal {
        order.truncate(k);
        return (order, None);
    }
    let first = order.iter().position(|&i| better(&items[i], boundary) == Ordering::Equal);
    let first = first.unwrap_or(k - 1);
    let group: Vec<usize> = order[first..]
        .iter()
        .copied()
        .take_while(|&i| better(&items[i], boundary) == Ordering::Equal)
        .collect();
    let places = k - first;
    let ids: Vec<&str> = group.iter().map(|&i| id(&items[i])).collect();
    let lot = TieBreak::draw(seed, context, &ids, places as u32);
    let mut chosen: Vec<usize> = order[..first].to_vec();
    for winner in lot.winners() {
        let pos = ids.iter().position(|i| *i == winner).unwrap_or_default();
        chosen.push(group[pos]);
    }
    (chosen, Some(lot))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_is_sha256_of_the_documented_bytes() {
        let seed = LotSeed::new("seed").unwrap();
        let expected: [u8; 32] = Sha256::digest(b"seed\0ctx\0party").into();
        assert_eq!(seed.ticket("ctx", "party"), expected);
    }

    #[test]
    fn draw_is_deterministic_and_independent_of_input_order() {
        let seed = LotSeed::new("2021-11-28").unwrap();
        let a = TieBreak::draw(&seed, "hare remainder seats", &["a", "b", "c"], 1);
        let b = TieBreak::draw(&seed, "hare remainder seats", &["c", "a", "b"], 1);
        assert_eq!(a, b);
        assert_eq!(a.winners().len(), 1);
        assert_eq!(a.tied(), ["a", "b", "c"]);
        let other_seed = LotSeed::new("other").unwrap();
        let contexts: Vec<_> = (0..20)
            .map(|i| {
                TieBreak::draw(&other_seed, &format!("c{i}"), &["a", "b", "c"], 1).winners()[0]
                    .to_owned()
            })
            .collect();
        assert!(contexts.iter().any(|w| w != &contexts[0]), "the context changes the draw");
    }

    #[test]
    fn select_best_draws_only_when_the_cut_splits_equals() {
        let seed = LotSeed::default();
        let items = [("a", 5), ("b", 3), ("c", 3), ("d", 1)];
        let better = |x: &(&str, i32), y: &(&str, i32)| y.1.cmp(&x.1);
        fn id<'a>(x: &'a (&'static str, i32)) -> &'a str {
            x.0
        }
        let (chosen, lot) = select_best(&items, 3, better, id, &seed, "t");
        assert_eq!(chosen, [0, 1, 2]);
        assert!(lot.is_none());
        let (chosen, lot) = select_best(&items, 2, better, id, &seed, "t");
        let lot = lot.expect("b and c tie for the second place");
        assert_eq!(lot.tied(), ["b", "c"]);
        assert_eq!(lot.places(), 1);
        assert_eq!(chosen[0], 0);
        assert_eq!(items[chosen[1]].0, lot.winners()[0]);
    }

    #[test]
    fn seed_rejects_control_characters() {
        assert_eq!(LotSeed::new("a\0b"), Err(SeedError::ControlCharacter));
        assert!(LotSeed::new("").is_ok());
    }
}
