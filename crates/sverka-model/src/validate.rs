//! Validation of submissions against the election, as data-driven rules with stable codes
//! (issue 4, "Validation"; the model is abacus's `F.101`/`W.201` rules).
//!
//! Every rule is a [`Rule`] in [`RULES`]: a stable code, a severity and a message a clerk
//! understands in Kyrgyz, Russian and English, with `{name}` placeholders that a [`Finding`] fills.
//! Errors (`E…`) reject a submission; warnings (`W…`) are accepted, shown and carried into the
//! published record.
//!
//! The code groups:
//!
//! | codes | about |
//! |---|---|
//! | `E0xx` | the bytes: size, JSON, schema, canonical form, numbers ([`decode_submission`]) |
//! | `E1xx` | the signer: election, key, signature, role, replay, key entries ([`crate::registry`]) |
//! | `E2xx` | what a submission is about: station and contest |
//! | `E3xx` | the shape of a protocol: its lines, vote options and preference votes |
//! | `E4xx` | the arithmetic of a protocol: control relations, ballots and register |
//! | `E5xx` | scans and corrections |
//! | `E6xx` | annulments, key entries and the election entry |
//! | `E7xx` | the steps of a risk-limiting audit ([`crate::audit`]) |
//! | `W1xx` | warnings |
//!
//! Everything here is pure: what the log knows (the entry a correction replaces, the protocol of
//! the other counting source) is handed in through [`ProtocolContext`].

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::election::{ContestKind, Election, Form, AGAINST_ALL};
use crate::names::{CorrectionReason, Role, Source};
use crate::submission::{Body, DecodeError, Payload, Protocol, Submission, MAX_SUBMISSION_BYTES};

/// The largest count any line may hold: 2^53 − 1, exact in every JSON reader (RFC 7493 §2.2).
pub const MAX_COUNT: u64 = (1 << 53) - 1;

/// Whether a finding rejects the submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Rejects: nothing is appended; the submission goes to quarantine with its codes.
    Error,
    /// Accepted, shown beside the result and carried into the published record.
    Warning,
}

/// One validation rule: its stable code and its message in the three languages of the site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub code: &'static str,
    pub severity: Severity,
    /// English message template; `{name}` is replaced by the finding's parameter `name`.
    pub en: &'static str,
    /// Russian message template.
    pub ru: &'static str,
    /// Kyrgyz message template.
    pub ky: &'static str,
}

const fn error(code: &'static str, en: &'static str, ru: &'static str, ky: &'static str) -> Rule {
    Rule { code, severity: Severity::Error, en, ru, ky }
}

const fn warning(code: &'static str, en: &'static str, ru: &'static str, ky: &'static str) -> Rule {
    Rule { code, severity: Severity::Warning, en, ru, ky }
}

