//! The district's progress table, the projector view, the review queues and the audit log.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use sverka_model::Source;
use sverka_tally::reconcile::Class;

use super::db::{self, Row, State as PState};
use super::entry::option_name;
use super::text::{t, T};
use super::view;
use crate::auth::pages::{check_form, internal, lang, require};
use crate::site::html::esc;
use crate::site::i18n::Lang;
use crate::AppState;

/// The label of a state.
pub(crate) fn state_label(lang: Lang, state: PState) -> &'static str {
    t(
        lang,
        match state {
            PState::NotStarted => T::StNotStarted,
            PState::FirstEntry => T::StFirstEntry,
            PState::SecondEntry => T::StSecondEntry,
            PState::Differences => T::StDifferences,
            PState::Accepted => T::StAccepted,
            PState::Corrected => T::StCorrected,
            PState::Recounted => T::StRecounted,
        },
    )
}

/// Every protocol (station × contest) of a district, in the election's order, with its row.
fn protocols(state: &AppState, district: &str) -> Result<Vec<Row>, Response> {
    let auth = state.auth().map_err(internal)?;
    let mut rows = auth.with(|conn| db::all(conn)).map_err(internal)?;
    let election = state.election();
    let mut out = Vec::new();
    for station in election.stations.iter().filter(|s| s.district == district) {
        for contest in election.contests.iter().filter(|c| c.covers(station)) {
            let key = (station.id.clone(), contest.id.clone());
            out.push(rows.remove(&key).unwrap_or_else(|| Row::new(&station.id, &contest.id)));
        }
    }
    Ok(out)
}

fn counts(rows: &[Row]) -> BTreeMap<PState, usize> {
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row.state).or_insert(0) += 1;
    }
    counts
}

fn district_or_404(state: &AppState, district: &str) -> Result<(), Response> {
    match state.election().district(district) {
        Some(_) => Ok(()),
        None => Err((StatusCode::NOT_FOUND, "no such district").into_response()),
    }
}

