//! The four apportionment methods, in integer arithmetic, on the qualified parties only.
//!
//! Sources: F. Pukelsheim, *Proportional Representation: Apportionment Methods and Their
//! Applications*, 2nd ed., Springer 2017 (ch. 3 divisor methods, ch. 4 quota methods);
//! Wikipedia, "Largest remainder method", "Droop quota", "D'Hondt method", "Sainte-Laguë
//! method".
//!
//! - **Hare** (Hamilton, "Hare–Niemeyer"): quota `Q = V / S` (exact rational; `V` = votes of
//!   the qualified parties, `S` = seats); each party gets `floor(v / Q)` seats, the rest go one
//!   each to the largest remainders `v − floor(v / Q)·Q`. This is the Kyrgyz rule: constitutional
//!   law No. 68 of 2 July 2011 (as amended 26 August 2021, No. 103), the article on distributing
//!   list seats (art. 63; the article number is not checked against the 2021 text here), as
//!   summarised in `data/kyrgyzstan-2021.md`: "the quota is the sum of the passing lists' votes
//!   divided by the seats", the remaining seats to the largest remainders. The 2021 CEC final
//!   (15/12/9/7/6/5 of 54) is reproduced in `tests/seats_golden.rs`.
//! - **Droop**: the same with the integer quota `Q = floor(V / (S + 1)) + 1` (Droop 1881, as
//!   given by Wikipedia "Droop quota" and votelib's `droop`). With this quota the quota seats
//!   never exceed `S`. With very few votes (fewer than about `S²`) more seats can remain than
//!   there are qualified parties; then every party gets one more seat per full round and the
//!   last, partial round goes by largest remainder (no statute covers this corner).
//! - **D'Hondt** (Jefferson): divisors 1, 2, 3, …; **Sainte-Laguë** (Webster): 1, 3, 5, ….
//!   Seats go one at a time to the highest quotient `v / d(s)`; equal quotients that all fit
//!   in the remaining seats all get one (no lot needed); a lot is drawn only when they do not.
//!
//! Quotients and remainders are compared by cross-multiplication in `u128`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;

use super::fraction::Ratio;
use super::lot::{select_best, LotSeed, TieBreak};

/// An apportionment method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Largest remainder with the Hare quota `V / S`.
    Hare,
    /// Largest remainder with the Droop quota `floor(V / (S + 1)) + 1`.
    Droop,
    /// Highest averages with divisors 1, 2, 3, ….
    DHondt,
    /// Highest averages with divisors 1, 3, 5, ….
    SainteLague,
}

/// A method name not in the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown method {0:?}: expected \"hare\", \"droop\", \"dhondt\" or \"sainte-lague\"")]
pub struct MethodError(pub String);

impl Method {
    /// The contract name: `hare`, `droop`, `dhondt`, `sainte-lague`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Hare => "hare",
            Method::Droop => "droop",
            Method::DHondt => "dhondt",
            Method::SainteLague => "sainte-lague",
        }
    }

    /// Whether this is a divisor (highest averages) method.
    pub fn is_divisor(self) -> bool {
        matches!(self, Method::DHondt | Method::SainteLague)
    }

    /// The divisor for a party's next seat when it holds `held` seats (divisor methods).
    pub(crate) fn divisor(self, held: u32) -> u64 {
        match self {
            Method::SainteLague => 2 * u64::from(held) + 1,
            _ => u64::from(held) + 1,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = MethodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hare" => Ok(Method::Hare),
            "droop" => Ok(Method::Droop),
            "dhondt" => Ok(Method::DHondt),
            "sainte-lague" => Ok(Method::SainteLague),
            _ => Err(MethodError(s.to_owned())),
        }
    }
}

/// One qualified party as the methods see it: an id (for lots) and positive votes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Contender<'a> {
    pub id: &'a str,
    pub votes: u64,
}

