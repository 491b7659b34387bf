//! "What changed" (issue 6): the page `/changes?from=N&to=M` and its feeds `/changes.atom` (Atom,
//! RFC 4287) and `/changes.json` (`sverka-changes/v1`, see `sverka_tally::changes`), between two
//! signed checkpoints. Defaults: from the checkpoint published before the current one, to the
//! current one, i.e. what changed since the page a reader saw last.
//!
//! The changes themselves are computed by `sverka_tally::changes` from the results at the two
//! checkpoints and the log entries between them; this file only lays them out.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sverka_model::names::CorrectionReason;
use sverka_model::Election;
use sverka_tally::changes::{Cause, CauseKind, Changes, Decrease, Total};
use sverka_tally::tabulate::{Level, View};

use super::html::{self, esc, link, Shell};
use super::i18n::{Lang, Msg};
use super::pages::{option_name, source_label};
use crate::api::etag_matches;
use crate::live::{changes_between, ChangesError, Published};
use crate::problem::Problem;
use crate::AppState;

/// `?from=N&to=M&lang=…`.
#[derive(Deserialize, Default)]
pub struct ChangesQuery {
    from: Option<String>,
    to: Option<String>,
    lang: Option<String>,
}

/// What a request asked for, parsed.
struct Asked {
    from: Option<u64>,
    to: Option<u64>,
    lang: Lang,
}

fn parse(query: &ChangesQuery, headers: &HeaderMap) -> Result<Asked, String> {
    let number = |name: &str, value: &Option<String>| -> Result<Option<u64>, String> {
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => text.parse::<u64>().map(Some).map_err(|_| {
                format!("{name}={text:?} is not a checkpoint size (a whole number of entries)")
            }),
        }
    };
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Ok(Asked {
        from: number("from", &query.from)?,
        to: number("to", &query.to)?,
        lang: Lang::negotiate(query.lang.as_deref(), accept),
    })
}

/// The three forms of the changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Page,
    Atom,
    Json,
}

impl Form {
    fn content_type(self) -> &'static str {
        match self {
            Form::Page => "text/html; charset=utf-8",
            Form::Atom => "application/atom+xml; charset=utf-8",
            Form::Json => "application/json",
        }
    }
}

/// `GET /changes`.
pub async fn page(
    State(state): State<AppState>,
    Query(query): Query<ChangesQuery>,
    headers: HeaderMap,
) -> Response {
    serve(&state, &query, &headers, Form::Page).await
}

/// `GET /changes.atom`.
pub async fn atom(
    State(state): State<AppState>,
    Query(query): Query<ChangesQuery>,
    headers: HeaderMap,
) -> Response {
    serve(&state, &query, &headers, Form::Atom).await
}

/// `GET /changes.json`.
pub async fn json(
    State(state): State<AppState>,
    Query(query): Query<ChangesQuery>,
    headers: HeaderMap,
) -> Response {
    serve(&state, &query, &headers, Form::Json).await
}