/// Every rule, in code order. Codes are stable: a rule that is retired keeps its code unused.
pub const RULES: &[Rule] = &[
    // E0xx: the bytes.
    error(
        "E001",
        "the submission is {size} bytes; the limit is {limit} bytes",
        "сообщение занимает {size} байт; предел — {limit} байт",
        "билдирүү {size} байт; чеги — {limit} байт",
    ),
    error(
        "E002",
        "the submission is not valid JSON: {detail}",
        "сообщение не является корректным JSON: {detail}",
        "билдирүү туура JSON эмес: {detail}",
    ),
    error(
        "E003",
        "the submission does not match the submission format: {detail}",
        "сообщение не соответствует формату: {detail}",
        "билдирүү форматка туура келбейт: {detail}",
    ),
    error(
        "E004",
        "the submission is not in canonical form (RFC 8785): keys sorted, no spaces, whole numbers only; re-encode it with the sverka tools",
        "сообщение не в каноническом виде (RFC 8785): ключи по порядку, без пробелов, только целые числа; перекодируйте его инструментами sverka",
        "билдирүү канондук түрдө эмес (RFC 8785): ачкычтар иреттелген, боштуксуз, бүтүн сандар гана; аны sverka куралдары менен кайра коддоңуз",
    ),
    error(
        "E005",
        "the submission has format version {version}; this server reads version {supported}",
        "у сообщения версия формата {version}; сервер читает версию {supported}",
        "билдирүүнүн формат версиясы {version}; сервер {supported} версиясын окуйт",
    ),
    error(
        "E006",
        "the signature is not base64 of 64 bytes",
        "подпись не является base64 от 64 байт",
        "кол тамга 64 байттын base64 коду эмес",
    ),
    error(
        "E007",
        "{field} is {value}: a count cannot be negative",
        "{field} равно {value}: число не может быть отрицательным",
        "{field} = {value}: сан терс боло албайт",
    ),
    error(
        "E008",
        "{field} is {value}: write counts as plain whole numbers such as 8, with no decimal point or exponent",
        "{field} равно {value}: числа записываются как простые целые, например 8, без десятичной точки и экспоненты",
        "{field} = {value}: сандар жөнөкөй бүтүн сан катары жазылат, мисалы 8, ондук чекитсиз жана экспонентасыз",
    ),
    error(
        "E009",
        "{field} is {value}, above the largest allowed number 9007199254740991",
        "{field} равно {value}, больше наибольшего допустимого числа 9007199254740991",
        "{field} = {value}, уруксат берилген эң чоң сандан (9007199254740991) ашат",
    ),
    // E1xx: the signer.
    error(
        "E101",
        "this submission is for election {got}, but this server runs election {expected}",
        "сообщение относится к выборам {got}, а этот сервер ведёт выборы {expected}",
        "бул билдирүү {got} шайлоосуна тиешелүү, бул сервер болсо {expected} шайлоосун жүргүзөт",
    ),
    error(
        "E102",
        "key {signer} is not registered for this election",
        "ключ {signer} не зарегистрирован на этих выборах",
        "{signer} ачкычы бул шайлоодо катталган эмес",
    ),
    error(
        "E103",
        "key {signer} has been revoked; nothing signed with it is accepted any more",
        "ключ {signer} отозван; подписанное им больше не принимается",
        "{signer} ачкычы кайтарылып алынган; ал менен кол коюлган эч нерсе кабыл алынбайт",
    ),
    error(
        "E104",
        "the signature does not verify with key {signer}: the submission was changed after signing or signed with another key",
        "подпись не проверяется ключом {signer}: сообщение изменено после подписания или подписано другим ключом",
        "кол тамга {signer} ачкычы менен текшерилбейт: билдирүү кол коюлгандан кийин өзгөртүлгөн же башка ачкыч менен кол коюлган",
    ),
    error(
        "E105",
        "sequence number {seq} of key {signer} is not above its last accepted number {last}: a replay or an old submission; send it again with a higher number",
        "порядковый номер {seq} ключа {signer} не больше последнего принятого ({last}): повтор или старое сообщение; отправьте его с большим номером",
        "{signer} ачкычынын {seq} катар номери акыркы кабыл алынган номерден ({last}) чоң эмес: кайталоо же эски билдирүү; аны чоңураак номер менен кайра жөнөтүңүз",
    ),
    error(
        "E106",
        "a machine protocol of station {station} can only be signed by the scanner key registered for that station; key {signer} is not it",
        "машинный протокол участка {station} может подписать только ключ сканера этого участка; ключ {signer} им не является",
        "{station} участогунун машиналык протоколуна ошол участокто катталган сканердин ачкычы гана кол коё алат; {signer} ачкычы андай эмес",
    ),
    error(
        "E107",
        "a hand-count protocol of station {station} can only be signed by an operator key of district {district}; key {signer} is not one",
        "протокол ручного подсчёта участка {station} может подписать только ключ оператора округа {district}; ключ {signer} им не является",
        "{station} участогунун кол менен эсептөө протоколуна {district} округунун операторунун ачкычы гана кол коё алат; {signer} ачкычы андай эмес",
    ),
    error(
        "E108",
        "an observer copy can only be signed by an observer key; key {signer} has role {role}",
        "копию наблюдателя может подписать только ключ наблюдателя; у ключа {signer} роль {role}",
        "байкоочунун көчүрмөсүнө байкоочунун ачкычы гана кол коё алат; {signer} ачкычынын ролу — {role}",
    ),
    error(
        "E109",
        "a submission of type {type} can only be signed by a CEC administrator key; key {signer} has role {role}",
        "сообщение типа {type} может подписать только ключ администратора ЦИК; у ключа {signer} роль {role}",
        "{type} түрүндөгү билдирүүгө БШКнын администраторунун ачкычы гана кол коё алат; {signer} ачкычынын ролу — {role}",
    ),
    error(
        "E110",
        "key {key} is already registered; a key id is never reused",
        "ключ {key} уже зарегистрирован; идентификатор ключа не используется повторно",
        "{key} ачкычы мурун катталган; ачкычтын идентификатору кайра колдонулбайт",
    ),
    error(
        "E111",
        "key {key} cannot be revoked: it is not registered or already revoked",
        "ключ {key} нельзя отозвать: он не зарегистрирован или уже отозван",
        "{key} ачкычын кайтарып алууга болбойт: ал катталган эмес же мурун эле кайтарылган",
    ),
    error(
        "E112",
        "the public key of key {key} is not base64 of a 32-byte Ed25519 key",
        "открытый ключ {key} не является base64 от 32-байтного ключа Ed25519",
        "{key} ачкычынын ачык ачкычы 32 байттык Ed25519 ачкычынын base64 коду эмес",
    ),
    error(
        "E113",
        "key {key} with role {role} is bound wrongly: a machine key names one station of the election, an operator key one district, other keys neither",
        "ключ {key} с ролью {role} привязан неверно: ключ сканера указывает один участок этих выборов, ключ оператора — один округ, остальные — ничего",
        "{role} ролундагы {key} ачкычы туура эмес байланган: сканердин ачкычы бул шайлоонун бир участогун, оператордун ачкычы бир округду көрсөтөт, калгандары эч нерсени көрсөтпөйт",
    ),
    error(
        "E114",
        "the public key of key {key} is already registered as key {other}",
        "открытый ключ {key} уже зарегистрирован как ключ {other}",
        "{key} ачкычынын ачык ачкычы {other} ачкычы катары мурун катталган",
    ),
    // E2xx: what the submission is about.
    error(
        "E201",
        "station {station} is not a polling station of this election",
        "участка {station} нет в этих выборах",
        "{station} участогу бул шайлоодо жок",
    ),
    error(
        "E202",
        "contest {contest} is not a contest of this election",
        "в этих выборах нет голосования {contest}",
        "бул шайлоодо {contest} добуш берүүсү жок",
    ),
    error(
        "E203",
        "station {station} does not vote in contest {contest}",
        "участок {station} не голосует по {contest}",
        "{station} участогу {contest} боюнча добуш бербейт",
    ),
    // E3xx: the shape of a protocol.
    error(
        "E301",
        "line {line} of the protocol is missing",
        "в протоколе нет строки {line}",
        "протоколдо {line} сабы жок",
    ),
    error(
        "E302",
        "the protocol has a line {line} that its form does not have",
        "в протоколе есть строка {line}, которой нет в форме",
        "протоколдо формада жок {line} сабы бар",
    ),
    error(
        "E303",
        "the votes for {line} are missing",
        "нет числа голосов за {line}",
        "{line} үчүн добуштардын саны жок",
    ),
    error(
        "E304",
        "the protocol gives votes for {line}, which is not on the ballot of contest {contest}",
        "в протоколе есть голоса за {line}, которого нет в бюллетене {contest}",
        "протоколдо {contest} бюллетенинде жок {line} үчүн добуштар бар",
    ),
    error(
        "E305",
        "preference votes are given for {party}, which is not a party list of contest {contest}",
        "указаны преференциальные голоса за {party}, которого нет среди списков {contest}",
        "{contest} тизмелеринде жок {party} үчүн артыкчылык добуштары көрсөтүлгөн",
    ),
    error(
        "E306",
        "preference votes are given for candidate {candidate}, who is not on the list of {party}",
        "указаны преференциальные голоса за кандидата {candidate}, которого нет в списке {party}",
        "{party} тизмесинде жок {candidate} талапкери үчүн артыкчылык добуштары көрсөтүлгөн",
    ),
    error(
        "E307",
        "the preference votes for the candidates of {party} add up to {sum}, more than the {votes} votes for the list",
        "преференциальные голоса за кандидатов {party} в сумме дают {sum}, больше {votes} голосов за список",
        "{party} талапкерлерине берилген артыкчылык добуштардын суммасы {sum}, бул тизмеге берилген {votes} добуштан көп",
    ),
    // E4xx: arithmetic.
    error(
        "E401",
        "the control relation {relation} does not hold: the left side is {left}, the right side {right}",
        "контрольное соотношение {relation} не выполняется: левая часть {left}, правая {right}",
        "{relation} текшерүү катышы аткарылбайт: сол жагы {left}, оң жагы {right}",
    ),
    error(
        "E402",
        "{took_part} ballots were issued, more than the {registered} voters on the register plus the allowed {margin}",
        "выдано {took_part} бюллетеней — больше, чем {registered} избирателей в списке плюс допустимые {margin}",
        "{took_part} бюллетень берилген — бул тизмедеги {registered} шайлоочудан жана уруксат берилген {margin} кошумчадан көп",
    ),
    error(
        "E403",
        "line {line} gives {value} registered voters, but the register of the station has {registered}; the difference is more than the allowed {margin}",
        "в строке {line} {value} избирателей, а в списке участка {registered}; разница больше допустимых {margin}",
        "{line} сабында {value} шайлоочу, участоктун тизмесинде болсо {registered}; айырма уруксат берилген {margin} дан көп",
    ),
    // E5xx: scans and corrections.
    error(
        "E501",
        "the scan hash {value} is not a SHA-256 hash (64 lower-case hexadecimal characters)",
        "хэш скана {value} не является хэшем SHA-256 (64 строчных шестнадцатеричных символа)",
        "скандын хэши {value} SHA-256 хэши эмес (64 кичине он алтылык белги)",
    ),
    error(
        "E502",
        "this correction replaces entry {index}, but that entry is not a protocol in the log",
        "это исправление заменяет запись {index}, но такой записи-протокола в журнале нет",
        "бул оңдоо {index} жазуусун алмаштырат, бирок журналда андай протокол жок",
    ),
    error(
        "E503",
        "entry {index} is the protocol of station {old_station}, contest {old_contest}; a correction must replace a protocol of the same station and contest",
        "запись {index} — протокол участка {old_station} по {old_contest}; исправление должно заменять протокол того же участка и голосования",
        "{index} жазуусу — {old_station} участогунун {old_contest} боюнча протоколу; оңдоо ошол эле участоктун жана добуш берүүнүн протоколун алмаштырышы керек",
    ),
    error(
        "E504",
        "a {source} protocol cannot replace a {old_source} protocol; only one of the same source or a recount can",
        "протокол «{source}» не может заменить протокол «{old_source}»; заменить может только протокол того же источника или пересчёт",
        "«{source}» протоколу «{old_source}» протоколун алмаштыра албайт; ошол эле булактын протоколу же кайра эсептөө гана алмаштыра алат",
    ),
    error(
        "E505",
        "the reason {reason} is only for recount protocols entered by the CEC",
        "основание {reason} допускается только для протоколов пересчёта, вносимых ЦИК",
        "{reason} негизи БШК киргизген кайра эсептөө протоколдору үчүн гана",
    ),
    // E6xx: annulments, key entries, the election entry.
    error(
        "E601",
        "an annulment must give its reason: the decision, its number and date",
        "аннулирование должно указывать основание: решение, его номер и дату",
        "жокко чыгаруу негизин көрсөтүшү керек: чечим, анын номери жана күнү",
    ),
    error(
        "E602",
        "a key revocation must give its reason",
        "отзыв ключа должен указывать причину",
        "ачкычты кайтарып алуу себебин көрсөтүшү керек",
    ),
    error(
        "E603",
        "the election definition in this entry is not valid: {detail}",
        "определение выборов в этой записи некорректно: {detail}",
        "бул жазуудагы шайлоонун аныктамасы туура эмес: {detail}",
    ),
    // E7xx: risk-limiting audits.
    error(
        "E701",
        "audit {audit} is not defined in the log: its first step must be define",
        "аудит {audit} не объявлен в журнале: его первый шаг — объявление (define)",
        "{audit} аудити журналда жарыяланган эмес: анын биринчи кадамы — жарыялоо (define)",
    ),
    error(
        "E702",
        "audit {audit} is already defined; an audit id is used once",
        "аудит {audit} уже объявлен; идентификатор аудита используется один раз",
        "{audit} аудити мурун жарыяланган; аудиттин идентификатору бир гана жолу колдонулат",
    ),
    error(
        "E703",
        "the risk limit {value} is not a decimal between 0 and 1 such as \"0.05\"",
        "предел риска {value} не является десятичной дробью между 0 и 1, например \"0.05\"",
        "тобокелдик чеги {value} 0 менен 1дин ортосундагы ондук бөлчөк эмес, мисалы \"0.05\"",
    ),
    error(
        "E704",
        "audit {audit} already has its {step}; it is published once",
        "у аудита {audit} уже есть {step}; он публикуется один раз",
        "{audit} аудитинин {step} мурунтан бар; ал бир гана жолу жарыяланат",
    ),
    error(
        "E705",
        "the seed of audit {audit} can only be committed after its manifest is in the log",
        "зерно аудита {audit} можно зафиксировать только после того, как его манифест внесён в журнал",
        "{audit} аудитинин уругу анын манифести журналга киргизилгенден кийин гана бекитилет",
    ),
    error(
        "E706",
        "audit {audit} has no seed in the log yet; the sample is drawn only from a committed seed",
        "у аудита {audit} в журнале ещё нет зерна; выборка делается только из зафиксированного зерна",
        "{audit} аудитинин журналда уругу азырынча жок; тандоо бекитилген уруктан гана жасалат",
    ),
    error(
        "E707",
        "the seed {value} is not 1 to 64 decimal digits",
        "зерно {value} не состоит из 1–64 десятичных цифр",
        "{value} уругу 1–64 ондук сандан турбайт",
    ),
    error(
        "E708",
        "round {round} of audit {audit} is not the next round; the next is {expected}",
        "тур {round} аудита {audit} не является следующим; следующий — {expected}",
        "{audit} аудитинин {round} туру кийинки тур эмес; кийинкиси — {expected}",
    ),
    error(
        "E709",
        "the draw of audit {audit} lists {draws} stations with sample size {sample_size}; it must list at least one, and its sample size must be {previous} plus that many",
        "выборка аудита {audit} перечисляет {draws} участков при объёме выборки {sample_size}; она должна перечислять хотя бы один, а объём должен быть {previous} плюс их число",
        "{audit} аудитинин тандоосу {sample_size} көлөмүндө {draws} участокту көрсөтөт; ал жок дегенде бирди көрсөтүшү керек, көлөмү болсо {previous} плюс алардын саны болушу керек",
    ),
    error(
        "E710",
        "station {station} is not in the sample of audit {audit}; only sampled stations are counted for it",
        "участка {station} нет в выборке аудита {audit}; для аудита считаются только участки из выборки",
        "{station} участогу {audit} аудитинин тандоосунда жок; аудит үчүн тандоодогу участоктор гана эсептелет",
    ),
    error(
        "E711",
        "station {station} already has a hand count in audit {audit}",
        "для участка {station} в аудите {audit} уже есть ручной подсчёт",
        "{station} участогу үчүн {audit} аудитинде кол менен эсептөө мурунтан бар",
    ),
    error(
        "E712",
        "{audit} is not a valid audit id: 1 to 64 of a-z 0-9 - _ ., starting with a letter or digit",
        "{audit} — недопустимый идентификатор аудита: от 1 до 64 символов a-z 0-9 - _ ., начиная с буквы или цифры",
        "{audit} — аудиттин жараксыз идентификатору: a-z 0-9 - _ . белгилеринен 1ден 64кө чейин, тамга же цифра менен башталат",
    ),
    error(
        "E713",
        "station {station} has no hand count in audit {audit}; only a recorded hand count can be corrected",
        "для участка {station} в аудите {audit} нет ручного подсчёта; исправить можно только внесённый подсчёт",
        "{station} участогу үчүн {audit} аудитинде кол менен эсептөө жок; киргизилген эсепти гана оңдоого болот",
    ),
    error(
        "E714",
        "the correction of the hand count of station {station} must give its reason",
        "исправление ручного подсчёта участка {station} должно указывать причину",
        "{station} участогунун кол менен эсептөөсүн оңдоо себебин көрсөтүшү керек",
    ),
    error(
        "E715",
        "station {station} of the sample of audit {audit} is not counted yet; an escalation is stated only once every sampled station is counted",
        "участок {station} из выборки аудита {audit} ещё не подсчитан; эскалация указывается только после подсчёта всех участков выборки",
        "{audit} аудитинин тандоосундагы {station} участогу азырынча эсептеле элек; кеңейтүү тандоодогу бардык участоктор эсептелгенден кийин гана көрсөтүлөт",
    ),
    error(
        "E716",
        "the risk of audit {audit} is stated for round {round}, but its last round drawn is {expected}",
        "риск аудита {audit} указан для тура {round}, но его последний проведённый тур — {expected}",
        "{audit} аудитинин тобокелдиги {round} туру үчүн көрсөтүлгөн, бирок анын акыркы туру — {expected}",
    ),
    error(
        "E717",
        "the risk {value} is not a decimal between 0 and 1 with at most 12 digits after the point",
        "риск {value} не является десятичной дробью от 0 до 1 с не более чем 12 знаками после точки",
        "{value} тобокелдиги 0 менен 1дин ортосундагы, чекиттен кийин 12ден ашпаган сандуу ондук бөлчөк эмес",
    ),
    // W1xx: warnings.
    warning(
        "W101",
        "turnout is {turnout}%, above {limit}%: check the count",
        "явка {turnout}% — выше {limit}%: проверьте подсчёт",
        "катышуу {turnout}% — {limit}% дан жогору: эсепти текшериңиз",
    ),
    warning(
        "W102",
        "\"against all\" has the most votes ({votes}, ahead of {leader} with {leader_votes})",
        "больше всего голосов у «против всех» ({votes}, впереди {leader} с {leader_votes})",
        "эң көп добушту «баарына каршы» алды ({votes}, {leader_votes} добуш алган {leader} дан алдыда)",
    ),
    warning(
        "W103",
        "this correction lowers {line} from {old} to {new}",
        "это исправление уменьшает {line} с {old} до {new}",
        "бул оңдоо {line} маанисин {old} дан {new} га азайтат",
    ),
    warning(
        "W104",
        "{line}: the {source} count says {value}, the {other_source} count {other_value}; the difference {difference} is above the tolerance {tolerance}",
        "{line}: по подсчёту «{source}» {value}, по подсчёту «{other_source}» {other_value}; разница {difference} больше допустимой {tolerance}",
        "{line}: «{source}» эсеби боюнча {value}, «{other_source}» эсеби боюнча {other_value}; айырма {difference} уруксат берилген {tolerance} дан көп",
    ),
];

