//! The audit page, `/audit`: for every risk-limiting audit in the log (issue 7), what the audit
//! boards count next, each assertion's risk, and whether the reported outcome is confirmed or the
//! audit escalates. The numbers are `sverka_audit::workflow::evaluate` of the log up to the
//! published checkpoint, the same function `sverka audit status` runs; computed once per
//! checkpoint (replaying the log to each manifest's `as_of`) and then served from memory.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use std::fmt::Write as _;
use sverka_audit::workflow::{evaluate, AuditStatus, Stage};
use sverka_model::audit::{AuditDecision, AuditStep};
use sverka_model::{Body, Submission};

use super::html::{self, esc};
use super::i18n::{Lang, Msg};
use super::PageQuery;
use crate::AppState;

/// The audits of one checkpoint: each audit's status or why it cannot be evaluated.
pub(crate) type Audits = Vec<(String, Result<AuditStatus, String>)>;

/// The page's words in Kyrgyz, Russian and English.
fn t(lang: Lang, key: &str) -> &'static str {
    let [ky, ru, en] = match key {
        "title" => {
            ["Тобокелдикти чектөөчү аудит", "Аудит с ограничением риска", "Risk-limiting audits"]
        }
        "none" => ["Журналда аудит жок.", "В журнале нет аудитов.", "The log has no audits."],
        "contest" => ["Добуш берүү", "Голосование", "Contest"],
        "risk_limit" => ["Тобокелдик чеги", "Предел риска", "Risk limit"],
        "next" => ["Кийинки кадам", "Следующий шаг", "Next"],
        "count" => ["Кол менен эсептөө керек", "Пересчитать вручную", "Count by hand"],
        "claim" => ["Ырастоо", "Утверждение", "Assertion"],
        "risk" => ["Тобокелдик", "Риск", "Risk"],
        "confirmed" => ["Тастыкталды", "Подтверждено", "Confirmed"],
        "open" => ["Ачык", "Открыто", "Open"],
        "s_manifest" => ["манифест күтүлүүдө", "ожидается манифест", "the manifest is next"],
        "s_seed" => {
            ["уруктун бекитилиши күтүлүүдө", "ожидается фиксация зерна", "the seed is next"]
        }
        "s_draw" => [
            "биринчи турдун тандоосу күтүлүүдө",
            "ожидается выборка первого тура",
            "the first round is to be drawn",
        ],
        "s_counting" => [
            "тандалган участоктор кол менен эсептелүүдө",
            "выбранные участки пересчитываются вручную",
            "the sampled stations are being counted by hand",
        ],
        "s_confirmed" => [
            "натыйжа тастыкталды: ар бир ырастоонун тобокелдиги чектен ашпайт",
            "результат подтверждён: риск каждого утверждения не выше предела",
            "the reported outcome is confirmed: every assertion's risk is at most the risk limit",
        ],
        "s_escalate" => [
            "кийинки тур: тандоону көбөйтүү",
            "следующий тур: выборка увеличивается",
            "escalate: another round is drawn",
        ],
        "s_full" => [
            "бардык участокторду кол менен толук эсептөө",
            "полный ручной пересчёт всех участков",
            "escalate to a full hand count of every station",
        ],
        "draws" => ["Тандоолор", "Выборки", "Draws"],
        "counted" => ["эсептелди", "посчитано", "counted"],
        "corrections" => [
            "Кол менен эсептөөнүн оңдоолору",
            "Исправления ручного подсчёта",
            "Corrections of hand counts",
        ],
        "station" => ["Участок", "Участок", "Station"],
        "old" => ["Мурунку эсеп", "Прежний подсчёт", "Old count"],
        "new" => ["Жаңы эсеп", "Новый подсчёт", "New count"],
        "reason" => ["Себеби", "Причина", "Reason"],
        "entry" => ["Жазуу", "Запись", "Entry"],
        "statements" => [
            "Журналдагы тобокелдик жана чечим",
            "Риск и решение в журнале",
            "Risk and decision stated in the log",
        ],
        "round" => ["Тур", "Тур", "Round"],
        "decision" => ["Чечим", "Решение", "Decision"],
        "largest" => ["Эң чоң тобокелдик", "Наибольший риск", "Largest risk"],
        "steps" => ["Журналдагы кадамдар", "Шаги в журнале", "Steps in the log"],
        "step" => ["Кадам", "Шаг", "Step"],
        "details" => ["Маалымат", "Сведения", "Details"],
        "k_define" => ["аудит аныкталды", "аудит определён", "audit defined"],
        "k_manifest" => ["манифест бекитилди", "манифест зафиксирован", "manifest committed"],
        "k_seed" => ["урук бекитилди", "зерно зафиксировано", "seed committed"],
        "k_draw" => ["тандоо", "выборка", "draw"],
        "k_hand" => ["кол менен эсептөөлөр", "ручные подсчёты", "hand counts"],
        "k_correction" => ["оңдоо", "исправление", "correction"],
        "k_risk" => ["тобокелдик жана чечим", "риск и решение", "risk and decision"],
        "stations" => ["участок", "участков", "stations"],
        "ballots" => ["бюллетень", "бюллетеней", "ballots"],
        "as_of" => ["журналдын өлчөмү", "размер журнала", "as of log size"],
        "reported" => ["Билдирилген", "Заявлено", "Reported"],
        "hand" => ["Кол менен", "Вручную", "By hand"],
        "line" => ["Сап", "Строка", "Line"],
        "differences" => [
            "Билдирилген эсептен айырмаланган кол менен эсептөөлөр",
            "Ручные подсчёты, отличающиеся от заявленного результата",
            "Hand counts that differ from the reported count",
        ],
        _ => ["", "", ""],
    };
    match lang.code() {
        "ky" => ky,
        "ru" => ru,
        _ => en,
    }
}