/// Which seat was last given and which party came closest after it, for margins.
#[derive(Debug, Clone)]
pub(crate) enum Boundary {
    /// Divisor methods: the last seat's quotient `votes / divisor` and the best unused one.
    Divisor { last: (usize, u64), runner_up: Option<(usize, u64)> },
    /// Largest remainder: the smallest remainder that won a seat and the largest that did not,
    /// as `remainder × quota_den` (comparable integers), in the final round.
    Remainder { last: Option<(usize, u128)>, runner_up: Option<(usize, u128)> },
}

/// The outcome of a method on the contenders (same order as given).
#[derive(Debug, Clone)]
pub(crate) struct Apportionment {
    pub seats: Vec<u32>,
    pub ties: Vec<TieBreak>,
    /// Largest remainder methods: the quota.
    pub quota: Option<Ratio>,
    /// Largest remainder methods: the quota `num / den` as given to the remainders.
    pub quota_den: u128,
    pub boundary: Option<Boundary>,
}

/// Apportions `seats` among `contenders` (non-empty, every one with positive votes).
pub(crate) fn apportion(
    method: Method,
    seats: u32,
    contenders: &[Contender<'_>],
    seed: &LotSeed,
) -> Apportionment {
    match method {
        Method::Hare | Method::Droop => largest_remainder(method, seats, contenders, seed),
        Method::DHondt | Method::SainteLague => highest_averages(method, seats, contenders, seed),
    }
}

fn largest_remainder(
    method: Method,
    seats: u32,
    contenders: &[Contender<'_>],
    seed: &LotSeed,
) -> Apportionment {
    let total: u128 = contenders.iter().map(|c| u128::from(c.votes)).sum();
    let s = u128::from(seats);
    // quota = quota_num / quota_den
    let (quota_num, quota_den) = match method {
        Method::Hare => (total, s),
        _ => (total / (s + 1) + 1, 1),
    };
    let mut won: Vec<u32> = Vec::with_capacity(contenders.len());
    let mut remainders: Vec<u128> = Vec::with_capacity(contenders.len());
    for c in contenders {
        let scaled = u128::from(c.votes) * quota_den;
        let quota_seats = scaled / quota_num;
        won.push(u32::try_from(quota_seats).unwrap_or(u32::MAX));
        remainders.push(scaled - quota_seats * quota_num);
    }
    let given: u64 = won.iter().map(|&w| u64::from(w)).sum();
    let mut left = u64::from(seats).saturating_sub(given);
    let n = contenders.len() as u64;
    if left >= n {
        // Only with the Droop quota and very few votes: full rounds, one seat each per round.
        let rounds = u32::try_from(left / n).unwrap_or(u32::MAX);
        won.iter_mut().for_each(|w| *w += rounds);
        left %= n;
    }
    let mut ties = Vec::new();
    let mut boundary = Boundary::Remainder { last: None, runner_up: None };
    if left > 0 {
        let indices: Vec<usize> = (0..contenders.len()).collect();
        let context = format!("{} remainder seats", method.name());
        let (chosen, lot) = select_best(
            &indices,
            left as usize,
            |&a, &b| remainders[b].cmp(&remainders[a]),
            |&i| contenders[i].id,
            seed,
            &context,
        );
        for &i in &chosen {
            won[i] += 1;
        }
        let last = chosen.last().map(|&i| (i, remainders[i]));
        let runner_up =
            best_excluded(&indices, &chosen, lot.as_ref(), |i| remainders[i], |i| contenders[i].id)
                .map(|i| (i, remainders[i]));
        boundary = Boundary::Remainder { last, runner_up };
        ties.extend(lot);
    }
    Apportionment {
        seats: won,
        ties,
        quota: Some(Ratio::new(quota_num, quota_den)),
        quota_den,
        boundary: Some(boundary),
    }
}

/// The best item not chosen: a lot's first loser, else the largest key (smallest id on ties).
fn best_excluded<'a>(
    indices: &[usize],
    chosen: &[usize],
    lot: Option<&TieBreak>,
    key: impl Fn(usize) -> u128,
    id: impl Fn(usize) -> &'a str,
) -> Option<usize> {
    if let Some(lot) = lot {
        let loser = lot.tickets().get(lot.places() as usize)?;
        return indices.iter().copied().find(|&i| id(i) == loser.id());
    }
    indices
        .iter()
        .copied()
        .filter(|i| !chosen.contains(i))
        .max_by(|&a, &b| key(a).cmp(&key(b)).then_with(|| id(b).cmp(id(a))))
}

/// A party's next quotient `votes / divisor`, ordered by value, then by id (smaller id first
/// out of the max-heap) so that equal quotients come out together in a fixed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quotient<'a> {
    votes: u64,
    divisor: u64,
    index: usize,
    id: &'a str,
}

