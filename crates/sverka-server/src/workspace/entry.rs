//! Protocol entry, double entry, resolution of differences and corrections.
//!
//! The form is laid out like the paper protocol: the form's numbered lines in the election's
//! order, then the votes in ballot order. The control relations are checked as the operator
//! types (`/workspace/entry.js`, optional) and always again on the server with
//! `sverka_model::validate::validate_protocol`, the same rules the log applies: errors block,
//! warnings need an explanation.
//!
//! Only two agreeing entries by two different operators (or a resolution by a third person)
//! become a `manual` submission, signed with the district's key ([`crate::auth::Auth::signing_key`])
//! and sent through the store like any other; the workspace's audit log names the people.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use sverka_model::election::{ContestKind, Form as ProtocolForm};
use sverka_model::form::{CmpOp, Term};
use sverka_model::submission::{Supersedes, FORMAT_VERSION};
use sverka_model::validate::{validate_protocol, Finding, ProtocolContext, Severity};
use sverka_model::{Body, Contest, CorrectionReason, Payload, Protocol, Source, Station};

use super::access::{Access, Correcting, Keying, Posted, ProtocolPage, Releasing, Resolving};
use super::db::{self, Entry, Row, State as PState};
use super::text::{t, T};
use super::view;
use crate::auth::pages::internal;
use crate::auth::Session;
use crate::site::html::esc;
use crate::site::i18n::Lang;
use crate::AppState;

/// What a protocol is: its station, contest and form.
pub(crate) struct Target<'a> {
    pub station: &'a Station,
    pub contest: &'a Contest,
    pub form: &'a ProtocolForm,
}

pub(crate) fn target<'a>(
    election: &'a sverka_model::Election,
    station: &str,
    contest: &str,
) -> Option<Target<'a>> {
    let station = election.station(station)?;
    let contest = election.contest(contest)?;
    contest.covers(station).then(|| Target { station, contest, form: election.form_of(contest) })
}

/// The name of a vote option in `lang`.
pub(crate) fn option_name(contest: &Contest, id: &str, lang: Lang) -> String {
    if id == sverka_model::AGAINST_ALL {
        return ["Баарына каршы", "Против всех", "Against all"][match lang {
            Lang::Ky => 0,
            Lang::Ru => 1,
            Lang::En => 2,
        }]
        .to_string();
    }
    match &contest.kind {
        ContestKind::PartyList(list) => list
            .parties
            .iter()
            .find(|p| p.id == id)
            .map_or(id.to_string(), |p| p.name.get(lang.code()).to_string()),
        ContestKind::SingleMember(smd) => {
            smd.candidates.iter().find(|c| c.id == id).map_or(id.to_string(), |c| c.name.clone())
        }
    }
}

/// The name of a field (`l.<line>` or `v.<option>`) in `lang`.
pub(crate) fn field_name(target: &Target<'_>, field: &str, lang: Lang) -> String {
    if let Some(line) = field.strip_prefix("l.") {
        let position = target.form.lines.iter().position(|l| l.id == line);
        return match position {
            Some(i) => format!("{}. {}", i + 1, target.form.lines[i].name.get(lang.code())),
            None => line.to_string(),
        };
    }
    option_name(target.contest, field.strip_prefix("v.").unwrap_or(field), lang)
}

/// Every field of the form, in paper order.
fn fields(target: &Target<'_>) -> Vec<String> {
    let lines = target.form.lines.iter().map(|l| format!("l.{}", l.id));
    let votes = target.contest.option_ids().into_iter().map(|o| format!("v.{o}"));
    lines.chain(votes).collect()
}

/// Reads the numbers of a posted form; a field that is empty or not a whole number is a problem
/// named by its field.
pub(crate) fn parse(
    target: &Target<'_>,
    form: &HashMap<String, String>,
    lang: Lang,
) -> (Entry, Vec<(String, String)>) {
    let mut entry = Entry::default();
    let mut problems = Vec::new();
    for field in fields(target) {
        let raw = form.get(&field).map(|v| v.trim()).unwrap_or("");
        if raw.is_empty() {
            problems.push((field, t(lang, T::Missing).to_string()));
            continue;
        }
        match raw.parse::<u64>() {
            Ok(n) if raw.bytes().all(|b| b.is_ascii_digit()) => {
                let (group, id) = field.split_at(2);
                let map = if group == "l." { &mut entry.lines } else { &mut entry.votes };
                map.insert(id.to_string(), n);
            }
            _ => problems.push((field, t(lang, T::NotANumber).to_string())),
        }
    }
    for (key, value) in form {
        if let Some(code) = key.strip_prefix("x.") {
            if !value.trim().is_empty() {
                entry.explanations.insert(code.to_string(), value.trim().to_string());
            }
        }
    }
    (entry, problems)
}

/// The protocol `entry` says, as `source`.
pub(crate) fn protocol_of(
    target: &Target<'_>,
    entry: &Entry,
    source: Source,
    supersedes: Option<Supersedes>,
) -> Protocol {
    Protocol {
        station: target.station.id.clone(),
        contest: target.contest.id.clone(),
        source,
        lines: entry.lines.clone(),
        votes: entry.votes.clone(),
        preferences: Default::default(),
        supersedes,
        scan_sha256: None,
    }
}

/// The log's checks on these numbers: errors, then warnings.
pub(crate) fn findings(state: &AppState, target: &Target<'_>, entry: &Entry) -> Vec<Finding> {
    validate_protocol(
        state.election(),
        &protocol_of(target, entry, Source::Manual, None),
        &ProtocolContext::default(),
    )
}

/// Warnings that have no explanation yet.
pub(crate) fn unexplained<'a>(findings: &'a [Finding], entry: &Entry) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Warning && !entry.explanations.contains_key(f.code))
        .collect()
}

/// What the form is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    First,
    Second,
    /// A correction's first entry (with its typed reason).
    Correction,
    /// A correction keyed again by a second person.
    CorrectionSecond,
    /// A CEC recount (`source: recount`, signed with the CEC key).
    Recount,
}