/// `GET /audit`.
pub async fn page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    super::per_checkpoint_page(&state, &query, &headers, AppState::audits, evaluate_all, render)
        .await
}

fn evaluate_all(state: &AppState, size: u64) -> Result<Audits, String> {
    let store = state.store();
    let mut steps: Vec<(u64, AuditStep)> = Vec::new();
    let mut start = 1;
    while start < size {
        let end = size.min(start + 4096);
        for (offset, bytes) in
            store.entries(start..end).map_err(|e| e.to_string())?.iter().enumerate()
        {
            if let Ok(Submission { payload, .. }) = Submission::decode(bytes) {
                if let Body::Audit(step) = payload.body {
                    steps.push((start + offset as u64, step));
                }
            }
        }
        start = end;
    }
    let mut ids: Vec<String> = Vec::new();
    for (_, step) in &steps {
        if !ids.iter().any(|id| id == step.audit()) {
            ids.push(step.audit().to_string());
        }
    }
    let election = state.election();
    let audits =
        ids.into_iter()
            .map(|id| {
                let as_of = steps.iter().find_map(|(_, s)| match s {
                    AuditStep::Manifest(m) if m.audit == id => Some(m.as_of),
                    _ => None,
                });
                let status = match as_of.map(|n| sverka_store::snapshot::replay_to(store, n)) {
                    Some(Err(e)) => Err(e.to_string()),
                    Some(Ok(replay)) => evaluate(election, Some(replay.tally()), &id, &steps)
                        .map_err(|e| e.to_string()),
                    None => evaluate(election, None, &id, &steps).map_err(|e| e.to_string()),
                };
                (id, status)
            })
            .collect();
    Ok(audits)
}

fn stage_text(lang: Lang, stage: &Stage) -> String {
    match stage {
        Stage::NeedsManifest => t(lang, "s_manifest").to_string(),
        Stage::NeedsSeed => t(lang, "s_seed").to_string(),
        Stage::NeedsDraw { sample_size } => format!("{} ({sample_size})", t(lang, "s_draw")),
        Stage::Counting { .. } => t(lang, "s_counting").to_string(),
        Stage::Confirmed => t(lang, "s_confirmed").to_string(),
        Stage::Escalate { sample_size } => format!("{} ({sample_size})", t(lang, "s_escalate")),
        Stage::FullHandCount => t(lang, "s_full").to_string(),
    }
}

fn render(state: &AppState, size: u64, audits: &Audits, lang: Lang) -> String {
    let election = state.election();
    let code = lang.code();
    let title = t(lang, "title");
    let crumbs = vec![(lang.t(Msg::Country).to_string(), html::link("/", lang))];
    let shell = html::Shell {
        lang,
        title,
        election: election.name.get(code),
        path: "/audit",
        crumbs: &crumbs,
        checkpoint_size: size,
    };
    let mut body = String::new();
    if audits.is_empty() {
        let _ = write!(body, "<section><p>{}</p></section>", esc(t(lang, "none")));
    }
    for (id, status) in audits {
        let _ = write!(body, "<section class=\"audit\" id=\"audit-{id}\"><h2>{}</h2>", esc(id));
        match status {
            Err(reason) => {
                let _ = write!(body, "<p class=\"error\">{}</p>", esc(reason));
            }
            Ok(status) => render_status(&mut body, status, lang),
        }
        body.push_str("</section>");
    }
    html::page(&shell, &body)
}

