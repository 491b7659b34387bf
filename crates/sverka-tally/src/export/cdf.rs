//! NIST SP 1500-100 Rev. 2 Election Results Reporting common data format, JSON
//! (schema: `NIST_V2_election_results_reporting.json`, usnistgov/ElectionResultsReporting branch
//! `version2`; the test `tests/cdf_schema.rs` validates every export against it).
//!
//! One report holds one view (official by default) of every contest:
//!
//! - `GpUnit`: a `ReportingUnit` for the nation (`country`), each region and each district
//!   (`other`, with `OtherType` `region` / `district`), and each polling station (`precinct`,
//!   with `VotersRegistered`), linked by `ComposingGpUnitIds`;
//! - `Party`: the lists; `Election.Candidate`: list candidates and district candidates, with
//!   `PostElectionStatus` `winner` (complete count) or `projected-winner` (partial count) for the
//!   elected;
//! - `Contest`: a `PartyContest` for a party-list race (one `PartySelection` per list) and a
//!   `CandidateContest` for a single-member race (`VotesAllowed` 1, `NumberElected` 1). "Against
//!   all" is a `CandidateSelection` without `CandidateIds` (the schema has no "none of the above";
//!   a selection naming no candidate is the closest valid form);
//! - `VoteCounts` per selection and GpUnit (nation, region, district, every counted station) with
//!   `CountItemType` `total`; the seats a list won as `VoteCounts` with `Type` **`seats`** at the
//!   nation: the schema's `CountItemType` enumeration (version 2) has `seats`, and no `seats-won`,
//!   so that is where seat counts go;
//! - `Election.BallotCounts`: ballots cast (voters who took part) per GpUnit, from the first
//!   party-list race (every voter gets its ballot);
//! - `SubUnitsReported` / `TotalSubUnits` per contest: stations counted out of stations.
//!
//! Identifiers: `gpu-nation`, `gpu-region-<id>`, `gpu-district-<id>`, `gpu-station-<id>`,
//! `party-<id>`, `cand-<contest>-<id>`, `contest-<id>`, `sel-<contest>-<option>`.

use serde_json::{json, Value};
use sverka_model::election::Election;
use sverka_model::names::Names;
use sverka_model::ContestKind;

use crate::seats::DistrictOutcome;
use crate::tabulate::{ContestResults, Level, ListStatus, Outcome, Results, View};

/// What the report says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CdfConfig {
    /// Which view to report.
    pub view: View,
    /// `GeneratedDate`: an RFC 3339 date-time with zone, e.g. `2021-11-29T06:00:00Z` (the
    /// caller's clock; this crate reads none).
    pub generated: String,
    /// `Issuer`, e.g. "Central Election Commission".
    pub issuer: String,
    /// `IssuerAbbreviation`, e.g. "CEC".
    pub issuer_abbreviation: String,
    /// `Notes`, e.g. the checkpoint the results come from.
    pub notes: Option<String>,
}

impl CdfConfig {
    /// The official view, with the given generation time.
    pub fn official(generated: &str) -> Self {
        CdfConfig {
            view: View::Official,
            generated: generated.to_string(),
            issuer: "sverka".to_string(),
            issuer_abbreviation: "sverka".to_string(),
            notes: None,
        }
    }
}

fn text(names: &Names) -> Value {
    let strings: Vec<Value> = [("ky", &names.ky), ("ru", &names.ru), ("en", &names.en)]
        .into_iter()
        .filter(|(_, content)| !content.is_empty())
        .map(|(language, content)| language_string(content, language))
        .collect();
    json!({"@type": "ElectionResults.InternationalizedText", "Text": strings})
}

fn plain_text(content: &str) -> Value {
    // Names written once (stations, candidates) carry no language: BCP 47 "und".
    json!({"@type": "ElectionResults.InternationalizedText", "Text": [language_string(content, "und")]})
}

fn language_string(content: &str, language: &str) -> Value {
    json!({"@type": "ElectionResults.LanguageString", "Content": content, "Language": language})
}