/// The relations as data for the optional live check: `[[sign, "l"|"s"|"c", id|value]…]` per side.
fn relations_json(target: &Target<'_>, lang: Lang) -> String {
    let side = |expr: &sverka_model::form::LinearExpr| {
        expr.terms
            .iter()
            .map(|(sign, term)| match term {
                Term::Line(id) => serde_json::json!([sign, "l", id]),
                Term::SumOptions => serde_json::json!([sign, "s", ""]),
                Term::Const(c) => serde_json::json!([sign, "c", c]),
            })
            .collect::<Vec<_>>()
    };
    let relations: Vec<_> = target
        .form
        .relations
        .iter()
        .map(|r| {
            let op = match r.op {
                CmpOp::Eq => "=",
                CmpOp::Ge => ">=",
                CmpOp::Le => "<=",
            };
            let message = sverka_model::validate::message_of(
                "E401",
                None,
                [("relation", r.text.as_str()), ("left", "{left}"), ("right", "{right}")],
                lang.code(),
            )
            .unwrap_or_default();
            serde_json::json!({ "lhs": side(&r.lhs), "op": op, "rhs": side(&r.rhs), "message": format!("E401: {message}") })
        })
        .collect();
    serde_json::json!({ "relations": relations, "ok": t(lang, T::AllHold) }).to_string()
}

/// What a form page holds besides the numbers.
pub(crate) struct FormPage {
    pub mode: Mode,
    /// Where the form posts (without `?lang=`).
    pub action: String,
    /// HTML inside the form before the lines: the reason of a correction or a recount.
    pub head: String,
    /// The attached scan (SHA-256, content type), shown beside the form.
    pub scan: Option<(String, String)>,
    /// Whether this page may attach a scan (the protocol's own entry steps).
    pub upload: bool,
    /// Whether the person holds a step they may release.
    pub release: bool,
}

impl FormPage {
    pub(crate) fn new(mode: Mode, action: String) -> FormPage {
        FormPage { mode, action, head: String::new(), scan: None, upload: false, release: false }
    }
}

pub(crate) fn render_form(
    lang: Lang,
    session: &Session,
    target: &Target<'_>,
    page: &FormPage,
    values: &HashMap<String, String>,
    problems: &[(String, String)],
    found: &[Finding],
) -> String {
    let station = target.station;
    let contest = target.contest;
    let path = format!("/workspace/entry/{}/{}", station.id, contest.id);
    let which = match page.mode {
        Mode::First => t(lang, T::FirstEntryOf),
        Mode::Second => t(lang, T::SecondEntryOf),
        Mode::Correction => t(lang, T::CorrectionOf),
        Mode::CorrectionSecond => t(lang, T::CorrectionSecondOf),
        Mode::Recount => t(lang, T::RecountOf),
    };
    let title = format!(
        "{} · {} {} · {} ({which})",
        t(lang, T::EntryOf),
        t(lang, T::Station),
        station.id,
        contest.name.get(lang.code())
    );
    let mut body = String::new();
    let _ = write!(
        body,
        "<p><a href=\"/workspace/district/{d}?lang={code}\">← {progress}</a> · \
         <a href=\"/workspace/station/{s}?lang={code}\">{name}</a></p>",
        d = esc(&station.district),
        s = esc(&station.id),
        code = lang.code(),
        progress = esc(t(lang, T::Progress)),
        name = esc(&station.name),
    );
    body.push_str("<div class=\"entry-grid\"><div class=\"entry-form\">");
    let errors: Vec<&Finding> = found.iter().filter(|f| f.is_error()).collect();
    let warnings: Vec<&Finding> = found.iter().filter(|f| !f.is_error()).collect();
    if !problems.is_empty() || !errors.is_empty() {
        let _ = write!(
            body,
            "<section class=\"error\" role=\"alert\" id=\"errors\"><h2>{}</h2><ul class=\"findings\">",
            esc(t(lang, T::Errors))
        );
        for (field, problem) in problems {
            let _ = write!(
                body,
                "<li class=\"e\" data-field=\"{f}\">{}: {}</li>",
                esc(&field_name(target, field, lang)),
                esc(problem),
                f = esc(field)
            );
        }
        for finding in &errors {
            let _ = write!(
                body,
                "<li class=\"e\" data-code=\"{}\">{}: {}</li>",
                finding.code,
                finding.code,
                esc(&finding.message(lang.code()))
            );
        }
        body.push_str("</ul></section>");
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{action}?lang={code}\" id=\"entry\" autocomplete=\"off\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <p class=\"legend\">{hint}</p>{head}",
        action = esc(&page.action),
        code = lang.code(),
        csrf = esc(&session.csrf),
        hint = esc(t(lang, T::KeyHint)),
        head = page.head,
    );
    let bad: std::collections::BTreeSet<String> = problems
        .iter()
        .map(|(f, _)| f.clone())
        .chain(
            errors
                .iter()
                .filter_map(|f| f.line.as_ref())
                .flat_map(|line| [format!("l.{line}"), format!("v.{line}")]),
        )
        .collect();
    let mut number = 0;
    let mut group = |title: &str, ids: Vec<(String, String)>, body: &mut String| {
        let _ = write!(body, "<section><h2>{}</h2><table class=\"form\"><tbody>", esc(title));
        for (field, label) in ids {
            number += 1;
            let value = values.get(&field).map_or("", String::as_str);
            let invalid = if bad.contains(&field) { " aria-invalid=\"true\"" } else { "" };
            let autofocus = if number == 1 { " autofocus" } else { "" };
            let _ = write!(
                body,
                "<tr><td class=\"no\">{number}</td><th scope=\"row\"><label for=\"{f}\">{label}</label></th>\
                 <td class=\"in\"><input id=\"{f}\" name=\"{f}\" value=\"{v}\" inputmode=\"numeric\" \
                 pattern=\"[0-9]*\" maxlength=\"16\"{invalid}{autofocus}></td></tr>",
                f = esc(&field),
                label = esc(&label),
                v = esc(value),
            );
        }
        body.push_str("</tbody></table></section>");
    };
    let lines = target
        .form
        .lines
        .iter()
        .map(|l| (format!("l.{}", l.id), l.name.get(lang.code()).to_string()))
        .collect();
    group(t(lang, T::Lines), lines, &mut body);
    let votes = contest
        .option_ids()
        .into_iter()
        .map(|o| (format!("v.{o}"), option_name(contest, o, lang)))
        .collect();
    group(t(lang, T::Votes), votes, &mut body);
    if !warnings.is_empty() {
        let _ = write!(
            body,
            "<section id=\"warnings\"><h2>{}</h2><ul class=\"findings\">",
            esc(t(lang, T::Warnings))
        );
        for finding in &warnings {
            let key = format!("x.{}", finding.code);
            let _ = write!(
                body,
                "<li class=\"w\" data-code=\"{code}\">{code}: {msg}<br>\
                 <label for=\"{key}\">{label}</label><textarea id=\"{key}\" name=\"{key}\" required>{v}</textarea></li>",
                code = finding.code,
                msg = esc(&finding.message(lang.code())),
                key = esc(&key),
                label = esc(t(lang, T::Explanation)),
                v = esc(values.get(&key).map_or("", String::as_str)),
            );
        }
        body.push_str("</ul></section>");
    }
    let _ = write!(
        body,
        "<section aria-live=\"polite\"><h2>{checks}</h2><ul class=\"findings\" id=\"live\"></ul></section>\
         <p><button type=\"submit\" id=\"finish\">{finish}</button></p></form>\
         <script type=\"application/json\" id=\"relations\">{relations}</script>\
         <script src=\"/workspace/entry.js\" defer></script>",
        checks = esc(t(lang, T::LiveChecks)),
        finish = esc(t(lang, if page.mode == Mode::Recount { T::SignRecount } else { T::Finalise })),
        // JSON inside a script element: `<` is escaped so no `</script>` can close it.
        relations = relations_json(target, lang).replace('<', "\\u003c"),
    );
    if page.release {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"{path}/release?lang={code}\" id=\"release\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <p><button type=\"submit\" class=\"secondary\">{release}</button> \
             <span class=\"legend\">{note}</span></p></form>",
            path = esc(&path),
            code = lang.code(),
            csrf = esc(&session.csrf),
            release = esc(t(lang, T::Release)),
            note = esc(t(lang, T::ReleaseNote)),
        );
    }
    body.push_str("</div>");
    super::scan::aside(&mut body, lang, session, target, page.scan.as_ref(), page.upload);
    body.push_str("</div>");
    view::page(lang, Some(session), &title, &path, &body)
}