async fn serve(
    state: &AppState,
    query: &ChangesQuery,
    headers: &HeaderMap,
    form: Form,
) -> Response {
    let asked = match parse(query, headers) {
        Ok(asked) => asked,
        Err(detail) => return refusal(state, form, StatusCode::BAD_REQUEST, detail),
    };
    let published = state.published();
    let changes = match changes_between(state, &published, asked.from, asked.to).await {
        Ok(changes) => changes,
        Err(error) => {
            let status = match error {
                ChangesError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                ChangesError::Backwards { .. } => StatusCode::BAD_REQUEST,
                _ => StatusCode::NOT_FOUND,
            };
            return refusal(state, form, status, error.to_string());
        }
    };
    let lang = asked.lang;
    let form_key = match form {
        Form::Page => "page",
        Form::Atom => "atom",
        Form::Json => "json",
    };
    let key = format!(
        "/changes|{form_key}|{}|{}|{}",
        changes.from.size,
        changes.to.size,
        if form == Form::Json { "" } else { lang.code() }
    );
    let cached = match published.page(&key) {
        Some(page) => page,
        None => {
            let body = match form {
                Form::Page => render_page(state, &published, &changes, lang),
                Form::Atom => render_atom(state.election(), &changes, lang),
                Form::Json => match sverka_tally::changes::changes_json(&changes) {
                    Ok(bytes) => String::from_utf8(bytes).unwrap_or_default(),
                    Err(error) => {
                        eprintln!("sverka-server: changes JSON: {error}");
                        return Problem::internal().into_response();
                    }
                },
            };
            published.store_page(key, body)
        }
    };
    // A range named in full never changes (the log is append-only and each size has one
    // checkpoint); the default range moves with every checkpoint.
    let cache = if asked.from.is_some() && asked.to.is_some() {
        "public, max-age=3600"
    } else {
        super::html::LIVE_CACHE
    };
    let etag = HeaderValue::from_str(&cached.etag).expect("etags are ASCII");
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::VARY, HeaderValue::from_static("Accept-Language")),
    ];
    if etag_matches(headers, &cached.etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let content_type = [(header::CONTENT_TYPE, HeaderValue::from_static(form.content_type()))];
    (common, content_type, cached.html).into_response()
}

/// Why the changes cannot be shown: a page for people, problem+json for the feeds.
fn refusal(state: &AppState, form: Form, status: StatusCode, detail: String) -> Response {
    if form != Form::Page {
        return match status {
            StatusCode::NOT_FOUND => Problem::not_found(detail),
            StatusCode::BAD_REQUEST => Problem::bad_parameter(detail),
            _ => Problem::internal(),
        }
        .into_response();
    }
    let lang = Lang::Ky;
    let election = state.election();
    let shell = Shell {
        lang,
        title: lang.t(Msg::WhatChanged),
        election: election.name.get(lang.code()),
        path: "/changes",
        crumbs: &[],
        checkpoint_size: state.published().size(),
    };
    let body = format!("<section><p>{}</p></section>", esc(&detail));
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html::page(&shell, &body))
        .into_response()
}

pub(super) fn reason_text(reason: Option<CorrectionReason>, lang: Lang) -> &'static str {
    lang.t(match reason {
        Some(CorrectionReason::KeyingError) => Msg::ReasonKeyingError,
        Some(CorrectionReason::Recount) => Msg::ReasonRecount,
        Some(CorrectionReason::CourtOrder) => Msg::ReasonCourtOrder,
        Some(CorrectionReason::LateProtocol) => Msg::ReasonLateProtocol,
        Some(CorrectionReason::CommissionDecision) => Msg::ReasonCommissionDecision,
        None => Msg::ReasonImplicit,
    })
}

fn cause_text(cause: &Cause, lang: Lang) -> String {
    let (kind, reason) = match &cause.kind {
        CauseKind::Arrival => (lang.t(Msg::Arrival), lang.t(Msg::ReasonPrecedence).to_string()),
        CauseKind::Correction(reason) => {
            (lang.t(Msg::Corrections), reason_text(*reason, lang).to_string())
        }
        CauseKind::Annulment(reason) => (lang.t(Msg::Annulled), reason.clone()),
    };
    format!("#{} {}: {}", cause.index, kind.to_lowercase(), reason)
}

fn contest_name(election: &Election, id: &str, lang: Lang) -> String {
    election.contest(id).map_or_else(|| id.to_string(), |c| c.name.get(lang.code()).to_string())
}

fn level_name(election: &Election, level: &Level, lang: Lang) -> String {
    match level {
        Level::Nation => lang.t(Msg::Country).to_string(),
        Level::Abroad => lang.t(Msg::Abroad).to_string(),
        Level::Region(id) => {
            election.region(id).map_or_else(|| id.clone(), |r| r.name.get(lang.code()).to_string())
        }
        Level::District(id) => election
            .district(id)
            .map_or_else(|| id.clone(), |d| d.name.get(lang.code()).to_string()),
    }
}

