//! The reconciliation pages: `/reconciliation` (the nation) and `/reconciliation/{district}`.
//! Per contest: whether the discrepancies could change an outcome (and what, and which stations'
//! recount would settle it), the station counts by class, and the stations ranked by impact with
//! the lines on which their sources differ. The numbers are those of `GET /api/v1/reconciliation`
//! for the same checkpoint ([`crate::reconcile_api::current`]).

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sverka_tally::reconcile::export::impact_bp;
use sverka_tally::reconcile::{
    Answer, Class, ContestReconciliation, StationReconciliation, Totals,
};
use sverka_tally::tabulate::Level;

use super::html::{self, esc};
use super::i18n::{Lang, Msg};
use super::{lang_of, not_found_page, PageQuery};
use crate::api::etag_matches;
use crate::live::etag_of;
use crate::reconcile_api::{current, Reconciled};
use crate::AppState;

/// Stations listed per contest on the national page (all of them on a district's page).
const NATION_ROWS: usize = 200;

/// `GET /reconciliation`.
pub async fn nation(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&query, &headers);
    serve(&state, &headers, lang, None).await
}

/// `GET /reconciliation/{district}`.
pub async fn district(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&query, &headers);
    if state.election().district(&id).is_none() {
        return not_found_page(&state, lang, &format!("{}: {id}", lang.t(Msg::District)));
    }
    serve(&state, &headers, lang, Some(&id)).await
}

async fn serve(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    district: Option<&str>,
) -> Response {
    let reconciled = match current(state).await {
        Ok(r) => r,
        Err(problem) => return problem.into_response(),
    };
    let html = render(state, reconciled.as_deref(), lang, district);
    let etag = etag_of(reconciled.as_ref().map_or(0, |r| r.checkpoint.size), html.as_bytes());
    let etag_value = HeaderValue::from_str(&etag).expect("etags are ASCII");
    let common = [
        (header::ETAG, etag_value),
        (header::CACHE_CONTROL, HeaderValue::from_static(crate::site::html::LIVE_CACHE)),
        (header::VARY, HeaderValue::from_static("Accept-Language")),
    ];
    if etag_matches(headers, &etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let content_type =
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))];
    (common, content_type, html).into_response()
}

fn render(
    state: &AppState,
    reconciled: Option<&Reconciled>,
    lang: Lang,
    district: Option<&str>,
) -> String {
    let election = state.election();
    let code = lang.code();
    let district_name =
        district.and_then(|d| election.district(d)).map(|d| d.name.get(code).to_string());
    let title = match &district_name {
        Some(name) => format!("{} · {name}", lang.t(Msg::Reconciliation)),
        None => lang.t(Msg::Reconciliation).to_string(),
    };
    let mut crumbs = vec![(lang.t(Msg::Country).to_string(), html::link("/", lang))];
    let path = match district {
        Some(d) => {
            crumbs.push((
                lang.t(Msg::Reconciliation).to_string(),
                html::link("/reconciliation", lang),
            ));
            crumbs.push((
                district_name.clone().unwrap_or_default(),
                html::link(&format!("/district/{d}"), lang),
            ));
            format!("/reconciliation/{d}")
        }
        None => "/reconciliation".to_string(),
    };
    let shell = html::Shell {
        lang,
        title: &title,
        election: election.name.get(code),
        path: &path,
        crumbs: &crumbs,
        checkpoint_size: reconciled.map_or(0, |r| r.checkpoint.size),
    };
    let Some(reconciled) = reconciled else {
        let body = format!("<section><p>{}</p></section>", esc(lang.t(Msg::NoCheckpoint)));
        return html::page(&shell, &body);
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<p class=\"note\">{} {} ({} {})</p>",
        esc(lang.t(Msg::ComputedFrom)),
        reconciled.checkpoint.size,
        esc(lang.t(Msg::Tolerance)),
        reconciled.reconciliation.tolerance
    );
    for contest in &reconciled.reconciliation.contests {
        contest_section(&mut body, state, contest, lang, district);
    }
    html::page(&shell, &body)
}

fn answer_text(lang: Lang, answer: Answer) -> &'static str {
    lang.t(match answer {
        Answer::No => Msg::AnswerNo,
        Answer::Possibly => Msg::AnswerPossibly,
        Answer::Yes => Msg::AnswerYes,
    })
}

fn class_text(lang: Lang, class: Class) -> &'static str {
    lang.t(match class {
        Class::Match => Msg::ClassMatch,
        Class::WithinTolerance => Msg::ClassWithin,
        Class::Missing => Msg::ClassMissing,
        Class::Discrepancy => Msg::ClassDiscrepancy,
    })
}