/// The typed reasons a district may give for a correction, or the CEC for a recount
/// (`E505`: `recount` and `court_order` are for recount protocols only).
fn reasons(lang: Lang, mode: Mode) -> Vec<(&'static str, &'static str)> {
    if mode == Mode::Recount {
        return vec![
            ("recount", t(lang, T::ReasonRecount)),
            ("court_order", t(lang, T::ReasonCourtOrder)),
        ];
    }
    vec![
        ("keying_error", t(lang, T::ReasonKeyingError)),
        ("late_protocol", t(lang, T::ReasonLateProtocol)),
        ("commission_decision", t(lang, T::ReasonCommissionDecision)),
    ]
}

/// The reason chooser and its explanation (a correction's first entry, a recount).
pub(crate) fn reason_head(
    lang: Lang,
    mode: Mode,
    values: &HashMap<String, String>,
    replaces: u64,
) -> String {
    let mut head = String::new();
    let note = if mode == Mode::Recount { T::RequestsNote } else { T::CorrectionTwice };
    let _ = write!(
        head,
        "<section><p>{}</p><p>{}</p><p><label for=\"reason\">{}</label> \
         <select id=\"reason\" name=\"reason\" required><option value=\"\"></option>",
        esc(t(lang, T::CorrectionNote)),
        esc(t(lang, note)),
        esc(t(lang, T::Reason)),
    );
    for (value, text) in reasons(lang, mode) {
        let selected =
            if values.get("reason").map(String::as_str) == Some(value) { " selected" } else { "" };
        let _ = write!(head, "<option value=\"{value}\"{selected}>{}</option>", esc(text));
    }
    let _ = write!(
        head,
        "</select></p><p><label for=\"note\">{}</label><br>\
         <textarea id=\"note\" name=\"note\" required>{}</textarea></p>\
         <p class=\"legend\">{} {replaces}</p></section>",
        esc(t(lang, if mode == Mode::Recount { T::Decision } else { T::Explanation })),
        esc(values.get("note").map_or("", String::as_str)),
        esc(t(lang, T::Replaces)),
    );
    head
}

/// The typed reason a form sent, if it is one `mode` may give.
pub(crate) fn posted_reason(
    posted: &HashMap<String, String>,
    mode: Mode,
) -> Option<CorrectionReason> {
    let chosen = posted.get("reason").map(String::as_str)?;
    if !reasons(Lang::En, mode).iter().any(|(value, _)| *value == chosen) {
        return None;
    }
    serde_json::from_value(serde_json::Value::String(chosen.to_string())).ok()
}

pub(crate) fn values_of(entry: &Entry) -> HashMap<String, String> {
    let lines = entry.lines.iter().map(|(k, v)| (format!("l.{k}"), v.to_string()));
    let votes = entry.votes.iter().map(|(k, v)| (format!("v.{k}"), v.to_string()));
    let notes = entry.explanations.iter().map(|(k, v)| (format!("x.{k}"), v.clone()));
    lines.chain(votes).chain(notes).collect()
}

/// A short page saying why this step is not possible now (409), with a way back.
pub(crate) fn refuse(lang: Lang, session: &Session, district: &str, message: &str) -> Response {
    let body = format!(
        "<section><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/workspace/district/{}?lang={}\">← {}</a></p></section>",
        esc(message),
        esc(district),
        lang.code(),
        esc(t(lang, T::Progress))
    );
    view::respond(
        StatusCode::CONFLICT,
        view::page(lang, Some(session), message, "/workspace", &body),
    )
}

pub(crate) fn not_found(lang: Lang) -> Response {
    let _ = lang;
    (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "no such protocol")
        .into_response()
}

pub(crate) fn row(state: &AppState, station: &str, contest: &str) -> Result<Row, Response> {
    let auth = state.auth().map_err(internal)?;
    auth.with(|conn| db::get(conn, station, contest)).map_err(internal)
}

pub(crate) fn save(
    state: &AppState,
    row: &Row,
    account: &str,
    action: &str,
    detail: &str,
) -> Result<(), Response> {
    let auth = state.auth().map_err(internal)?;
    let subject = format!("{}/{}", row.station, row.contest);
    auth.with(|conn| {
        let tx = conn.transaction()?;
        db::put(&tx, row)?;
        crate::auth::audit_in(&tx, account, action, &subject, detail)?;
        tx.commit()
    })
    .map_err(internal)
}

/// The attached scan of a row, with its content type, for showing beside the form.
pub(crate) fn scan_of(state: &AppState, row: &Row) -> Option<(String, String)> {
    let sha256 = row.scan_sha256.clone()?;
    let auth = state.auth().ok()?;
    let found = auth.with(|conn| db::scan(conn, &sha256)).ok()??;
    Some((sha256, found.0))
}

