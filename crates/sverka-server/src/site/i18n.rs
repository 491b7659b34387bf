//! The site's three languages (Kyrgyz, Russian, English): choosing one from `?lang=` or
//! `Accept-Language`, the interface strings, and numbers formatted per locale.

/// A language of the site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    Ky,
    Ru,
    En,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Ky, Lang::Ru, Lang::En];

    /// The BCP 47 code, as used in `?lang=` and `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ky => "ky",
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// The language's own name, for the switch.
    pub fn label(self) -> &'static str {
        match self {
            Lang::Ky => "Кыргызча",
            Lang::Ru => "Русский",
            Lang::En => "English",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.split(['-', '_']).next().unwrap_or("").trim();
        Lang::ALL.into_iter().find(|lang| primary.eq_ignore_ascii_case(lang.code()))
    }

    /// Chooses the language: `?lang=` wins, then the best `Accept-Language` match, then Kyrgyz,
    /// the state language.
    pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = query.and_then(Lang::from_code) {
            return lang;
        }
        let Some(header) = accept_language else { return Lang::Ky };
        let mut best: Option<(u32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("");
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let weight = (quality.clamp(0.0, 1.0) * 1000.0) as u32;
            if let Some(lang) = Lang::from_code(tag) {
                if weight > 0 && best.is_none_or(|(w, _)| weight > w) {
                    best = Some((weight, lang));
                }
            }
        }
        best.map_or(Lang::Ky, |(_, lang)| lang)
    }

    /// An integer with the locale's digit grouping: `1,234,567` (en), `1 234 567` (ky, ru; narrow no-break space).
    pub fn int(self, n: u64) -> String {
        let digits = n.to_string();
        let sep = match self {
            Lang::En => ",",
            Lang::Ky | Lang::Ru => "\u{202f}",
        };
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(sep);
            }
            out.push(ch);
        }
        out
    }

    /// A signed integer, with a real minus sign.
    pub fn signed(self, n: i64) -> String {
        match n.cmp(&0) {
            std::cmp::Ordering::Less => format!("\u{2212}{}", self.int(n.unsigned_abs())),
            std::cmp::Ordering::Equal => "0".to_string(),
            std::cmp::Ordering::Greater => format!("+{}", self.int(n as u64)),
        }
    }

    /// `part / whole` as a percentage with `decimals` decimals: `12.34%` (en), `12,34 %` (ky, ru).
    /// Display only: nothing is decided on this figure.
    pub fn percent(self, part: u64, whole: u64, decimals: usize) -> String {
        if whole == 0 {
            return "—".to_string();
        }
        let scale = 10u128.pow(decimals as u32);
        // Round half up in integers, so the same counts always print the same.
        let scaled =
            (u128::from(part) * 100 * scale * 2 + u128::from(whole)) / (2 * u128::from(whole));
        let int = scaled / scale;
        let frac = scaled % scale;
        let number = if decimals == 0 {
            int.to_string()
        } else {
            let point = if self == Lang::En { '.' } else { ',' };
            format!("{int}{point}{frac:0decimals$}")
        };
        match self {
            Lang::En => format!("{number}%"),
            Lang::Ky | Lang::Ru => format!("{number}\u{a0}%"),
        }
    }

    /// The interface string `msg` in this language.
    pub fn t(self, msg: Msg) -> &'static str {
        let [ky, ru, en] = msg.texts();
        match self {
            Lang::Ky => ky,
            Lang::Ru => ru,
            Lang::En => en,
        }
    }
}

macro_rules! messages {
    ($($name:ident => [$ky:expr, $ru:expr, $en:expr],)*) => {
        /// Interface strings; each has its Kyrgyz, Russian and English text.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Msg { $($name,)* }
        impl Msg {
            /// `[ky, ru, en]`.
            pub fn texts(self) -> [&'static str; 3] {
                match self { $(Msg::$name => [$ky, $ru, $en],)* }
            }
        }
    };
}