/// The rule with this code.
pub fn rule(code: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.code == code)
}

/// One problem found in a submission: a rule, the line it is about, and the values its message
/// shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's stable code, e.g. `E401`.
    pub code: &'static str,
    pub severity: Severity,
    /// The form line or vote option the finding is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// The values the message template names.
    pub params: BTreeMap<&'static str, String>,
}

impl Finding {
    /// A finding of the rule `code`. Panics on a code that is not in [`RULES`]: that is a bug
    /// here, never bad input.
    pub fn new(code: &'static str) -> Finding {
        let rule = rule(code).unwrap_or_else(|| panic!("no rule {code} in RULES"));
        Finding { code: rule.code, severity: rule.severity, line: None, params: BTreeMap::new() }
    }

    /// Names the line or vote option the finding is about (also as the `line` parameter).
    pub fn on_line(mut self, line: impl Into<String>) -> Finding {
        let line = line.into();
        self.params.insert("line", line.clone());
        self.line = Some(line);
        self
    }

    /// Sets a value the message shows.
    pub fn with(mut self, name: &'static str, value: impl fmt::Display) -> Finding {
        self.params.insert(name, value.to_string());
        self
    }

    pub fn rule(&self) -> &'static Rule {
        rule(self.code).expect("a finding is only made for a rule in RULES")
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The message in `lang` (`ky`, `ru`; anything else gives English), with its values filled in.
    pub fn message(&self, lang: &str) -> String {
        let rule = self.rule();
        let template = match lang {
            "ky" => rule.ky,
            "ru" => rule.ru,
            _ => rule.en,
        };
        fill(template, |name| {
            let value = self.params.get(name)?;
            Some(match name {
                "source" | "other_source" | "old_source" => source_name(value, lang),
                _ => value.clone(),
            })
        })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message("en"))
    }
}

