//! The national, region and district pages. Every figure is read from the tally's results of the
//! published checkpoint; this file only lays them out (shares are formatted from the tally's own
//! numerators and denominators).

use std::fmt::Write as _;

use sverka_model::election::{PartyListContest, ThresholdBase};
use sverka_model::{Contest, ContestKind, Election, Source};
use sverka_tally::seats::{DistrictOutcome, FailureReason};
use sverka_tally::tabulate::{
    ContestResults, Level, LevelTotals, ListOutcome, ListStatus, Outcome, SourceProgress, View,
};

use super::charts::{self, Part};
use super::html::{self, esc, link, Shell};
use super::i18n::{Lang, Msg};
use super::Ctx;

/// Party colours by ballot position: distinct, calm, readable with white text around them.
const PALETTE: [&str; 16] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#3b4cc0", "#b40426", "#006d5b", "#a05d00", "#6a3d9a", "#b15928", "#4d4d4d",
];
/// The colour of "against all".
pub(super) const AGAINST_ALL_COLOR: &str = "#7f7f7f";

pub(super) fn party_color(position: usize) -> &'static str {
    PALETTE[position % PALETTE.len()]
}

/// The first party-list contest: the one the national page is about.
pub(super) fn list_contest(election: &Election) -> Option<(&Contest, &PartyListContest)> {
    election.contests.iter().find_map(|contest| match &contest.kind {
        ContestKind::PartyList(list) => Some((contest, list)),
        ContestKind::SingleMember(_) => None,
    })
}

/// The display name of an option (party, candidate or "against all") of `contest`.
pub(super) fn option_name(contest: &Contest, option: &str, lang: Lang) -> String {
    if option == sverka_model::AGAINST_ALL {
        return lang.t(Msg::AgainstAll).to_string();
    }
    match &contest.kind {
        ContestKind::PartyList(list) => list
            .parties
            .iter()
            .find(|p| p.id == option)
            .map_or_else(|| option.to_string(), |p| p.name.get(lang.code()).to_string()),
        ContestKind::SingleMember(smd) => smd
            .candidates
            .iter()
            .find(|c| c.id == option)
            .map_or_else(|| option.to_string(), |c| c.name.clone()),
    }
}

/// The colour of option `i` of a contest: "against all" grey, a party's own colour when
/// `election.toml` gives one, else the palette's colour for its position.
pub(super) fn option_color<'a>(contest: &'a Contest, options: &[String], i: usize) -> &'a str {
    if options[i] == sverka_model::AGAINST_ALL {
        return AGAINST_ALL_COLOR;
    }
    let own = match &contest.kind {
        ContestKind::PartyList(list) => {
            list.parties.iter().find(|p| p.id == options[i]).and_then(|p| p.color.as_deref())
        }
        ContestKind::SingleMember(_) => None,
    };
    own.unwrap_or(party_color(i))
}

pub(super) fn source_label(source: Source, lang: Lang) -> &'static str {
    lang.t(match source {
        Source::Machine => Msg::SourceMachine,
        Source::Manual => Msg::SourceManual,
        Source::Observer => Msg::SourceObserver,
        Source::Recount => Msg::SourceRecount,
    })
}

fn view_toggle(out: &mut String, path: &str, ctx: &Ctx<'_>) {
    let lang = ctx.lang;
    let _ = write!(out, "<nav class=\"toggle\" aria-label=\"{}\">", esc(lang.t(Msg::View)));
    for (view, msg) in [(View::Preliminary, Msg::Preliminary), (View::Official, Msg::Official)] {
        if view == ctx.view {
            let _ = write!(out, "<strong aria-current=\"page\">{}</strong>", esc(lang.t(msg)));
        } else {
            let href = link(&format!("{path}?view={}", view.as_str()), lang);
            let _ = write!(out, "<a href=\"{}\">{}</a>", esc(&href), esc(lang.t(msg)));
        }
    }
    out.push_str("</nav>");
}