fn render_status(body: &mut String, status: &AuditStatus, lang: Lang) {
    let _ = write!(
        body,
        "<p>{}: {} · {}: {}</p><p class=\"stage stage-{}\"><strong>{}:</strong> {}</p>",
        esc(t(lang, "contest")),
        esc(&status.contest),
        esc(t(lang, "risk_limit")),
        esc(&status.risk_limit),
        status.stage.code(),
        esc(t(lang, "next")),
        esc(&stage_text(lang, &status.stage)),
    );
    if let Stage::Counting { stations } = &status.stage {
        let _ = write!(body, "<h3>{}</h3><ul class=\"to-count\">", esc(t(lang, "count")));
        for station in stations {
            let _ = write!(
                body,
                "<li><a href=\"{}\">{}</a></li>",
                html::link(&format!("/station/{station}"), lang),
                esc(station)
            );
        }
        body.push_str("</ul>");
    }
    if !status.draws.is_empty() {
        let counted = status.draws.iter().filter(|(_, c)| *c).count();
        let _ = write!(
            body,
            "<p>{}: {} · {}: {counted}</p>",
            esc(t(lang, "draws")),
            status.draws.len(),
            esc(t(lang, "counted"))
        );
    }
    render_steps(body, status, lang);
    render_differences(body, status, lang);
    render_corrections(body, status, lang);
    render_statements(body, status, lang);
    if status.assertions.is_empty() {
        return;
    }
    let _ = write!(
        body,
        "<table class=\"assertions\"><thead><tr><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        esc(t(lang, "claim")),
        esc(t(lang, "risk"))
    );
    for a in &status.assertions {
        let verdict = if a.confirmed { t(lang, "confirmed") } else { t(lang, "open") };
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"num\">{:.4}</td><td>{}</td></tr>",
            esc(&a.claim),
            a.p_value,
            esc(verdict)
        );
    }
    body.push_str("</tbody></table>");
}

/// Every step of the audit in the log with its entry; consecutive hand counts share one row.
fn render_steps(body: &mut String, status: &AuditStatus, lang: Lang) {
    if status.log.is_empty() {
        return;
    }
    let _ = write!(
        body,
        "<h3>{}</h3><table class=\"steps\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr>\
         </thead><tbody>",
        esc(t(lang, "steps")),
        esc(t(lang, "entry")),
        esc(t(lang, "step")),
        esc(t(lang, "details")),
    );
    let mut row = |class: &str, entries: String, kind: &str, details: String| {
        let _ = write!(
            body,
            "<tr class=\"step-{class}\"><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&entries),
            esc(t(lang, kind)),
            esc(&details)
        );
    };
    let mut i = 0;
    while i < status.log.len() {
        let (entry, step) = &status.log[i];
        match step {
            AuditStep::Define(d) => {
                let view = match d.reported {
                    sverka_model::audit::ReportedView::Official => "official",
                    sverka_model::audit::ReportedView::Preliminary => "preliminary",
                };
                let details = format!(
                    "{}: {} · {}: {} · {view}",
                    t(lang, "contest"),
                    d.contest,
                    t(lang, "risk_limit"),
                    d.risk_limit
                );
                row("define", entry.to_string(), "k_define", details);
            }
            AuditStep::Manifest(m) => {
                let details = format!(
                    "{} {} · {} {} · {} {} · sha256 {}",
                    m.stations,
                    t(lang, "stations"),
                    m.ballots,
                    t(lang, "ballots"),
                    t(lang, "as_of"),
                    m.as_of,
                    m.manifest_sha256
                );
                row("manifest", entry.to_string(), "k_manifest", details);
            }
            AuditStep::Seed(s) => row("seed", entry.to_string(), "k_seed", s.seed.clone()),
            AuditStep::Draw(d) => {
                let details = format!(
                    "{} {} · {}: +{} → {}",
                    t(lang, "round"),
                    d.round,
                    t(lang, "draws"),
                    d.draws.len(),
                    d.sample_size,
                );
                row("draw", entry.to_string(), "k_draw", details);
            }
            AuditStep::HandCount(_) => {
                let first = *entry;
                let mut last = first;
                let mut n = 0;
                while let Some((e, AuditStep::HandCount(_))) = status.log.get(i) {
                    (last, n, i) = (*e, n + 1, i + 1);
                }
                let entries = if n == 1 { first.to_string() } else { format!("{first}–{last}") };
                row("hand_count", entries, "k_hand", format!("{n} {}", t(lang, "stations")));
                continue;
            }
            AuditStep::HandCountCorrection(c) => {
                let details = format!("{}: {} · {}", t(lang, "station"), c.station, c.reason);
                row("correction", entry.to_string(), "k_correction", details);
            }
            AuditStep::Risk(r) => {
                let decision = match r.decision {
                    AuditDecision::Confirmed => "confirmed",
                    AuditDecision::Escalate => "escalate",
                    AuditDecision::FullHandCount => "full_hand_count",
                };
                let details = format!("{} {} · {decision}", t(lang, "round"), r.round);
                row("risk", entry.to_string(), "k_risk", details);
            }
        }
        i += 1;
    }
    body.push_str("</tbody></table>");
}