/// `GET /workspace/entry/{station}/{contest}`: the entry form for whoever holds this step, or
/// the button to take it.
pub async fn form(State(state): State<AppState>, page: ProtocolPage<Keying>) -> Response {
    let (lang, session, district, target) =
        (page.lang, &page.session, &page.district, page.target());
    let row = match row(&state, &page.station, &page.contest) {
        Ok(row) => row,
        Err(response) => return response,
    };
    let me = Some(session.account.as_str());
    let mode = match row.state {
        PState::FirstEntry if row.first_by.as_deref() == me => Mode::First,
        PState::SecondEntry if row.second_by.as_deref() == me => Mode::Second,
        PState::NotStarted => return claim_page(&page, T::StartEntry),
        PState::SecondEntry if row.second_by.is_none() && row.first_by.as_deref() != me => {
            return claim_page(&page, T::StartSecond)
        }
        PState::SecondEntry if row.first_by.as_deref() == me => {
            return refuse(lang, session, district, t(lang, T::SamePerson))
        }
        PState::FirstEntry | PState::SecondEntry => {
            return refuse(lang, session, district, t(lang, T::NotYours))
        }
        _ => return refuse(lang, session, district, t(lang, T::WrongState)),
    };
    let mut form = FormPage::new(mode, page.here.clone());
    form.scan = scan_of(&state, &row);
    form.upload = true;
    form.release = true;
    let html = render_form(lang, session, &target, &form, &HashMap::new(), &[], &[]);
    view::respond(StatusCode::OK, html)
}

/// The button that takes a step (a protocol's first or second entry, a correction's second), which
/// posts to `{here}/claim`.
fn claim_page<A: Access>(page: &ProtocolPage<A>, label: T) -> Response {
    let (lang, session, target, path) = (page.lang, &page.session, page.target(), &page.here);
    let station = target.station;
    let body = format!(
        "<section><p>{name} · {contest}</p><form id=\"claim\" method=\"post\" action=\"{path}/claim?lang={code}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" autofocus>{label}</button></form></section>",
        name = esc(&station.name),
        contest = esc(target.contest.name.get(lang.code())),
        path = esc(path),
        code = lang.code(),
        csrf = esc(&session.csrf),
        label = esc(t(lang, label)),
    );
    let title = format!("{} · {} {}", t(lang, T::EntryOf), t(lang, T::Station), station.id);
    view::respond(StatusCode::OK, view::page(lang, Some(session), &title, path, &body))
}

/// `POST /workspace/entry/{station}/{contest}/claim`: takes the first entry (not started) or the
/// second (first finished, by someone else).
pub async fn claim(State(state): State<AppState>, Posted { page, .. }: Posted<Keying>) -> Response {
    take_step(&state, &page, |row, me| match row.state {
        PState::NotStarted => {
            row.state = PState::FirstEntry;
            row.first_by = Some(me.to_string());
            Some("entry.claim_first")
        }
        PState::SecondEntry if row.second_by.is_none() && row.first_by.as_deref() != Some(me) => {
            row.second_by = Some(me.to_string());
            Some("entry.claim_second")
        }
        _ => None,
    })
}

/// Takes a step of the page's protocol for the signed-in person: `take` changes the row and
/// names the audit log's action, or `None` when the step is not free. Read and write are one
/// transaction, so two people cannot take the same step. Back to the page either way.
fn take_step<A: Access>(
    state: &AppState,
    page: &ProtocolPage<A>,
    take: impl FnOnce(&mut Row, &str) -> Option<&'static str>,
) -> Response {
    let (station, contest) = (&page.station, &page.contest);
    let auth = match state.auth() {
        Ok(auth) => auth,
        Err(e) => return internal(e),
    };
    let me = page.session.account.as_str();
    let outcome = auth.with(|conn| {
        let tx = conn.transaction()?;
        let mut row = db::get(&tx, station, contest)?;
        if let Some(action) = take(&mut row, me) {
            db::put(&tx, &row)?;
            crate::auth::audit_in(&tx, me, action, &format!("{station}/{contest}"), "")?;
        }
        tx.commit()
    });
    match outcome {
        Ok(()) => Redirect::to(&format!("{}?lang={}", page.here, page.lang.code())).into_response(),
        Err(e) => internal(e),
    }
}

/// `POST /workspace/entry/{station}/{contest}/release`: gives a claimed step back (the first
/// entry returns to not started, a second entry to awaiting its operator), or withdraws a
/// correction still awaiting its second entry. The person holding it may; an admin may release
/// anyone's (a stale claim of an operator who went home).
pub async fn release(
    State(state): State<AppState>,
    Posted { page, .. }: Posted<Releasing>,
) -> Response {
    let (station, contest) = (&page.station, &page.contest);
    let auth = match state.auth() {
        Ok(auth) => auth,
        Err(e) => return internal(e),
    };
    let me = page.session.account.clone();
    let admin = page.session.role == crate::auth::AccountRole::Admin;
    let outcome = auth.with(|conn| {
        let tx = conn.transaction()?;
        let mut row = db::get(&tx, station, contest)?;
        let holder = row.claimed_by().map(str::to_string);
        let released = match (&holder, row.state) {
            (Some(holder), PState::FirstEntry) if *holder == me || admin => {
                row.state = PState::NotStarted;
                row.first_by = None;
                Some(format!("first entry held by {holder}"))
            }
            (Some(holder), PState::SecondEntry) if *holder == me || admin => {
                row.second_by = None;
                Some(format!("second entry held by {holder}"))
            }
            _ => match &mut row.correction {
                Some(c)
                    if c.second.is_none()
                        && c.second_by.as_ref().is_some_and(|h| *h == me || admin) =>
                {
                    let detail = format!(
                        "correction's second entry held by {}",
                        c.second_by.take().unwrap_or_default()
                    );
                    Some(detail)
                }
                Some(c) if c.second.is_none() && (c.first_by == me || admin) => {
                    let detail = format!("correction keyed by {} withdrawn", c.first_by);
                    row.correction = None;
                    Some(detail)
                }
                _ => None,
            },
        };
        if let Some(detail) = &released {
            db::put(&tx, &row)?;
            crate::auth::audit_in(
                &tx,
                &me,
                "entry.release",
                &format!("{station}/{contest}"),
                detail,
            )?;
        }
        tx.commit()?;
        Ok(released.is_some())
    });
    match outcome {
        Ok(true) => page.to_district(),
        Ok(false) => refuse(page.lang, &page.session, &page.district, t(page.lang, T::NotYours)),
        Err(e) => internal(e),
    }
}

