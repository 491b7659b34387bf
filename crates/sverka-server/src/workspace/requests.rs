//! Requests to the CEC: from a review-queue item or a station's page, a district asks for an
//! annulment or a recount, with its reasons in words. Only a CEC administrator key may sign
//! either (`registry::check_role`: annulments and `recount` protocols are admin-only, `E109`), so
//! the request waits in the CEC's queue (the review page's "Requests to the CEC") until an admin
//! acts on it:
//!
//! - an annulment: the admin writes the decision (number and date) and the workspace signs an
//!   `annulment` entry with the CEC key ([`crate::auth::CEC_SCOPE`]) and submits it through the
//!   store, exactly the entry `sverka demo` sends for a CEC annulment;
//! - a recount: the admin keys the recounted protocol in the entry form (prefilled with the
//!   numbers it replaces), with the typed reason `recount` or `court_order`; it is signed as a
//!   `recount` protocol superseding the station's current entry;
//! - or the admin declines it, in words.
//!
//! Signing and submitting is [`super::entry::sign_and_submit`], the same path as the districts'
//! protocols. Every step is in the audit log.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use sverka_model::submission::{Annulment, Supersedes};
use sverka_model::validate::Finding;
use sverka_model::{Body, Source};

use super::db::{self, Entry, Request, RequestKind};
use super::entry::{
    current_entry, findings, not_found, parse, posted_reason, protocol_of, reason_head,
    render_form, sign_and_submit, target, unexplained, values_of, FormPage, Mode, Target,
};
use super::text::{t, T};
use super::view;
use crate::auth::pages::{check_form, internal, lang, require};
use crate::auth::{AccountRole, Session, CEC_SCOPE};
use crate::site::html::esc;
use crate::site::i18n::Lang;
use crate::AppState;

/// The longest reason or decision kept, in characters.
const MAX_TEXT: usize = 2000;

fn kind_label(lang: Lang, kind: RequestKind) -> &'static str {
    t(lang, if kind == RequestKind::Annulment { T::KindAnnulment } else { T::KindRecount })
}

fn state_label(lang: Lang, state: &str) -> &'static str {
    t(
        lang,
        match state {
            "done" => T::ReqDone,
            "declined" => T::ReqDeclined,
            _ => T::ReqOpen,
        },
    )
}

/// The links that ask the CEC for a recount or an annulment of `station` × `contest`.
pub(crate) fn links(lang: Lang, station: &str, contest: &str) -> String {
    let code = lang.code();
    let (s, c) = (esc(station), esc(contest));
    format!(
        "<a class=\"act\" data-act=\"recount\" href=\"/workspace/request/recount/{s}/{c}?lang={code}\">{}</a> \
         <a class=\"act\" data-act=\"annulment\" href=\"/workspace/request/annulment/{s}/{c}?lang={code}\">{}</a>",
        esc(t(lang, T::RequestRecount)),
        esc(t(lang, T::RequestAnnulment)),
    )
}

fn text_field(posted: &HashMap<String, String>, name: &str) -> Option<String> {
    let text = posted.get(name).map(|v| v.trim())?;
    (!text.is_empty()).then(|| text.chars().take(MAX_TEXT).collect())
}