impl Quotient<'_> {
    fn value_cmp(&self, other: &Self) -> Ordering {
        (u128::from(self.votes) * u128::from(other.divisor))
            .cmp(&(u128::from(other.votes) * u128::from(self.divisor)))
    }
}

impl Ord for Quotient<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value_cmp(other).then_with(|| other.id.cmp(self.id))
    }
}

impl PartialOrd for Quotient<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn highest_averages(
    method: Method,
    seats: u32,
    contenders: &[Contender<'_>],
    seed: &LotSeed,
) -> Apportionment {
    let mut won = vec![0u32; contenders.len()];
    let mut heap: BinaryHeap<Quotient<'_>> = contenders
        .iter()
        .enumerate()
        .map(|(index, c)| Quotient { votes: c.votes, divisor: method.divisor(0), index, id: c.id })
        .collect();
    let mut left = seats;
    let mut ties = Vec::new();
    let mut last = None;
    let mut runner_up = None;
    while left > 0 {
        let Some(top) = heap.pop() else { break };
        let mut group = vec![top];
        while heap.peek().is_some_and(|q| q.value_cmp(&top) == Ordering::Equal) {
            group.extend(heap.pop());
        }
        let winners: Vec<Quotient<'_>> = if group.len() as u32 <= left {
            group.clone()
        } else {
            let context = format!("{} seat {}", method.name(), seats - left + 1);
            let ids: Vec<&str> = group.iter().map(|q| q.id).collect();
            let lot = TieBreak::draw(seed, &context, &ids, left);
            let in_drawn_order = |name: &str| {
                group.iter().copied().find(|q| q.id == name).expect("drawn from the group")
            };
            let winners = lot.winners().into_iter().map(in_drawn_order).collect();
            runner_up = lot.tickets().get(left as usize).map(|t| in_drawn_order(t.id()));
            ties.push(lot);
            winners
        };
        for q in &winners {
            won[q.index] += 1;
            last = Some(*q);
            heap.push(Quotient { divisor: method.divisor(won[q.index]), ..*q });
        }
        left -= winners.len() as u32;
    }
    if runner_up.is_none() {
        // The closest challenger is the best next quotient of another party.
        let last_index = last.map(|l| l.index);
        runner_up = heap.into_iter().filter(|q| Some(q.index) != last_index).max();
    }
    let boundary = last.map(|l| Boundary::Divisor {
        last: (l.index, l.divisor),
        runner_up: runner_up.map(|r| (r.index, r.divisor)),
    });
    Apportionment { seats: won, ties, quota: None, quota_den: 1, boundary }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(method: Method, seats: u32, votes: &[(&'static str, u64)]) -> Vec<u32> {
        let contenders: Vec<Contender<'_>> =
            votes.iter().map(|&(id, votes)| Contender { id, votes }).collect();
        apportion(method, seats, &contenders, &LotSeed::default()).seats
    }

    #[test]
    fn method_names_round_trip() {
        for m in [Method::Hare, Method::Droop, Method::DHondt, Method::SainteLague] {
            assert_eq!(m.name().parse::<Method>(), Ok(m));
        }
        assert!("d'hondt".parse::<Method>().is_err());
    }

    #[test]
    fn droop_with_few_votes_fills_every_seat() {
        // 3 votes, 10 seats: quota floor(3/11)+1 = 1; quota seats 2+1 = 3; 7 left for 2 parties:
        // three full rounds (6) then the larger remainder... both remainders are 0, so a lot.
        let seats = run(Method::Droop, 10, &[("a", 2), ("b", 1)]);
        assert_eq!(seats.iter().sum::<u32>(), 10);
    }
}
