//! A station's page in the workspace: per contest, the protocol's state, the actions the person
//! may take (key it, correct it, ask the CEC for a recount or an annulment), and every version
//! of it the published log holds, side by side: a correction never hides the version it
//! replaced.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sverka_model::{Body, Protocol};

use super::db;
use super::entry::{field_name, target, Target};
use super::pages::state_label;
use super::text::{t, T};
use super::view;
use crate::auth::pages::{internal, lang, require};
use crate::site::html::esc;
use crate::site::i18n::Lang;
use crate::AppState;

/// One version in the log: its index, the protocol, whether it is current.
struct Version {
    index: u64,
    protocol: Protocol,
    current: bool,
}

/// Every protocol entry of `station` × `contest` in the published results, oldest first.
async fn versions(state: &AppState, station: &str, contest: &str) -> Vec<Version> {
    let published = state.published();
    let Some(results) = published.results.as_ref() else { return Vec::new() };
    let Some(result) = results
        .contests
        .iter()
        .find(|c| c.contest == contest)
        .and_then(|c| c.stations.iter().find(|s| s.station == station))
    else {
        return Vec::new();
    };
    let current: BTreeSet<u64> = result.slots.iter().filter_map(|s| s.current).collect();
    let indices: BTreeSet<u64> = result.slots.iter().flat_map(|s| s.entries.clone()).collect();
    let store = state.store().clone();
    let read = tokio::task::spawn_blocking(move || {
        indices
            .into_iter()
            .filter_map(|index| {
                let bytes = store.entry(index).ok()??;
                match sverka_model::Submission::decode(&bytes).ok()?.payload.body {
                    Body::Protocol(protocol) => Some((index, protocol)),
                    _ => None,
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    read.into_iter()
        .map(|(index, protocol)| Version { index, protocol, current: current.contains(&index) })
        .collect()
}

fn versions_table(out: &mut String, lang: Lang, target: &Target<'_>, versions: &[Version]) {
    let _ = write!(
        out,
        "<h3>{}</h3><div class=\"scroll\"><table class=\"versions\"><thead><tr><th>{}</th>",
        esc(t(lang, T::Versions)),
        esc(t(lang, T::Field))
    );
    for v in versions {
        let reason = v.protocol.supersedes.as_ref().map_or(String::new(), |s| {
            let reason = serde_json::to_value(s.reason)
                .ok()
                .and_then(|r| r.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("<br>→ #{} · {}", s.index, esc(&reason))
        });
        let status = if v.current { T::Current } else { T::Superseded };
        let _ = write!(
            out,
            "<th class=\"n\" data-index=\"{i}\" data-current=\"{c}\">#{i} · {src}{reason}<br><span class=\"st st-{cls}\">{status}</span></th>",
            i = v.index,
            c = v.current,
            src = esc(v.protocol.source.as_str()),
            cls = if v.current { "accepted" } else { "corrected" },
            status = esc(t(lang, status)),
        );
    }
    out.push_str("</tr></thead><tbody>");
    let lines = target.form.lines.iter().map(|l| format!("l.{}", l.id));
    let votes = target.contest.option_ids().into_iter().map(|o| format!("v.{o}"));
    for field in lines.chain(votes) {
        let (group, id) = field.split_at(2);
        let value = |p: &Protocol| {
            if group == "l." {
                p.lines.get(id).copied()
            } else {
                p.votes.get(id).copied()
            }
        };
        let first = versions.first().and_then(|v| value(&v.protocol));
        let differs = versions.iter().any(|v| value(&v.protocol) != first);
        let _ = write!(
            out,
            "<tr data-field=\"{}\"><th scope=\"row\">{}</th>",
            esc(&field),
            esc(&field_name(target, &field, lang))
        );
        for v in versions {
            let shown = value(&v.protocol).map_or("—".to_string(), |n| n.to_string());
            let class = if differs { "n diff" } else { "n" };
            let _ = write!(out, "<td class=\"{class}\">{shown}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
}

/// `GET /workspace/station/{id}`: the station's protocols, their states, actions and versions.
pub async fn page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&query, &headers);
    let election = state.election().clone();
    let Some(station) = election.station(&id) else {
        return (StatusCode::NOT_FOUND, "no such station").into_response();
    };
    let district = station.district.clone();
    let here = format!("/workspace/station/{id}");
    let session =
        match require(&state, &headers, &here, lang, |s| s.role.may_read_district(&district)) {
            Ok(session) => session,
            Err(response) => return response,
        };
    let code = lang.code();
    let mut body = String::new();
    let _ = write!(
        body,
        "<nav class=\"ws\"><a href=\"/workspace/district/{d}?lang={code}\">← {progress}</a>\
         <a href=\"/station/{s}?lang={code}\">{published}</a></nav>",
        d = esc(&district),
        s = esc(&id),
        progress = esc(t(lang, T::Progress)),
        published = esc(t(lang, T::Published)),
    );
    let auth = match state.auth() {
        Ok(auth) => auth,
        Err(e) => return internal(e),
    };
    for contest in election.contests.iter().filter(|c| c.covers(station)) {
        let Some(target) = target(&election, &id, &contest.id) else { continue };
        let row = match auth.with(|conn| db::get(conn, &id, &contest.id)) {
            Ok(row) => row,
            Err(e) => return internal(e),
        };
        let versions = versions(&state, &id, &contest.id).await;
        let (s, c) = (esc(&id), esc(&contest.id));
        let _ = write!(
            body,
            "<section data-contest=\"{c}\"><h2>{name}</h2><p><span class=\"st st-{st}\">{label}</span> ",
            name = esc(contest.name.get(code)),
            st = row.state.as_str(),
            label = esc(state_label(lang, row.state)),
        );
        if session.role.may_key(&district) && !row.state.is_done() {
            let _ = write!(
                body,
                "<a class=\"act\" href=\"/workspace/entry/{s}/{c}?lang={code}\">{}</a> ",
                esc(t(lang, T::Continue))
            );
        }
        let has_manual = versions.iter().any(|v| v.protocol.source == sverka_model::Source::Manual);
        if session.role.may_resolve(&district) {
            if row.state.is_done() || has_manual {
                let _ = write!(
                    body,
                    "<a class=\"act\" data-act=\"correct\" href=\"/workspace/correct/{s}/{c}?lang={code}\">{}</a> ",
                    esc(t(lang, T::Correct))
                );
            }
            body.push_str(&super::requests::links(lang, &id, &contest.id));
        }
        body.push_str("</p>");
        if versions.is_empty() {
            let _ = write!(body, "<p>{}</p>", esc(t(lang, T::NothingHere)));
        } else {
            versions_table(&mut body, lang, &target, &versions);
        }
        body.push_str("</section>");
    }
    let title = format!("{} {} · {}", t(lang, T::Station), id, station.name);
    view::respond(StatusCode::OK, view::page(lang, Some(&session), &title, &here, &body))
}
