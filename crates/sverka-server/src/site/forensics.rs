//! The forensics page, `/forensics` (issue 11): the election fingerprint (turnout × leader's share,
//! weighted by voters) as SVG, the election-wide round-number and digit tests, and the stations
//! listed for review, ranked, each with its reasons — under a prominent note that flags are for
//! human review, never proof. The numbers are `sverka_audit::forensics::analyse` of the first
//! party-list contest (preliminary view) replayed to the published checkpoint, the same function
//! `sverka forensics` runs (seed 1, 200 simulations: `sverka forensics DIR --simulations 200`);
//! computed once per checkpoint and then served from memory.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use std::fmt::Write as _;
use sverka_audit::forensics::{analyse, svg, Config, Input, Report};
use sverka_model::election::ContestKind;
use sverka_tally::tabulate::View;

use super::html::{self, esc};
use super::i18n::{Lang, Msg};
use super::PageQuery;
use crate::AppState;

/// Simulated data sets per null distribution: fewer than the CLI's default 1000 so that a page is
/// quick; `sverka forensics DIR --simulations 200` gives the same numbers.
const SIMULATIONS: u32 = 200;

/// Stations listed on the page (the CLI's JSON has them all).
const ROWS: usize = 200;

/// The report of one checkpoint, or why there is none.
pub(crate) type Forensics = Result<Report, String>;

/// The page's words in Kyrgyz, Russian and English.
fn t(lang: Lang, key: &str) -> &'static str {
    let [ky, ru, en] = match key {
        "title" => [
            "Шайлоонун статистикалык анализи",
            "Статистический анализ выборов",
            "Election forensics",
        ],
        "note" => [
            "Бул белгилер адам текшериши үчүн гана, бурмалоонун далили эмес. Чынчыл шайлоодо да четтөөлөр болот; ар бир тесттин жалган белгилөө деңгээли көрсөтүлгөн.",
            "Эти отметки — повод для проверки человеком, а не доказательство фальсификаций. В честных выборах тоже бывают выбросы; у каждого теста указан уровень ложных срабатываний.",
            "These flags are for human review, never proof of fraud. Honest elections produce outliers too; every test states its false-flag rate.",
        ],
        "none" => [
            "Азырынча эсептелген участок жок.",
            "Пока нет подсчитанных участков.",
            "No station is counted yet.",
        ],
        "fingerprint" => ["Шайлоонун «манжа изи»", "«Отпечаток» выборов", "Fingerprint"],
        "x_axis" => [
            "катышуу, каттоодогу шайлоочулардын %",
            "явка, % от зарегистрированных",
            "turnout, % of registered voters",
        ],
        "y_axis" => ["катышкандардын %", "% от принявших участие", "% of those who took part"],
        "legend" => [
            "түс: 1 % × 1 % уячадагы шайлоочулар (квадрат тамыр шкаласы); штрих: «куйруктуу жылдыз» бурчу",
            "цвет: избиратели в клетке 1 % × 1 % (шкала квадратного корня); пунктир: угол «хвоста кометы»",
            "colour: voters per 1 % × 1 % cell (square-root scale); dashed: the comet-tail corner",
        ],
        "tail" => [
            "Катышуу ≥ 80 % жана лидер ≥ 50 % болгон участоктордогу шайлоочулар",
            "Избиратели на участках с явкой ≥ 80 % и долей лидера ≥ 50 %",
            "Voters at stations with turnout ≥ 80 % and leader ≥ 50 %",
        ],
        "tests" => ["Жалпы тесттер", "Общие тесты", "Election-wide tests"],
        "test" => ["Тест", "Тест", "Test"],
        "observed" => ["Байкалган", "Наблюдаемое", "Observed"],
        "expected" => ["Күтүлгөн", "Ожидаемое", "Expected"],
        "p" => ["p-маани", "p-значение", "p-value"],
        "flag" => ["Белги", "Отметка", "Flag"],
        "yes" => ["ооба", "да", "yes"],
        "no" => ["жок", "нет", "no"],
        "turnout_integer" => [
            "бүтүн пайыздагы катышуу",
            "явка — целое число процентов",
            "turnout at an integer %",
        ],
        "turnout_multiple_of_5" => [
            "5ке эселүү пайыздагы катышуу",
            "явка кратна 5 %",
            "turnout at a multiple of 5 %",
        ],
        "leader_share_integer" => [
            "лидердин үлүшү бүтүн пайыз",
            "доля лидера — целое число процентов",
            "leader's share at an integer %",
        ],
        "leader_share_multiple_of_5" => [
            "лидердин үлүшү 5ке эселүү пайыз",
            "доля лидера кратна 5 %",
            "leader's share at a multiple of 5 %",
        ],
        "last_digit" => ["акыркы сан", "последняя цифра", "last digit"],
        "second_digit" => ["экинчи сан (2BL)", "вторая цифра (2BL)", "second digit (2BL)"],
        "stations" => [
            "Текшерүү үчүн участоктор",
            "Участки для проверки",
            "Stations listed for review",
        ],
        "rank" => ["№", "№", "#"],
        "station" => ["Участок", "Участок", "Station"],
        "district" => ["Округ", "Округ", "District"],
        "score" => ["Упай", "Балл", "Score"],
        "reasons" => ["Себептер", "Причины", "Reasons"],
        "high_turnout" => ["жогорку катышуу", "высокая явка", "high turnout"],
        "high_leader_share" => ["лидердин жогорку үлүшү", "высокая доля лидера", "high leader share"],
        "round_turnout" => ["тегерек катышуу", "круглая явка", "round turnout"],
        "round_leader_share" => ["лидердин тегерек үлүшү", "круглая доля лидера", "round leader share"],
        "machine_manual_deviation" => [
            "машина менен кол эсеби айырмаланат",
            "автомат и ручной подсчёт расходятся",
            "scanner and hand count differ",
        ],
        "observer_mismatch" => [
            "байкоочунун көчүрмөсү айырмаланат",
            "копия наблюдателя расходится",
            "observer copy differs",
        ],
        "method" => [
            "Ыкма (англисче)",
            "Метод и оговорки (на английском)",
            "Method and caveats",
        ],
        "seed" => ["урук", "зерно", "seed"],
        "simulations" => ["симуляция", "симуляций", "simulations"],
        _ => ["", "", ""],
    };
    match lang.code() {
        "ky" => ky,
        "ru" => ru,
        _ => en,
    }
}