fn contest_section(
    out: &mut String,
    state: &AppState,
    contest: &ContestReconciliation,
    lang: Lang,
    district: Option<&str>,
) {
    let code = lang.code();
    let name = state
        .election()
        .contests
        .iter()
        .find(|c| c.id == contest.contest)
        .map_or(contest.contest.as_str(), |c| c.name.get(code));
    let q = &contest.outcome;
    let _ = write!(
        out,
        "<section class=\"contest\" id=\"contest-{id}\"><h2>{name}</h2>\
         <p><strong>{question}</strong> <span class=\"answer answer-{answer}\" data-answer=\"{answer}\">{text}</span></p>",
        id = esc(&contest.contest),
        name = esc(name),
        question = esc(lang.t(Msg::CouldChange)),
        answer = q.answer.as_str(),
        text = esc(answer_text(lang, q.answer)),
    );
    if !q.thresholds.is_empty() {
        let parties: Vec<&str> = q.thresholds.iter().map(|t| t.party.as_str()).collect();
        let _ = write!(
            out,
            "<p>{}: {}</p>",
            esc(lang.t(Msg::ThresholdAtRisk)),
            esc(&parties.join(", "))
        );
    }
    if !q.seats.is_empty() {
        let seats: Vec<String> = q
            .seats
            .iter()
            .map(|s| format!("{} {}–{} ({})", s.party, s.seats_low, s.seats_high, s.seats_now))
            .collect();
        let _ = write!(out, "<p>{}: {}</p>", esc(lang.t(Msg::SeatsAtRisk)), esc(&seats.join(", ")));
    }
    if !q.winner_could_be.is_empty() {
        let _ = write!(
            out,
            "<p>{}: {}</p>",
            esc(lang.t(Msg::WinnerAtRisk)),
            esc(&q.winner_could_be.join(", "))
        );
    }
    if !q.recount.is_empty() {
        let links: Vec<String> = q
            .recount
            .iter()
            .map(|s| {
                format!(
                    "<a href=\"{}\">{}</a>",
                    esc(&html::link(&format!("/station/{s}"), lang)),
                    esc(s)
                )
            })
            .collect();
        let bound = if q.recount_minimal { "" } else { lang.t(Msg::UpperBound) };
        let _ = write!(
            out,
            "<p class=\"recount\">{}: {} {}</p>",
            esc(lang.t(Msg::RecountToSettle)),
            links.join(", "),
            esc(bound)
        );
    }
    totals_table(out, contest, lang, district);
    stations_table(out, contest, lang, district);
    out.push_str("</section>");
}

fn totals_table(
    out: &mut String,
    contest: &ContestReconciliation,
    lang: Lang,
    district: Option<&str>,
) {
    let wanted = |level: &Level| match district {
        Some(d) => level == &Level::District(d.to_string()),
        None => !matches!(level, Level::District(_)),
    };
    let _ = write!(
        out,
        "<table class=\"totals\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(lang.t(Msg::Level)),
        esc(lang.t(Msg::Stations)),
        esc(lang.t(Msg::ClassMatch)),
        esc(lang.t(Msg::ClassWithin)),
        esc(lang.t(Msg::ClassMissing)),
        esc(lang.t(Msg::ClassDiscrepancy)),
        esc(lang.t(Msg::Unreported)),
    );
    for (level, t) in contest.totals.iter().filter(|(l, _)| wanted(l)) {
        let label = match level.id() {
            Some(id) => id.to_string(),
            None => lang.t(Msg::Country).to_string(),
        };
        let Totals {
            stations, matched, within_tolerance, missing, discrepancy, unreported, ..
        } = t;
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&label),
            lang.int(*stations),
            lang.int(*matched),
            lang.int(*within_tolerance),
            lang.int(*missing),
            lang.int(*discrepancy),
            lang.int(*unreported),
        );
    }
    out.push_str("</tbody></table>");
}

fn stations_table(
    out: &mut String,
    contest: &ContestReconciliation,
    lang: Lang,
    district: Option<&str>,
) {
    let rows: Vec<(usize, &StationReconciliation)> = contest
        .stations
        .iter()
        .enumerate()
        .filter(|(_, s)| district.is_none_or(|d| s.district == d))
        .filter(|(_, s)| district.is_some() || s.class == Class::Discrepancy)
        .take(if district.is_some() { usize::MAX } else { NATION_ROWS })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<table class=\"stations ranked\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(lang.t(Msg::Rank)),
        esc(lang.t(Msg::Station)),
        esc(lang.t(Msg::District)),
        esc(lang.t(Msg::Kind)),
        esc(lang.t(Msg::Impact)),
        esc(lang.t(Msg::Differences)),
    );
    for (rank, s) in rows {
        let bp = impact_bp(s.impact);
        let impact = lang.percent(bp, 10_000, 2);
        let mut differences = Vec::new();
        for pair in &s.pairs {
            if pair.class == Class::Missing {
                differences.push(format!(
                    "{} / {}: {}",
                    pair.a.label(),
                    pair.b.label(),
                    class_text(lang, Class::Missing)
                ));
                continue;
            }
            for line in pair.lines.iter().filter(|l| l.class == Class::Discrepancy) {
                differences.push(format!(
                    "{} / {}: {} {} ≠ {}",
                    pair.a.label(),
                    pair.b.label(),
                    line.field,
                    line.a,
                    line.b
                ));
            }
        }
        let settled =
            if s.settled { format!(" ({})", lang.t(Msg::Settled)) } else { String::new() };
        let _ = write!(
            out,
            "<tr data-station=\"{id}\"><td>{rank}</td><td><a href=\"{href}\">{id}</a></td><td><a href=\"{dhref}\">{district}</a></td>\
             <td>{class}{settled}</td><td>{impact}</td><td>{diffs}</td></tr>",
            id = esc(&s.station),
            rank = rank + 1,
            href = esc(&html::link(&format!("/station/{}", s.station), lang)),
            dhref = esc(&html::link(&format!("/reconciliation/{}", s.district), lang)),
            district = esc(&s.district),
            class = esc(class_text(lang, s.class)),
            settled = esc(&settled),
            impact = esc(&impact),
            diffs = esc(&differences.join("; ")),
        );
    }
    out.push_str("</tbody></table>");
}