fn gpu_id(level: &Level) -> String {
    match level {
        Level::Nation | Level::Abroad => "gpu-nation".to_string(),
        Level::Region(id) => format!("gpu-region-{id}"),
        Level::District(id) => format!("gpu-district-{id}"),
    }
}

/// The whole report as JSON.
///
/// # Panics
/// If `results` were not computed from `election`.
pub fn election_report(results: &Results, election: &Election, config: &CdfConfig) -> Value {
    assert_eq!(results.election, election.id, "results of another election");
    let complete = results.contests.iter().all(|c| {
        let nation = c.view(config.view).nation();
        nation.stations_counted + nation.stations_annulled == nation.stations
    });
    let status = if complete { "unofficial-complete" } else { "unofficial-partial" };
    let mut report = json!({
        "@type": "ElectionResults.ElectionReport",
        "Format": "precinct-level",
        "GeneratedDate": config.generated,
        "Issuer": config.issuer,
        "IssuerAbbreviation": config.issuer_abbreviation,
        "SequenceStart": 1,
        "SequenceEnd": 1,
        "Status": status,
        "VendorApplicationId": concat!("sverka-tally ", env!("CARGO_PKG_VERSION")),
        "GpUnit": gp_units(election),
        "Party": parties(election),
        "Election": [{
            "@type": "ElectionResults.Election",
            "ElectionScopeId": "gpu-nation",
            "Name": text(&election.name),
            "StartDate": election.date,
            "EndDate": election.date,
            "Type": "general",
            "Candidate": candidates(results, election, config.view, complete),
            "Contest": results.contests.iter().map(|c| contest(c, election, config.view)).collect::<Vec<_>>(),
            "BallotCounts": ballot_counts(results, config.view),
        }],
    });
    if let Some(notes) = &config.notes {
        report["Notes"] = json!(notes);
    }
    report
}

/// The report as canonical JSON bytes (RFC 8785: keys sorted, no spaces).
pub fn election_report_json(
    results: &Results,
    election: &Election,
    config: &CdfConfig,
) -> Result<Vec<u8>, sverka_model::canonical::CanonicalError> {
    sverka_model::canonical::value_to_vec(&election_report(results, election, config))
}

fn gp_units(election: &Election) -> Vec<Value> {
    let mut units = vec![json!({
        "@id": "gpu-nation",
        "@type": "ElectionResults.ReportingUnit",
        "Type": "country",
        "Name": text(&election.name),
        "VotersRegistered": election.registered_total(),
        "ComposingGpUnitIds": election.regions.iter().map(|r| gpu_id(&Level::Region(r.id.clone()))).collect::<Vec<_>>(),
    })];
    for region in &election.regions {
        let districts: Vec<String> = election
            .districts
            .iter()
            .filter(|d| d.region == region.id)
            .map(|d| gpu_id(&Level::District(d.id.clone())))
            .collect();
        units.push(json!({
            "@id": gpu_id(&Level::Region(region.id.clone())),
            "@type": "ElectionResults.ReportingUnit",
            "Type": "other",
            "OtherType": "region",
            "Name": text(&region.name),
            "ComposingGpUnitIds": districts,
        }));
    }
    for district in &election.districts {
        let stations: Vec<String> = election
            .stations
            .iter()
            .filter(|s| s.district == district.id)
            .map(|s| format!("gpu-station-{}", s.id))
            .collect();
        units.push(json!({
            "@id": gpu_id(&Level::District(district.id.clone())),
            "@type": "ElectionResults.ReportingUnit",
            "Type": "other",
            "OtherType": "district",
            "Name": text(&district.name),
            "ComposingGpUnitIds": stations,
        }));
    }
    for station in &election.stations {
        units.push(json!({
            "@id": format!("gpu-station-{}", station.id),
            "@type": "ElectionResults.ReportingUnit",
            "Type": "precinct",
            "Number": station.id,
            "Name": plain_text(&station.name),
            "VotersRegistered": station.registered,
        }));
    }
    units
}