/// `GET /workspace/district/{district}`: every protocol of the district with its state, who
/// keyed it, its log entry, and the next step the signed-in person may take.
pub async fn district(
    State(state): State<AppState>,
    Path(district): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&query, &headers);
    if let Err(r) = district_or_404(&state, &district) {
        return r;
    }
    let here = format!("/workspace/district/{district}");
    let session =
        match require(&state, &headers, &here, lang, |s| s.role.may_read_district(&district)) {
            Ok(session) => session,
            Err(response) => return response,
        };
    let rows = match protocols(&state, &district) {
        Ok(rows) => rows,
        Err(r) => return r,
    };
    let election = state.election();
    let name = election.district(&district).map_or("", |d| d.name.get(lang.code()));
    let code = lang.code();
    let mut body = String::new();
    let _ = write!(
        body,
        "<nav class=\"ws\"><a href=\"/workspace/projector/{d}?lang={code}\">{projector}</a>\
         <a href=\"/workspace/review?lang={code}\">{review}</a>",
        d = esc(&district),
        projector = esc(t(lang, T::Projector)),
        review = esc(t(lang, T::Review)),
    );
    if session.role.may_audit() {
        let _ = write!(
            body,
            "<a href=\"/workspace/audit?lang={code}\">{}</a>",
            esc(t(lang, T::AuditLog))
        );
    }
    let _ = write!(
        body,
        "<a href=\"/district/{}?lang={code}\">{}</a></nav>",
        esc(&district),
        esc(t(lang, T::Published))
    );
    body.push_str("<section><p>");
    let tally = counts(&rows);
    for st in PState::ALL {
        let _ = write!(
            body,
            "<span class=\"st st-{s}\">{label}: <strong data-count=\"{s}\">{n}</strong></span> ",
            s = st.as_str(),
            label = esc(state_label(lang, st)),
            n = tally.get(&st).copied().unwrap_or(0),
        );
    }
    let _ = write!(
        body,
        "</p><div class=\"scroll\"><table id=\"progress\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th class=\"n\">{}</th><th>{}</th></tr></thead><tbody>",
        esc(t(lang, T::Station)),
        esc(t(lang, T::Contest)),
        esc(t(lang, T::State)),
        esc(t(lang, T::FirstBy)),
        esc(t(lang, T::SecondBy)),
        esc(t(lang, T::Resolve)),
        esc(t(lang, T::EntryIndex)),
        esc(t(lang, T::Action)),
    );
    let me = session.account.as_str();
    for row in &rows {
        let station = election.station(&row.station).expect("rows come from the election");
        let contest = election.contest(&row.contest).expect("rows come from the election");
        let (s, c) = (esc(&row.station), esc(&row.contest));
        let mut action = String::new();
        let keyer = session.role.may_key(&district);
        match row.state {
            PState::NotStarted | PState::FirstEntry | PState::SecondEntry if keyer => {
                let mine = row.first_by.as_deref() == Some(me) && row.state == PState::FirstEntry
                    || row.second_by.as_deref() == Some(me);
                let open = row.state == PState::NotStarted
                    || row.state == PState::SecondEntry
                        && row.second_by.is_none()
                        && row.first_by.as_deref() != Some(me);
                let label = match row.state {
                    _ if mine => Some(T::Continue),
                    PState::NotStarted => Some(T::StartEntry),
                    PState::SecondEntry if open => Some(T::StartSecond),
                    _ => None,
                };
                if let Some(label) = label {
                    let _ = write!(
                        action,
                        "<a href=\"/workspace/entry/{s}/{c}?lang={code}\">{}</a>",
                        esc(t(lang, label))
                    );
                }
            }
            PState::Differences if session.role.may_resolve(&district) => {
                let _ = write!(
                    action,
                    "<a href=\"/workspace/resolve/{s}/{c}?lang={code}\">{}</a>",
                    esc(t(lang, T::Resolve))
                );
            }
            PState::Accepted | PState::Corrected if session.role.may_resolve(&district) => {
                let _ = write!(
                    action,
                    "<a href=\"/workspace/correct/{s}/{c}?lang={code}\">{}</a>",
                    esc(t(lang, T::Correct))
                );
            }
            _ => {}
        }
        if let Some(holder) = row.claimed_by() {
            let may_release = holder == me || session.role == crate::auth::AccountRole::Admin;
            let _ = write!(
                action,
                " <span class=\"legend\">{} {}</span>",
                esc(t(lang, T::ClaimedSince)),
                esc(row.updated_at.get(11..16).unwrap_or(&row.updated_at))
            );
            if may_release {
                let _ = write!(
                    action,
                    " <form method=\"post\" action=\"/workspace/entry/{s}/{c}/release?lang={code}\" class=\"release\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\" class=\"secondary\">{}</button></form>",
                    esc(&session.csrf),
                    esc(t(lang, T::ReleaseClaim))
                );
            }
        }
        if let Some(correction) = &row.correction {
            let differs = correction.differs();
            let label = if differs { T::CorrectionDiffers } else { T::CorrectionAwaiting };
            action.clear();
            let _ = write!(
                action,
                "<span class=\"badge\" data-correction=\"{}\">{}</span> ",
                if differs { "differences" } else { "second_entry" },
                esc(t(lang, label))
            );
            let second = correction.second_by.as_deref();
            // Differences go to a third person; the second entry to whoever may take it or holds it.
            let other = correction.first_by != me
                && if differs { second != Some(me) } else { second.is_none_or(|s| s == me) };
            if session.role.may_resolve(&district) && other {
                let (path, text) =
                    if differs { ("resolve", T::Resolve) } else { ("correct", T::KeyCorrection) };
                let _ = write!(
                    action,
                    "<a href=\"/workspace/{path}/{s}/{c}?lang={code}\">{}</a>",
                    esc(t(lang, text))
                );
            }
        }
        if let Some(message) = &row.message {
            let _ = write!(
                action,
                "<br><span class=\"badge bad\">{} {}</span>",
                esc(t(lang, T::Refused)),
                esc(message)
            );
        }
        let _ = write!(
            body,
            "<tr data-station=\"{s}\" data-contest=\"{c}\" data-state=\"{state}\"{data_index}><td><a href=\"/workspace/station/{s}?lang={code}\">{s}</a> <span class=\"legend\">{sname}</span></td>\
             <td>{cname}</td><td><span class=\"st st-{state}\">{label}</span></td><td>{first}</td><td>{second}</td><td>{resolved}</td>\
             <td class=\"n\">{index}</td><td>{action}</td></tr>",
            state = row.state.as_str(),
            sname = esc(&station.name),
            cname = esc(contest.name.get(code)),
            label = esc(state_label(lang, row.state)),
            first = esc(row.first_by.as_deref().unwrap_or("")),
            second = esc(row.second_by.as_deref().unwrap_or("")),
            resolved = esc(row.resolved_by.as_deref().unwrap_or("")),
            data_index = row.entry_index.map_or(String::new(), |i| format!(" data-index=\"{i}\"")),
            index = row.entry_index.map_or(String::new(), |i| {
                format!("<a href=\"/station/{}?lang={code}\">{i}</a>", esc(&row.station))
            }),
        );
    }
    body.push_str("</tbody></table></div></section>");
    let title = format!("{} · {name}", t(lang, T::Progress));
    view::respond(StatusCode::OK, view::page(lang, Some(&session), &title, &here, &body))
}