/// `POST /workspace/entry/{station}/{contest}`: finishes the first or second entry. Errors and
/// unexplained warnings send the form back (422) with the numbers as typed; a second entry that
/// agrees with the first becomes a signed submission; one that differs waits for a third person.
pub async fn finish(
    State(state): State<AppState>,
    Posted { page, form: posted }: Posted<Keying>,
) -> Response {
    let (lang, session, district, target) =
        (page.lang, &page.session, &page.district, page.target());
    let mut row = match row(&state, &page.station, &page.contest) {
        Ok(row) => row,
        Err(response) => return response,
    };
    let me = Some(session.account.as_str());
    let mode = match row.state {
        PState::FirstEntry if row.first_by.as_deref() == me => Mode::First,
        PState::SecondEntry if row.second_by.as_deref() == me => Mode::Second,
        _ => return refuse(lang, session, district, t(lang, T::NotYours)),
    };
    let (entry, problems) = parse(&target, &posted, lang);
    let found = if problems.is_empty() { findings(&state, &target, &entry) } else { Vec::new() };
    let blocked = !problems.is_empty()
        || found.iter().any(Finding::is_error)
        || !unexplained(&found, &entry).is_empty();
    if blocked {
        let mut form = FormPage::new(mode, page.here.clone());
        form.scan = scan_of(&state, &row);
        form.upload = true;
        form.release = true;
        let html = render_form(lang, session, &target, &form, &posted, &problems, &found);
        return view::respond(StatusCode::UNPROCESSABLE_ENTITY, html);
    }
    let account = session.account.clone();
    if mode == Mode::First {
        row.first = Some(entry);
        row.state = PState::SecondEntry;
        row.second_by = None;
        if let Err(r) = save(&state, &row, &account, "entry.first", "") {
            return r;
        }
    } else {
        let first = row.first.clone().unwrap_or_default();
        row.second = Some(entry.clone());
        if first.same_numbers(&entry) {
            let mut merged = entry;
            merged.explanations.extend(first.explanations);
            if let Err(r) = accept(&state, session, &target, &mut row, merged, None).await {
                return r;
            }
        } else {
            let fields: Vec<String> =
                first.differences(&entry).into_iter().map(|(f, _, _)| f).collect();
            row.state = PState::Differences;
            let detail = format!("fields: {}", fields.join(", "));
            if let Err(r) = save(&state, &row, &account, "entry.differences", &detail) {
                return r;
            }
        }
    }
    page.to_district()
}

/// What the log said: the index, leaf hash and the warnings no one explained yet; or why it
/// refused.
pub(crate) type Submitted = Result<(u64, String, Vec<(String, String)>), String>;

/// Signs `body` with `key` (id `key_id`) and its next sequence number, submits it through the
/// store like any other submission (sender: `workspace <account>`), and tells the live results.
/// The same path for the districts' protocols and the CEC's recounts and annulments.
pub(crate) async fn sign_and_submit(
    state: &AppState,
    account: &str,
    key_id: &str,
    key: &ed25519_dalek::SigningKey,
    body: Body,
    explained: &Entry,
) -> Result<Submitted, Response> {
    let auth = state.auth().map_err(internal)?.clone();
    let seq = auth.next_seq(key_id).map_err(internal)?;
    let payload = Payload {
        v: FORMAT_VERSION,
        election: state.election().id.clone(),
        signer: key_id.to_string(),
        seq,
        time: None,
        body,
    };
    let bytes = payload.sign(key).to_bytes();
    let store = state.store().clone();
    let sender = format!("workspace {account}");
    let result = tokio::task::spawn_blocking(move || store.submit_from(bytes, &sender))
        .await
        .map_err(internal)?;
    Ok(match result {
        Ok(receipt) => {
            state.notify_new_entries();
            let warnings = receipt
                .warnings
                .iter()
                .filter(|w| !explained.explanations.contains_key(&w.code))
                .map(|w| (w.code.clone(), w.message.clone()))
                .collect();
            Ok((receipt.index, receipt.leaf_hash.to_hex(), warnings))
        }
        Err(sverka_store::SubmitError::Rejected(rejection)) => Err(rejection
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.code, p.message))
            .collect::<Vec<_>>()
            .join("; ")),
        Err(e) => Err(e.to_string()),
    })
}

/// Copies the row's attached scan from the workspace into the store's blobs (published as
/// `blob/<sha256>`), so the signed protocol's `scan_sha256` names a blob anyone can fetch.
fn publish_scan(state: &AppState, row: &Row) -> Result<Option<String>, Response> {
    let Some(sha256) = row.scan_sha256.clone() else { return Ok(None) };
    let auth = state.auth().map_err(internal)?;
    let Some((_, bytes)) = auth.with(|conn| db::scan(conn, &sha256)).map_err(internal)? else {
        return Err(internal(format!("scan {sha256} is attached but not kept")));
    };
    let stored = state.store().put_blob(&bytes).map_err(internal)?;
    if stored != sha256 {
        return Err(internal(format!("scan {sha256} hashes to {stored}")));
    }
    Ok(Some(sha256))
}

/// Signs `entry` with the district's key and submits it; on success the row is accepted (or
/// corrected) with the entry's log index and any correction being keyed ends; on refusal the
/// row keeps its state and shows why.
async fn accept(
    state: &AppState,
    session: &Session,
    target: &Target<'_>,
    row: &mut Row,
    entry: Entry,
    supersedes: Option<Supersedes>,
) -> Result<(), Response> {
    let auth = state.auth().map_err(internal)?.clone();
    let district = &target.station.district;
    let correction = supersedes.is_some();
    let people = match &row.correction {
        Some(c) if correction => format!(
            "correction keyed by {} and {}",
            c.first_by,
            c.second_by.as_deref().unwrap_or("-")
        ),
        _ => format!(
            "first entry by {}, second by {}",
            row.first_by.as_deref().unwrap_or("-"),
            row.second_by.as_deref().unwrap_or("-")
        ),
    };
    let mut protocol = protocol_of(target, &entry, Source::Manual, supersedes);
    protocol.scan_sha256 = publish_scan(state, row)?;
    // The log's answer, and the id of the key that signed.
    let (outcome, key_id): (Submitted, String) = match auth.signing_key(district) {
        Ok(None) => (Err(t(Lang::En, T::NoSigningKey).to_string()), String::new()),
        Err(e) => (Err(e.to_string()), String::new()),
        Ok(Some((key_id, key))) => {
            let body = Body::Protocol(protocol);
            (sign_and_submit(state, &session.account, &key_id, &key, body, &entry).await?, key_id)
        }
    };
    let account = session.account.clone();
    match outcome {
        Ok((index, leaf, warnings)) => {
            row.pending_warnings = warnings;
            row.state = if correction { PState::Corrected } else { PState::Accepted };
            row.entry_index = Some(index);
            row.message = None;
            row.second = Some(entry.clone());
            row.correction = None;
            let detail = format!(
                "log entry {index} (leaf {leaf}) signed with {key_id}; {people}{}; scan: {}; explanations: {}",
                row.resolved_by.as_deref().map(|r| format!(", resolved by {r}")).unwrap_or_default(),
                row.scan_sha256.as_deref().unwrap_or("none"),
                serde_json::to_string(&entry.explanations).unwrap_or_default(),
            );
            let action = if correction { "protocol.correct" } else { "protocol.accept" };
            save(state, row, &account, action, &detail)
        }
        Err(message) => {
            row.message = Some(message.clone());
            save(state, row, &account, "protocol.refused", &message)
        }
    }
}