fn parties(election: &Election) -> Vec<Value> {
    let mut out = Vec::new();
    for contest in &election.contests {
        let ContestKind::PartyList(list) = &contest.kind else { continue };
        for party in &list.parties {
            let id = format!("party-{}", party.id);
            if out.iter().any(|p: &Value| p["@id"] == json!(id)) {
                continue;
            }
            out.push(
                json!({"@id": id, "@type": "ElectionResults.Party", "Name": text(&party.name)}),
            );
        }
    }
    out
}

fn known_party(election: &Election, party: &str) -> bool {
    election.contests.iter().any(|c| match &c.kind {
        ContestKind::PartyList(list) => list.parties.iter().any(|p| p.id == party),
        ContestKind::SingleMember(_) => false,
    })
}

fn candidates(results: &Results, election: &Election, view: View, complete: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for (contest, contest_results) in election.contests.iter().zip(&results.contests) {
        let outcome = &contest_results.view(view).outcome;
        let listed: Vec<&sverka_model::election::Candidate> = match &contest.kind {
            ContestKind::PartyList(list) => {
                list.parties.iter().flat_map(|p| &p.candidates).collect()
            }
            ContestKind::SingleMember(smd) => smd.candidates.iter().collect(),
        };
        for candidate in listed {
            let mut v = json!({
                "@id": format!("cand-{}-{}", contest.id, candidate.id),
                "@type": "ElectionResults.Candidate",
                "BallotName": plain_text(&candidate.name),
            });
            if let Some(party) = candidate.party.as_deref().filter(|p| known_party(election, p)) {
                v["PartyId"] = json!(format!("party-{party}"));
            }
            match (elected(outcome, &candidate.id), complete) {
                (Some(true), true) => v["PostElectionStatus"] = json!("winner"),
                (Some(true), false) => v["PostElectionStatus"] = json!("projected-winner"),
                (Some(false), true) => v["PostElectionStatus"] = json!("defeated"),
                _ => {}
            }
            out.push(v);
        }
    }
    out
}

/// Whether `candidate` is elected (`None` while there is no outcome).
fn elected(outcome: &Outcome, candidate: &str) -> Option<bool> {
    match outcome {
        Outcome::PartyList(list) => match list.status {
            ListStatus::Allocated | ListStatus::NoListPassed => Some(
                list.parties.iter().any(|p| p.elected.iter().any(|e| e.candidate == candidate)),
            ),
            _ => None,
        },
        Outcome::SingleMember(district) => match district.outcome.as_ref()? {
            DistrictOutcome::Elected { winner, .. } => Some(winner.as_str() == candidate),
            DistrictOutcome::Failed { .. } => Some(false),
        },
    }
}

fn vote_counts(contest: &ContestResults, view: View, option: usize) -> Vec<Value> {
    let count = |gpu: String, n: u64| json!({"@type": "ElectionResults.VoteCounts", "GpUnitId": gpu, "Type": "total", "Count": n});
    let mut out: Vec<Value> = contest
        .view(view)
        .levels
        .iter()
        .filter(|l| l.level != Level::Abroad)
        .map(|l| count(gpu_id(&l.level), l.votes[option]))
        .collect();
    for station in &contest.stations {
        let counts = match view {
            View::Official => station.official.as_ref(),
            View::Preliminary => station.preliminary.as_ref(),
        };
        if let Some(counts) = counts {
            out.push(count(format!("gpu-station-{}", station.station), counts.votes[option]));
        }
    }
    out
}