/// `GET /workspace/projector/{district}`: the district's progress in large type for the
/// commission room: read-only, refreshes itself every 10 seconds, names no one.
pub async fn projector(
    State(state): State<AppState>,
    Path(district): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&query, &headers);
    if let Err(r) = district_or_404(&state, &district) {
        return r;
    }
    let here = format!("/workspace/projector/{district}");
    let session =
        match require(&state, &headers, &here, lang, |s| s.role.may_read_district(&district)) {
            Ok(session) => session,
            Err(response) => return response,
        };
    let rows = match protocols(&state, &district) {
        Ok(rows) => rows,
        Err(r) => return r,
    };
    let total = rows.len().max(1);
    let tally = counts(&rows);
    let done = tally.get(&PState::Accepted).copied().unwrap_or(0)
        + tally.get(&PState::Corrected).copied().unwrap_or(0)
        + tally.get(&PState::Recounted).copied().unwrap_or(0);
    let name = state.election().district(&district).map_or("", |d| d.name.get(lang.code()));
    let colours = [
        (PState::Accepted, "#1c6b35"),
        (PState::Corrected, "#8a4b00"),
        (PState::Recounted, "#5b2a86"),
        (PState::Differences, "#a3142b"),
        (PState::SecondEntry, "#1d4f91"),
        (PState::FirstEntry, "#7ea0d0"),
    ];
    let mut body = String::new();
    let _ = write!(
        body,
        "<section class=\"projector\"><p><strong data-done=\"{done}\">{done}</strong> / {} {}</p>\
         <div class=\"bar\" role=\"img\" aria-label=\"{done} / {}\">",
        rows.len(),
        esc(t(lang, T::StAccepted)),
        rows.len()
    );
    for (st, colour) in colours {
        let n = tally.get(&st).copied().unwrap_or(0);
        if n > 0 {
            let _ = write!(
                body,
                "<span style=\"width:{:.3}%;background:{colour}\" title=\"{}\"></span>",
                n as f64 * 100.0 / total as f64,
                esc(state_label(lang, st))
            );
        }
    }
    body.push_str("</div><dl>");
    for st in PState::ALL {
        let _ = write!(
            body,
            "<div><dt><span class=\"st st-{s}\">{label}</span></dt><dd data-count=\"{s}\">{n}</dd></div>",
            s = st.as_str(),
            label = esc(state_label(lang, st)),
            n = tally.get(&st).copied().unwrap_or(0),
        );
    }
    body.push_str("</dl></section>");
    let title = format!("{name} · {}", t(lang, T::Progress));
    let html = view::page(lang, Some(&session), &title, &here, &body).replacen(
        "<head>",
        "<head><meta http-equiv=\"refresh\" content=\"10\">",
        1,
    );
    view::respond(StatusCode::OK, html)
}

