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

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use sverka_model::election::{ContestKind, Form as ProtocolForm};
use sverka_model::form::{CmpOp, Term};
use sverka_model::submission::{Supersedes, FORMAT_VERSION};
use sverka_model::validate::{validate_protocol, Finding, ProtocolContext, Severity};
use sverka_model::{Body, Contest, CorrectionReason, Payload, Protocol, Source, Station};

use super::db::{self, Entry, Row, State as PState};
use super::text::{t, T};
use super::view;
use crate::auth::pages::{check_form, internal, lang, require};
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
fn parse(
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

fn protocol_of(target: &Target<'_>, entry: &Entry, supersedes: Option<Supersedes>) -> Protocol {
    Protocol {
        station: target.station.id.clone(),
        contest: target.contest.id.clone(),
        source: Source::Manual,
        lines: entry.lines.clone(),
        votes: entry.votes.clone(),
        preferences: Default::default(),
        supersedes,
        scan_sha256: None,
    }
}

/// The log's checks on these numbers: errors, then warnings.
fn findings(state: &AppState, target: &Target<'_>, entry: &Entry) -> Vec<Finding> {
    validate_protocol(
        state.election(),
        &protocol_of(target, entry, None),
        &ProtocolContext::default(),
    )
}

/// Warnings that have no explanation yet.
fn unexplained<'a>(findings: &'a [Finding], entry: &Entry) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Warning && !entry.explanations.contains_key(f.code))
        .collect()
}

/// What the form is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    First,
    Second,
    Correction,
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

#[allow(clippy::too_many_arguments)]
fn render_form(
    lang: Lang,
    session: &Session,
    target: &Target<'_>,
    mode: Mode,
    values: &HashMap<String, String>,
    problems: &[(String, String)],
    found: &[Finding],
    need_reason: Option<&Row>,
) -> String {
    let station = target.station;
    let contest = target.contest;
    let path = format!("/workspace/entry/{}/{}", station.id, contest.id);
    let action = match mode {
        Mode::Correction => format!("/workspace/correct/{}/{}", station.id, contest.id),
        _ => path.clone(),
    };
    let which = match mode {
        Mode::First => t(lang, T::FirstEntryOf),
        Mode::Second => t(lang, T::SecondEntryOf),
        Mode::Correction => t(lang, T::CorrectionOf),
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
        "<p><a href=\"/workspace/district/{d}?lang={code}\">← {progress}</a> · {name}</p>",
        d = esc(&station.district),
        code = lang.code(),
        progress = esc(t(lang, T::Progress)),
        name = esc(&station.name),
    );
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
         <p class=\"legend\">{hint}</p>",
        action = esc(&action),
        code = lang.code(),
        csrf = esc(&session.csrf),
        hint = esc(t(lang, T::KeyHint)),
    );
    if let Some(row) = need_reason {
        let _ = write!(
            body,
            "<section><p>{note}</p><p><label for=\"reason\">{reason}</label> \
             <select id=\"reason\" name=\"reason\" required>",
            note = esc(t(lang, T::CorrectionNote)),
            reason = esc(t(lang, T::Reason)),
        );
        for (value, text) in reasons(lang) {
            let selected = if values.get("reason").map(String::as_str) == Some(value) {
                " selected"
            } else {
                ""
            };
            let _ = write!(body, "<option value=\"{value}\"{selected}>{}</option>", esc(text));
        }
        let _ = write!(
            body,
            "</select></p><p><label for=\"note\">{}</label><br>\
             <textarea id=\"note\" name=\"note\" required>{}</textarea></p>\
             <p class=\"legend\">{} {}</p></section>",
            esc(t(lang, T::Explanation)),
            esc(values.get("note").map_or("", String::as_str)),
            esc(t(lang, T::EntryIndex)),
            row.entry_index.map_or("—".to_string(), |i| i.to_string()),
        );
    }
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
        finish = esc(t(lang, T::Finalise)),
        // JSON inside a script element: `<` is escaped so no `</script>` can close it.
        relations = relations_json(target, lang).replace('<', "\\u003c"),
    );
    view::page(lang, Some(session), &title, &path, &body)
}

fn reasons(lang: Lang) -> [(&'static str, &'static str); 5] {
    [
        ("keying_error", t(lang, T::ReasonKeyingError)),
        ("recount", t(lang, T::ReasonRecount)),
        ("court_order", t(lang, T::ReasonCourtOrder)),
        ("late_protocol", t(lang, T::ReasonLateProtocol)),
        ("commission_decision", t(lang, T::ReasonCommissionDecision)),
    ]
}