/// `GET /forensics`.
pub async fn page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    super::per_checkpoint_page(&state, &query, &headers, AppState::forensics, compute, render).await
}

fn compute(state: &AppState, size: u64) -> Result<Forensics, String> {
    if size == 0 {
        return Ok(Err(String::new()));
    }
    let replay =
        sverka_store::snapshot::replay_to(state.store(), size).map_err(|e| e.to_string())?;
    let election = replay.election();
    let contest = election
        .contests
        .iter()
        .find(|c| matches!(c.kind, ContestKind::PartyList(_)))
        .or(election.contests.first());
    let Some(contest) = contest else { return Ok(Err(String::new())) };
    let report = Input::from_tally(election, replay.tally(), &contest.id, View::Preliminary)
        .and_then(|input| {
            analyse(&input, &Config { simulations: SIMULATIONS, ..Config::default() })
        })
        .map_err(|e| e.to_string());
    Ok(report)
}

fn render(state: &AppState, size: u64, forensics: &Forensics, lang: Lang) -> String {
    let election = state.election();
    let code = lang.code();
    let title = t(lang, "title");
    let crumbs = vec![(lang.t(Msg::Country).to_string(), html::link("/", lang))];
    let shell = html::Shell {
        lang,
        title,
        election: election.name.get(code),
        path: "/forensics",
        crumbs: &crumbs,
        checkpoint_size: size,
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<section class=\"note\" role=\"note\" style=\"border:2px solid #b00;background:#fff4f4;padding:0.5em 1em\"><p><strong>{}</strong></p></section>",
        esc(t(lang, "note"))
    );
    match forensics {
        Err(_) => {
            let _ = write!(body, "<section><p>{}</p></section>", esc(t(lang, "none")));
        }
        Ok(report) => {
            let party = election.contests.iter().find(|c| c.id == report.contest).and_then(|c| {
                match &c.kind {
                    ContestKind::PartyList(list) => {
                        list.parties.iter().find(|p| p.id == report.leader)
                    }
                    ContestKind::SingleMember(_) => None,
                }
            });
            let leader = party.map_or(report.leader.as_str(), |p| p.name.get(code));
            fingerprint_section(&mut body, report, leader, lang);
            tests_section(&mut body, report, lang);
            stations_section(&mut body, report, lang);
            method_section(&mut body, report, lang);
        }
    }
    html::page(&shell, &body)
}