/// Reporting progress per source, as bars.
fn progress(out: &mut String, progress: &[SourceProgress], totals: &LevelTotals, lang: Lang) {
    let _ = write!(out, "<section><h2>{}</h2>", esc(lang.t(Msg::Reporting)));
    let counted_label = format!(
        "{} {} {}",
        lang.int(totals.stations_counted),
        lang.t(Msg::StationsOf),
        lang.int(totals.stations)
    );
    let _ = write!(
        out,
        "<p><strong data-stations-counted=\"{}\">{}</strong> ({})</p>",
        totals.stations_counted,
        esc(&counted_label),
        esc(&lang.percent(totals.stations_counted, totals.stations, 1))
    );
    out.push_str(&charts::stacked_bar(
        &[Part { label: &counted_label, color: "#1d4f91", value: totals.stations_counted }],
        totals.stations,
        &counted_label,
    ));
    out.push_str("<div class=\"scroll\"><table><thead><tr>");
    let _ = write!(
        out,
        "<th>{}</th><th class=\"n\">{}</th><th class=\"n\">%</th><th class=\"n\">{}</th></tr></thead><tbody>",
        esc(lang.t(Msg::Sources)),
        esc(lang.t(Msg::Stations)),
        esc(lang.t(Msg::VotersCovered))
    );
    for source in progress {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{} / {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(source_label(source.source, lang)),
            lang.int(source.stations),
            lang.int(source.of_stations),
            esc(&lang.percent(source.stations, source.of_stations, 1)),
            esc(&lang.percent(source.registered, source.of_registered, 1)),
        );
    }
    out.push_str("</tbody></table></div></section>");
}

/// Turnout and ballots.
fn turnout(out: &mut String, totals: &LevelTotals, lang: Lang) {
    let _ = write!(out, "<section><h2>{}</h2><dl class=\"facts\">", esc(lang.t(Msg::Turnout)));
    let facts: [(Msg, String, &str, u64); 5] = [
        (
            Msg::Turnout,
            lang.percent(totals.turnout.num, totals.turnout.den, 2),
            "turnout",
            totals.took_part,
        ),
        (Msg::TookPart, lang.int(totals.took_part), "took-part", totals.took_part),
        (
            Msg::Registered,
            lang.int(totals.registered_counted),
            "registered",
            totals.registered_counted,
        ),
        (Msg::Valid, lang.int(totals.valid), "valid", totals.valid),
        (Msg::Invalid, lang.int(totals.invalid), "invalid", totals.invalid),
    ];
    for (msg, shown, name, raw) in facts {
        let _ = write!(
            out,
            "<div><dt>{}</dt><dd data-{name}=\"{raw}\">{}</dd></div>",
            esc(lang.t(msg)),
            esc(&shown)
        );
    }
    out.push_str("</dl></section>");
}

/// The threshold base of a level, of the kind the contest uses.
fn base_of(totals: &LevelTotals, kind: ThresholdBase) -> u64 {
    match kind {
        ThresholdBase::TookPart => totals.took_part,
        ThresholdBase::Valid => totals.valid,
        ThresholdBase::Registered => totals.registered_counted,
    }
}

fn ppm(num: u64, den: u64) -> u64 {
    if den == 0 {
        0
    } else {
        (u128::from(num) * 1_000_000 / u128::from(den)) as u64
    }
}

/// Party shares as bars with the threshold line, margins, and "against all".
fn party_shares(
    out: &mut String,
    contest: &Contest,
    results: &ContestResults,
    list: &ListOutcome,
    totals: &LevelTotals,
    national: bool,
    lang: Lang,
) {
    let base = if national { list.threshold_base } else { base_of(totals, list.base_kind) };
    let threshold_ppm = ppm(list.threshold.0, list.threshold.1);
    let mut rows: Vec<(usize, u64)> = (0..results.options.len())
        .map(|i| (i, totals.votes.get(i).copied().unwrap_or(0)))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let top = rows.first().map_or(0, |r| ppm(r.1, base));
    let scale = (top.max(threshold_ppm * 2) / 50_000 + 1) * 50_000;
    let _ = write!(
        out,
        "<section><h2>{}</h2><p class=\"legend\">┆ {} {}</p><ol class=\"parties\">",
        esc(lang.t(Msg::PartyShares)),
        esc(lang.t(Msg::ThresholdLine)),
        esc(&lang.percent(list.threshold.0, list.threshold.1, 0)),
    );
    for (i, votes) in rows {
        let option = &results.options[i];
        let party = list.parties.iter().find(|p| &p.party == option);
        let color = option_color(contest, &results.options, i);
        let name = option_name(contest, option, lang);
        let _ = write!(
            out,
            "<li data-option=\"{}\" data-votes=\"{votes}\"><span class=\"pname\"><span class=\"swatch\" style=\"background:{color}\"></span>{}</span>{}<span class=\"pct\">{}</span><span class=\"meta\">{} {}",
            esc(option),
            esc(&name),
            charts::share_bar(color, ppm(votes, base), if party.is_some() { threshold_ppm } else { 0 }, scale),
            esc(&lang.percent(votes, base, 2)),
            esc(&lang.int(votes)),
            esc(&lang.t(Msg::Votes).to_lowercase()),
        );
        if let (true, Some(party)) = (national, party) {
            if let Some(flip) = party.flip_fixed_base {
                let (class, msg) = if party.passes_national {
                    ("above", Msg::Above)
                } else {
                    ("below", Msg::Below)
                };
                let _ = write!(
                    out,
                    " · <span class=\"{class}\">{}: {} {}</span>",
                    esc(lang.t(Msg::Margin)),
                    esc(&lang.int(u64::try_from(flip.unsigned_abs()).unwrap_or(u64::MAX))),
                    esc(lang.t(msg))
                );
            }
            if party.seats > 0 {
                let _ = write!(out, " · {}: {}", esc(lang.t(Msg::Seats)), party.seats);
            }
        }
        out.push_str("</span></li>");
    }
    out.push_str("</ol></section>");
}