/// `GET /workspace/resolve/{station}/{contest}`: the two entries side by side, field by field,
/// for a third person to keep one value of each difference.
pub async fn resolve_form(
    State(state): State<AppState>,
    page: ProtocolPage<Resolving>,
) -> Response {
    resolve_inner(state, page, None).await
}

/// The two entries a third person resolves: a protocol's (state `differences`) or its
/// correction's.
struct Pair {
    first_by: String,
    first: Entry,
    second_by: String,
    second: Entry,
    /// The correction's target and reason, when resolving a correction.
    supersedes: Option<Supersedes>,
}

fn pair_of(row: &Row) -> Option<Pair> {
    if row.state == PState::Differences {
        return Some(Pair {
            first_by: row.first_by.clone().unwrap_or_default(),
            first: row.first.clone().unwrap_or_default(),
            second_by: row.second_by.clone().unwrap_or_default(),
            second: row.second.clone().unwrap_or_default(),
            supersedes: None,
        });
    }
    let c = row.correction.as_ref().filter(|c| c.differs())?;
    let reason = serde_json::from_value(serde_json::Value::String(c.reason.clone())).ok()?;
    Some(Pair {
        first_by: c.first_by.clone(),
        first: c.first.clone(),
        second_by: c.second_by.clone().unwrap_or_default(),
        second: c.second.clone().unwrap_or_default(),
        supersedes: Some(Supersedes { index: c.supersedes, reason }),
    })
}

/// The page of a resolution, and `posted` its form (CSRF already checked).
async fn resolve_inner(
    state: AppState,
    page: ProtocolPage<Resolving>,
    posted: Option<HashMap<String, String>>,
) -> Response {
    let (lang, session, target) = (page.lang, &page.session, page.target());
    let (station, contest) = (page.station.as_str(), page.contest.as_str());
    let (district, here) = (page.district.as_str(), page.here.as_str());
    let mut row = match row(&state, station, contest) {
        Ok(row) => row,
        Err(response) => return response,
    };
    let Some(pair) = pair_of(&row) else {
        return refuse(lang, session, district, t(lang, T::WrongState));
    };
    let me = session.account.as_str();
    if pair.first_by == me || pair.second_by == me {
        return refuse(lang, session, district, t(lang, T::ThirdPerson));
    }
    let (first, second) = (&pair.first, &pair.second);
    let differences = first.differences(second);
    let mut errors: Vec<Finding> = Vec::new();
    if let Some(posted) = &posted {
        let account = session.account.clone();
        if posted.get("action").map(String::as_str) == Some("discard") {
            let (fresh, what) = if pair.supersedes.is_some() {
                let mut kept = row.clone();
                kept.correction = None;
                (kept, "correction.discard")
            } else {
                let mut fresh = Row::new(station, contest);
                fresh.scan_sha256 = row.scan_sha256.clone();
                (fresh, "entry.discard")
            };
            if let Err(r) = save(&state, &fresh, &account, what, "both entries discarded") {
                return r;
            }
            return page.to_district();
        }
        let mut merged = first.clone();
        merged.explanations.extend(second.explanations.clone());
        let mut complete = true;
        for (field, _, b) in &differences {
            let choice = posted.get(&format!("keep.{field}")).map(String::as_str);
            let (group, id) = field.split_at(2);
            let map = if group == "l." { &mut merged.lines } else { &mut merged.votes };
            match (choice, b) {
                (Some("first"), _) => {}
                (Some("second"), Some(b)) => {
                    map.insert(id.to_string(), *b);
                }
                _ => complete = false,
            }
        }
        if complete {
            let found = findings(&state, &target, &merged);
            if found.iter().any(Finding::is_error) {
                errors = found.into_iter().filter(Finding::is_error).collect();
            } else {
                row.resolved_by = Some(account);
                let kept: Vec<String> = differences
                    .iter()
                    .map(|(f, _, _)| {
                        format!(
                            "{f}={}",
                            posted.get(&format!("keep.{f}")).map_or("?", String::as_str)
                        )
                    })
                    .collect();
                if let Ok(auth) = state.auth() {
                    let subject = format!("{station}/{contest}");
                    auth.audit(&session.account, "entry.resolve", &subject, &kept.join(", "));
                }
                let supersedes = pair.supersedes.clone();
                if let Err(r) = accept(&state, session, &target, &mut row, merged, supersedes).await
                {
                    return r;
                }
                return page.to_district();
            }
        }
    }
    let mut body = String::new();
    let _ = write!(
        body,
        "<p><a href=\"/workspace/district/{d}?lang={code}\">← {progress}</a> · {name} · {contest}</p>",
        d = esc(district),
        code = lang.code(),
        progress = esc(t(lang, T::Progress)),
        name = esc(&target.station.name),
        contest = esc(target.contest.name.get(lang.code())),
    );
    if let (Some(c), Some(_)) = (&row.correction, &pair.supersedes) {
        let _ = write!(
            body,
            "<p class=\"legend\">{}: {} {} — {}</p>",
            esc(t(lang, T::CorrectionDiffers)),
            esc(t(lang, T::ReasonChosenBy)),
            esc(&c.first_by),
            esc(&c.note)
        );
    }
    if !errors.is_empty() {
        let _ = write!(
            body,
            "<section class=\"error\" role=\"alert\"><h2>{}</h2><ul class=\"findings\">",
            esc(t(lang, T::Errors))
        );
        for finding in &errors {
            let _ = write!(
                body,
                "<li class=\"e\">{}: {}</li>",
                finding.code,
                esc(&finding.message(lang.code()))
            );
        }
        body.push_str("</ul></section>");
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{here}?lang={code}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <section><table><thead><tr><th>{field}</th><th class=\"n\">{a} ({ab})</th><th class=\"n\">{b} ({bb})</th></tr></thead><tbody>",
        here = esc(here),
        code = lang.code(),
        csrf = esc(&session.csrf),
        field = esc(t(lang, T::Field)),
        a = esc(t(lang, T::FirstValue)),
        ab = esc(&pair.first_by),
        b = esc(t(lang, T::SecondValue)),
        bb = esc(&pair.second_by),
    );
    let shown = |v: Option<u64>| v.map_or("—".to_string(), |v| v.to_string());
    let mut first_radio = true;
    for field in fields(&target) {
        let (group, id) = field.split_at(2);
        let (a, b) = if group == "l." {
            (first.lines.get(id).copied(), second.lines.get(id).copied())
        } else {
            (first.votes.get(id).copied(), second.votes.get(id).copied())
        };
        let name = esc(&field_name(&target, &field, lang)).to_string();
        if a == b {
            let _ = write!(body, "<tr><th scope=\"row\">{name}</th><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>", shown(a), shown(b));
            continue;
        }
        let key = format!("keep.{field}");
        let focus = if first_radio { " autofocus" } else { "" };
        first_radio = false;
        let _ = write!(
            body,
            "<tr class=\"differs\" data-field=\"{f}\"><th scope=\"row\">{name}</th>\
             <td class=\"n diff\"><label><input type=\"radio\" name=\"{k}\" value=\"first\" required{focus}> {a} {keep}</label></td>\
             <td class=\"n diff\"><label><input type=\"radio\" name=\"{k}\" value=\"second\"> {b} {keep}</label></td></tr>",
            f = esc(&field),
            k = esc(&key),
            a = shown(a),
            b = shown(b),
            keep = esc(t(lang, T::Keep)),
        );
    }
    let _ = write!(
        body,
        "</tbody></table></section><p><button type=\"submit\" id=\"apply\">{apply}</button></p></form>\
         <form method=\"post\" action=\"{here}?lang={code}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"action\" value=\"discard\"><p><button type=\"submit\" class=\"secondary\">{discard}</button></p></form>",
        apply = esc(t(lang, T::ApplyResolution)),
        here = esc(here),
        code = lang.code(),
        csrf = esc(&session.csrf),
        discard = esc(t(lang, T::DiscardBoth)),
    );
    let title = format!("{} · {} {}", t(lang, T::Resolve), t(lang, T::Station), station);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    view::respond(status, view::page(lang, Some(session), &title, here, &body))
}