fn fingerprint_section(body: &mut String, report: &Report, leader: &str, lang: Lang) {
    let labels = svg::Labels {
        title: format!("{} — {leader}", t(lang, "fingerprint")),
        x_axis: t(lang, "x_axis").to_string(),
        y_axis: format!("{leader}, {}", t(lang, "y_axis")),
        legend: t(lang, "legend").to_string(),
    };
    let plot = svg::fingerprint_svg(&report.fingerprint, &labels);
    let _ = write!(
        body,
        "<section><h2>{}</h2><figure class=\"chart\">{plot}</figure><p>{}: {:.2} %</p></section>",
        esc(t(lang, "fingerprint")),
        esc(t(lang, "tail")),
        100.0 * report.fingerprint.tail_fraction()
    );
}

fn tests_section(body: &mut String, report: &Report, lang: Lang) {
    let yes_no = |flagged: bool| esc(t(lang, if flagged { "yes" } else { "no" })).to_string();
    let _ = write!(
        body,
        "<section><h2>{}</h2><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(t(lang, "tests")),
        esc(t(lang, "test")),
        esc(t(lang, "observed")),
        esc(t(lang, "expected")),
        esc(t(lang, "p")),
        esc(t(lang, "flag")),
    );
    for r in &report.round_numbers {
        let key = format!("{}_{}", r.variable, r.grid);
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{:.1} ± {:.1}</td><td>{:.3}</td><td>{}</td></tr>",
            esc(t(lang, &key)),
            r.observed,
            r.expected,
            r.null_sd,
            r.p_value,
            yes_no(r.flagged)
        );
    }
    for d in &report.digits {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>χ² = {:.1}</td><td>{} </td><td>{:.3}</td><td>{}</td></tr>",
            esc(t(lang, d.test)),
            d.chi_square,
            d.counts,
            d.p_value,
            yes_no(d.flagged)
        );
    }
    body.push_str("</tbody></table></section>");
}

fn stations_section(body: &mut String, report: &Report, lang: Lang) {
    let _ = write!(
        body,
        "<section><h2>{} ({})</h2><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(t(lang, "stations")),
        report.flagged.len(),
        esc(t(lang, "rank")),
        esc(t(lang, "station")),
        esc(t(lang, "district")),
        esc(t(lang, "score")),
        esc(t(lang, "reasons")),
    );
    for flag in report.flagged.iter().take(ROWS) {
        let reasons: Vec<String> = flag
            .reasons
            .iter()
            .map(|r| {
                format!(
                    "<li title=\"{}\">{}: {} (p = {:.2e})</li>",
                    esc(&r.message),
                    esc(t(lang, r.code)),
                    reason_value(r.code, r.value),
                    r.p_value
                )
            })
            .collect();
        let _ = write!(
            body,
            "<tr><td>{}</td><td><a href=\"{}\">{}</a></td><td><a href=\"{}\">{}</a></td><td>{:.1}</td><td><ul>{}</ul></td></tr>",
            flag.rank,
            esc(&html::link(&format!("/station/{}", flag.station), lang)),
            esc(&flag.station),
            esc(&html::link(&format!("/district/{}", flag.district), lang)),
            esc(&flag.district),
            flag.score,
            reasons.concat()
        );
    }
    body.push_str("</tbody></table></section>");
}

fn reason_value(code: &str, value: f64) -> String {
    match code {
        "machine_manual_deviation" | "observer_mismatch" => format!("{value:.0}"),
        "round_turnout" | "round_leader_share" => format!("{value:.0} %"),
        _ => format!("{value:.1} %"),
    }
}

fn method_section(body: &mut String, report: &Report, lang: Lang) {
    let _ = write!(
        body,
        "<section><h2>{}</h2><p>{} {}, {} {}.</p><ul>",
        esc(t(lang, "method")),
        esc(t(lang, "seed")),
        report.config.seed,
        report.config.simulations,
        esc(t(lang, "simulations"))
    );
    for caveat in sverka_audit::forensics::CAVEATS {
        let _ = write!(body, "<li>{}</li>", esc(caveat));
    }
    body.push_str("</ul></section>");
}
