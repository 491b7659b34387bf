//! CSV exports, one row per number, so every contest shares one stable header (RFC 4180: comma
//! separated, `\r\n` line ends, fields quoted only when they contain `,`, `"` or a line break).
//!
//! `stations.csv` ([`stations_csv`]), one row per contest × view × station × option, stations in
//! the election's order, options in ballot order ("against all" last):
//!
//! ```text
//! contest,view,station,district,region,abroad,registered,status,source,entry,took_part,valid,invalid,option,votes
//! ```
//!
//! `status` is `counted`, `not_counted` or `annulled`; `source` and `entry` (the log index) name the
//! protocol counted; the counts are empty when the station is not counted in that view. Needs
//! results computed with `ResultsConfig::stations` set (otherwise it has only the header).
//!
//! `levels.csv` ([`levels_csv`]), one row per contest × view × unit × option, units as in
//! `ViewResults::levels` (nation, abroad, regions, districts):
//!
//! ```text
//! contest,view,level,unit,stations,stations_counted,registered,registered_counted,took_part,turnout_bp,valid,invalid,option,votes,share_bp,seats
//! ```
//!
//! `turnout_bp` is took part over the registered voters of the counted stations and `share_bp` the
//! option's votes over the voters who took part, both in basis points rounded half up (see
//! `Proportion`); `seats` is filled on the nation rows only: seats won in a party-list race, 1 for
//! the elected candidate of a single-member race, 0 for the others (empty while no result).

use std::fmt::Write as _;

use crate::seats::DistrictOutcome;
use crate::tabulate::{
    ContestResults, LevelTotals, ListStatus, Outcome, Proportion, Results, View,
};

/// The header of [`stations_csv`].
pub const STATIONS_HEADER: &str = "contest,view,station,district,region,abroad,registered,status,source,entry,took_part,valid,invalid,option,votes";

/// The header of [`levels_csv`].
pub const LEVELS_HEADER: &str = "contest,view,level,unit,stations,stations_counted,registered,registered_counted,took_part,turnout_bp,valid,invalid,option,votes,share_bp,seats";

/// One field, quoted when it must be (RFC 4180 §2).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn row(out: &mut String, fields: &[String]) {
    let line: Vec<String> = fields.iter().map(|f| field(f)).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// Per station: see the module documentation.
pub fn stations_csv(results: &Results) -> String {
    let mut out = String::new();
    let _ = write!(out, "{STATIONS_HEADER}\r\n");
    for contest in &results.contests {
        for view in View::ALL {
            for station in &contest.stations {
                let counts = match view {
                    View::Official => station.official.as_ref(),
                    View::Preliminary => station.preliminary.as_ref(),
                };
                let status = if !station.annulled_by.is_empty() {
                    "annulled"
                } else if counts.is_some() {
                    "counted"
                } else {
                    "not_counted"
                };
                for (i, option) in contest.options.iter().enumerate() {
                    row(
                        &mut out,
                        &[
                            contest.contest.clone(),
                            view.as_str().to_string(),
                            station.station.clone(),
                            station.district.clone(),
                            station.region.clone(),
                            station.abroad.to_string(),
                            station.registered.to_string(),
                            status.to_string(),
                            opt(counts.map(|c| c.source.as_str())),
                            opt(counts.map(|c| c.index)),
                            opt(counts.map(|c| c.took_part)),
                            opt(counts.map(|c| c.valid)),
                            opt(counts.map(|c| c.invalid)),
                            option.clone(),
                            opt(counts.map(|c| c.votes[i])),
                        ],
                    );
                }
            }
        }
    }
    out
}

/// Per level: see the module documentation.
pub fn levels_csv(results: &Results) -> String {
    let mut out = String::new();
    let _ = write!(out, "{LEVELS_HEADER}\r\n");
    for contest in &results.contests {
        for view in View::ALL {
            let view_results = contest.view(view);
            for level in &view_results.levels {
                for (i, option) in contest.options.iter().enumerate() {
                    let seats = if matches!(level.level, crate::tabulate::Level::Nation) {
                        nation_seats(contest, &view_results.outcome, option)
                    } else {
                        None
                    };
                    row(&mut out, &level_row(contest, view, level, i, option, seats));
                }
            }
        }
    }
    out
}

fn level_row(
    contest: &ContestResults,
    view: View,
    level: &LevelTotals,
    i: usize,
    option: &str,
    seats: Option<u32>,
) -> Vec<String> {
    vec![
        contest.contest.clone(),
        view.as_str().to_string(),
        level.level.kind().to_string(),
        level.level.id().unwrap_or("").to_string(),
        level.stations.to_string(),
        level.stations_counted.to_string(),
        level.registered.to_string(),
        level.registered_counted.to_string(),
        level.took_part.to_string(),
        opt(level.turnout.basis_points()),
        level.valid.to_string(),
        level.invalid.to_string(),
        option.to_string(),
        level.votes[i].to_string(),
        opt(Proportion::new(level.votes[i], level.took_part).basis_points()),
        opt(seats),
    ]
}

fn nation_seats(contest: &ContestResults, outcome: &Outcome, option: &str) -> Option<u32> {
    match outcome {
        Outcome::PartyList(list) => {
            if !matches!(list.status, ListStatus::Allocated | ListStatus::NoListPassed) {
                return None;
            }
            list.parties.iter().find(|p| p.party == option).map(|p| p.seats).or(Some(0))
        }
        Outcome::SingleMember(district) => match district.outcome.as_ref()? {
            DistrictOutcome::Elected { winner, .. } => Some(u32::from(winner.as_str() == option)),
            DistrictOutcome::Failed { .. } => Some(0),
        },
    }
    .filter(|_| contest.options.iter().any(|o| o == option))
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(field("1001"), "1001");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
