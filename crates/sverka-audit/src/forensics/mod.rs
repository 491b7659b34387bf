//! Election forensics (issue 11): statistical anomaly flags computed from station-level results
//! alone, after Shpilkin, Klimek et al. (PNAS 2012) and Kobak, Shpilkin & Pshenichnikov (Ann. Appl.
//! Stat. 2016). **A flag is a reason for a human to look, never proof of fraud**: honest elections
//! produce outliers, and every test here has a stated false-flag rate.
//!
//! Code map:
//! - [`Input`]: one contest's stations (the counted result of a view, and each source's current
//!   protocol), built from a replayed [`Tally`] by [`Input::from_tally`] or by hand.
//! - `fingerprint`: the turnout × leader-share 2D histogram weighted by voters, the comet-tail mass,
//!   and each option's share-vs-turnout correlation.
//! - `rounds`: round-number peaks (integer and multiple-of-5 percentages) with a binomial-resampling
//!   null model (Kobak et al. 2016).
//! - `digits`: last-digit and second-digit tests, with a p-value by simulation beside the textbook
//!   chi-square one.
//! - `sources`: machine vs hand count deviations and observer-copy mismatches, ranked per district by
//!   robust z-scores.
//! - `summary`: the per-station anomaly list, every station with its reasons.
//! - [`svg`] and [`raster`]: the fingerprint as a hand-written SVG and as RGB pixels (for PNG).
//! - [`stats`]: the statistical functions, written out.
//!
//! Determinism: every simulation draws from ChaCha8 seeded with [`Config::seed`] (stream 1 for
//! the round-number tests, stream 2 for the digit tests), and the seed is written in the report, so anyone can recompute every p-value bit for bit.

mod digits;
mod fingerprint;
pub mod raster;
mod report;
mod rounds;
mod sources;
pub mod stats;
mod summary;
pub mod svg;

use sverka_model::election::Election;
use sverka_model::Source;
use sverka_tally::tabulate::{Tally, View};

pub use digits::DigitTest;
pub use fingerprint::{Correlation, Fingerprint};
pub use rounds::RoundNumberTest;
pub use sources::{DistrictDeviations, SourceDeviation};
pub use summary::{Reason, StationFlag};

/// The published format of [`Report::to_json`].
pub const FORMAT: &str = "sverka-forensics/v1";

/// One protocol's numbers, as far as forensics reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Voters who took part (ballots found in the boxes, as the form computes it).
    pub took_part: u64,
    /// Votes per option, in [`Input::options`] order.
    pub votes: Vec<u64>,
}

/// Another source's protocol for a station.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceCounts {
    pub source: Source,
    /// The observer's key id (observers only).
    pub signer: Option<String>,
    pub counts: Counts,
}

/// One polling station.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Station {
    pub id: String,
    pub district: String,
    pub registered: u64,
    /// The result being analysed (the chosen protocol of the view).
    pub counts: Counts,
    /// Every source's current protocol (machine, manual, observers, recount).
    pub sources: Vec<SourceCounts>,
}

/// One contest's stations, the input of [`analyse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub election: String,
    pub contest: String,
    /// `official` or `preliminary`: which protocol [`Station::counts`] holds.
    pub view: String,
    /// Option ids, `against_all` included where the contest has it.
    pub options: Vec<String>,
    /// Only stations with a counted result that is not annulled.
    pub stations: Vec<Station>,
}

/// Why forensics cannot run.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ForensicsError {
    #[error("contest {0:?} is not in the election")]
    UnknownContest(String),
    #[error("station {station:?}: {found} vote counts for {expected} options")]
    OptionCount { station: String, found: usize, expected: usize },
    #[error("no station has a counted result yet; nothing to analyse")]
    NoStations,
    #[error("config: {0}")]
    Config(String),
}

impl Input {
    /// The stations of `contest` as the tally holds them: [`Station::counts`] is the result of
    /// `view` (annulled and uncounted stations are left out), and [`Station::sources`] every
    /// source's current protocol.
    pub fn from_tally(
        election: &Election,
        tally: &Tally,
        contest: &str,
        view: View,
    ) -> Result<Input, ForensicsError> {
        let results = tally.results(election);
        let contest_results = results
            .contest(contest)
            .ok_or_else(|| ForensicsError::UnknownContest(contest.to_string()))?;
        let stations = contest_results
            .stations
            .iter()
            .filter_map(|station| {
                let chosen = match view {
                    View::Official => station.official.as_ref(),
                    View::Preliminary => station.preliminary.as_ref(),
                }?;
                let sources = tally
                    .current_protocols(&station.station, contest)
                    .into_iter()
                    .map(|(signer, c)| SourceCounts {
                        source: c.source,
                        signer,
                        counts: Counts { took_part: c.took_part, votes: c.votes },
                    })
                    .collect();
                Some(Station {
                    id: station.station.clone(),
                    district: station.district.clone(),
                    registered: station.registered,
                    counts: Counts { took_part: chosen.took_part, votes: chosen.votes.clone() },
                    sources,
                })
            })
            .collect();
        Ok(Input {
            election: results.election.clone(),
            contest: contest.to_string(),
            view: view.as_str().to_string(),
            options: contest_results.options.clone(),
            stations,
        })
    }