/// `POST /workspace/resolve/{station}/{contest}`: keeps the chosen value of each difference
/// (or discards both entries) and submits the result.
pub async fn resolve(State(state): State<AppState>, posted: Posted<Resolving>) -> Response {
    resolve_inner(state, posted.page, Some(posted.form)).await
}

/// `GET /workspace/correct/{station}/{contest}`: the protocol in the log in the entry form: the
/// first person chooses a reason and keys the correction; a second person keys it again.
pub async fn correct_form(
    State(state): State<AppState>,
    page: ProtocolPage<Correcting>,
) -> Response {
    correct_inner(state, page, None).await
}

/// `POST /workspace/correct/{station}/{contest}`: the first entry of a correction (kept until a
/// second person keys it), or the second: equal numbers are submitted as a new entry superseding
/// the old one with its typed reason (the old one stays in the history); different numbers go to
/// a third person.
pub async fn correct(State(state): State<AppState>, posted: Posted<Correcting>) -> Response {
    correct_inner(state, posted.page, Some(posted.form)).await
}

/// `POST /workspace/correct/{station}/{contest}/claim`: takes the second entry of a correction
/// awaiting it (not by the person who keyed the first).
pub async fn claim_correction(
    State(state): State<AppState>,
    Posted { page, .. }: Posted<Correcting>,
) -> Response {
    take_step(&state, &page, |row, me| match &mut row.correction {
        Some(c) if c.second_by.is_none() && c.second.is_none() && c.first_by != me => {
            c.second_by = Some(me.to_string());
            Some("correction.claim_second")
        }
        _ => None,
    })
}

/// The entry a correction of this protocol supersedes and its numbers: the workspace's accepted
/// entry, or else the hand count the log holds for it (keyed elsewhere, `sverka import`).
async fn correction_target(state: &AppState, row: &Row) -> Option<(u64, Entry)> {
    if let (true, Some(index), Some(entry)) = (row.state.is_done(), row.entry_index, &row.second) {
        return Some((index, entry.clone()));
    }
    let (index, protocol) =
        current_entry(state, &row.station, &row.contest, &[Source::Manual]).await?;
    Some((index, Entry { lines: protocol.lines, votes: protocol.votes, ..Entry::default() }))
}

/// The current entry of `station` × `contest` in the published results from the first of
/// `sources` that has one, read from the log.
pub(crate) async fn current_entry(
    state: &AppState,
    station: &str,
    contest: &str,
    sources: &[Source],
) -> Option<(u64, Protocol)> {
    let published = state.published();
    let results = published.results.as_ref()?;
    let of_contest = results.contests.iter().find(|c| c.contest == contest)?;
    let of_station = of_contest.stations.iter().find(|s| s.station == station)?;
    let index = sources
        .iter()
        .find_map(|source| of_station.slots.iter().find(|slot| slot.source == *source)?.current)?;
    let store = state.store().clone();
    let bytes = tokio::task::spawn_blocking(move || store.entry(index)).await.ok()?.ok()??;
    match sverka_model::Submission::decode(&bytes).ok()?.payload.body {
        Body::Protocol(protocol) => Some((index, protocol)),
        _ => None,
    }
}