/// Seats as a hemicycle.
fn seats(
    out: &mut String,
    contest: &Contest,
    results: &ContestResults,
    list: &ListOutcome,
    lang: Lang,
) {
    let _ = write!(out, "<section><h2>{}</h2>", esc(lang.t(Msg::SeatsProjected)));
    if list.status != ListStatus::Allocated {
        let _ = write!(out, "<p>{}</p></section>", esc(lang.t(Msg::NoSeatsYet)));
        return;
    }
    let names: Vec<(String, &str, u64)> = list
        .parties
        .iter()
        .filter(|p| p.seats > 0)
        .map(|p| {
            let i = results.options.iter().position(|o| o == &p.party).unwrap_or(0);
            (
                option_name(contest, &p.party, lang),
                option_color(contest, &results.options, i),
                u64::from(p.seats),
            )
        })
        .collect();
    let parts: Vec<Part<'_>> = names
        .iter()
        .map(|(name, color, seats)| Part { label: name, color, value: *seats })
        .collect();
    out.push_str(&charts::hemicycle(&parts, lang.t(Msg::Seats)));
    out.push_str("<ul class=\"seats\">");
    for (name, color, seats) in &names {
        let _ = write!(out, "<li><span class=\"swatch\" style=\"background:{color}\"></span> {}: <strong>{seats}</strong></li>", esc(name));
    }
    out.push_str("</ul></section>");
}

/// Which checkpoint the page was computed from, and where to verify it.
pub(super) fn checkpoint_note(out: &mut String, ctx: &Ctx<'_>) {
    let lang = ctx.lang;
    match &ctx.published.checkpoint {
        Some(checkpoint) => {
            let _ = write!(
                out,
                "<section class=\"checkpoint\"><p>{}: <strong data-checkpoint-size=\"{}\">{} {}</strong>, {} <code>{}</code>. \
                 <a href=\"/checkpoint\">{}</a> · <a href=\"/api/v1/results\">JSON</a> · <code>sverka verify</code> · \
                 <a href=\"/changes?lang={}\">{}</a></p></section>",
                esc(lang.t(Msg::ComputedFrom)),
                checkpoint.size,
                lang.int(checkpoint.size),
                esc(lang.t(Msg::Entries)),
                esc(lang.t(Msg::Root)),
                esc(&checkpoint.root.to_hex()),
                esc(lang.t(Msg::VerifyIt)),
                lang.code(),
                esc(lang.t(Msg::WhatChanged)),
            );
            if !ctx.state.config().witnesses.is_empty() {
                out.push_str(&crate::witnessing::badge_html(checkpoint.size, lang.code()));
            }
        }
        None => {
            let _ = write!(
                out,
                "<section class=\"checkpoint\"><p>{}</p></section>",
                esc(lang.t(Msg::NoCheckpoint))
            );
        }
    }
}