fn values_of(entry: &Entry) -> HashMap<String, String> {
    let lines = entry.lines.iter().map(|(k, v)| (format!("l.{k}"), v.to_string()));
    let votes = entry.votes.iter().map(|(k, v)| (format!("v.{k}"), v.to_string()));
    let notes = entry.explanations.iter().map(|(k, v)| (format!("x.{k}"), v.clone()));
    lines.chain(votes).chain(notes).collect()
}

/// A short page saying why this step is not possible now (409), with a way back.
fn refuse(lang: Lang, session: &Session, district: &str, message: &str) -> Response {
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

fn not_found(lang: Lang) -> Response {
    let _ = lang;
    (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "no such protocol")
        .into_response()
}

fn row(state: &AppState, station: &str, contest: &str) -> Result<Row, Response> {
    let auth = state.auth().map_err(internal)?;
    auth.with(|conn| db::get(conn, station, contest)).map_err(internal)
}

fn save(
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

/// `GET /workspace/entry/{station}/{contest}`: the entry form for whoever holds this step, or
/// the button to take it.
pub async fn form(
    State(state): State<AppState>,
    Path((station, contest)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&query, &headers);
    let election = state.election().clone();
    let Some(target) = target(&election, &station, &contest) else { return not_found(lang) };
    let district = target.station.district.clone();
    let here = format!("/workspace/entry/{station}/{contest}");
    let session = match require(&state, &headers, &here, lang, |s| s.role.may_key(&district)) {
        Ok(session) => session,
        Err(response) => return response,
    };
    let row = match row(&state, &station, &contest) {
        Ok(row) => row,
        Err(response) => return response,
    };
    let me = Some(session.account.as_str());
    let mode = match row.state {
        PState::FirstEntry if row.first_by.as_deref() == me => Mode::First,
        PState::SecondEntry if row.second_by.as_deref() == me => Mode::Second,
        PState::NotStarted => return claim_page(lang, &session, &target, T::StartEntry),
        PState::SecondEntry if row.second_by.is_none() && row.first_by.as_deref() != me => {
            return claim_page(lang, &session, &target, T::StartSecond)
        }
        PState::SecondEntry if row.first_by.as_deref() == me => {
            return refuse(lang, &session, &district, t(lang, T::SamePerson))
        }
        PState::FirstEntry | PState::SecondEntry => {
            return refuse(lang, &session, &district, t(lang, T::NotYours))
        }
        _ => return refuse(lang, &session, &district, t(lang, T::WrongState)),
    };
    let html = render_form(lang, &session, &target, mode, &HashMap::new(), &[], &[], None);
    view::respond(StatusCode::OK, html)
}

fn claim_page(lang: Lang, session: &Session, target: &Target<'_>, label: T) -> Response {
    let station = target.station;
    let path = format!("/workspace/entry/{}/{}", station.id, target.contest.id);
    let body = format!(
        "<section><p>{name} · {contest}</p><form id=\"claim\" method=\"post\" action=\"{path}/claim?lang={code}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" autofocus>{label}</button></form></section>",
        name = esc(&station.name),
        contest = esc(target.contest.name.get(lang.code())),
        path = esc(&path),
        code = lang.code(),
        csrf = esc(&session.csrf),
        label = esc(t(lang, label)),
    );
    let title = format!("{} · {} {}", t(lang, T::EntryOf), t(lang, T::Station), station.id);
    view::respond(StatusCode::OK, view::page(lang, Some(session), &title, &path, &body))
}

/// `POST /workspace/entry/{station}/{contest}/claim`: takes the first entry (not started) or the
/// second (first finished, by someone else).
pub async fn claim(
    State(state): State<AppState>,
    Path((station, contest)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(posted): Form<HashMap<String, String>>,
) -> Response {
    let lang = lang(&query, &headers);
    let election = state.election().clone();
    let Some(target) = target(&election, &station, &contest) else { return not_found(lang) };
    let district = target.station.district.clone();
    let here = format!("/workspace/entry/{station}/{contest}");
    let session = match require(&state, &headers, &here, lang, |s| s.role.may_key(&district)) {
        Ok(session) => session,
        Err(response) => return response,
    };
    if let Err(response) = check_form(&session, &headers, &posted, lang) {
        return response;
    }
    let auth = match state.auth() {
        Ok(auth) => auth,
        Err(e) => return internal(e),
    };
    let me = session.account.clone();
    // Read and write in one transaction, so two operators cannot take the same step.
    let outcome = auth.with(|conn| {
        let tx = conn.transaction()?;
        let mut row = db::get(&tx, &station, &contest)?;
        let taken = match row.state {
            PState::NotStarted => {
                row.state = PState::FirstEntry;
                row.first_by = Some(me.clone());
                Some("entry.claim_first")
            }
            PState::SecondEntry
                if row.second_by.is_none() && row.first_by.as_deref() != Some(&me) =>
            {
                row.second_by = Some(me.clone());
                Some("entry.claim_second")
            }
            _ => None,
        };
        if let Some(action) = taken {
            db::put(&tx, &row)?;
            crate::auth::audit_in(&tx, &me, action, &format!("{station}/{contest}"), "")?;
        }
        tx.commit()?;
        Ok(taken.is_some())
    });
    match outcome {
        Ok(_) => Redirect::to(&format!("{here}?lang={}", lang.code())).into_response(),
        Err(e) => internal(e),
    }
}

/// `POST /workspace/entry/{station}/{contest}`: finishes the first or second entry. Errors and
/// unexplained warnings send the form back (422) with the numbers as typed; a second entry that
/// agrees with the first becomes a signed submission; one that differs waits for a third person.
pub async fn finish(
    State(state): State<AppState>,
    Path((station, contest)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(posted): Form<HashMap<String, String>>,
) -> Response {
    let lang = lang(&query, &headers);
    let election = state.election().clone();
    let Some(target) = target(&election, &station, &contest) else { return not_found(lang) };
    let district = target.station.district.clone();
    let here = format!("/workspace/entry/{station}/{contest}");
    let session = match require(&state, &headers, &here, lang, |s| s.role.may_key(&district)) {
        Ok(session) => session,
        Err(response) => return response,
    };
    if let Err(response) = check_form(&session, &headers, &posted, lang) {
        return response;
    }
    let mut row = match row(&state, &station, &contest) {
        Ok(row) => row,
        Err(response) => return response,
    };
    let me = Some(session.account.as_str());
    let mode = match row.state {
        PState::FirstEntry if row.first_by.as_deref() == me => Mode::First,
        PState::SecondEntry if row.second_by.as_deref() == me => Mode::Second,
        _ => return refuse(lang, &session, &district, t(lang, T::NotYours)),
    };
    let (entry, problems) = parse(&target, &posted, lang);
    let found = if problems.is_empty() { findings(&state, &target, &entry) } else { Vec::new() };
    let blocked = !problems.is_empty()
        || found.iter().any(Finding::is_error)
        || !unexplained(&found, &entry).is_empty();
    if blocked {
        let html = render_form(lang, &session, &target, mode, &posted, &problems, &found, None);
        return view::respond(StatusCode::UNPROCESSABLE_ENTITY, html);
    }
    let account = session.account.clone();
    match mode {
        Mode::First => {
            row.first = Some(entry);
            row.state = PState::SecondEntry;
            row.second_by = None;
            if let Err(r) = save(&state, &row, &account, "entry.first", "") {
                return r;
            }
        }
        Mode::Second => {
            let first = row.first.clone().unwrap_or_default();
            row.second = Some(entry.clone());
            if first.same_numbers(&entry) {
                let mut merged = entry;
                merged.explanations.extend(first.explanations);
                if let Err(r) = accept(&state, &session, &target, &mut row, merged, None).await {
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
        Mode::Correction => unreachable!("corrections post to /workspace/correct"),
    }
    Redirect::to(&format!("/workspace/district/{district}?lang={}", lang.code())).into_response()
}

/// What submitting gave: the log index, leaf hash, signing key id and the warnings no one
/// explained yet; or why the log refused it.
type Submitted = Result<(u64, String, String, Vec<(String, String)>), String>;

/// Signs `entry` with the district's key and submits it; on success the row is accepted (or
/// corrected) with the entry's log index; on refusal the row keeps its state and shows why.
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
    let protocol = protocol_of(target, &entry, supersedes);
    let outcome: Submitted = match auth.signing_key(district) {
        Ok(None) => Err(t(Lang::En, T::NoSigningKey).to_string()),
        Err(e) => Err(e.to_string()),
        Ok(Some((key_id, key))) => {
            let seq = auth.next_seq(&key_id).map_err(internal)?;
            let payload = Payload {
                v: FORMAT_VERSION,
                election: state.election().id.clone(),
                signer: key_id.clone(),
                seq,
                time: None,
                body: Body::Protocol(protocol),
            };
            let bytes = payload.sign(&key).to_bytes();
            let store = state.store().clone();
            let sender = format!("workspace {}", session.account);
            let result = tokio::task::spawn_blocking(move || store.submit_from(bytes, &sender))
                .await
                .map_err(internal)?;
            match result {
                Ok(receipt) => {
                    state.notify_new_entries();
                    let warnings = receipt
                        .warnings
                        .iter()
                        .filter(|w| !entry.explanations.contains_key(&w.code))
                        .map(|w| (w.code.clone(), w.message.clone()))
                        .collect();
                    Ok((receipt.index, receipt.leaf_hash.to_hex(), key_id, warnings))
                }
                Err(sverka_store::SubmitError::Rejected(rejection)) => Err(rejection
                    .problems
                    .iter()
                    .map(|p| format!("{}: {}", p.code, p.message))
                    .collect::<Vec<_>>()
                    .join("; ")),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    let account = session.account.clone();
    match outcome {
        Ok((index, leaf, key_id, warnings)) => {
            row.pending_warnings = warnings;
            row.state = if correction { PState::Corrected } else { PState::Accepted };
            row.entry_index = Some(index);
            row.message = None;
            row.second = Some(entry.clone());
            let detail = format!(
                "log entry {index} (leaf {leaf}) signed with {key_id}; first entry by {}, second by {}{}; explanations: {}",
                row.first_by.as_deref().unwrap_or("-"),
                row.second_by.as_deref().unwrap_or("-"),
                row.resolved_by.as_deref().map(|r| format!(", resolved by {r}")).unwrap_or_default(),
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
    Path((station, contest)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    resolve_inner(state, station, contest, query, headers, None).await
}

async fn resolve_inner(
    state: AppState,
    station: String,
    contest: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    posted: Option<HashMap<String, String>>,
) -> Response {
    let lang = lang(&query, &headers);
    let election = state.election().clone();
    let Some(target) = target(&election, &station, &contest) else { return not_found(lang) };
    let district = target.station.district.clone();
    let here = format!("/workspace/resolve/{station}/{contest}");
    let session = match require(&state, &headers, &here, lang, |s| s.role.may_resolve(&district)) {
        Ok(session) => session,
        Err(response) => return response,
    };
    if let Some(posted) = &posted {
        if let Err(response) = check_form(&session, &headers, posted, lang) {
            return response;
        }
    }
    let mut row = match row(&state, &station, &contest) {
        Ok(row) => row,
        Err(response) => return response,
    };
    if row.state != PState::Differences {
        return refuse(lang, &session, &district, t(lang, T::WrongState));
    }
    let me = Some(session.account.as_str());
    if row.first_by.as_deref() == me || row.second_by.as_deref() == me {
        return refuse(lang, &session, &district, t(lang, T::ThirdPerson));
    }
    let first = row.first.clone().unwrap_or_default();
    let second = row.second.clone().unwrap_or_default();
    let differences = first.differences(&second);
    let mut errors: Vec<Finding> = Vec::new();
    if let Some(posted) = &posted {
        let account = session.account.clone();
        if posted.get("action").map(String::as_str) == Some("discard") {
            let mut fresh = Row::new(&station, &contest);
            fresh.state = PState::NotStarted;
            if let Err(r) =
                save(&state, &fresh, &account, "entry.discard", "both entries discarded")
            {
                return r;
            }
            return Redirect::to(&format!("/workspace/district/{district}?lang={}", lang.code()))
                .into_response();
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
                if let Err(r) = accept(&state, &session, &target, &mut row, merged, None).await {
                    return r;
                }
                return Redirect::to(&format!(
                    "/workspace/district/{district}?lang={}",
                    lang.code()
                ))
                .into_response();
            }
        }
    }
    let mut body = String::new();
    let _ = write!(
        body,
        "<p><a href=\"/workspace/district/{d}?lang={code}\">← {progress}</a> · {name} · {contest}</p>",
        d = esc(&district),
        code = lang.code(),
        progress = esc(t(lang, T::Progress)),
        name = esc(&target.station.name),
        contest = esc(target.contest.name.get(lang.code())),
    );
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
        here = esc(&here),
        code = lang.code(),
        csrf = esc(&session.csrf),
        field = esc(t(lang, T::Field)),
        a = esc(t(lang, T::FirstValue)),
        ab = esc(row.first_by.as_deref().unwrap_or("")),
        b = esc(t(lang, T::SecondValue)),
        bb = esc(row.second_by.as_deref().unwrap_or("")),
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
        here = esc(&here),
        code = lang.code(),
        csrf = esc(&session.csrf),
        discard = esc(t(lang, T::DiscardBoth)),
    );
    let title = format!("{} · {} {}", t(lang, T::Resolve), t(lang, T::Station), station);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    view::respond(status, view::page(lang, Some(&session), &title, &here, &body))
}

/// `POST /workspace/resolve/{station}/{contest}`: keeps the chosen value of each difference
/// (or discards both entries) and submits the result.
pub async fn resolve(
    State(state): State<AppState>,
    Path((station, contest)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(posted): Form<HashMap<String, String>>,
) -> Response {
    resolve_inner(state, station, contest, query, headers, Some(posted)).await
}

/// `GET /workspace/correct/{station}/{contest}`: the accepted protocol's numbers in the entry
/// form, with a reason to choose and explain.
pub async fn correct_form(
    State(state): State<AppState>,
    Path((station, contest)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    correct_inner(state, station, contest, query, headers, None).await
}

/// `POST /workspace/correct/{station}/{contest}`: submits the corrected protocol as a new entry
/// superseding the accepted one, with its typed reason; the old entry stays in the history.
pub async fn correct(
    State(state): State<AppState>,
    Path((station, contest)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(posted): Form<HashMap<String, String>>,
) -> Response {
    correct_inner(state, station, contest, query, headers, Some(posted)).await
}

async fn correct_inner(
    state: AppState,
    station: String,
    contest: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    posted: Option<HashMap<String, String>>,
) -> Response {
    let lang = lang(&query, &headers);
    let election = state.election().clone();
    let Some(target) = target(&election, &station, &contest) else { return not_found(lang) };
    let district = target.station.district.clone();
    let here = format!("/workspace/correct/{station}/{contest}");
    let session = match require(&state, &headers, &here, lang, |s| s.role.may_resolve(&district)) {
        Ok(session) => session,
        Err(response) => return response,
    };
    let mut row = match row(&state, &station, &contest) {
        Ok(row) => row,
        Err(response) => return response,
    };
    let Some(index) = row.entry_index.filter(|_| row.state.is_done()) else {
        return refuse(lang, &session, &district, t(lang, T::WrongState));
    };
    let Some(posted) = posted else {
        let values = values_of(row.second.as_ref().unwrap_or(&Entry::default()));
        let html =
            render_form(lang, &session, &target, Mode::Correction, &values, &[], &[], Some(&row));
        return view::respond(StatusCode::OK, html);
    };
    if let Err(response) = check_form(&session, &headers, &posted, lang) {
        return response;
    }
    let reason = match posted.get("reason").map(String::as_str) {
        Some("keying_error") => Some(CorrectionReason::KeyingError),
        Some("recount") => Some(CorrectionReason::Recount),
        Some("court_order") => Some(CorrectionReason::CourtOrder),
        Some("late_protocol") => Some(CorrectionReason::LateProtocol),
        Some("commission_decision") => Some(CorrectionReason::CommissionDecision),
        _ => None,
    };
    let note = posted.get("note").map(|n| n.trim().to_string()).unwrap_or_default();
    let (entry, mut problems) = parse(&target, &posted, lang);
    if reason.is_none() || note.is_empty() {
        problems.push(("reason".to_string(), t(lang, T::Missing).to_string()));
    }
    let found = if problems.is_empty() { findings(&state, &target, &entry) } else { Vec::new() };
    if !problems.is_empty()
        || found.iter().any(Finding::is_error)
        || !unexplained(&found, &entry).is_empty()
    {
        let html = render_form(
            lang,
            &session,
            &target,
            Mode::Correction,
            &posted,
            &problems,
            &found,
            Some(&row),
        );
        return view::respond(StatusCode::UNPROCESSABLE_ENTITY, html);
    }
    let reason = reason.expect("checked above");
    if let Ok(auth) = state.auth() {
        auth.audit(
            &session.account,
            "correction.reason",
            &format!("{station}/{contest}"),
            &format!("supersedes entry {index}: {note}"),
        );
    }
    row.resolved_by = Some(session.account.clone());
    let supersedes = Supersedes { index, reason };
    if let Err(r) = accept(&state, &session, &target, &mut row, entry, Some(supersedes)).await {
        return r;
    }
    Redirect::to(&format!("/workspace/district/{district}?lang={}", lang.code())).into_response()
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