fn total_name(election: &Election, decrease: &Decrease, lang: Lang) -> String {
    match &decrease.total {
        Total::Votes(option) => match election.contest(&decrease.contest) {
            Some(contest) => {
                format!("{}: {}", lang.t(Msg::Votes), option_name(contest, option, lang))
            }
            None => option.clone(),
        },
        Total::TookPart => lang.t(Msg::TookPart).to_string(),
        Total::Valid => lang.t(Msg::Valid).to_string(),
        Total::Invalid => lang.t(Msg::Invalid).to_string(),
        Total::StationsCounted => lang.t(Msg::StationsCounted).to_string(),
    }
}

fn view_name(view: View, lang: Lang) -> &'static str {
    lang.t(match view {
        View::Official => Msg::Official,
        View::Preliminary => Msg::Preliminary,
    })
}

/// A difference of basis points as percentage points with two decimals: `+1.25`, `−0,50`.
fn points(delta_bp: i64, lang: Lang) -> String {
    let sign = match delta_bp.cmp(&0) {
        std::cmp::Ordering::Less => "\u{2212}",
        std::cmp::Ordering::Equal => "",
        std::cmp::Ordering::Greater => "+",
    };
    let abs = delta_bp.unsigned_abs();
    let point = if lang == Lang::En { '.' } else { ',' };
    format!("{sign}{}{point}{:02}", abs / 100, abs % 100)
}

fn station_link(id: &str, lang: Lang) -> String {
    format!("<a href=\"{}\">{}</a>", esc(&link(&format!("/station/{id}"), lang)), esc(id))
}

fn range_query(changes: &Changes) -> String {
    format!("from={}&to={}", changes.from.size, changes.to.size)
}

fn render_page(state: &AppState, published: &Published, changes: &Changes, lang: Lang) -> String {
    let election = state.election();
    let mut body = String::with_capacity(16 * 1024);
    let range = range_query(changes);
    let _ = write!(
        body,
        "<section class=\"checkpoint\"><p>{} <strong data-from=\"{from}\">{from}</strong> <code>{}</code> {} \
         <strong data-to=\"{to}\">{to}</strong> <code>{}</code></p><p>{}: <a href=\"/changes.atom?{range}&amp;lang={code}\">Atom</a> · \
         <a href=\"/changes.json?{range}\">JSON</a> · <a href=\"/snapshot/{from}.json\">snapshot/{from}.json</a> · \
         <a href=\"/snapshot/{to}.json\">snapshot/{to}.json</a></p></section>",
        esc(lang.t(Msg::FromCheckpoint)),
        sverka_tally::snapshot::hex(&changes.from.root[..8]),
        esc(lang.t(Msg::ToCheckpoint)),
        sverka_tally::snapshot::hex(&changes.to.root[..8]),
        esc(lang.t(Msg::Feeds)),
        from = changes.from.size,
        to = changes.to.size,
        code = lang.code(),
    );
    decreases_section(&mut body, election, changes, lang);
    arrivals_section(&mut body, changes, lang);
    corrections_section(&mut body, election, changes, lang);
    annulments_section(&mut body, election, changes, lang);
    shares_section(&mut body, election, changes, lang);
    let crumbs = [(lang.t(Msg::Country).to_string(), link("/", lang))];
    let path = format!("/changes?{range}");
    let shell = Shell {
        lang,
        title: lang.t(Msg::WhatChanged),
        election: election.name.get(lang.code()),
        path: &path,
        crumbs: &crumbs,
        checkpoint_size: published.size(),
    };
    html::page(&shell, &body)
}