fn find_form(out: &mut String, lang: Lang) {
    let _ = write!(
        out,
        "<form class=\"find\" action=\"/find\" method=\"get\" role=\"search\"><input type=\"hidden\" name=\"lang\" value=\"{}\">\
         <input name=\"q\" inputmode=\"numeric\" aria-label=\"{}\" placeholder=\"{}\"><button>{}</button></form>",
        lang.code(),
        esc(lang.t(Msg::FindStation)),
        esc(lang.t(Msg::FindStation)),
        esc(lang.t(Msg::Find))
    );
}

/// The leading option of `totals`, as (name, share text).
fn leader(contest: &Contest, options: &[String], totals: &LevelTotals, lang: Lang) -> String {
    let best = totals
        .votes
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0)
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)));
    match best {
        Some((i, votes)) => format!(
            "{} ({})",
            option_name(contest, &options[i], lang),
            lang.percent(*votes, totals.valid.max(1), 1)
        ),
        None => "—".to_string(),
    }
}

/// A table of sub-units (regions or districts) with their reporting, turnout and leader.
fn units_table(
    out: &mut String,
    ctx: &Ctx<'_>,
    title: Msg,
    contest: &Contest,
    results: &ContestResults,
    units: &[(String, String, Level)],
    prefix: &str,
) {
    let lang = ctx.lang;
    let view = results.view(ctx.view);
    let _ = write!(
        out,
        "<section><h2>{}</h2><div class=\"scroll\"><table><thead><tr><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th>{}</th></tr></thead><tbody>",
        esc(lang.t(title)),
        esc(lang.t(Msg::Name)),
        esc(lang.t(Msg::Reporting)),
        esc(lang.t(Msg::Turnout)),
        esc(lang.t(Msg::Leader)),
    );
    for (id, name, level) in units {
        let Some(totals) = view.level(level) else { continue };
        let href = link(&format!("{prefix}/{id}?view={}", ctx.view.as_str()), lang);
        let _ = write!(
            out,
            "<tr><td><a href=\"{}\">{}</a></td><td class=\"n\">{} / {}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&href),
            esc(name),
            lang.int(totals.stations_counted),
            lang.int(totals.stations),
            esc(&lang.percent(totals.turnout.num, totals.turnout.den, 1)),
            esc(&leader(contest, &results.options, totals, lang)),
        );
    }
    out.push_str("</tbody></table></div></section>");
}

fn list_outcome(results: &ContestResults, view: View) -> Option<&ListOutcome> {
    match &results.view(view).outcome {
        Outcome::PartyList(list) => Some(list),
        Outcome::SingleMember(_) => None,
    }
}

/// The national page.
pub(super) fn national(ctx: &Ctx<'_>) -> String {
    let (lang, election) = (ctx.lang, ctx.state.election());
    let title = election.name.get(lang.code()).to_string();
    let mut body = String::with_capacity(32 * 1024);
    view_toggle(&mut body, "/", ctx);
    let found = ctx.published.results.as_ref().zip(list_contest(election)).and_then(
        |(results, (contest, _))| {
            let contest_results = results.contest(&contest.id)?;
            Some((contest, contest_results, list_outcome(contest_results, ctx.view)?))
        },
    );
    match found {
        Some((contest, results, list)) => {
            let totals = results.view(ctx.view).nation();
            progress(&mut body, &results.progress, totals, lang);
            turnout(&mut body, totals, lang);
            party_shares(&mut body, contest, results, list, totals, true, lang);
            seats(&mut body, contest, results, list, lang);
            let regions: Vec<(String, String, Level)> = election
                .regions
                .iter()
                .map(|r| {
                    (r.id.clone(), r.name.get(lang.code()).to_string(), Level::Region(r.id.clone()))
                })
                .collect();
            find_form(&mut body, lang);
            units_table(&mut body, ctx, Msg::Regions, contest, results, &regions, "/region");
        }
        None => {
            let _ = write!(body, "<section><p>{}</p></section>", esc(lang.t(Msg::NoData)));
        }
    }
    checkpoint_note(&mut body, ctx);
    let path = format!("/?view={}", ctx.view.as_str());
    let shell = Shell {
        lang,
        title: &title,
        election: &title,
        path: &path,
        crumbs: &[],
        checkpoint_size: ctx.published.size(),
    };
    html::page(&shell, &body)
}

