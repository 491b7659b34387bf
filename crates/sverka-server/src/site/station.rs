//! The station page: every source's protocol side by side with the differences highlighted, the
//! scan when there is one, and every entry of the station's history in the log with its time,
//! signer, reason and a link to its inclusion proof. The protocols shown are read from the log
//! entries themselves (the entries the tally names as each source's current version).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use sverka_model::{Body, Contest, Submission};
use sverka_tally::tabulate::StationResult;

use super::html::{self, esc, link, Shell};
use super::i18n::{Lang, Msg};
use super::pages::{checkpoint_note, option_name, source_label};
use super::{Ctx, View};
use crate::live::Published;
use crate::AppState;

/// One log entry of the station, decoded.
struct Entry {
    index: u64,
    leaf_hash: String,
    submission: Option<Submission>,
}

/// Reads entries `indices` from the log.
async fn read_entries(state: &AppState, indices: BTreeSet<u64>) -> BTreeMap<u64, Entry> {
    let store = state.store().clone();
    let read = tokio::task::spawn_blocking(move || {
        indices
            .into_iter()
            .filter_map(|index| {
                let bytes = store.entry(index).ok()??;
                let entry = Entry {
                    index,
                    leaf_hash: sverka_tlog::leaf_hash(&bytes).to_hex(),
                    submission: Submission::decode(&bytes).ok(),
                };
                Some((index, entry))
            })
            .collect::<BTreeMap<_, _>>()
    })
    .await;
    read.unwrap_or_default()
}

/// The station's results in every contest it votes in.
fn station_results<'p>(
    published: &'p Published,
    station: &str,
) -> Vec<(&'p str, &'p StationResult)> {
    let Some(results) = published.results.as_ref() else { return Vec::new() };
    results
        .contests
        .iter()
        .filter_map(|c| {
            Some((c.contest.as_str(), c.stations.iter().find(|s| s.station == station)?))
        })
        .collect()
}

/// Renders the page, or `None` if the station is unknown.
pub(super) async fn render(
    state: &AppState,
    published: &Published,
    lang: Lang,
    id: &str,
) -> Option<String> {
    let election = state.election().clone();
    let station = election.station(id)?;
    let per_contest = station_results(published, id);
    let mut indices = BTreeSet::new();
    for (_, result) in &per_contest {
        indices.extend(result.annulled_by.iter().copied());
        for slot in &result.slots {
            indices.extend(slot.entries.iter().copied());
        }
    }
    let entries = read_entries(state, indices).await;
    let ctx = Ctx { lang, view: View::Preliminary, state, published };
    let mut body = String::with_capacity(16 * 1024);
    let _ = write!(
        body,
        "<section><dl class=\"facts\"><div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd data-registered=\"{}\">{}</dd></div></dl></section>",
        esc(lang.t(Msg::Name)),
        esc(&station.name),
        esc(lang.t(Msg::Registered)),
        station.registered,
        esc(&lang.int(station.registered)),
    );
    for (contest_id, result) in &per_contest {
        let Some(contest) = election.contest(contest_id) else { continue };
        sources_table(&mut body, &election, contest, result, &entries, lang);
    }
    history(&mut body, &entries, lang);
    warnings(&mut body, published, &entries, lang);
    checkpoint_note(&mut body, &ctx);
    let district = election.district(&station.district);
    let region = election.region(&station.region);
    let mut crumbs = vec![(lang.t(Msg::Country).to_string(), link("/", lang))];
    if let Some(region) = region {
        crumbs.push((
            region.name.get(lang.code()).to_string(),
            link(&format!("/region/{}", region.id), lang),
        ));
    }
    if let Some(district) = district {
        crumbs.push((
            district.name.get(lang.code()).to_string(),
            link(&format!("/district/{}", district.id), lang),
        ));
    }
    let title = format!("{} {}", lang.t(Msg::Station), station.id);
    let path = format!("/station/{id}");
    let shell = Shell {
        lang,
        title: &title,
        election: election.name.get(lang.code()),
        path: &path,
        crumbs: &crumbs,
        checkpoint_size: published.size(),
    };
    Some(html::page(&shell, &body))
}