/// The message of rule `code` in `lang` with the values a stored finding kept (`params`, as the
/// quarantine and receipts store them); `None` for a code that is not in [`RULES`] (an `H…` code
/// of the HTTP layer, say).
pub fn message_of<'a>(
    code: &str,
    line: Option<&str>,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    lang: &str,
) -> Option<String> {
    let rule = rule(code)?;
    let mut finding = Finding::new(rule.code);
    finding.line = line.map(str::to_string);
    let names: Vec<&str> = [rule.en, rule.ru, rule.ky].into_iter().flat_map(placeholders).collect();
    for (name, value) in params {
        if let Some(known) = names.iter().find(|known| **known == name) {
            finding.params.insert(*known, value.to_string());
        }
    }
    Some(finding.message(lang))
}

/// Replaces each `{name}` with its value; a name without a value stays as written.
fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').map(|close| (&after[..close], close)) {
            Some((name, close)) if name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => {
                match value(name) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders a template names, for tests and docs.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        names.push(&after[..close]);
        rest = &after[close + 1..];
    }
    names.sort_unstable();
    names.dedup();
    names
}

/// A counting source in the words of a clerk.
fn source_name(source: &str, lang: &str) -> String {
    let names: [&str; 3] = match source {
        "machine" => ["машина", "машинный", "machine"],
        "manual" => ["кол менен", "ручной", "hand"],
        "observer" => ["байкоочу", "наблюдатель", "observer"],
        "recount" => ["кайра эсептөө", "пересчёт", "recount"],
        other => return other.to_string(),
    };
    match lang {
        "ky" => names[0],
        "ru" => names[1],
        _ => names[2],
    }
    .to_string()
}

/// Whether any finding rejects.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::is_error)
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Decodes a submission's bytes strictly ([`Submission::decode`]), with the problem as a
/// [`Finding`] whose code says exactly what is wrong: a negative count, a fraction and a number
/// too large each have their own code rather than a generic schema error.
pub fn decode_submission(bytes: &[u8]) -> Result<Submission, Finding> {
    if bytes.len() > MAX_SUBMISSION_BYTES {
        return Err(Finding::new("E001")
            .with("size", bytes.len())
            .with("limit", MAX_SUBMISSION_BYTES));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Finding::new("E002").with("detail", e.to_string()))?;
    check_numbers(&value, &mut String::new())?;
    Submission::decode(bytes).map_err(|e| decode_finding(&e))
}

/// The finding for a [`DecodeError`].
pub fn decode_finding(error: &DecodeError) -> Finding {
    match error {
        DecodeError::TooLarge(size) => {
            Finding::new("E001").with("size", size).with("limit", MAX_SUBMISSION_BYTES)
        }
        DecodeError::Json(detail) => Finding::new("E002").with("detail", detail),
        DecodeError::Schema(detail) => Finding::new("E003").with("detail", detail),
        DecodeError::NotCanonical => Finding::new("E004"),
        DecodeError::Number(detail) => {
            Finding::new("E009").with("field", "a number").with("value", detail)
        }
        DecodeError::Version(version) => Finding::new("E005")
            .with("version", version)
            .with("supported", crate::submission::FORMAT_VERSION),
        DecodeError::SignatureEncoding => Finding::new("E006"),
    }
}