    fn check(&self) -> Result<(), ForensicsError> {
        if self.stations.is_empty() {
            return Err(ForensicsError::NoStations);
        }
        for station in &self.stations {
            let counts =
                std::iter::once(&station.counts).chain(station.sources.iter().map(|s| &s.counts));
            for c in counts {
                if c.votes.len() != self.options.len() {
                    return Err(ForensicsError::OptionCount {
                        station: station.id.clone(),
                        found: c.votes.len(),
                        expected: self.options.len(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The option with the most votes over all stations, "against all" excluded (ties: the first
    /// in ballot order).
    fn leader(&self) -> usize {
        let mut totals = vec![0u64; self.options.len()];
        for station in &self.stations {
            for (t, v) in totals.iter_mut().zip(&station.counts.votes) {
                *t += v;
            }
        }
        let mut best = 0;
        for (i, total) in totals.iter().enumerate() {
            let eligible = self.options[i] != sverka_model::AGAINST_ALL;
            if eligible
                && (*total > totals[best] || self.options[best] == sverka_model::AGAINST_ALL)
            {
                best = i;
            }
        }
        best
    }
}

/// How to run the analyses.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Seeds every simulation; written in the report.
    pub seed: u64,
    /// Simulated data sets per null distribution (round numbers, digits).
    pub simulations: u32,
    /// Nominal false-flag rate of each election-wide test (round numbers, digits).
    pub alpha_election: f64,
    /// Nominal false-flag rate per station of the combined result-pattern signals.
    pub alpha_station: f64,
    /// Stations with fewer registered voters are left out of the round-number test (small
    /// denominators make round percentages common: 1 of 2 is 50%).
    pub min_registered: u64,
    /// A robust z-score at or above this is an outlier (Iglewicz & Hoaglin's 3.5).
    pub outlier_z: f64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 1,
            simulations: 1000,
            alpha_election: 0.05,
            alpha_station: 0.001,
            min_registered: 100,
            outlier_z: 3.5,
        }
    }
}

impl Config {
    fn check(&self) -> Result<(), ForensicsError> {
        let level = |what: &str, x: f64| {
            if x > 0.0 && x < 1.0 {
                Ok(())
            } else {
                Err(ForensicsError::Config(format!("{what} {x} is not in (0, 1)")))
            }
        };
        level("alpha_election", self.alpha_election)?;
        level("alpha_station", self.alpha_station)?;
        if self.simulations < 19 {
            return Err(ForensicsError::Config(format!(
                "simulations {} is too few for a p-value below 0.05 (at least 19)",
                self.simulations
            )));
        }
        if self.outlier_z.is_nan() || self.outlier_z <= 0.0 {
            return Err(ForensicsError::Config(format!(
                "outlier_z {} must be positive",
                self.outlier_z
            )));
        }
        Ok(())
    }
}

/// The log checkpoint a report was computed from (set by the caller that replayed the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRef {
    pub size: u64,
    /// The root hash, base64 as in the checkpoint note.
    pub root: String,
}

/// Everything [`analyse`] finds.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub election: String,
    /// `None` until the caller names the checkpoint it replayed.
    pub checkpoint: Option<CheckpointRef>,
    pub contest: String,
    pub view: String,
    pub config: Config,
    /// The leading option (most votes, "against all" excluded).
    pub leader: String,
    pub stations: usize,
    pub fingerprint: Fingerprint,
    pub correlations: Vec<Correlation>,
    pub round_numbers: Vec<RoundNumberTest>,
    pub digits: Vec<DigitTest>,
    /// Machine vs hand count, per district.
    pub machine_manual: Vec<DistrictDeviations>,
    /// Observer copies vs the counted result, per district.
    pub observer: Vec<DistrictDeviations>,
    /// Flagged stations, most anomalous first.
    pub flagged: Vec<StationFlag>,
}

/// Runs every analysis on `input`.
pub fn analyse(input: &Input, config: &Config) -> Result<Report, ForensicsError> {
    config.check()?;
    input.check()?;
    let leader = input.leader();
    let fingerprint = fingerprint::fingerprint(input, leader);
    let correlations = fingerprint::correlations(input);
    let round_numbers = rounds::round_number_tests(input, leader, config);
    let digits = digits::digit_tests(input, config);
    let machine_manual = sources::machine_manual(input, config);
    let observer = sources::observer(input, config);
    let flagged = summary::flag_stations(input, leader, config, &machine_manual, &observer);
    Ok(Report {
        election: input.election.clone(),
        checkpoint: None,
        contest: input.contest.clone(),
        view: input.view.clone(),
        config: config.clone(),
        leader: input.options[leader].clone(),
        stations: input.stations.len(),
        fingerprint,
        correlations,
        round_numbers,
        digits,
        machine_manual,
        observer,
        flagged,
    })
}

/// The caveats every report carries (also shown on the site).
pub const CAVEATS: [&str; 5] = [
    "Flags are reasons for a human to look at a station, never proof of fraud: honest elections produce outliers, and each test has a false-flag rate stated beside it.",
    "Turnout and vote shares vary for honest reasons (urban and rural areas, closed institutions such as hospitals and barracks, diaspora stations); a comet tail or a correlation between a party's share and turnout is a pattern to explain, not a verdict (Klimek et al., PNAS 2012).",
    "Round-number peaks are judged against a binomial-resampling null model (Kobak, Shpilkin & Pshenichnikov 2016): an excess is evidence that some results were written in, but it does not say which stations; a single station at a round number is unremarkable.",
    "Digit tests are weak: the second-digit Benford law (2BL) is neither necessary nor sufficient for honest counts (Deckert, Myagkov & Ordeshook, Political Analysis 2011); deviations arise from ordinary politics such as strategic voting and the size of stations (Mebane 2006, 2011); last digits are uniform only for counts well above 10 (Beber & Scacco 2012). The flagged p-value compares the digits with those of smoothed copies of the same counts; the textbook chi-square p-value is shown for comparison only.",
    "Machine vs hand count and observer-copy differences are facts to be explained (a misread, a keying slip, a wrong copy, or manipulation); robust z-scores rank them against the other stations of their district.",
];