/// The hand counts that differ from the station's reported count, line by line.
fn render_differences(body: &mut String, status: &AuditStatus, lang: Lang) {
    if status.differences.is_empty() {
        return;
    }
    let _ = write!(
        body,
        "<h3>{}</h3><table class=\"differences\"><thead><tr><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(t(lang, "differences")),
        esc(t(lang, "station")),
        esc(t(lang, "entry")),
        esc(t(lang, "line")),
        esc(t(lang, "reported")),
        esc(t(lang, "hand")),
    );
    for d in &status.differences {
        for (line, reported, hand) in &d.lines {
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{reported}\
                 </td><td class=\"num\">{hand}</td></tr>",
                esc(&d.station),
                d.entry,
                esc(line),
            );
        }
    }
    body.push_str("</tbody></table>");
}

/// Each correction of a hand count with the count it replaced: nothing is hidden.
fn render_corrections(body: &mut String, status: &AuditStatus, lang: Lang) {
    if status.corrections.is_empty() {
        return;
    }
    let _ = write!(
        body,
        "<h3>{}</h3><table class=\"corrections\"><thead><tr><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(t(lang, "corrections")),
        esc(t(lang, "station")),
        esc(t(lang, "entry")),
        esc(t(lang, "old")),
        esc(t(lang, "new")),
        esc(t(lang, "reason")),
    );
    let counts = |(votes, invalid): &(Vec<u64>, u64)| {
        let options = status.manifest.as_ref().map(|m| m.options.clone()).unwrap_or_default();
        let mut parts: Vec<String> =
            options.iter().zip(votes).map(|(o, v)| format!("{o} {v}")).collect();
        parts.push(format!("invalid {invalid}"));
        parts.join(", ")
    };
    for c in &status.corrections {
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"num\">{} (← {})</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.station),
            c.entry,
            c.replaces,
            esc(&counts(&c.old)),
            esc(&counts(&c.new)),
            esc(&c.reason),
        );
    }
    body.push_str("</tbody></table>");
}

/// The `risk` steps of the audit: what the commission stated, where in the log.
fn render_statements(body: &mut String, status: &AuditStatus, lang: Lang) {
    if status.statements.is_empty() {
        return;
    }
    let _ = write!(
        body,
        "<h3>{}</h3><table class=\"statements\"><thead><tr><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th></tr></thead><tbody>",
        esc(t(lang, "statements")),
        esc(t(lang, "entry")),
        esc(t(lang, "round")),
        esc(t(lang, "largest")),
        esc(t(lang, "decision")),
    );
    for (entry, stated) in &status.statements {
        let largest = stated.risks.iter().max_by(|a, b| {
            let value = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
            value(a).total_cmp(&value(b))
        });
        let decision = match stated.decision {
            AuditDecision::Confirmed => t(lang, "s_confirmed"),
            AuditDecision::Escalate => t(lang, "s_escalate"),
            AuditDecision::FullHandCount => t(lang, "s_full"),
        };
        let _ = write!(
            body,
            "<tr><td class=\"num\">{entry}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td></tr>",
            stated.round,
            esc(largest.map_or("", String::as_str)),
            esc(decision),
        );
    }
    body.push_str("</tbody></table>");
}