/// Refuses negative numbers, fractions and numbers above 2^53 − 1 anywhere in the document,
/// naming where (`payload.lines.valid`).
fn check_numbers(value: &Value, path: &mut String) -> Result<(), Finding> {
    match value {
        Value::Number(n) => {
            let at = |code| {
                let finding = Finding::new(code).with("field", path.as_str()).with("value", n);
                match path.rsplit_once('.') {
                    Some((parent, line))
                        if parent.ends_with(".lines") || parent.ends_with(".votes") =>
                    {
                        let mut finding = finding.on_line(line);
                        finding.params.insert("field", path.clone());
                        finding
                    }
                    _ => finding,
                }
            };
            if let Some(u) = n.as_u64() {
                return if u > MAX_COUNT { Err(at("E009")) } else { Ok(()) };
            }
            if n.as_i64().is_some() {
                return Err(at("E007"));
            }
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() > MAX_COUNT as f64 {
                return Err(at(if f < 0.0 { "E007" } else { "E009" }));
            }
            Err(at("E008"))
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_numbers(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                check_numbers(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Submissions and protocols

/// What the log knows that a protocol's checks need.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProtocolContext<'a> {
    /// When the protocol `supersedes` an entry: that entry's protocol, as the log holds it; `None`
    /// when the log has no protocol at that index (which is then error `E502`).
    pub superseded: Option<&'a Protocol>,
    /// The accepted protocol of the same station and contest from another counting source (the
    /// machine count for a hand count, or the reverse), compared line by line (`W104`).
    pub other_source: Option<&'a Protocol>,
}

/// Validates a decoded, authenticated submission against the election: the election it names and
/// what its body says. Signer, role and replay are [`crate::registry::KeyRegistry`]'s checks.
pub fn validate_submission(
    election: &Election,
    payload: &Payload,
    context: &ProtocolContext,
) -> Vec<Finding> {
    validate_submission_prechecked(election, payload, context, None)
}

/// [`validate_submission`] with the part of a protocol's checks that needs only the election and
/// the protocol done beforehand ([`precheck_submission`] of the same election and payload; `None`:
/// done here): the same findings in the same order. The store runs the precheck on the threads
/// that verify signatures, in parallel, and only the checks that need the log's context on its
/// single sequencer thread.
pub fn validate_submission_prechecked(
    election: &Election,
    payload: &Payload,
    context: &ProtocolContext,
    precheck: Option<&ProtocolPrecheck>,
) -> Vec<Finding> {
    if payload.election != election.id {
        return vec![Finding::new("E101")
            .with("got", &payload.election)
            .with("expected", &election.id)];
    }
    match &payload.body {
        Body::Protocol(protocol) => match precheck {
            Some(precheck) => validate_protocol_prechecked(election, protocol, context, precheck),
            None => validate_protocol(election, protocol, context),
        },
        Body::Annulment(annulment) => {
            let mut findings = Vec::new();
            match election.station(&annulment.station) {
                None => findings.push(Finding::new("E201").with("station", &annulment.station)),
                Some(station) => {
                    if let Some(contest_id) = &annulment.contest {
                        match election.contest(contest_id) {
                            None => findings.push(Finding::new("E202").with("contest", contest_id)),
                            Some(contest) if !contest.covers(station) => findings.push(
                                Finding::new("E203")
                                    .with("station", &station.id)
                                    .with("contest", contest_id),
                            ),
                            Some(_) => {}
                        }
                    }
                }
            }
            if annulment.reason.trim().is_empty() {
                findings.push(Finding::new("E601"));
            }
            findings
        }
        Body::KeyRegistration(registration) => {
            check_key_record(election, &registration.key).into_iter().collect()
        }
        Body::KeyRevocation(revocation) if revocation.reason.trim().is_empty() => {
            vec![Finding::new("E602")]
        }
        Body::KeyRevocation(_) => Vec::new(),
        Body::Audit(step) => crate::audit::check_step(election, step),
        // The log's one election entry is entry 0, written and signed by the log key at `sverka
        // init` and never submitted; a submitted one would be a second definition, which no
        // replay can follow (found by the bad-submission catalogue: it was accepted, and the
        // live results stopped at it).
        Body::Election(definition) => {
            let hash = &definition.definition_sha256;
            let is_hex = hash.len() == 64
                && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            let detail = if is_hex {
                "the log has its election definition already (entry 0, written by sverka init); \
                 a log describes one election"
            } else {
                "definition_sha256 is not 64 lower-case hex digits"
            };
            vec![Finding::new("E603").with("detail", detail)]
        }
    }
}

/// The checks of a key registration that need only the election: a usable public key, and a
/// binding that fits the role.
pub fn check_key_record(election: &Election, key: &crate::election::KeyRecord) -> Option<Finding> {
    if crate::keys::decode_public_key(&key.public_key).is_none() {
        return Some(Finding::new("E112").with("key", &key.id));
    }
    let bound = match (key.role, &key.station, &key.district) {
        (Role::Machine, Some(station), None) => election.station(station).is_some(),
        (Role::Operator, None, Some(district)) => election.district(district).is_some(),
        (Role::Observer | Role::Admin, None, None) => true,
        _ => false,
    };
    let role = crate::registry::role_name(key.role);
    (!bound || !crate::names::is_valid_id(&key.id))
        .then(|| Finding::new("E113").with("key", &key.id).with("role", role))
}

/// Validates one protocol against the election: what it is about, its shape, its arithmetic, its
/// scan and correction, and the warnings. Returns every finding, errors first, each group in
/// form order; an empty list means accepted without remark.
pub fn validate_protocol(
    election: &Election,
    protocol: &Protocol,
    context: &ProtocolContext,
) -> Vec<Finding> {
    validate_protocol_prechecked(
        election,
        protocol,
        context,
        &precheck_protocol(election, protocol),
    )
}

/// The findings of a protocol's checks that need only the election and the protocol, in the order
/// [`validate_protocol`] reports them, apart from those that need the log's context
/// ([`ProtocolContext`]: the superseded entry, the other counting source); made by
/// [`precheck_submission`], completed by [`validate_submission_prechecked`].
#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolPrecheck {
    /// Everything before the correction's checks against the superseded entry: station and
    /// contest, shape, sizes, arithmetic, register, and the attachments' own checks (`E501`,
    /// `E505`).
    before: Vec<Finding>,
    /// The station and contest exist and the shape is complete: the warnings are checked.
    warned: bool,
    /// The warnings that need no context (turnout, against all), when `warned`.
    warnings: Vec<Finding>,
}

/// The checks of [`validate_submission`] that need only the election and the payload, for a
/// protocol of this election (`None` for anything else: it is checked in full later).
pub fn precheck_submission(election: &Election, payload: &Payload) -> Option<ProtocolPrecheck> {
    match &payload.body {
        Body::Protocol(protocol) if payload.election == election.id => {
            Some(precheck_protocol(election, protocol))
        }
        _ => None,
    }
}

fn precheck_protocol(election: &Election, protocol: &Protocol) -> ProtocolPrecheck {
    let mut findings = Vec::new();
    let station = election.station(&protocol.station);
    if station.is_none() {
        findings.push(Finding::new("E201").with("station", &protocol.station));
    }
    let contest = election.contest(&protocol.contest);
    if contest.is_none() {
        findings.push(Finding::new("E202").with("contest", &protocol.contest));
    }
    let (Some(station), Some(contest)) = (station, contest) else {
        check_attachments_alone(protocol, &mut findings);
        return ProtocolPrecheck { before: findings, warned: false, warnings: Vec::new() };
    };
    if !contest.covers(station) {
        findings
            .push(Finding::new("E203").with("station", &station.id).with("contest", &contest.id));
    }
    let form = election.form_of(contest);
    let shape_ok = check_shape(contest, form, protocol, &mut findings);
    check_sizes(protocol, &mut findings);
    check_relations(contest, form, protocol, &mut findings);
    check_register(election, station, form, protocol, &mut findings);
    check_attachments_alone(protocol, &mut findings);
    let mut warnings = Vec::new();
    if shape_ok {
        warn_turnout(election, station, form, protocol, &mut warnings);
        warn_against_all(contest, protocol, &mut warnings);
    }
    ProtocolPrecheck { before: findings, warned: shape_ok, warnings }
}

/// [`validate_protocol`] from its [`precheck_protocol`]: the checks that need `context` added
/// where `validate_protocol` makes them.
fn validate_protocol_prechecked(
    election: &Election,
    protocol: &Protocol,
    context: &ProtocolContext,
    precheck: &ProtocolPrecheck,
) -> Vec<Finding> {
    let mut findings = precheck.before.clone();
    check_attachments_in_context(protocol, context, &mut findings);
    if precheck.warned {
        findings.extend(precheck.warnings.iter().cloned());
        let contest = election.contest(&protocol.contest);
        let form = contest.map(|contest| election.form_of(contest));
        if let Some(form) = form {
            warn_lowered(form, protocol, context, &mut findings);
        }
        warn_other_source(election, protocol, context, &mut findings);
    }
    findings.sort_by_key(|f| f.severity == Severity::Warning);
    findings
}

/// Lines, vote options and preference votes exactly as the form and the ballot have them.
/// Returns whether the shape is complete (so that the warnings compare like with like).
fn check_shape(
    contest: &crate::election::Contest,
    form: &Form,
    protocol: &Protocol,
    findings: &mut Vec<Finding>,
) -> bool {
    let before = findings.len();
    for line in &form.lines {
        if !protocol.lines.contains_key(&line.id) {
            findings.push(Finding::new("E301").on_line(&line.id));
        }
    }
    for line in protocol.lines.keys() {
        if !form.lines.iter().any(|l| &l.id == line) {
            findings.push(Finding::new("E302").on_line(line));
        }
    }
    let options = contest.option_ids();
    for option in &options {
        if !protocol.votes.contains_key(*option) {
            findings.push(Finding::new("E303").on_line(*option));
        }
    }
    for option in protocol.votes.keys() {
        if !options.contains(&option.as_str()) {
            findings.push(Finding::new("E304").on_line(option).with("contest", &contest.id));
        }
    }
    check_preferences(contest, protocol, findings);
    findings.len() == before
}

fn check_preferences(
    contest: &crate::election::Contest,
    protocol: &Protocol,
    findings: &mut Vec<Finding>,
) {
    for (party_id, preferences) in &protocol.preferences {
        let party = match &contest.kind {
            ContestKind::PartyList(list) => list.parties.iter().find(|p| &p.id == party_id),
            ContestKind::SingleMember(_) => None,
        };
        let Some(party) = party else {
            findings.push(
                Finding::new("E305")
                    .on_line(party_id)
                    .with("party", party_id)
                    .with("contest", &contest.id),
            );
            continue;
        };
        for candidate in preferences.keys() {
            if !party.candidates.iter().any(|c| &c.id == candidate) {
                findings.push(
                    Finding::new("E306")
                        .on_line(party_id)
                        .with("candidate", candidate)
                        .with("party", party_id),
                );
            }
        }
        let sum: u128 = preferences.values().map(|&v| u128::from(v)).sum();
        let votes = protocol.votes.get(party_id).copied().unwrap_or(0);
        if sum > u128::from(votes) {
            findings.push(
                Finding::new("E307")
                    .on_line(party_id)
                    .with("party", party_id)
                    .with("sum", sum)
                    .with("votes", votes),
            );
        }
    }
}

/// No number above 2^53 − 1 (a protocol built in memory, not decoded, can carry one).
fn check_sizes(protocol: &Protocol, findings: &mut Vec<Finding>) {
    let lines = protocol.lines.iter().map(|(k, v)| (k, v, "lines"));
    let votes = protocol.votes.iter().map(|(k, v)| (k, v, "votes"));
    for (line, &value, group) in lines.chain(votes) {
        if value > MAX_COUNT {
            findings.push(
                Finding::new("E009")
                    .on_line(line)
                    .with("field", format!("{group}.{line}"))
                    .with("value", value),
            );
        }
    }
    for (party, preferences) in &protocol.preferences {
        for (candidate, &value) in preferences {
            if value > MAX_COUNT {
                findings.push(
                    Finding::new("E009")
                        .on_line(party)
                        .with("field", format!("preferences.{party}.{candidate}"))
                        .with("value", value),
                );
            }
        }
    }
}

/// Each control relation of the form whose terms are all there: its lines present and, for
/// `sum(options)`, exactly the ballot's options (a missing line is reported once, as itself,
/// not again as every relation it is in).
fn check_relations(
    contest: &crate::election::Contest,
    form: &Form,
    protocol: &Protocol,
    findings: &mut Vec<Finding>,
) {
    let options = contest.option_ids();
    let options_complete = options.len() == protocol.votes.len()
        && options.iter().all(|o| protocol.votes.contains_key(*o));
    let sum_options: u64 = protocol.votes.values().fold(0u64, |a, &v| a.saturating_add(v));
    for relation in &form.relations {
        if relation.lines().any(|line| !protocol.lines.contains_key(line)) {
            continue;
        }
        if relation.uses_sum_options() && !options_complete {
            continue;
        }
        let (holds, left, right) = relation.check(&protocol.lines, sum_options);
        if !holds {
            let mut finding = Finding::new("E401")
                .with("relation", &relation.text)
                .with("left", left)
                .with("right", right);
            if let Some(first) = relation.lines().next() {
                finding = finding.on_line(first);
            }
            findings.push(finding);
        }
    }
}

/// Ballots issued and the `registered` line against the station's register.
fn check_register(
    election: &Election,
    station: &crate::election::Station,
    form: &Form,
    protocol: &Protocol,
    findings: &mut Vec<Finding>,
) {
    let margin = election.rules.ballots_over_registered;
    if form.took_part.lines().all(|line| protocol.lines.contains_key(line)) {
        let took_part = form.took_part.eval(&protocol.lines, 0);
        if took_part > i128::from(station.registered) + i128::from(margin) {
            let mut finding = Finding::new("E402")
                .with("took_part", took_part)
                .with("registered", station.registered)
                .with("margin", margin);
            if let Some(first) = form.took_part.lines().next() {
                finding.line = Some(first.to_string());
            }
            findings.push(finding);
        }
    }
    if let Some(&value) = protocol.lines.get(&form.registered) {
        if value.abs_diff(station.registered) > margin {
            findings.push(
                Finding::new("E403")
                    .on_line(&form.registered)
                    .with("value", value)
                    .with("registered", station.registered)
                    .with("margin", margin),
            );
        }
    }
}

/// The scan hash, and what a correction replaces.
/// The attachments' checks that need no context: the scan's hash (`E501`) and an official
/// correction's source (`E505`).
fn check_attachments_alone(protocol: &Protocol, findings: &mut Vec<Finding>) {
    if let Some(hash) = &protocol.scan_sha256 {
        let hex = hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex {
            findings.push(Finding::new("E501").with("value", hash));
        }
    }
    let Some(supersedes) = &protocol.supersedes else { return };
    let reason = serde_json::to_value(supersedes.reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let official =
        matches!(supersedes.reason, CorrectionReason::Recount | CorrectionReason::CourtOrder);
    if official && protocol.source != Source::Recount {
        findings.push(Finding::new("E505").with("reason", reason));
    }
}

/// The correction's checks against the entry it supersedes (`E502`–`E504`), after
/// [`check_attachments_alone`].
fn check_attachments_in_context(
    protocol: &Protocol,
    context: &ProtocolContext,
    findings: &mut Vec<Finding>,
) {
    let Some(supersedes) = &protocol.supersedes else { return };
    let Some(old) = context.superseded else {
        findings.push(Finding::new("E502").with("index", supersedes.index));
        return;
    };
    if old.station != protocol.station || old.contest != protocol.contest {
        findings.push(
            Finding::new("E503")
                .with("index", supersedes.index)
                .with("old_station", &old.station)
                .with("old_contest", &old.contest),
        );
    }
    if old.source != protocol.source && protocol.source != Source::Recount {
        findings.push(
            Finding::new("E504")
                .with("source", protocol.source.as_str())
                .with("old_source", old.source.as_str()),
        );
    }
}

/// `turnout_percent(10, 40)` is `"25.00"`: a share as a percentage, rounded down to 2 places.
fn percent(num: u128, den: u128) -> String {
    let hundredths = num * 10_000 / den.max(1);
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

fn warn_turnout(
    election: &Election,
    station: &crate::election::Station,
    form: &Form,
    protocol: &Protocol,
    findings: &mut Vec<Finding>,
) {
    let registered = match protocol.lines.get(&form.registered) {
        Some(&value) if value > 0 => value,
        _ => station.registered,
    };
    let took_part = form.took_part.eval(&protocol.lines, 0).max(0) as u128;
    let limit = election.rules.turnout_warning;
    if registered == 0
        || took_part * u128::from(limit.den) <= u128::from(limit.num) * u128::from(registered)
    {
        return;
    }
    let mut finding = Finding::new("W101")
        .with("turnout", percent(took_part, u128::from(registered)))
        .with("limit", percent(u128::from(limit.num), u128::from(limit.den)));
    if let Some(first) = form.took_part.lines().next() {
        finding.line = Some(first.to_string());
    }
    findings.push(finding);
}

fn warn_against_all(
    contest: &crate::election::Contest,
    protocol: &Protocol,
    findings: &mut Vec<Finding>,
) {
    if !contest.against_all {
        return;
    }
    let Some(&against) = protocol.votes.get(AGAINST_ALL) else { return };
    let leader = protocol
        .votes
        .iter()
        .filter(|(id, _)| id.as_str() != AGAINST_ALL)
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)));
    let Some((leader, &leader_votes)) = leader else { return };
    if against > leader_votes {
        findings.push(
            Finding::new("W102")
                .on_line(AGAINST_ALL)
                .with("votes", against)
                .with("leader", leader)
                .with("leader_votes", leader_votes),
        );
    }
}

/// A correction that lowers ballots issued, valid ballots or any option's votes.
fn warn_lowered(
    form: &Form,
    protocol: &Protocol,
    context: &ProtocolContext,
    findings: &mut Vec<Finding>,
) {
    let (Some(_), Some(old)) = (&protocol.supersedes, context.superseded) else { return };
    if old.station != protocol.station || old.contest != protocol.contest {
        return;
    }
    let mut lowered = |line: &str, old: i128, new: i128| {
        if new < old {
            findings.push(Finding::new("W103").on_line(line).with("old", old).with("new", new));
        }
    };
    lowered(
        "took_part",
        form.took_part.eval(&old.lines, 0),
        form.took_part.eval(&protocol.lines, 0),
    );
    if let (Some(&o), Some(&n)) = (old.lines.get(&form.valid), protocol.lines.get(&form.valid)) {
        lowered(&form.valid, o.into(), n.into());
    }
    for (option, &new) in &protocol.votes {
        if let Some(&o) = old.votes.get(option) {
            lowered(option, o.into(), new.into());
        }
    }
}

/// Lines and votes that differ from the other source's count by more than the tolerance.
fn warn_other_source(
    election: &Election,
    protocol: &Protocol,
    context: &ProtocolContext,
    findings: &mut Vec<Finding>,
) {
    let Some(other) = context.other_source else { return };
    if other.station != protocol.station
        || other.contest != protocol.contest
        || other.source == protocol.source
    {
        return;
    }
    let tolerance = election.rules.machine_manual_tolerance;
    let pairs =
        protocol.lines.iter().filter_map(|(k, v)| other.lines.get(k).map(|o| (k, *v, *o))).chain(
            protocol.votes.iter().filter_map(|(k, v)| other.votes.get(k).map(|o| (k, *v, *o))),
        );
    for (line, value, other_value) in pairs {
        let difference = value.abs_diff(other_value);
        if difference > tolerance {
            findings.push(
                Finding::new("W104")
                    .on_line(line)
                    .with("source", protocol.source.as_str())
                    .with("value", value)
                    .with("other_source", other.source.as_str())
                    .with("other_value", other_value)
                    .with("difference", difference)
                    .with("tolerance", tolerance),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_sorted_and_typed_by_their_letter() {
        for pair in RULES.windows(2) {
            assert!(pair[0].code < pair[1].code, "{} before {}", pair[0].code, pair[1].code);
        }
        for rule in RULES {
            let expected =
                if rule.code.starts_with('E') { Severity::Error } else { Severity::Warning };
            assert_eq!(rule.severity, expected, "{}", rule.code);
            assert_eq!(rule.code.len(), 4);
        }
    }

    #[test]
    fn every_language_names_the_same_values() {
        for rule in RULES {
            assert_eq!(placeholders(rule.en), placeholders(rule.ru), "{} ru", rule.code);
            assert_eq!(placeholders(rule.en), placeholders(rule.ky), "{} ky", rule.code);
            assert!(!rule.en.ends_with('.'), "{}: no trailing period", rule.code);
        }
    }

    #[test]
    fn fill_replaces_known_names_only() {
        let f = |name: &str| (name == "a").then(|| "1".to_string());
        assert_eq!(fill("x {a} {b} {", f), "x 1 {b} {");
        assert_eq!(fill("{a}{a}", f), "11");
    }

    #[test]
    fn stored_findings_speak_every_language() {
        let params = [("signer", "box-7")];
        let en = message_of("E103", None, params, "en").unwrap();
        assert_eq!(en, "key box-7 has been revoked; nothing signed with it is accepted any more");
        let ru = message_of("E103", None, params, "ru").unwrap();
        assert_eq!(ru, "ключ box-7 отозван; подписанное им больше не принимается");
        assert_eq!(message_of("H001", None, params, "en"), None);
    }

    #[test]
    fn percent_rounds_down() {
        assert_eq!(percent(95, 100), "95.00");
        assert_eq!(percent(2, 3), "66.66");
        assert_eq!(percent(1200, 1200), "100.00");
    }
}

#[cfg(test)]
mod precheck_tests {
    use super::*;
    use crate::names::CorrectionReason;
    use crate::submission::Supersedes;

    /// `validate_protocol` as one function, as it was before the checks that need only the
    /// election were split off (`precheck_protocol`): the reference the split must reproduce.
    fn in_one_piece(
        election: &Election,
        protocol: &Protocol,
        context: &ProtocolContext,
    ) -> Vec<Finding> {
        let mut findings = Vec::new();
        let station = election.station(&protocol.station);
        if station.is_none() {
            findings.push(Finding::new("E201").with("station", &protocol.station));
        }
        let contest = election.contest(&protocol.contest);
        if contest.is_none() {
            findings.push(Finding::new("E202").with("contest", &protocol.contest));
        }
        let (Some(station), Some(contest)) = (station, contest) else {
            check_attachments_alone(protocol, &mut findings);
            check_attachments_in_context(protocol, context, &mut findings);
            return findings;
        };
        if !contest.covers(station) {
            findings.push(
                Finding::new("E203").with("station", &station.id).with("contest", &contest.id),
            );
        }
        let form = election.form_of(contest);
        let shape_ok = check_shape(contest, form, protocol, &mut findings);
        check_sizes(protocol, &mut findings);
        check_relations(contest, form, protocol, &mut findings);
        check_register(election, station, form, protocol, &mut findings);
        check_attachments_alone(protocol, &mut findings);
        check_attachments_in_context(protocol, context, &mut findings);
        if shape_ok {
            warn_turnout(election, station, form, protocol, &mut findings);
            warn_against_all(contest, protocol, &mut findings);
            warn_lowered(form, protocol, context, &mut findings);
            warn_other_source(election, protocol, context, &mut findings);
        }
        findings.sort_by_key(|f| f.severity == Severity::Warning);
        findings
    }

    /// Variants of `p` that trip every kind of check: unknown station or contest, a missing
    /// line, broken arithmetic, a bad scan hash, corrections for every reason and source.
    fn variants(p: &Protocol, other_station: &str) -> Vec<Protocol> {
        let mut out = vec![p.clone()];
        let mut v = p.clone();
        v.station = "nowhere".into();
        out.push(v.clone());
        v.contest = "nothing".into();
        out.push(v);
        let mut v = p.clone();
        v.contest = "nothing".into();
        v.scan_sha256 = Some("not hex".into());
        out.push(v);
        let mut v = p.clone();
        v.station = other_station.into();
        out.push(v);
        let mut v = p.clone();
        if let Some(first) = v.lines.keys().next().cloned() {
            v.lines.remove(&first);
        }
        out.push(v);
        let mut v = p.clone();
        for votes in v.votes.values_mut() {
            *votes += 7;
        }
        out.push(v);
        let mut v = p.clone();
        if let Some(votes) = v.votes.values_mut().next() {
            *votes = votes.saturating_mul(50).max(1_000_000);
        }
        out.push(v);
        let mut v = p.clone();
        v.scan_sha256 = Some("A".repeat(64));
        out.push(v);
        let reasons = [
            CorrectionReason::KeyingError,
            CorrectionReason::Recount,
            CorrectionReason::CourtOrder,
            CorrectionReason::LateProtocol,
            CorrectionReason::CommissionDecision,
        ];
        for reason in reasons {
            for source in [Source::Machine, Source::Manual, Source::Recount, Source::Observer] {
                let mut v = p.clone();
                v.source = source;
                v.supersedes = Some(Supersedes { index: 17, reason });
                out.push(v.clone());
                v.station = "nowhere".into();
                out.push(v);
            }
        }
        out
    }

    #[test]
    fn the_precheck_and_the_checks_in_context_find_what_one_piece_found_in_its_order() {
        let config = crate::simulate::Config { seed: 3, ..Default::default() };
        let text = include_str!("../../../examples/tiny/election.toml");
        let night = crate::simulate::Night::new("election.toml", text, config).expect("night");
        let election = Election::from_toml("election.toml", &night.election_toml()).unwrap();
        let submissions: Vec<Submission> = (night.submissions().split(|&b| b == b'\n'))
            .filter(|line| !line.is_empty())
            .map(|line| Submission::decode(line).expect("decodes"))
            .collect();
        let protocols: Vec<&Payload> = (submissions.iter().map(|s| &s.payload))
            .filter(|payload| matches!(payload.body, Body::Protocol(_)))
            .collect();
        assert!(protocols.len() >= 20, "{} protocols", protocols.len());
        let (mut compared, mut errors, mut warnings) = (0, 0, 0);
        let mut codes = std::collections::BTreeSet::new();
        for (i, payload) in protocols.iter().enumerate() {
            let Body::Protocol(p) = &payload.body else { unreachable!() };
            let neighbour = match &protocols[(i + 1) % protocols.len()].body {
                Body::Protocol(q) => q,
                _ => unreachable!(),
            };
            let mut lowered = p.clone();
            lowered.votes.values_mut().for_each(|v| *v = v.saturating_sub(3));
            let mut raised = p.clone();
            raised.votes.values_mut().for_each(|v| *v += 100);
            let mut flipped = raised.clone();
            flipped.source =
                if p.source == Source::Machine { Source::Manual } else { Source::Machine };
            let mut moved = p.clone();
            moved.station = neighbour.station.clone();
            let olds = [None, Some(p), Some(&raised), Some(&flipped), Some(&moved), Some(&lowered)];
            let others = [None, Some(&flipped), Some(&raised), Some(neighbour)];
            for v in variants(p, &neighbour.station) {
                let payload = Payload { body: Body::Protocol(v.clone()), ..(*payload).clone() };
                let precheck = precheck_submission(&election, &payload).expect("a protocol");
                for superseded in olds {
                    for other_source in others {
                        let context = ProtocolContext { superseded, other_source };
                        let expected = in_one_piece(&election, &v, &context);
                        assert_eq!(validate_protocol(&election, &v, &context), expected);
                        let prechecked = validate_submission_prechecked(
                            &election,
                            &payload,
                            &context,
                            Some(&precheck),
                        );
                        assert_eq!(prechecked, expected, "protocol {i}: {v:?}");
                        assert_eq!(validate_submission(&election, &payload, &context), expected);
                        compared += 1;
                        errors += usize::from(has_errors(&expected));
                        warnings += usize::from(expected.iter().any(|f| !f.is_error()));
                        codes.extend(expected.iter().map(|f| f.code.to_string()));
                    }
                }
            }
        }
        assert!(errors > 0 && warnings > 0, "{errors} with errors, {warnings} with warnings");
        for code in ["E201", "E202", "E203", "E401", "E501", "E502", "E503", "E504", "E505"] {
            assert!(codes.contains(code), "{code} never found: {codes:?}");
        }
        for code in ["W103", "W104"] {
            assert!(codes.contains(code), "{code} never found: {codes:?}");
        }
        assert!(compared > 1000, "{compared}");
        let mut other = (*protocols[0]).clone();
        other.election = "another".into();
        assert_eq!(precheck_submission(&election, &other), None, "checked in full later");
    }
}