/// `GET /workspace/request/{kind}/{station}/{contest}`: the request form (why, in words).
pub async fn request_form(
    State(state): State<AppState>,
    Path((kind, station, contest)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    request_inner(state, kind, station, contest, query, headers, None).await
}

/// `POST /workspace/request/{kind}/{station}/{contest}`: records the request in the CEC's queue.
pub async fn request(
    State(state): State<AppState>,
    Path((kind, station, contest)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(posted): Form<HashMap<String, String>>,
) -> Response {
    request_inner(state, kind, station, contest, query, headers, Some(posted)).await
}

async fn request_inner(
    state: AppState,
    kind: String,
    station: String,
    contest: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    posted: Option<HashMap<String, String>>,
) -> Response {
    let lang = lang(&query, &headers);
    let election = state.election().clone();
    let (Some(kind), Some(target)) =
        (RequestKind::parse(&kind), target(&election, &station, &contest))
    else {
        return not_found(lang);
    };
    let district = target.station.district.clone();
    let here = format!("/workspace/request/{}/{station}/{contest}", kind.as_str());
    let session = match require(&state, &headers, &here, lang, |s| s.role.may_resolve(&district)) {
        Ok(session) => session,
        Err(response) => return response,
    };
    let mut missing = false;
    if let Some(posted) = &posted {
        if let Err(response) = check_form(&session, &headers, posted, lang) {
            return response;
        }
        match text_field(posted, "reason") {
            Some(reason) => {
                let me = session.account.clone();
                let auth = match state.auth() {
                    Ok(auth) => auth,
                    Err(e) => return internal(e),
                };
                let added = auth.with(|conn| {
                    let tx = conn.transaction()?;
                    let id = db::add_request(&tx, kind, &station, &contest, &reason, &me)?;
                    let action = format!("request.{}", kind.as_str());
                    let subject = format!("{station}/{contest}");
                    crate::auth::audit_in(
                        &tx,
                        &me,
                        &action,
                        &subject,
                        &format!("#{id}: {reason}"),
                    )?;
                    tx.commit()
                });
                return match added {
                    Ok(()) => {
                        Redirect::to(&format!("/workspace/review?lang={}#requests", lang.code()))
                            .into_response()
                    }
                    Err(e) => internal(e),
                };
            }
            None => missing = true,
        }
    }
    let title = format!(
        "{} · {} {} · {}",
        t(
            lang,
            if kind == RequestKind::Annulment { T::RequestAnnulment } else { T::RequestRecount }
        ),
        t(lang, T::Station),
        station,
        target.contest.name.get(lang.code())
    );
    let mut body = String::new();
    if missing {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\">{}: {}</p>",
            esc(t(lang, T::RequestReason)),
            esc(t(lang, T::Missing))
        );
    }
    let why = query.get("why").map_or("", String::as_str);
    let _ = write!(
        body,
        "<section><p><a href=\"/workspace/station/{s}?lang={code}\">{name}</a></p><p>{note}</p>\
         <form method=\"post\" action=\"{here}?lang={code}\" id=\"request\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <p><label for=\"reason\">{label}</label><br><textarea id=\"reason\" name=\"reason\" required autofocus>{why}</textarea></p>\
         <p><button type=\"submit\">{send}</button></p></form></section>",
        s = esc(&station),
        code = lang.code(),
        name = esc(&target.station.name),
        note = esc(t(lang, T::RequestNote)),
        here = esc(&here),
        csrf = esc(&session.csrf),
        label = esc(t(lang, T::RequestReason)),
        why = esc(why),
        send = esc(t(lang, T::SendRequest)),
    );
    let status = if missing { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    view::respond(status, view::page(lang, Some(&session), &title, &here, &body))
}

/// The review page's section: every request the person may see, with its state; an admin gets
/// the link to act on each open one.
pub(crate) fn section(
    body: &mut String,
    lang: Lang,
    session: &Session,
    election: &sverka_model::Election,
    requests: &[Request],
) {
    let code = lang.code();
    let _ = write!(
        body,
        "<section id=\"requests\"><h2>{}</h2><p class=\"legend\">{}</p>",
        esc(t(lang, T::Requests)),
        esc(t(lang, T::RequestsNote))
    );
    let visible: Vec<&Request> = requests
        .iter()
        .filter(|r| {
            election
                .station(&r.station)
                .is_some_and(|s| session.role.may_read_district(&s.district))
        })
        .collect();
    if visible.is_empty() {
        let _ = write!(body, "<p>{}</p></section>", esc(t(lang, T::NothingHere)));
        return;
    }
    let _ = write!(
        body,
        "<div class=\"scroll\"><table><thead><tr><th class=\"n\">#</th><th></th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(t(lang, T::Station)),
        esc(t(lang, T::Contest)),
        esc(t(lang, T::Reason)),
        esc(t(lang, T::RequestedBy)),
        esc(t(lang, T::State)),
        esc(t(lang, T::Action)),
    );
    let admin = session.role == AccountRole::Admin;
    for r in visible {
        let mut outcome = esc(state_label(lang, &r.state)).to_string();
        if let Some(decision) = &r.decision {
            let _ = write!(
                outcome,
                " — {} ({})",
                esc(decision),
                esc(r.decided_by.as_deref().unwrap_or(""))
            );
        }
        if let Some(index) = r.entry_index {
            let _ = write!(
                outcome,
                " · <a href=\"/station/{}?lang={code}\">{} {index}</a>",
                esc(&r.station),
                esc(t(lang, T::EntryIndex))
            );
        }
        let action = if admin && r.state == "open" {
            format!(
                "<a class=\"act\" href=\"/workspace/cec/{}?lang={code}\">{}</a>",
                r.id,
                esc(t(lang, T::ActOn))
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr data-request=\"{id}\" data-kind=\"{kind}\" data-state=\"{st}\"><td class=\"n\">{id}</td><td>{kl}</td>\
             <td><a href=\"/workspace/station/{s}?lang={code}\">{s}</a></td><td>{c}</td><td>{reason}</td>\
             <td>{by} <span class=\"legend\">{at}</span></td><td>{outcome}</td><td>{action}</td></tr>",
            id = r.id,
            kind = r.kind.as_str(),
            st = esc(&r.state),
            kl = esc(kind_label(lang, r.kind)),
            s = esc(&r.station),
            c = esc(&r.contest),
            reason = esc(&r.reason),
            by = esc(&r.requested_by),
            at = esc(&r.requested_at),
        );
    }
    body.push_str("</tbody></table></div></section>");
}

fn load(state: &AppState, id: i64) -> Result<Option<Request>, Response> {
    let auth = state.auth().map_err(internal)?;
    auth.with(|conn| db::request(conn, id)).map_err(internal)
}

/// `GET /workspace/cec/{id}`: a CEC admin's page for one request: sign the annulment, key and
/// sign the recount, or decline.
pub async fn act_form(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    act_inner(state, id, query, headers, None).await
}

/// `POST /workspace/cec/{id}`: `action` is `annul`, `recount` or `decline`.
pub async fn act(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(posted): Form<HashMap<String, String>>,
) -> Response {
    act_inner(state, id, query, headers, Some(posted)).await
}

async fn act_inner(
    state: AppState,
    id: i64,
    query: HashMap<String, String>,
    headers: HeaderMap,
    posted: Option<HashMap<String, String>>,
) -> Response {
    let lang = lang(&query, &headers);
    let here = format!("/workspace/cec/{id}");
    let session = match require(&state, &headers, &here, lang, |s| s.role == AccountRole::Admin) {
        Ok(session) => session,
        Err(response) => return response,
    };
    let request = match load(&state, id) {
        Ok(Some(request)) => request,
        Ok(None) => return not_found(lang),
        Err(response) => return response,
    };
    let election = state.election().clone();
    let Some(target) = target(&election, &request.station, &request.contest) else {
        return not_found(lang);
    };
    let current = current_entry(
        &state,
        &request.station,
        &request.contest,
        &[Source::Recount, Source::Manual, Source::Machine],
    )
    .await;
    let mut failure: Option<String> = None;
    let mut values = current
        .as_ref()
        .map(|(_, p)| {
            values_of(&Entry { lines: p.lines.clone(), votes: p.votes.clone(), ..Entry::default() })
        })
        .unwrap_or_default();
    let mut problems = Vec::new();
    let mut found: Vec<Finding> = Vec::new();
    if let (Some(posted), "open") = (&posted, request.state.as_str()) {
        if let Err(response) = check_form(&session, &headers, posted, lang) {
            return response;
        }
        let action = posted.get("action").map_or("", String::as_str);
        let outcome = match action {
            "decline" => decline(&state, &session, &request, posted),
            "annul" if request.kind == RequestKind::Annulment => {
                annul(&state, &session, &request, posted).await
            }
            "recount" if request.kind == RequestKind::Recount => {
                let (entry, mut typed) = parse(&target, posted, lang);
                let reason = posted_reason(posted, Mode::Recount);
                let decision = text_field(posted, "note");
                if reason.is_none() || decision.is_none() {
                    typed.push(("reason".to_string(), t(lang, T::Missing).to_string()));
                }
                let checked =
                    if typed.is_empty() { findings(&state, &target, &entry) } else { Vec::new() };
                if !typed.is_empty()
                    || checked.iter().any(Finding::is_error)
                    || !unexplained(&checked, &entry).is_empty()
                {
                    values = posted.clone();
                    problems = typed;
                    found = checked;
                    Err(String::new())
                } else {
                    let Some((index, _)) = &current else {
                        return refuse_nothing(lang, &session, &here);
                    };
                    let supersedes =
                        Supersedes { index: *index, reason: reason.expect("checked above") };
                    let decision = decision.expect("checked above");
                    recount(&state, &session, &request, &target, entry, supersedes, &decision).await
                }
            }
            _ => Err(t(lang, T::WrongState).to_string()),
        };
        match outcome {
            Ok(()) => {
                return Redirect::to(&format!("/workspace/review?lang={}#requests", lang.code()))
                    .into_response()
            }
            Err(message) if !message.is_empty() => failure = Some(message),
            Err(_) => {}
        }
        if action != "recount" {
            values = posted.clone();
        }
    }
    page(
        lang,
        &session,
        &request,
        &target,
        current.map(|(i, _)| i),
        &values,
        &problems,
        &found,
        failure,
    )
}

fn refuse_nothing(lang: Lang, session: &Session, here: &str) -> Response {
    let body = format!(
        "<section><p class=\"error\" role=\"alert\">{}</p></section>",
        esc(t(lang, T::NothingToRecount))
    );
    view::respond(
        StatusCode::CONFLICT,
        view::page(lang, Some(session), t(lang, T::NothingToRecount), here, &body),
    )
}

/// The CEC key, or why there is none.
fn cec_key(state: &AppState) -> Result<(String, ed25519_dalek::SigningKey), String> {
    let auth = state.auth().map_err(|e| e.to_string())?;
    match auth.signing_key(CEC_SCOPE) {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(t(Lang::En, T::NoCecKey).to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Marks the request done (or declined) with the audit record, in one transaction.
fn close(
    state: &AppState,
    session: &Session,
    request: &Request,
    outcome: &str,
    decision: &str,
    index: Option<u64>,
) -> Result<(), String> {
    let auth = state.auth().map_err(|e| e.to_string())?;
    let me = session.account.clone();
    let closed = auth
        .with(|conn| {
            let tx = conn.transaction()?;
            let closed = db::decide_request(&tx, request.id, outcome, &me, decision, index)?;
            let action = format!("request.{outcome}");
            let subject = format!("{}/{}", request.station, request.contest);
            let detail = match index {
                Some(index) => format!("#{}: log entry {index}; {decision}", request.id),
                None => format!("#{}: {decision}", request.id),
            };
            crate::auth::audit_in(&tx, &me, &action, &subject, &detail)?;
            tx.commit()?;
            Ok(closed)
        })
        .map_err(|e| e.to_string())?;
    if closed {
        Ok(())
    } else {
        Err(format!("request #{} was already decided", request.id))
    }
}

fn decline(
    state: &AppState,
    session: &Session,
    request: &Request,
    posted: &HashMap<String, String>,
) -> Result<(), String> {
    let Some(why) = text_field(posted, "why") else {
        return Err(format!("{}: {}", t(Lang::En, T::DeclineWhy), t(Lang::En, T::Missing)));
    };
    close(state, session, request, "declined", &why, None)
}

async fn annul(
    state: &AppState,
    session: &Session,
    request: &Request,
    posted: &HashMap<String, String>,
) -> Result<(), String> {
    let Some(decision) = text_field(posted, "decision") else {
        return Err(format!("{}: {}", t(Lang::En, T::Decision), t(Lang::En, T::Missing)));
    };
    let whole = posted.get("whole").is_some_and(|v| v == "1");
    let (key_id, key) = cec_key(state)?;
    let body = Body::Annulment(Annulment {
        station: request.station.clone(),
        contest: (!whole).then(|| request.contest.clone()),
        reason: decision.clone(),
    });
    let submitted =
        sign_and_submit(state, &session.account, &key_id, &key, body, &Entry::default())
            .await
            .map_err(|_| "internal error; see the server's log".to_string())?;
    let (index, _, _) = submitted?;
    close(
        state,
        session,
        request,
        "done",
        &format!("{decision} (signed with {key_id})"),
        Some(index),
    )
}

async fn recount(
    state: &AppState,
    session: &Session,
    request: &Request,
    target: &Target<'_>,
    entry: Entry,
    supersedes: Supersedes,
    decision: &str,
) -> Result<(), String> {
    let (key_id, key) = cec_key(state)?;
    let replaced = supersedes.index;
    let body = Body::Protocol(protocol_of(target, &entry, Source::Recount, Some(supersedes)));
    let submitted = sign_and_submit(state, &session.account, &key_id, &key, body, &entry)
        .await
        .map_err(|_| "internal error; see the server's log".to_string())?;
    let (index, _, warnings) = submitted?;
    let decision = format!("{decision} (replaces entry {replaced}; signed with {key_id})");
    close(state, session, request, "done", &decision, Some(index))?;
    mark_recounted(state, session, request, (index, replaced), entry, warnings)
}

/// The district's row of a recounted protocol: `recounted`, naming the recount's log entry and
/// numbers, so that nothing in the workspace targets the entry the recount superseded; a
/// correction being keyed for that entry ends (the audit log says so).
fn mark_recounted(
    state: &AppState,
    session: &Session,
    request: &Request,
    (index, replaced): (u64, u64),
    entry: Entry,
    warnings: Vec<(String, String)>,
) -> Result<(), String> {
    let auth = state.auth().map_err(|e| e.to_string())?;
    let subject = format!("{}/{}", request.station, request.contest);
    auth.with(|conn| {
        let tx = conn.transaction()?;
        let mut row = db::get(&tx, &request.station, &request.contest)?;
        let void = row.correction.take().map_or(String::new(), |c| {
            format!("; the correction of entry {} keyed by {} is void", c.supersedes, c.first_by)
        });
        row.state = db::State::Recounted;
        row.entry_index = Some(index);
        row.second = Some(entry);
        row.pending_warnings = warnings;
        row.message = None;
        db::put(&tx, &row)?;
        let detail = format!("log entry {index} replaces entry {replaced}{void}");
        crate::auth::audit_in(&tx, &session.account, "protocol.recounted", &subject, &detail)?;
        tx.commit()
    })
    .map_err(|e| e.to_string())
}

#[allow(clippy::too_many_arguments)]
fn page(
    lang: Lang,
    session: &Session,
    request: &Request,
    target: &Target<'_>,
    replaces: Option<u64>,
    values: &HashMap<String, String>,
    problems: &[(String, String)],
    found: &[Finding],
    failure: Option<String>,
) -> Response {
    let here = format!("/workspace/cec/{}", request.id);
    let code = lang.code();
    let mut head = String::new();
    let _ = write!(
        head,
        "<section class=\"request\"><p><strong>{kind}</strong> · <a href=\"/workspace/station/{s}?lang={code}\">{s}</a> · {c} · {by} <span class=\"legend\">{at}</span></p>\
         <blockquote>{reason}</blockquote><p>{state}</p>",
        kind = esc(kind_label(lang, request.kind)),
        s = esc(&request.station),
        c = esc(&request.contest),
        by = esc(&request.requested_by),
        at = esc(&request.requested_at),
        reason = esc(&request.reason),
        state = esc(state_label(lang, &request.state)),
    );
    if let Some(failure) = &failure {
        let _ = write!(
            head,
            "<p class=\"error\" role=\"alert\">{} {}</p>",
            esc(t(lang, T::Refused)),
            esc(failure)
        );
    }
    head.push_str("</section>");
    let open = request.state == "open";
    let decline = format!(
        "<form method=\"post\" action=\"{here}?lang={code}\" id=\"decline\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"action\" value=\"decline\"><p><label for=\"why\">{why}</label><br>\
         <textarea id=\"why\" name=\"why\" required></textarea></p><p><button type=\"submit\" class=\"secondary\">{label}</button></p></form>",
        csrf = esc(&session.csrf),
        why = esc(t(lang, T::DeclineWhy)),
        label = esc(t(lang, T::Decline)),
    );
    let title = format!("{} #{}", t(lang, T::Requests), request.id);
    if open && request.kind == RequestKind::Recount {
        let Some(replaces) = replaces else {
            let body = format!(
                "{head}<p class=\"error\">{}</p>{decline}",
                esc(t(lang, T::NothingToRecount))
            );
            return view::respond(
                StatusCode::OK,
                view::page(lang, Some(session), &title, &here, &body),
            );
        };
        let mut form = FormPage::new(Mode::Recount, here.clone());
        form.head = format!(
            "{head}<input type=\"hidden\" name=\"action\" value=\"recount\">{}",
            reason_head(lang, Mode::Recount, values, replaces)
        );
        let html = render_form(lang, session, target, &form, values, problems, found).replacen(
            "</main>",
            &format!("{decline}</main>"),
            1,
        );
        let status = if problems.is_empty() && found.is_empty() && failure.is_none() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        return view::respond(status, html);
    }
    let mut body = head;
    if open {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"{here}?lang={code}\" id=\"annul\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"action\" value=\"annul\">\
             <p><label for=\"decision\">{decision}</label><br><input id=\"decision\" name=\"decision\" value=\"{v}\" required autofocus size=\"60\"></p>\
             <p><label><input type=\"checkbox\" name=\"whole\" value=\"1\"> {whole}</label></p>\
             <p><button type=\"submit\" id=\"sign\">{sign}</button></p></form>{decline}",
            csrf = esc(&session.csrf),
            decision = esc(t(lang, T::Decision)),
            v = esc(values.get("decision").map_or("", String::as_str)),
            whole = esc(t(lang, T::WholeStation)),
            sign = esc(t(lang, T::SignAnnulment)),
        );
    }
    let status = if failure.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    view::respond(status, view::page(lang, Some(session), &title, &here, &body))
}