fn contest(c: &ContestResults, election: &Election, view: View) -> Value {
    let definition = election.contest(&c.contest).expect("results of this election");
    let nation = c.view(view).nation();
    let done = nation.stations_counted + nation.stations_annulled == nation.stations;
    let count_status = json!([{
        "@type": "ElectionResults.CountStatus",
        "Status": if done { "completed" } else { "in-process" },
        "Type": "total",
    }]);
    let selections: Vec<Value> = c
        .options
        .iter()
        .enumerate()
        .map(|(i, option)| selection(c, election, view, i, option))
        .collect();
    let mut v = json!({
        "@id": format!("contest-{}", c.contest),
        "Name": definition.name.en,
        "ContestSelection": selections,
        "SubUnitsReported": nation.stations_counted,
        "TotalSubUnits": nation.stations,
        "CountStatus": count_status,
    });
    match &definition.kind {
        ContestKind::PartyList(_) => {
            v["@type"] = json!("ElectionResults.PartyContest");
            v["ElectionDistrictId"] = json!("gpu-nation");
        }
        ContestKind::SingleMember(smd) => {
            v["@type"] = json!("ElectionResults.CandidateContest");
            v["ElectionDistrictId"] = json!(gpu_id(&Level::District(smd.district.clone())));
            v["VotesAllowed"] = json!(1);
            v["NumberElected"] = json!(1);
        }
    }
    v
}

fn selection(c: &ContestResults, election: &Election, view: View, i: usize, option: &str) -> Value {
    let definition = election.contest(&c.contest).expect("results of this election");
    let id = format!("sel-{}-{}", c.contest, option);
    let mut counts = vote_counts(c, view, i);
    if option == sverka_model::AGAINST_ALL {
        return json!({"@id": id, "@type": "ElectionResults.CandidateSelection", "SequenceOrder": i + 1, "VoteCounts": counts});
    }
    match &definition.kind {
        ContestKind::PartyList(list) => {
            if let Outcome::PartyList(outcome) = &c.view(view).outcome {
                if outcome.status == ListStatus::Allocated
                    || outcome.status == ListStatus::NoListPassed
                {
                    let seats =
                        outcome.parties.iter().find(|p| p.party == option).map_or(0, |p| p.seats);
                    counts.push(json!({
                        "@type": "ElectionResults.VoteCounts", "GpUnitId": "gpu-nation",
                        "Type": "seats", "Count": seats,
                    }));
                }
            }
            let order = list
                .parties
                .iter()
                .find(|p| p.id == option)
                .map_or(i as u32 + 1, |p| p.ballot_number);
            json!({
                "@id": id, "@type": "ElectionResults.PartySelection",
                "PartyIds": [format!("party-{option}")], "SequenceOrder": order, "VoteCounts": counts,
            })
        }
        ContestKind::SingleMember(smd) => {
            let mut v = json!({
                "@id": id, "@type": "ElectionResults.CandidateSelection",
                "CandidateIds": [format!("cand-{}-{}", c.contest, option)],
                "SequenceOrder": smd.candidates.iter().find(|k| k.id == option).map_or(i as u32 + 1, |k| k.position),
                "VoteCounts": counts,
            });
            let party = smd
                .candidates
                .iter()
                .find(|k| k.id == option)
                .and_then(|k| k.party.clone())
                .filter(|p| known_party(election, p));
            if let Some(party) = party {
                v["EndorsementPartyIds"] = json!([format!("party-{party}")]);
            }
            v
        }
    }
}

fn ballot_counts(results: &Results, view: View) -> Vec<Value> {
    let Some(list) =
        results.contests.iter().find(|c| matches!(c.view(view).outcome, Outcome::PartyList(_)))
    else {
        return Vec::new();
    };
    let count = |gpu: String, n: u64| json!({"@type": "ElectionResults.BallotCounts", "GpUnitId": gpu, "Type": "total", "BallotsCast": n});
    let mut out: Vec<Value> = list
        .view(view)
        .levels
        .iter()
        .filter(|l| l.level != Level::Abroad)
        .map(|l| count(gpu_id(&l.level), l.took_part))
        .collect();
    for station in &list.stations {
        let counts = match view {
            View::Official => station.official.as_ref(),
            View::Preliminary => station.preliminary.as_ref(),
        };
        if let Some(counts) = counts {
            out.push(count(format!("gpu-station-{}", station.station), counts.took_part));
        }
    }
    out
}