/// The region page: its figures and its districts.
pub(super) fn region(ctx: &Ctx<'_>, id: &str) -> Option<String> {
    let (lang, election) = (ctx.lang, ctx.state.election());
    let region = election.region(id)?;
    let title = region.name.get(lang.code()).to_string();
    let election_name = election.name.get(lang.code());
    let mut body = String::with_capacity(16 * 1024);
    view_toggle(&mut body, &format!("/region/{id}"), ctx);
    let level = Level::Region(id.to_string());
    if let Some((contest, results, list, totals)) = level_figures(ctx, &level) {
        turnout(&mut body, totals, lang);
        reporting_line(&mut body, totals, lang);
        party_shares(&mut body, contest, results, list, totals, false, lang);
        let districts: Vec<(String, String, Level)> = election
            .districts
            .iter()
            .filter(|d| d.region == id)
            .map(|d| {
                (d.id.clone(), d.name.get(lang.code()).to_string(), Level::District(d.id.clone()))
            })
            .collect();
        units_table(&mut body, ctx, Msg::Districts, contest, results, &districts, "/district");
    } else {
        let _ = write!(body, "<section><p>{}</p></section>", esc(lang.t(Msg::NoData)));
    }
    checkpoint_note(&mut body, ctx);
    let crumbs = [(lang.t(Msg::Country).to_string(), link("/", lang))];
    let path = format!("/region/{id}?view={}", ctx.view.as_str());
    let shell = Shell {
        lang,
        title: &title,
        election: election_name,
        path: &path,
        crumbs: &crumbs,
        checkpoint_size: ctx.published.size(),
    };
    Some(html::page(&shell, &body))
}

fn level_figures<'p>(
    ctx: &Ctx<'p>,
    level: &Level,
) -> Option<(&'p Contest, &'p ContestResults, &'p ListOutcome, &'p LevelTotals)> {
    let results = ctx.published.results.as_ref()?;
    let (contest, _) = list_contest(ctx.state.election())?;
    let contest_results = results.contest(&contest.id)?;
    let list = list_outcome(contest_results, ctx.view)?;
    let totals = contest_results.view(ctx.view).level(level)?;
    Some((contest, contest_results, list, totals))
}

fn reporting_line(out: &mut String, totals: &LevelTotals, lang: Lang) {
    let label = format!(
        "{} {} {}",
        lang.int(totals.stations_counted),
        lang.t(Msg::StationsOf),
        lang.int(totals.stations)
    );
    let _ = write!(
        out,
        "<section><h2>{}</h2><p data-stations-counted=\"{}\">{}</p>",
        esc(lang.t(Msg::Reporting)),
        totals.stations_counted,
        esc(&label)
    );
    out.push_str(&charts::stacked_bar(
        &[Part { label: &label, color: "#1d4f91", value: totals.stations_counted }],
        totals.stations,
        &label,
    ));
    out.push_str("</section>");
}

/// The single-member race of a district.
fn single_member(out: &mut String, ctx: &Ctx<'_>, district: &str) {
    let lang = ctx.lang;
    let Some(results) = ctx.published.results.as_ref() else { return };
    for contest in &ctx.state.election().contests {
        let ContestKind::SingleMember(smd) = &contest.kind else { continue };
        if smd.district != district {
            continue;
        }
        let Some(contest_results) = results.contest(&contest.id) else { continue };
        let view = contest_results.view(ctx.view);
        let Some(totals) = view.level(&Level::District(district.to_string())) else { continue };
        let _ = write!(
            out,
            "<section><h2>{}: {}</h2>",
            esc(lang.t(Msg::SingleMember)),
            esc(contest.name.get(lang.code()))
        );
        if let Outcome::SingleMember(result) = &view.outcome {
            match &result.outcome {
                Some(DistrictOutcome::Elected { winner, lead, .. }) => {
                    let _ = write!(
                        out,
                        "<p><span class=\"badge\">{}</span> <strong>{}</strong> (+{})</p>",
                        esc(lang.t(Msg::Leader)),
                        esc(&option_name(contest, winner.as_str(), lang)),
                        esc(&lang.int(*lead))
                    );
                }
                Some(DistrictOutcome::Failed {
                    reason: FailureReason::AgainstAllAhead, ..
                }) => {
                    let _ = write!(
                        out,
                        "<p><span class=\"badge bad\">{}</span></p>",
                        esc(lang.t(Msg::RaceFailed))
                    );
                }
                _ => {}
            }
        }
        let _ = write!(
            out,
            "<div class=\"scroll\"><table><thead><tr><th>{}</th><th class=\"n\">{}</th><th class=\"n\">%</th></tr></thead><tbody>",
            esc(lang.t(Msg::Candidate)),
            esc(lang.t(Msg::Votes))
        );
        let mut rows: Vec<(usize, u64)> = totals.votes.iter().copied().enumerate().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for (i, votes) in rows {
            let option = &contest_results.options[i];
            let _ = write!(
                out,
                "<tr data-option=\"{}\" data-votes=\"{votes}\"><td><span class=\"swatch\" style=\"background:{}\"></span> {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(option),
                option_color(contest, &contest_results.options, i),
                esc(&option_name(contest, option, lang)),
                esc(&lang.int(votes)),
                esc(&lang.percent(votes, totals.valid, 2)),
            );
        }
        out.push_str("</tbody></table></div></section>");
    }
}