fn arrivals_section(out: &mut String, changes: &Changes, lang: Lang) {
    let _ = write!(out, "<section id=\"arrivals\"><h2>{}</h2>", esc(lang.t(Msg::CameIn)));
    if changes.arrivals.is_empty() {
        let _ = write!(out, "<p>{}</p>", esc(lang.t(Msg::Nothing)));
    }
    for source in sverka_model::Source::ALL {
        let mut stations: Vec<&str> = Vec::new();
        for arrival in changes.arrivals.iter().filter(|a| a.source == source) {
            if !stations.contains(&arrival.station.as_str()) {
                stations.push(&arrival.station);
            }
        }
        if stations.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<h3 data-source=\"{}\" data-stations=\"{}\">{}: {}</h3><p class=\"stations\">",
            source.as_str(),
            stations.len(),
            esc(source_label(source, lang)),
            lang.int(stations.len() as u64)
        );
        let links: Vec<String> = stations.iter().map(|s| station_link(s, lang)).collect();
        out.push_str(&links.join(" "));
        out.push_str("</p>");
    }
    out.push_str("</section>");
}

fn table_head(out: &mut String, columns: &[(&str, bool)]) {
    out.push_str("<div class=\"scroll\"><table><thead><tr>");
    for (name, numeric) in columns {
        let class = if *numeric { " class=\"n\"" } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", esc(name));
    }
    out.push_str("</tr></thead><tbody>");
}

fn corrections_section(out: &mut String, election: &Election, changes: &Changes, lang: Lang) {
    let _ = write!(out, "<section id=\"corrections\"><h2>{}</h2>", esc(lang.t(Msg::Corrections)));
    if changes.corrections.is_empty() {
        let _ = write!(out, "<p>{}</p></section>", esc(lang.t(Msg::Nothing)));
        return;
    }
    table_head(
        out,
        &[
            (lang.t(Msg::Index), true),
            (lang.t(Msg::Time), false),
            (lang.t(Msg::Station), false),
            (lang.t(Msg::Kind), false),
            (lang.t(Msg::Signer), false),
            (lang.t(Msg::Reason), false),
        ],
    );
    for c in &changes.corrections {
        let _ = write!(
            out,
            "<tr data-index=\"{}\"><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{} · {}</td><td>{}</td><td>{} · {} #{}</td></tr>",
            c.stamp.index,
            c.stamp.index,
            esc(c.stamp.time.as_deref().unwrap_or("—")),
            station_link(&c.station, lang),
            esc(source_label(c.source, lang)),
            esc(&contest_name(election, &c.contest, lang)),
            esc(&c.stamp.signer),
            esc(reason_text(c.reason, lang)),
            esc(lang.t(Msg::Replaces)),
            c.replaced,
        );
    }
    out.push_str("</tbody></table></div></section>");
}

fn annulments_section(out: &mut String, election: &Election, changes: &Changes, lang: Lang) {
    let _ = write!(out, "<section id=\"annulments\"><h2>{}</h2>", esc(lang.t(Msg::Annulments)));
    if changes.annulments.is_empty() {
        let _ = write!(out, "<p>{}</p></section>", esc(lang.t(Msg::Nothing)));
        return;
    }
    table_head(
        out,
        &[
            (lang.t(Msg::Index), true),
            (lang.t(Msg::Time), false),
            (lang.t(Msg::Station), false),
            (lang.t(Msg::Contest), false),
            (lang.t(Msg::Signer), false),
            (lang.t(Msg::Reason), false),
        ],
    );
    for a in &changes.annulments {
        let contest = a.contest.as_deref().map_or_else(
            || lang.t(Msg::AllContests).to_string(),
            |c| contest_name(election, c, lang),
        );
        let _ = write!(
            out,
            "<tr data-index=\"{}\"><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.stamp.index,
            a.stamp.index,
            esc(a.stamp.time.as_deref().unwrap_or("—")),
            station_link(&a.station, lang),
            esc(&contest),
            esc(&a.stamp.signer),
            esc(&a.reason),
        );
    }
    out.push_str("</tbody></table></div></section>");
}