/// `GET /workspace/review`: what needs a person: quarantined submissions with their codes;
/// warnings awaiting an explanation; stations where the machine and the hand count differ beyond
/// the tolerance; observer copies that differ. Each with the action that settles it. An
/// operator sees their district only.
pub async fn review(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&query, &headers);
    let session =
        match require(&state, &headers, "/workspace/review", lang, |s| s.role.may_review()) {
            Ok(session) => session,
            Err(response) => return response,
        };
    let mine = |district: &str| session.role.may_read_district(district);
    let election = state.election().clone();
    let code = lang.code();
    let mut body = String::new();

    let auth = match state.auth() {
        Ok(auth) => auth,
        Err(e) => return internal(e),
    };
    let (rows, requests) = match auth.with(|conn| Ok((db::all(conn)?, db::requests(conn)?))) {
        Ok(found) => found,
        Err(e) => return internal(e),
    };
    super::requests::section(&mut body, lang, &session, &election, &requests);

    // Quarantine.
    let store = state.store().clone();
    let filter = sverka_store::QuarantineFilter { limit: Some(500), ..Default::default() };
    let records = match tokio::task::spawn_blocking(move || store.quarantine(&filter)).await {
        Ok(Ok(records)) => records,
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    };
    let _ = write!(
        body,
        "<section id=\"quarantine\"><h2>{}</h2><p class=\"legend\">{}</p>",
        esc(t(lang, T::Quarantine)),
        esc(t(lang, T::QuarantineNote))
    );
    let mut shown = 0;
    let mut table = String::new();
    for record in &records {
        let value: serde_json::Value = serde_json::from_slice(&record.bytes).unwrap_or_default();
        let station = value.pointer("/payload/station").and_then(|s| s.as_str()).unwrap_or("");
        let district = election.station(station).map(|s| s.district.as_str());
        let visible = match (session.role.district(), district) {
            (None, _) => true,
            (Some(own), Some(d)) => own == d,
            (Some(_), None) => false,
        };
        if !visible {
            continue;
        }
        shown += 1;
        let messages: Vec<String> = record
            .problems
            .iter()
            .map(|p| {
                let params = p.params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                let text =
                    sverka_model::validate::message_of(&p.code, p.line.as_deref(), params, code)
                        .unwrap_or_else(|| p.message.clone());
                format!("{}: {text}", p.code)
            })
            .collect();
        let contest = value.pointer("/payload/contest").and_then(|s| s.as_str()).unwrap_or("");
        let fix = match district {
            Some(d) if session.role.may_resolve(d) && election.contest(contest).is_some() => {
                let done = rows
                    .get(&(station.to_string(), contest.to_string()))
                    .is_some_and(|r| r.state.is_done());
                let (path, text) =
                    if done { ("correct", T::Correct) } else { ("entry", T::StartEntry) };
                format!(
                    "<a class=\"act\" data-act=\"{path}\" href=\"/workspace/{path}/{s}/{c}?lang={code}\">{}</a> {}",
                    esc(t(lang, text)),
                    super::requests::links(lang, station, contest),
                    s = esc(station),
                    c = esc(contest),
                )
            }
            _ => String::new(),
        };
        let _ = write!(
            table,
            "<tr data-quarantine=\"{}\"><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{fix}</td></tr>",
            record.id,
            record.id,
            esc(&record.received_at),
            esc(station),
            esc(&record.sender),
            esc(&messages.join("; "))
        );
    }
    if shown == 0 {
        let _ = write!(body, "<p>{}</p>", esc(t(lang, T::NothingHere)));
    } else {
        let _ = write!(
            body,
            "<div class=\"scroll\"><table><thead><tr><th class=\"n\">#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{table}</tbody></table></div>",
            esc(t(lang, T::Received)),
            esc(t(lang, T::Station)),
            esc(t(lang, T::Sender)),
            esc(t(lang, T::Codes)),
            esc(t(lang, T::Action)),
        );
    }
    body.push_str("</section>");

    // Warnings awaiting an explanation, and those explained.
    let _ = write!(body, "<section id=\"warnings\"><h2>{}</h2>", esc(t(lang, T::WarningsPending)));
    let mut pending = 0;
    for row in rows.values() {
        let Some(station) = election.station(&row.station) else { continue };
        if row.pending_warnings.is_empty() || !mine(&station.district) {
            continue;
        }
        pending += 1;
        let may_explain = session.role.may_resolve(&station.district);
        let _ = write!(body, "<form method=\"post\" action=\"/workspace/explain/{s}/{c}?lang={code}\"><h3>{s} · {c}</h3><ul class=\"findings\">",
            s = esc(&row.station), c = esc(&row.contest));
        for (wcode, message) in &row.pending_warnings {
            let _ = write!(body, "<li class=\"w\">{}: {}", esc(wcode), esc(message));
            if may_explain {
                let _ = write!(
                    body,
                    "<br><label>{} <textarea name=\"x.{}\" required></textarea></label>",
                    esc(t(lang, T::Explanation)),
                    esc(wcode)
                );
            }
            body.push_str("</li>");
        }
        body.push_str("</ul>");
        if may_explain {
            let _ = write!(body, "<input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button>", esc(&session.csrf), esc(t(lang, T::Explain)));
        }
        body.push_str("</form>");
    }
    if pending == 0 {
        let _ = write!(body, "<p>{}</p>", esc(t(lang, T::NothingHere)));
    }
    let _ = write!(body, "<h3>{}</h3><ul class=\"findings\">", esc(t(lang, T::WarningsExplained)));
    for row in rows.values() {
        let Some(station) = election.station(&row.station) else { continue };
        let Some(entry) = row.second.as_ref().filter(|_| row.state.is_done()) else { continue };
        if !mine(&station.district) {
            continue;
        }
        for (wcode, text) in &entry.explanations {
            let _ = write!(
                body,
                "<li>{} · {} — {}: {}</li>",
                esc(&row.station),
                esc(&row.contest),
                esc(wcode),
                esc(text)
            );
        }
    }
    body.push_str("</ul></section>");

    // Machine vs manual, and observer copies, from the reconciliation of the published checkpoint.
    let reconciled = crate::reconcile_api::current(&state).await.ok().flatten();
    let mut machine = String::new();
    let mut observer = String::new();
    if let Some(reconciled) = reconciled {
        for contest in &reconciled.reconciliation.contests {
            let Some(contest_def) = election.contest(&contest.contest) else { continue };
            for station in &contest.stations {
                if !mine(&station.district) {
                    continue;
                }
                for pair in station.pairs.iter().filter(|p| p.class == Class::Discrepancy) {
                    let is_machine_manual = [pair.a.source, pair.b.source]
                        == [Source::Machine, Source::Manual]
                        || [pair.a.source, pair.b.source] == [Source::Manual, Source::Machine];
                    let has_observer =
                        pair.a.source == Source::Observer || pair.b.source == Source::Observer;
                    if !is_machine_manual && !has_observer {
                        continue;
                    }
                    let lines: Vec<String> = pair
                        .lines
                        .iter()
                        .filter(|l| l.class == Class::Discrepancy)
                        .map(|l| {
                            let name = match l.field.strip_prefix("votes.") {
                                Some(option) => option_name(contest_def, option, lang),
                                None => l.field.trim_start_matches("lines.").to_string(),
                            };
                            format!("{name}: {} / {}", l.a, l.b)
                        })
                        .collect();
                    let involves_manual = [pair.a.source, pair.b.source].contains(&Source::Manual);
                    let fix = if session.role.may_resolve(&station.district) {
                        let correct = if involves_manual {
                            format!(
                                "<a class=\"act\" data-act=\"correct\" href=\"/workspace/correct/{s}/{c}?lang={code}\">{}</a> ",
                                esc(t(lang, T::Correct)),
                                s = esc(&station.station),
                                c = esc(&contest.contest)
                            )
                        } else {
                            String::new()
                        };
                        correct + &super::requests::links(lang, &station.station, &contest.contest)
                    } else {
                        String::new()
                    };
                    let line = format!(
                        "<tr data-station=\"{s}\"><td><a href=\"/station/{s}?lang={code}\">{s}</a></td><td>{c}</td><td>{a} / {b}</td><td>{lines}</td><td>{fix}</td></tr>",
                        s = esc(&station.station),
                        c = esc(&contest.contest),
                        a = esc(&pair.a.label()),
                        b = esc(&pair.b.label()),
                        lines = esc(&lines.join("; ")),
                    );
                    if is_machine_manual {
                        machine.push_str(&line);
                    } else {
                        observer.push_str(&line);
                    }
                }
            }
        }
    }
    for (id, title, note, rows_html) in [
        ("machine", T::MachineManual, T::MachineManualNote, &machine),
        ("observer", T::ObserverCopies, T::ObserverNote, &observer),
    ] {
        let _ = write!(
            body,
            "<section id=\"{id}\"><h2>{}</h2><p class=\"legend\">{}</p>",
            esc(t(lang, title)),
            esc(t(lang, note))
        );
        if rows_html.is_empty() {
            let _ = write!(body, "<p>{}</p>", esc(t(lang, T::NothingHere)));
        } else {
            let _ = write!(
                body,
                "<div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th></th><th>{}</th><th>{}</th></tr></thead><tbody>{rows_html}</tbody></table></div>",
                esc(t(lang, T::Station)),
                esc(t(lang, T::Contest)),
                esc(t(lang, T::Lines)),
                esc(t(lang, T::Action)),
            );
        }
        body.push_str("</section>");
    }
    view::respond(
        StatusCode::OK,
        view::page(lang, Some(&session), t(lang, T::Review), "/workspace/review", &body),
    )
}