messages! {
    Language => ["Тил", "Язык", "Language"],
    Breadcrumbs => ["Жол", "Навигация", "Breadcrumbs"],
    NewResults => ["Жаңы жыйынтыктар бар: баракты жаңыртуу", "Есть новые результаты: обновить страницу", "New results are in: reload the page"],
    Footer => ["Бардык сандар ачык журналдан эсептелген; каалаган адам аларды кайра эсептей алат.", "Все числа вычислены из открытого журнала; любой может их пересчитать.", "Every number is computed from the public log; anyone can recompute it."],
    Country => ["Бардык өлкө", "Вся страна", "Whole country"],
    Preliminary => ["Алдын ала (автоматтык урналар)", "Предварительные (автоматические урны)", "Preliminary (ballot scanners)"],
    Official => ["Расмий (кол менен эсептөө)", "Официальные (ручной подсчёт)", "Official (hand count)"],
    View => ["Көрүнүш", "Вид", "View"],
    Reporting => ["Маалымат берген участоктор", "Участков отчиталось", "Stations reporting"],
    StationsOf => ["участок, бардыгы", "участков из", "stations of"],
    VotersCovered => ["шайлоочулардын тизмедеги үлүшү", "избирателей в списках этих участков", "of registered voters covered"],
    Turnout => ["Катышуу", "Явка", "Turnout"],
    TookPart => ["Катышкандар", "Приняли участие", "Took part"],
    Registered => ["Тизмедеги шайлоочулар", "Избирателей в списках", "Registered voters"],
    Valid => ["Жарактуу бюллетендер", "Действительные бюллетени", "Valid ballots"],
    Invalid => ["Жараксыз бюллетендер", "Недействительные бюллетени", "Invalid ballots"],
    PartyShares => ["Партиялардын үлүштөрү", "Доли партий", "Party shares"],
    ThresholdLine => ["босого", "порог", "threshold"],
    Votes => ["Добуштар", "Голоса", "Votes"],
    Share => ["Үлүш", "Доля", "Share"],
    Margin => ["Босогого чейин", "До порога", "Margin to threshold"],
    Above => ["ашык", "выше порога", "above"],
    Below => ["жетпейт", "не хватает", "short"],
    AgainstAll => ["Баарына каршы", "Против всех", "Against all"],
    Seats => ["Орундар", "Места", "Seats"],
    SeatsProjected => ["Орундар (учурдагы сандар боюнча)", "Места (по текущим данным)", "Seats (on the figures so far)"],
    NoSeatsYet => ["Орундар али бөлүштүрүлгөн жок", "Места ещё не распределены", "No seats allocated yet"],
    ComputedFrom => ["Бул бет журналдын чекитинен эсептелген", "Эта страница вычислена из контрольной точки журнала", "This page was computed from log checkpoint"],
    Entries => ["жазуу", "записей", "entries"],
    Root => ["тамыр хэши", "корневой хеш", "root hash"],
    VerifyIt => ["Текшерүү", "Проверить", "Verify it"],
    NoCheckpoint => ["Журналда али кол коюлган чекит жок", "В журнале ещё нет подписанной контрольной точки", "The log has no signed checkpoint yet"],
    Regions => ["Аймактар", "Регионы", "Regions"],
    Districts => ["Округдар", "Округа", "Districts"],
    Stations => ["Участоктор", "Участки", "Stations"],
    Region => ["Аймак", "Регион", "Region"],
    District => ["Округ", "Округ", "District"],
    Station => ["Участок", "Участок", "Station"],
    Name => ["Аталышы", "Название", "Name"],
    Leader => ["Алдыда", "Лидер", "Leading"],
    FindStation => ["Участокту номери боюнча табуу", "Найти участок по номеру", "Find a station by number"],
    Find => ["Табуу", "Найти", "Find"],
    NotFound => ["Табылган жок", "Не найдено", "Not found"],
    SingleMember => ["Бир мандаттуу округ", "Одномандатный округ", "Single-member district"],
    Candidate => ["Талапкер", "Кандидат", "Candidate"],
    RaceFailed => ["Шайлоо болгон жок: «баарына каршы» алдыда; кайра шайлоо", "Выборы не состоялись: «против всех» впереди; повторные выборы", "Race failed: \"against all\" leads; a re-run is due"],
    Sources => ["Булактар", "Источники", "Sources"],
    Line => ["Сап", "Строка", "Line"],
    SourceMachine => ["Автоматтык урна", "Автоматическая урна", "Ballot scanner"],
    SourceManual => ["Кол менен эсептөө", "Ручной подсчёт", "Hand count"],
    SourceObserver => ["Байкоочунун көчүрмөсү", "Копия наблюдателя", "Observer copy"],
    SourceRecount => ["Кайра эсептөө", "Пересчёт", "Recount"],
    Differs => ["башка булактан айырмаланат", "отличается от другого источника", "differs from another source"],
    History => ["Журналдагы тарых", "История в журнале", "History in the log"],
    Index => ["Номер", "Номер", "Index"],
    Time => ["Убакыт", "Время", "Time"],
    Signer => ["Кол койгон", "Подписал", "Signer"],
    Kind => ["Түрү", "Вид", "Kind"],
    Reason => ["Себеп", "Причина", "Reason"],
    Proof => ["Далил", "Доказательство", "Proof"],
    Warnings => ["Эскертүүлөр", "Предупреждения", "Warnings"],
    NoData => ["Маалымат али жок", "Данных пока нет", "No data yet"],
    Annulled => ["Жокко чыгарылган", "Признан недействительным", "Annulled"],
    Superseded => ["алмаштырылган", "заменено", "superseded"],
    Scan => ["Протоколдун сүрөтү", "Скан протокола", "Protocol scan"],
    Official2 => ["расмий", "официальный", "official"],
    WhatChanged => ["Эмне өзгөрдү", "Что изменилось", "What changed"],
    FromCheckpoint => ["Чекиттен", "От контрольной точки", "From checkpoint"],
    ToCheckpoint => ["чекитке чейин", "до контрольной точки", "to checkpoint"],
    Feeds => ["Агымдар", "Ленты", "Feeds"],
    CameIn => ["Келген участоктор", "Поступившие участки", "Stations that came in"],
    Corrections => ["Оңдоолор", "Исправления", "Corrections"],
    Annulments => ["Жокко чыгаруулар", "Признания недействительными", "Annulments"],
    SharesMoved => ["Өлкө боюнча үлүштөр кантип өзгөрдү", "Как изменились доли по стране", "How the national shares moved"],
    Before => ["Мурун", "Было", "Before"],
    After => ["Кийин", "Стало", "After"],
    ChangePoints => ["Өзгөрүү (пункт)", "Изменение (п.п.)", "Change (points)"],
    Decreases => ["Азайган жыйынтыктар", "Уменьшившиеся итоги", "Totals that went down"],
    NoDecreases => ["Жарыяланган бир дагы жыйынтык азайган жок.", "Ни один опубликованный итог не уменьшился.", "No published total went down."],
    Nothing => ["Жок", "Нет", "None"],
    Contest => ["Шайлоо", "Выборы", "Contest"],
    Level => ["Деңгээл", "Уровень", "Level"],
    Total => ["Жыйынтык", "Итог", "Total"],
    Because => ["Себеби", "Из-за", "Because of"],
    AllContests => ["бардык шайлоолор", "все выборы", "every contest"],
    Replaces => ["алмаштырат", "заменяет", "replaces"],
    StationsCounted => ["Эсептелген участоктор", "Учтённые участки", "Stations counted"],
    Abroad => ["Чет өлкө", "Зарубежье", "Abroad"],
    ReasonKeyingError => ["киргизүү катасы", "ошибка ввода", "keying error"],
    ReasonRecount => ["кайра эсептөө", "пересчёт", "recount"],
    ReasonCourtOrder => ["соттун чечими", "решение суда", "court order"],
    ReasonLateProtocol => ["кечиккен протокол", "поздний протокол", "late protocol"],
    ReasonCommissionDecision => ["комиссиянын чечими", "решение комиссии", "commission decision"],
    ReasonImplicit => ["ошол эле булактын кийинки протоколу", "более поздний протокол того же источника", "a later protocol of the same source"],
    ReasonPrecedence => ["артыкчылыктуу булак келди (мисалы, кол менен эсептөө урнанын ордуна)", "поступил приоритетный источник (например, ручной подсчёт вместо урны)", "a source that outranks the one counted before came in (e.g. a hand count over the scanner)"],
    Arrival => ["келген протокол", "поступивший протокол", "protocol in"],
    Reconciliation => ["Салыштыруу", "Сверка", "Reconciliation"],
    Tolerance => ["жол берилген айырма", "допуск", "tolerance"],
    CouldChange => ["Айырмачылыктар жыйынтыкты өзгөртө алабы?", "Могут ли расхождения изменить итог?", "Could the discrepancies change the outcome?"],
    AnswerYes => ["Ооба: өзгөртө алат", "Да: могут", "Yes: they could"],
    AnswerNo => ["Жок: өзгөртө албайт (далилденген)", "Нет: не могут (доказано)", "No: they cannot (proven)"],
    AnswerPossibly => ["Балким: четке кагууга болбойт", "Возможно: исключить нельзя", "Possibly: it cannot be ruled out"],
    ThresholdAtRisk => ["Босогодон өтүүсү өзгөрүшү мүмкүн", "Прохождение порога может измениться", "Passing the threshold could change for"],
    SeatsAtRisk => ["Орундары өзгөрүшү мүмкүн (азы–көбү, азыр)", "Места могут измениться (минимум–максимум, сейчас)", "Seats could change (lowest–highest, now)"],
    WinnerAtRisk => ["Жеңүүчү болуп калышы мүмкүн", "Победителем может стать", "The winner could instead be"],
    RecountToSettle => ["Маселени чечүү үчүн кайра эсептелүүчү участоктор", "Участки, пересчёт которых решит вопрос", "Stations whose recount would settle it"],
    UpperBound => ["(эң кичине топтом экени далилденген эмес)", "(не доказано, что это наименьший набор)", "(not proven to be the smallest such set)"],
    ClassMatch => ["дал келет", "совпадают", "match"],
    ClassWithin => ["жол берилген чекте", "в пределах допуска", "within tolerance"],
    ClassMissing => ["бир булак жок", "нет одного источника", "one side missing"],
    ClassDiscrepancy => ["айырмачылык", "расхождение", "discrepancy"],
    Unreported => ["маалымат жок", "нет данных", "not reported"],
    Settled => ["кайра эсептөө менен чечилген", "решено пересчётом", "settled by a recount"],
    Rank => ["Орун", "Место", "Rank"],
    Impact => ["Таасири", "Влияние", "Impact"],
    Differences => ["Айырмалар", "Расхождения", "Differences"],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_wins_then_accept_language_by_quality() {
        assert_eq!(Lang::negotiate(Some("en"), Some("ru")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("de, ru;q=0.5, en;q=0.8")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("ru-RU,ru;q=0.9")), Lang::Ru);
        assert_eq!(Lang::negotiate(None, Some("fr")), Lang::Ky);
        assert_eq!(Lang::negotiate(Some("xx"), None), Lang::Ky);
    }

    #[test]
    fn numbers_per_locale() {
        assert_eq!(Lang::En.int(1_234_567), "1,234,567");
        assert_eq!(Lang::Ru.int(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(Lang::En.int(12), "12");
        assert_eq!(Lang::En.percent(1, 3, 2), "33.33%");
        assert_eq!(Lang::Ru.percent(2, 3, 1), "66,7\u{a0}%");
        assert_eq!(Lang::En.percent(1, 0, 1), "—");
        assert_eq!(Lang::En.signed(-1500), "\u{2212}1,500");
    }
}