fn shares_section(out: &mut String, election: &Election, changes: &Changes, lang: Lang) {
    let _ = write!(out, "<section id=\"shares\"><h2>{}</h2>", esc(lang.t(Msg::SharesMoved)));
    for view in [View::Preliminary, View::Official] {
        let moves: Vec<_> = changes.shares.iter().filter(|s| s.view == view).collect();
        if moves.is_empty() {
            continue;
        }
        let _ = write!(out, "<h3>{}</h3>", esc(view_name(view, lang)));
        table_head(
            out,
            &[
                (lang.t(Msg::Name), false),
                (lang.t(Msg::Before), true),
                (lang.t(Msg::After), true),
                (lang.t(Msg::ChangePoints), true),
            ],
        );
        for share in moves {
            let name = election
                .contest(&share.contest)
                .map_or_else(|| share.option.clone(), |c| option_name(c, &share.option, lang));
            let delta = match (share.before.basis_points(), share.after.basis_points()) {
                (Some(before), Some(after)) => points(
                    i64::try_from(after).unwrap_or(0) - i64::try_from(before).unwrap_or(0),
                    lang,
                ),
                _ => "—".to_string(),
            };
            let _ = write!(
                out,
                "<tr data-option=\"{}\" data-view=\"{}\"><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&share.option),
                view.as_str(),
                esc(&name),
                esc(&lang.percent(share.before.num, share.before.den, 2)),
                esc(&lang.percent(share.after.num, share.after.den, 2)),
                esc(&delta),
            );
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</section>");
}

fn decreases_section(out: &mut String, election: &Election, changes: &Changes, lang: Lang) {
    let _ = write!(
        out,
        "<section id=\"decreases\" data-decreases=\"{}\"><h2>{}</h2>",
        changes.decreases.len(),
        esc(lang.t(Msg::Decreases))
    );
    if changes.decreases.is_empty() {
        let _ = write!(out, "<p>{}</p></section>", esc(lang.t(Msg::NoDecreases)));
        return;
    }
    table_head(
        out,
        &[
            (lang.t(Msg::Contest), false),
            (lang.t(Msg::Level), false),
            (lang.t(Msg::Total), false),
            (lang.t(Msg::Before), true),
            (lang.t(Msg::After), true),
            (lang.t(Msg::Because), false),
        ],
    );
    for d in &changes.decreases {
        let mut because = String::from("<ul class=\"causes\">");
        for station in &d.stations {
            let causes: Vec<String> = station.causes.iter().map(|c| cause_text(c, lang)).collect();
            let _ = write!(
                because,
                "<li>{} {} → {}: {}</li>",
                station_link(&station.station, lang),
                lang.int(station.before),
                lang.int(station.after),
                esc(&causes.join("; "))
            );
        }
        because.push_str("</ul>");
        let _ = write!(
            out,
            "<tr class=\"decrease\" data-before=\"{}\" data-after=\"{}\"><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{because}</td></tr>",
            d.before,
            d.after,
            esc(&contest_name(election, &d.contest, lang)),
            esc(view_name(d.view, lang)),
            esc(&level_name(election, &d.level, lang)),
            esc(&total_name(election, d, lang)),
            lang.int(d.before),
            lang.int(d.after),
        );
    }
    out.push_str("</tbody></table></div></section>");
}

/// Atom (RFC 4287): one entry per source of arrivals, per correction, per annulment and per
/// decrease. Links are relative to the feed's own address (RFC 4287 §4.2.7, RFC 3986 §5).
fn render_atom(election: &Election, changes: &Changes, lang: Lang) -> String {
    let name = election.name.get(lang.code());
    let updated = changes
        .arrivals
        .iter()
        .map(|a| &a.stamp)
        .chain(changes.corrections.iter().map(|c| &c.stamp))
        .chain(changes.annulments.iter().map(|a| &a.stamp))
        .filter_map(|s| s.time.clone())
        .max()
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string());
    let range = range_query(changes);
    let id =
        format!("urn:sverka:{}:changes:{}-{}", election.id, changes.from.size, changes.to.size);
    let mut out = String::with_capacity(8 * 1024);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{code}\">\
         <id>{id}</id><title>{name}: {what} ({from} → {to})</title><updated>{updated}</updated>\
         <author><name>{name}</name></author>\
         <link rel=\"self\" href=\"/changes.atom?{range}&amp;lang={code}\"/>\
         <link rel=\"alternate\" type=\"text/html\" href=\"/changes?{range}&amp;lang={code}\"/>",
        code = lang.code(),
        id = esc(&id),
        name = esc(name),
        what = esc(lang.t(Msg::WhatChanged)),
        from = changes.from.size,
        to = changes.to.size,
        updated = esc(&updated),
        range = esc(&range),
    );
    let mut entry = |id: String, title: String, time: Option<&str>, href: String, text: String| {
        let _ = write!(
            out,
            "<entry><id>urn:sverka:{}:{}</id><title>{}</title><updated>{}</updated>\
             <link href=\"{}\"/><content type=\"text\">{}</content></entry>",
            esc(&election.id),
            esc(&id),
            esc(&title),
            esc(time.unwrap_or(&updated)),
            esc(&href),
            esc(&text)
        );
    };
    for source in sverka_model::Source::ALL {
        let stations: Vec<&str> = changes
            .arrivals
            .iter()
            .filter(|a| a.source == source)
            .map(|a| a.station.as_str())
            .collect();
        let Some(last) = changes.arrivals.iter().rfind(|a| a.source == source) else {
            continue;
        };
        entry(
            format!("arrivals:{}-{}:{}", changes.from.size, changes.to.size, source.as_str()),
            format!("{}: {} ({})", lang.t(Msg::CameIn), stations.len(), source_label(source, lang)),
            last.stamp.time.as_deref(),
            link(&format!("/changes?{range}#arrivals"), lang),
            stations.join(", "),
        );
    }
    for c in &changes.corrections {
        entry(
            format!("entry:{}", c.stamp.index),
            format!(
                "{} {}: {} #{} ({})",
                lang.t(Msg::Station),
                c.station,
                lang.t(Msg::Replaces),
                c.replaced,
                reason_text(c.reason, lang)
            ),
            c.stamp.time.as_deref(),
            link(&format!("/station/{}", c.station), lang),
            format!(
                "#{} · {} · {} · {}: {}",
                c.stamp.index,
                source_label(c.source, lang),
                contest_name(election, &c.contest, lang),
                lang.t(Msg::Signer),
                c.stamp.signer
            ),
        );
    }
    for a in &changes.annulments {
        entry(
            format!("entry:{}", a.stamp.index),
            format!("{} {}: {}", lang.t(Msg::Station), a.station, lang.t(Msg::Annulled)),
            a.stamp.time.as_deref(),
            link(&format!("/station/{}", a.station), lang),
            format!(
                "#{} · {}: {} · {}: {}",
                a.stamp.index,
                lang.t(Msg::Reason),
                a.reason,
                lang.t(Msg::Signer),
                a.stamp.signer
            ),
        );
    }
    for (i, d) in changes.decreases.iter().enumerate() {
        let stations: Vec<String> = d
            .stations
            .iter()
            .map(|s| {
                let causes: Vec<String> = s.causes.iter().map(|c| cause_text(c, lang)).collect();
                format!("{} {} → {}: {}", s.station, s.before, s.after, causes.join("; "))
            })
            .collect();
        entry(
            format!("decrease:{}-{}:{i}", changes.from.size, changes.to.size),
            format!(
                "{} · {} · {}: {} → {}",
                level_name(election, &d.level, lang),
                view_name(d.view, lang),
                total_name(election, d, lang),
                lang.int(d.before),
                lang.int(d.after)
            ),
            None,
            link(&format!("/changes?{range}#decreases"), lang),
            stations.join("\n"),
        );
    }
    out.push_str("</feed>");
    out
}