/// `POST /workspace/explain/{station}/{contest}`: explains the warnings the log raised on an
/// accepted protocol (kept with the entry and in the audit log).
pub async fn explain(
    State(state): State<AppState>,
    Path((station, contest)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(posted): Form<HashMap<String, String>>,
) -> Response {
    let lang = lang(&query, &headers);
    let Some(district) = state.election().station(&station).map(|s| s.district.clone()) else {
        return (StatusCode::NOT_FOUND, "no such station").into_response();
    };
    let session = match require(&state, &headers, "/workspace/review", lang, |s| {
        s.role.may_resolve(&district)
    }) {
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
    let account = session.account.clone();
    let result = auth.with(|conn| {
        let tx = conn.transaction()?;
        let mut row = db::get(&tx, &station, &contest)?;
        let mut explained = Vec::new();
        row.pending_warnings.retain(|(wcode, _)| {
            match posted.get(&format!("x.{wcode}")).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                Some(text) => {
                    explained.push((wcode.clone(), text.to_string()));
                    false
                }
                None => true,
            }
        });
        if let Some(entry) = row.second.as_mut() {
            entry.explanations.extend(explained.iter().cloned());
        }
        db::put(&tx, &row)?;
        for (wcode, text) in &explained {
            crate::auth::audit_in(
                &tx,
                &account,
                "warning.explain",
                &format!("{station}/{contest}"),
                &format!("{wcode}: {text}"),
            )?;
        }
        tx.commit()
    });
    match result {
        Ok(()) => Redirect::to(&format!("/workspace/review?lang={}", lang.code())).into_response(),
        Err(e) => internal(e),
    }
}

/// `GET /workspace/audit`: the newest 500 audit records (admins and auditors).
pub async fn audit(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&query, &headers);
    let session = match require(&state, &headers, "/workspace/audit", lang, |s| s.role.may_audit())
    {
        Ok(session) => session,
        Err(response) => return response,
    };
    let records = match state.auth().map(|a| a.audit_log(500)) {
        Ok(Ok(records)) => records,
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    };
    let mut body = format!(
        "<section><div class=\"scroll\"><table><thead><tr><th class=\"n\">#</th><th>{}</th><th>{}</th><th>{}</th><th></th><th></th></tr></thead><tbody>",
        esc(t(lang, T::When)),
        esc(t(lang, T::Who)),
        esc(t(lang, T::What)),
    );
    for r in records {
        let _ = write!(
            body,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.id,
            esc(&r.at),
            esc(&r.account),
            esc(&r.action),
            esc(&r.subject),
            esc(&r.detail)
        );
    }
    body.push_str("</tbody></table></div></section>");
    view::respond(
        StatusCode::OK,
        view::page(lang, Some(&session), t(lang, T::AuditLog), "/workspace/audit", &body),
    )
}