/// The stations of a district, with the sources each has.
fn stations_table(out: &mut String, ctx: &Ctx<'_>, district: &str) {
    let lang = ctx.lang;
    let election = ctx.state.election();
    let station_results = ctx
        .published
        .results
        .as_ref()
        .zip(list_contest(election))
        .and_then(|(results, (contest, _))| results.contest(&contest.id));
    let _ = write!(
        out,
        "<section><h2>{}</h2><div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th class=\"n\">{}</th><th>{}</th></tr></thead><tbody>",
        esc(lang.t(Msg::Stations)),
        esc(lang.t(Msg::Station)),
        esc(lang.t(Msg::Name)),
        esc(lang.t(Msg::Registered)),
        esc(lang.t(Msg::Sources)),
    );
    for station in election.stations.iter().filter(|s| s.district == district) {
        let result =
            station_results.and_then(|c| c.stations.iter().find(|s| s.station == station.id));
        let mut badges = String::new();
        if let Some(result) = result {
            if !result.annulled_by.is_empty() {
                let _ = write!(
                    badges,
                    "<span class=\"badge bad\">{}</span> ",
                    esc(lang.t(Msg::Annulled))
                );
            }
            for slot in result.slots.iter().filter(|s| s.current.is_some()) {
                let _ = write!(
                    badges,
                    "<span class=\"badge\">{}</span> ",
                    esc(source_label(slot.source, lang))
                );
            }
        }
        let _ = write!(
            out,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&link(&format!("/station/{}", station.id), lang)),
            esc(&station.id),
            esc(&station.name),
            esc(&lang.int(station.registered)),
            badges
        );
    }
    out.push_str("</tbody></table></div></section>");
}

/// The district page: its figures, its single-member race and its stations.
pub(super) fn district(ctx: &Ctx<'_>, id: &str) -> Option<String> {
    let (lang, election) = (ctx.lang, ctx.state.election());
    let district = election.district(id)?;
    let region = election.region(&district.region);
    let title = district.name.get(lang.code()).to_string();
    let mut body = String::with_capacity(16 * 1024);
    view_toggle(&mut body, &format!("/district/{id}"), ctx);
    let level = Level::District(id.to_string());
    if let Some((contest, results, list, totals)) = level_figures(ctx, &level) {
        turnout(&mut body, totals, lang);
        reporting_line(&mut body, totals, lang);
        party_shares(&mut body, contest, results, list, totals, false, lang);
    }
    single_member(&mut body, ctx, id);
    stations_table(&mut body, ctx, id);
    let _ = write!(
        body,
        "<p class=\"reconciliation-link\"><a href=\"{}\">{}</a></p>",
        esc(&link(&format!("/reconciliation/{id}"), lang)),
        esc(lang.t(Msg::Reconciliation))
    );
    checkpoint_note(&mut body, ctx);
    let mut crumbs = vec![(lang.t(Msg::Country).to_string(), link("/", lang))];
    if let Some(region) = region {
        crumbs.push((
            region.name.get(lang.code()).to_string(),
            link(&format!("/region/{}", region.id), lang),
        ));
    }
    let path = format!("/district/{id}?view={}", ctx.view.as_str());
    let shell = Shell {
        lang,
        title: &title,
        election: election.name.get(lang.code()),
        path: &path,
        crumbs: &crumbs,
        checkpoint_size: ctx.published.size(),
    };
    Some(html::page(&shell, &body))
}