/// The page of a correction, and `posted` its form (CSRF already checked).
async fn correct_inner(
    state: AppState,
    page: ProtocolPage<Correcting>,
    posted: Option<HashMap<String, String>>,
) -> Response {
    let (lang, session, target) = (page.lang, &page.session, page.target());
    let (station, contest) = (page.station.as_str(), page.contest.as_str());
    let (district, here) = (page.district.as_str(), page.here.as_str());
    let mut row = match row(&state, station, contest) {
        Ok(row) => row,
        Err(response) => return response,
    };
    let me = session.account.clone();
    if row.state == PState::Recounted
        || current_entry(&state, station, contest, &[Source::Recount]).await.is_some()
    {
        return refuse(lang, session, district, t(lang, T::RecountedNoCorrection));
    }
    let mode = match &row.correction {
        None => Mode::Correction,
        Some(c) if c.differs() => {
            return Redirect::to(&format!(
                "/workspace/resolve/{station}/{contest}?lang={}",
                lang.code()
            ))
            .into_response()
        }
        Some(c) if c.first_by == me => {
            return refuse(lang, session, district, t(lang, T::SamePerson))
        }
        Some(c) if c.second_by.is_none() && posted.is_none() => {
            return claim_page(&page, T::StartCorrectionSecond)
        }
        Some(c) if c.second_by.as_deref() == Some(me.as_str()) => Mode::CorrectionSecond,
        Some(_) => return refuse(lang, session, district, t(lang, T::NotYours)),
    };
    let Some((index, old)) = correction_target(&state, &row).await else {
        return refuse(lang, session, district, t(lang, T::WrongState));
    };
    let head = |values: &HashMap<String, String>| {
        match &row.correction {
        Some(c) => format!(
            "<section><p>{}</p><p>{} <strong>{}</strong>: <strong data-reason=\"{r}\">{reason}</strong> — {note}</p>\
             <p class=\"legend\">{} {}</p></section>",
            esc(t(lang, T::CorrectionTwice)),
            esc(t(lang, T::ReasonChosenBy)),
            esc(&c.first_by),
            esc(t(lang, T::Replaces)),
            c.supersedes,
            r = esc(&c.reason),
            reason = esc(reasons(lang, Mode::Correction)
                .iter()
                .find(|(v, _)| *v == c.reason)
                .map_or(c.reason.as_str(), |(_, text)| text)),
            note = esc(&c.note),
        ),
        None => reason_head(lang, Mode::Correction, values, index),
    }
    };
    let Some(posted) = posted else {
        let values = values_of(&old);
        let mut page = FormPage::new(mode, here.to_string());
        page.head = head(&values);
        page.scan = scan_of(&state, &row);
        let html = render_form(lang, session, &target, &page, &values, &[], &[]);
        return view::respond(StatusCode::OK, html);
    };
    let reason = posted_reason(&posted, Mode::Correction);
    let note = posted.get("note").map(|n| n.trim().to_string()).unwrap_or_default();
    let (entry, mut problems) = parse(&target, &posted, lang);
    if mode == Mode::Correction && (reason.is_none() || note.is_empty()) {
        problems.push(("reason".to_string(), t(lang, T::Missing).to_string()));
    }
    let found = if problems.is_empty() { findings(&state, &target, &entry) } else { Vec::new() };
    if !problems.is_empty()
        || found.iter().any(Finding::is_error)
        || !unexplained(&found, &entry).is_empty()
    {
        let mut page = FormPage::new(mode, here.to_string());
        page.head = head(&posted);
        page.scan = scan_of(&state, &row);
        let html = render_form(lang, session, &target, &page, &posted, &problems, &found);
        return view::respond(StatusCode::UNPROCESSABLE_ENTITY, html);
    }
    let subject = format!("{station}/{contest}");
    if mode == Mode::Correction {
        let reason = posted.get("reason").cloned().unwrap_or_default();
        row.correction = Some(db::Correction {
            supersedes: index,
            reason: reason.clone(),
            note: note.clone(),
            first_by: me.clone(),
            first: entry,
            second_by: None,
            second: None,
        });
        let detail = format!("supersedes entry {index}, reason {reason}: {note}");
        if let Err(r) = save(&state, &row, &me, "correction.first", &detail) {
            return r;
        }
        return page.to_district();
    }
    let mut correction = row.correction.clone().expect("a correction awaiting its second entry");
    correction.second_by = Some(me.clone());
    correction.second = Some(entry.clone());
    let agreed = correction.first.same_numbers(&entry);
    let first_explanations = correction.first.explanations.clone();
    let reason = serde_json::from_value(serde_json::Value::String(correction.reason.clone()));
    row.correction = Some(correction);
    if !agreed {
        let fields: Vec<String> = row
            .correction
            .as_ref()
            .map(|c| c.first.differences(&entry).into_iter().map(|(f, _, _)| f).collect())
            .unwrap_or_default();
        let detail = format!("correction differs in: {}", fields.join(", "));
        if let Err(r) = save(&state, &row, &me, "correction.differences", &detail) {
            return r;
        }
        return page.to_district();
    }
    let Ok(reason) = reason else {
        return internal(format!("{subject}: the correction's reason is not a reason"));
    };
    let mut merged = entry;
    merged.explanations.extend(first_explanations);
    let index = row.correction.as_ref().map_or(index, |c| c.supersedes);
    let supersedes = Supersedes { index, reason };
    if let Err(r) = accept(&state, session, &target, &mut row, merged, Some(supersedes)).await {
        return r;
    }
    page.to_district()
}

/// `GET /workspace/entry.js`: the optional live check: evaluates each control relation as the
/// operator types and lists the ones that fail; Enter moves to the next field. The form works
/// without it (the server checks everything again).
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        ENTRY_JS,
    )
        .into_response()
}

const ENTRY_JS: &str = r#"(function () {
  var data = document.getElementById('relations');
  var form = document.getElementById('entry');
  if (!data || !form) return;
  var spec = JSON.parse(data.textContent);
  var inputs = Array.prototype.slice.call(form.querySelectorAll('input[name^="l."],input[name^="v."]'));
  var live = document.getElementById('live');
  function value(name) {
    var el = form.elements[name];
    if (!el || el.value.trim() === '' || !/^[0-9]+$/.test(el.value.trim())) return null;
    return parseInt(el.value.trim(), 10);
  }
  function side(terms) {
    var sum = 0;
    for (var i = 0; i < terms.length; i++) {
      var t = terms[i], v;
      if (t[1] === 'l') v = value('l.' + t[2]);
      else if (t[1] === 'c') v = t[2];
      else {
        v = 0;
        for (var j = 0; j < inputs.length; j++) {
          if (inputs[j].name.indexOf('v.') !== 0) continue;
          var o = value(inputs[j].name);
          if (o === null) return null;
          v += o;
        }
      }
      if (v === null) return null;
      sum += t[0] * v;
    }
    return sum;
  }
  function check() {
    live.textContent = '';
    var failed = 0;
    spec.relations.forEach(function (r) {
      var l = side(r.lhs), rr = side(r.rhs);
      if (l === null || rr === null) return;
      var ok = r.op === '=' ? l === rr : r.op === '>=' ? l >= rr : l <= rr;
      if (!ok) {
        failed++;
        var li = document.createElement('li');
        li.className = 'e';
        li.textContent = r.message.replace('{left}', l).replace('{right}', rr);
        live.appendChild(li);
      }
    });
    if (!failed) {
      var li = document.createElement('li');
      li.textContent = spec.ok;
      live.appendChild(li);
    }
  }
  inputs.forEach(function (input, i) {
    input.addEventListener('input', check);
    input.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && i < inputs.length - 1) {
        e.preventDefault();
        inputs[i + 1].focus();
        inputs[i + 1].select();
      }
    });
  });
  check();
})();
"#;