/// Every source's current protocol of one contest, side by side; rows where they disagree are
/// highlighted.
fn sources_table(
    out: &mut String,
    election: &sverka_model::Election,
    contest: &Contest,
    result: &StationResult,
    entries: &BTreeMap<u64, Entry>,
    lang: Lang,
) {
    let _ = write!(out, "<section><h2>{}</h2>", esc(contest.name.get(lang.code())));
    if !result.annulled_by.is_empty() {
        let _ =
            write!(out, "<p><span class=\"badge bad\">{}</span></p>", esc(lang.t(Msg::Annulled)));
    }
    let columns: Vec<(String, &sverka_model::Protocol, u64)> = result
        .slots
        .iter()
        .filter_map(|slot| {
            let index = slot.current?;
            let Some(Body::Protocol(protocol)) =
                entries.get(&index)?.submission.as_ref().map(|s| &s.payload.body)
            else {
                return None;
            };
            let mut label = source_label(slot.source, lang).to_string();
            if let Some(signer) = &slot.signer {
                let _ = write!(label, " ({signer})");
            }
            Some((label, protocol, index))
        })
        .collect();
    if columns.is_empty() {
        let _ = write!(out, "<p>{}</p></section>", esc(lang.t(Msg::NoData)));
        return;
    }
    out.push_str("<div class=\"scroll\"><table><thead><tr>");
    let _ = write!(out, "<th>{}</th>", esc(lang.t(Msg::Line)));
    for (label, _, index) in &columns {
        let _ = write!(out, "<th class=\"n\">{} <small>#{index}</small></th>", esc(label));
    }
    out.push_str("</tr></thead><tbody>");
    let form = election.form_of(contest);
    let mut rows: Vec<(String, Vec<Option<u64>>)> = form
        .lines
        .iter()
        .map(|line| {
            (
                line.name.get(lang.code()).to_string(),
                columns.iter().map(|(_, p, _)| p.lines.get(&line.id).copied()).collect(),
            )
        })
        .collect();
    for option in contest.option_ids() {
        rows.push((
            option_name(contest, option, lang),
            columns.iter().map(|(_, p, _)| p.votes.get(option).copied()).collect(),
        ));
    }
    for (name, values) in rows {
        let first = values[0];
        let differs = values.iter().any(|v| *v != first);
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", esc(&name));
        for value in values {
            let shown = value.map_or_else(|| "—".to_string(), |v| lang.int(v));
            if differs {
                let _ = write!(
                    out,
                    "<td class=\"n diff\" title=\"{}\">{}</td>",
                    esc(lang.t(Msg::Differs)),
                    esc(&shown)
                );
            } else {
                let _ = write!(out, "<td class=\"n\">{}</td>", esc(&shown));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    for (label, protocol, _) in &columns {
        if let Some(scan) = &protocol.scan_sha256 {
            let _ = write!(
                out,
                "<p><a href=\"/blob/{}\">{}: {}</a></p>",
                esc(scan),
                esc(lang.t(Msg::Scan)),
                esc(label)
            );
        }
    }
    out.push_str("</section>");
}

/// Every entry of the station, oldest first.
fn history(out: &mut String, entries: &BTreeMap<u64, Entry>, lang: Lang) {
    let _ = write!(
        out,
        "<section><h2>{}</h2><div class=\"scroll\"><table><thead><tr><th class=\"n\">{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(lang.t(Msg::History)),
        esc(lang.t(Msg::Index)),
        esc(lang.t(Msg::Time)),
        esc(lang.t(Msg::Kind)),
        esc(lang.t(Msg::Signer)),
        esc(lang.t(Msg::Reason)),
        esc(lang.t(Msg::Proof)),
    );
    for entry in entries.values() {
        let Some(submission) = &entry.submission else { continue };
        let payload = &submission.payload;
        let (kind, reason) = match &payload.body {
            Body::Protocol(protocol) => (
                format!("{} · {}", source_label(protocol.source, lang), protocol.contest),
                protocol.supersedes.as_ref().map_or_else(String::new, |s| {
                    let reason = serde_json::to_value(s.reason)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
                    format!("{} #{} · {reason}", lang.t(Msg::Superseded), s.index)
                }),
            ),
            Body::Annulment(annulment) => {
                (lang.t(Msg::Annulled).to_string(), annulment.reason.clone())
            }
            _ => (String::new(), String::new()),
        };
        let _ = write!(
            out,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/api/v1/receipts/{}\">{}</a></td></tr>",
            entry.index,
            esc(payload.time.as_deref().unwrap_or("—")),
            esc(&kind),
            esc(&payload.signer),
            esc(&reason),
            esc(&entry.leaf_hash),
            esc(lang.t(Msg::Proof)),
        );
    }
    out.push_str("</tbody></table></div></section>");
}

/// The tally's warnings about the station's entries.
fn warnings(out: &mut String, published: &Published, entries: &BTreeMap<u64, Entry>, lang: Lang) {
    let Some(results) = published.results.as_ref() else { return };
    let found: Vec<_> =
        results.warnings.iter().filter(|w| entries.contains_key(&w.index)).collect();
    if found.is_empty() {
        return;
    }
    let _ = write!(out, "<section><h2>{}</h2><ul>", esc(lang.t(Msg::Warnings)));
    for warning in found {
        let _ = write!(
            out,
            "<li><span class=\"badge warn\">{}</span> #{} {}</li>",
            esc(warning.code),
            warning.index,
            esc(&warning.message)
        );
    }
    out.push_str("</ul></section>");
}
