//! The workspace's interface strings in Kyrgyz, Russian and English (the sign-in page's too).

use crate::site::i18n::Lang;

macro_rules! texts {
    ($($name:ident => [$ky:expr, $ru:expr, $en:expr $(,)?],)*) => {
        /// Workspace strings; each has its Kyrgyz, Russian and English text.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum T { $($name,)* }
        impl T {
            /// `[ky, ru, en]`.
            pub fn texts(self) -> [&'static str; 3] {
                match self { $(T::$name => [$ky, $ru, $en],)* }
            }
        }
    };
}

/// The name of a role in `lang` (an operator's with the district).
pub fn role_label(lang: Lang, role: &crate::auth::AccountRole) -> String {
    use crate::auth::AccountRole;
    match role {
        AccountRole::Admin => t(lang, T::RoleAdmin).to_string(),
        AccountRole::Operator { district } => t(lang, T::RoleOperatorOf).replace("{d}", district),
        AccountRole::Observer => t(lang, T::RoleObserver).to_string(),
        AccountRole::Auditor => t(lang, T::RoleAuditor).to_string(),
        AccountRole::ReadOnly => t(lang, T::RoleReadOnly).to_string(),
    }
}

/// `text` in `lang`.
pub fn t(lang: Lang, text: T) -> &'static str {
    let [ky, ru, en] = text.texts();
    match lang {
        Lang::Ky => ky,
        Lang::Ru => ru,
        Lang::En => en,
    }
}

texts! {
    Workspace => ["Комиссиянын иш орду", "Рабочее место комиссии", "Commission workspace"],
    SignIn => ["Кирүү", "Вход", "Sign in"],
    SignOut => ["Чыгуу", "Выход", "Sign out"],
    Account => ["Аккаунт", "Учётная запись", "Account"],
    Password => ["Сырсөз", "Пароль", "Password"],
    WrongLogin => ["Аты же сырсөзү туура эмес.", "Неверное имя или пароль.", "Wrong name or password."],
    Locked => [
        "Бул аккаунт көп жолу туура эмес сырсөз киргизилгендиктен убактылуу бөгөттөлгөн. Кайра аракет кылыңыз:",
        "Учётная запись временно заблокирована после нескольких неверных паролей. Повторите после",
        "This account is locked for a while after several wrong passwords. Try again after",
    ],
    Forbidden => [
        "Бул барак сиздин ролуңуз же округуңуз үчүн жабык.",
        "Эта страница закрыта для вашей роли или округа.",
        "This page is closed to your role or district.",
    ],
    BadCsrf => [
        "Форманын мөөнөтү өтүп кеткен же ал башка жерден жөнөтүлгөн. Баракты жаңыртып, кайра аракет кылыңыз.",
        "Форма устарела или отправлена с другого сайта. Обновите страницу и повторите.",
        "The form is stale or was sent from another site. Reload the page and try again.",
    ],
    SignedInAs => ["Кирген:", "Вы вошли как", "Signed in as"],
    Districts => ["Округдор", "Округа", "Districts"],
    District => ["Округ", "Округ", "District"],
    Station => ["Участок", "Участок", "Station"],
    Contest => ["Добуш берүү", "Голосование", "Contest"],
    State => ["Абалы", "Состояние", "State"],
    FirstBy => ["Биринчи киргизген", "Первый ввод", "First entry by"],
    SecondBy => ["Экинчи киргизген", "Второй ввод", "Second entry by"],
    EntryIndex => ["Журналдагы жазуу", "Запись в журнале", "Log entry"],
    Action => ["Аракет", "Действие", "Action"],
    Progress => ["Протоколдорду киргизүүнүн жүрүшү", "Ход ввода протоколов", "Protocol entry progress"],
    Projector => ["Проектор үчүн", "Для проектора", "Projector view"],
    Review => ["Карап чыгуу кезеги", "Очереди проверки", "Review queues"],
    AuditLog => ["Аракеттердин журналы", "Журнал действий", "Audit log"],
    StNotStarted => ["башталган эмес", "не начат", "not started"],
    StFirstEntry => ["биринчи киргизүү", "первый ввод", "first entry"],
    StSecondEntry => ["экинчи киргизүү", "второй ввод", "second entry"],
    StDifferences => ["айырмачылыктар", "расхождения", "differences"],
    StAccepted => ["кабыл алынды", "принят", "accepted"],
    StCorrected => ["оңдолду", "исправлен", "corrected"],
    StRecounted => ["БШК кайра эсептеди", "пересчитан ЦИК", "recounted by the CEC"],
    RecountedNoCorrection => [
        "Бул протоколду БШК кайра эсептеген: аны БШК гана өзгөртө алат (кайра эсептөөнү сураныңыз).",
        "Этот протокол пересчитан ЦИК: изменить его может только ЦИК (запросите пересчёт).",
        "The CEC recounted this protocol: only the CEC can change it (request a recount).",
    ],
    StartCorrectionSecond => [
        "Оңдоонун экинчи киргизүүсүн баштоо",
        "Начать второй ввод исправления",
        "Start the correction's second entry",
    ],
    StartEntry => ["Киргизүүнү баштоо", "Начать ввод", "Start entry"],
    StartSecond => ["Экинчи киргизүүнү баштоо", "Начать второй ввод", "Start second entry"],
    Continue => ["Улантуу", "Продолжить", "Continue"],
    Resolve => ["Айырмачылыктарды чечүү", "Разрешить расхождения", "Resolve differences"],
    Correct => ["Оңдоо", "Исправить", "Correct"],
    Finalise => ["Киргизүүнү аяктоо", "Завершить ввод", "Finish entry"],
    EntryOf => ["Протоколду киргизүү", "Ввод протокола", "Protocol entry"],
    FirstEntryOf => ["биринчи киргизүү", "первый ввод", "first entry"],
    SecondEntryOf => ["экинчи киргизүү", "второй ввод", "second entry"],
    Lines => ["Протоколдун саптары", "Строки протокола", "Protocol lines"],
    Votes => ["Добуштар", "Голоса", "Votes"],
    Errors => ["Каталар (протокол жөнөтүлбөйт)", "Ошибки (протокол не будет отправлен)", "Errors (the protocol cannot be sent)"],
    Warnings => ["Эскертүүлөр (түшүндүрмө керек)", "Предупреждения (нужно пояснение)", "Warnings (an explanation is needed)"],
    Explanation => ["Түшүндүрмө", "Пояснение", "Explanation"],
    NotANumber => ["бүтүн сан эмес", "не целое число", "is not a whole number"],
    Missing => ["толтурулган эмес", "не заполнено", "is empty"],
    LiveChecks => ["Текшерүүлөр", "Контроль", "Checks"],
    AllHold => ["Бардык текшерүү катыштары аткарылды.", "Все контрольные соотношения выполняются.", "Every control relation holds."],
    Saved => ["Киргизүү сакталды.", "Ввод сохранён.", "The entry is saved."],
    NotYours => [
        "Бул протоколду башка оператор киргизип жатат.",
        "Этот протокол вводит другой оператор.",
        "Another operator is keying this protocol.",
    ],
    SamePerson => [
        "Экинчи киргизүүнү башка адам жасашы керек.",
        "Второй ввод должен сделать другой человек.",
        "The second entry must be made by another person.",
    ],
    ThirdPerson => [
        "Айырмачылыктарды эки киргизүүчүнүн бири да эмес үчүнчү адам чечет.",
        "Расхождения разрешает третий человек, не вводивший протокол.",
        "Differences are resolved by a third person, neither of the two who keyed.",
    ],
    WrongState => [
        "Протокол азыр бул кадамда эмес.",
        "Протокол сейчас не на этом шаге.",
        "The protocol is not at this step now.",
    ],
    Field => ["Талаа", "Поле", "Field"],
    FirstValue => ["Биринчи киргизүү", "Первый ввод", "First entry"],
    SecondValue => ["Экинчи киргизүү", "Второй ввод", "Second entry"],
    Keep => ["Кабыл алуу", "Принять", "Keep"],
    DiscardBoth => ["Экөөнү тең жокко чыгарып, кайра киргизүү", "Отбросить оба и ввести заново", "Discard both and key again"],
    ApplyResolution => ["Чечимди колдонуу", "Применить решение", "Apply the resolution"],
    Submitted => ["Журналга кол коюлган жазуу катары кошулду:", "Добавлен в журнал как подписанная запись:", "Added to the log as signed entry"],
    Refused => ["Журнал кабыл алган жок:", "Журнал не принял:", "The log refused it:"],
    NoSigningKey => [
        "Бул округ үчүн кол коюу ачкычы катталган эмес (sverka accounts signing-key).",
        "Для этого округа не зарегистрирован ключ подписи (sverka accounts signing-key).",
        "No signing key is registered for this district (sverka accounts signing-key).",
    ],
    Reason => ["Себеби", "Основание", "Reason"],
    ReasonKeyingError => ["киргизүүдөгү ката", "ошибка ввода", "keying error"],
    ReasonRecount => ["кайра эсептөө", "пересчёт", "recount"],
    ReasonCourtOrder => ["соттун чечими", "решение суда", "court order"],
    ReasonLateProtocol => ["кечиккен протокол", "поздний протокол", "late protocol"],
    ReasonCommissionDecision => ["комиссиянын чечими", "решение комиссии", "commission decision"],
    CorrectionOf => ["Протоколду оңдоо", "Исправление протокола", "Correction of the protocol"],
    CorrectionNote => [
        "Оңдоо — мурунку жазууну алмаштырган жаңы жазуу; мурунку версия тарыхта калат.",
        "Исправление — новая запись, заменяющая прежнюю; прежняя версия остаётся в истории.",
        "A correction is a new entry that supersedes the old one; the old version stays in the history.",
    ],
    Quarantine => ["Карантин", "Карантин", "Quarantine"],
    QuarantineNote => [
        "Журнал четке каккан билдирүүлөр, коддору менен. Оңдоо: протоколду кайра туура киргизүү.",
        "Сообщения, отклонённые журналом, с кодами. Исправление: ввести протокол заново правильно.",
        "Submissions the log refused, with their codes. Fix: key the protocol again, correctly.",
    ],
    MachineManual => ["Машина менен кол эсебинин айырмасы", "Расхождение машинного и ручного подсчёта", "Machine vs hand count beyond tolerance"],
    MachineManualNote => [
        "Айырмасы жол берилген чектен ашкан участоктор. Оңдоо: киргизүүдөгү ката болсо оңдоо, болбосо кайра эсептөөнү сураныңыз.",
        "Участки, где разница больше допустимой. Исправление: исправить ошибку ввода либо запросить пересчёт.",
        "Stations where the difference is above the tolerance. Fix: correct a keying error, or ask for a recount.",
    ],
    ObserverCopies => ["Байкоочулардын көчүрмөлөрү айырмаланат", "Копии наблюдателей расходятся", "Observer copies that differ"],
    ObserverNote => [
        "Оңдоо: кагаз протоколду текшериңиз; айырма чын болсо, БШКдан жокко чыгарууну же кайра эсептөөнү сураныңыз.",
        "Исправление: сверьте с бумажным протоколом; если расхождение подтверждается — запросите в ЦИК аннулирование или пересчёт.",
        "Fix: check the paper protocol; if the difference holds, ask the CEC for an annulment or a recount.",
    ],
    WarningsExplained => ["Түшүндүрмө берилген эскертүүлөр", "Предупреждения с пояснениями", "Warnings and their explanations"],
    WarningsPending => ["Түшүндүрмөсү жок эскертүүлөр", "Предупреждения без пояснений", "Warnings awaiting an explanation"],
    Explain => ["Түшүндүрүү", "Пояснить", "Explain"],
    NothingHere => ["Азырынча эч нерсе жок.", "Пока ничего нет.", "Nothing here yet."],
    Total => ["Бардыгы", "Всего", "Total"],
    Codes => ["Коддор", "Коды", "Codes"],
    Received => ["Алынды", "Получено", "Received"],
    Sender => ["Жөнөтүүчү", "Отправитель", "Sender"],
    Line => ["Сап", "Строка", "Line"],
    History => ["Тарых", "История", "History"],
    When => ["Качан", "Когда", "When"],
    Who => ["Ким", "Кто", "Who"],
    What => ["Эмне", "Что", "What"],
    Published => ["Жарыяланган натыйжалар", "Опубликованные результаты", "Published results"],
    RoleAdmin => ["администратор", "администратор", "administrator"],
    RoleOperatorOf => ["{d} округунун оператору", "оператор округа {d}", "operator of {d}"],
    RoleObserver => ["байкоочу", "наблюдатель", "observer"],
    RoleAuditor => ["аудитор", "аудитор", "auditor"],
    RoleReadOnly => ["окуу үчүн гана", "только чтение", "read-only"],
    Release => ["Протоколду бошотуу", "Освободить протокол", "Release this protocol"],
    ReleaseClaim => ["Бошотуу", "Освободить", "Release"],
    ReleaseNote => [
        "Бошотулган кадамды башка оператор ала алат; терилген сандар сакталбайт.",
        "Освобождённый шаг может взять другой оператор; набранные числа не сохраняются.",
        "Another operator can take a released step; numbers typed so far are not kept.",
    ],
    ClaimedSince => ["ээлеген убакыт:", "занят с", "claimed since"],
    RequestRecount => ["Кайра эсептөөнү суроо", "Запросить пересчёт", "Request a recount"],
    RequestAnnulment => ["Жокко чыгарууну суроо", "Запросить аннулирование", "Request an annulment"],
    RequestNote => [
        "Суроо БШКнын администраторлорунун кезегине түшөт; алар аны кол коюлган жазуу менен аткарат же себебин жазып четке кагат.",
        "Запрос попадает в очередь администраторов ЦИК; они исполняют его подписанной записью или отклоняют с объяснением.",
        "The request goes to the CEC administrators' queue; they carry it out as a signed entry or decline it with their reasons.",
    ],
    RequestReason => ["Эмне үчүн (эмне табылды, кайсы саптарда)", "Почему (что обнаружено, в каких строках)", "Why (what was found, on which lines)"],
    SendRequest => ["Суроону жөнөтүү", "Отправить запрос", "Send the request"],
    Requests => ["БШКга суроолор", "Запросы в ЦИК", "Requests to the CEC"],
    RequestsNote => [
        "Жокко чыгаруу жана кайра эсептөө — БШКнын ачкычы менен кол коюлган жазуулар: БШКнын администратору ар бир суроону ушул жерден карайт.",
        "Аннулирование и пересчёт — записи, подписанные ключом ЦИК: администратор ЦИК рассматривает каждый запрос здесь.",
        "Annulments and recounts are entries signed with a CEC key: a CEC administrator acts on each request here.",
    ],
    KindAnnulment => ["жокко чыгаруу", "аннулирование", "annulment"],
    KindRecount => ["кайра эсептөө", "пересчёт", "recount"],
    ReqOpen => ["ачык", "открыт", "open"],
    ReqDone => ["аткарылды", "исполнен", "done"],
    ReqDeclined => ["четке кагылды", "отклонён", "declined"],
    ActOn => ["Кароо", "Рассмотреть", "Act on it"],
    RequestedBy => ["Сураган", "Запросил", "Requested by"],
    Decision => ["БШКнын чечими (номери жана күнү)", "Решение ЦИК (номер и дата)", "CEC decision (number and date)"],
    SignAnnulment => ["Жокко чыгарууга кол коюу", "Подписать аннулирование", "Sign the annulment"],
    SignRecount => ["Кайра эсептөөгө кол коюу", "Подписать пересчёт", "Sign the recount"],
    Decline => ["Четке кагуу", "Отклонить", "Decline"],
    DeclineWhy => ["Эмне үчүн четке кагылат", "Почему отклонён", "Why it is declined"],
    WholeStation => ["Участоктун бардык добуш берүүлөрү", "Все голосования участка", "Every contest of the station"],
    RecountOf => ["Кайра эсептөө", "Пересчёт", "Recount"],
    Replaces => ["Алмаштырат: журналдагы жазуу", "Заменяет запись журнала", "Replaces log entry"],
    NothingToRecount => [
        "Журналда бул участоктун алмаштыра турган протоколу жок.",
        "В журнале нет протокола этого участка, который можно заменить.",
        "The log holds no protocol of this station to replace.",
    ],
    NoCecKey => [
        "БШКнын кол коюу ачкычы катталган эмес (sverka accounts signing-key --cec).",
        "Ключ подписи ЦИК не зарегистрирован (sverka accounts signing-key --cec).",
        "No CEC signing key is registered (sverka accounts signing-key --cec).",
    ],
    Scan => ["Протоколдун скани (сүрөт же PDF)", "Скан протокола (фото или PDF)", "Protocol scan (photo or PDF)"],
    UploadScan => ["Жүктөө", "Загрузить", "Upload"],
    ScanNote => [
        "JPEG, PNG же PDF, 8 МБ чейин. Анын SHA-256 хэши протоколго кол коюлат жана скан протокол менен кошо жарыяланат.",
        "JPEG, PNG или PDF, до 8 МБ. Его SHA-256 подписывается в протоколе, скан публикуется вместе с ним.",
        "JPEG, PNG or PDF, at most 8 MB. Its SHA-256 is signed into the protocol and the scan is published with it.",
    ],
    ScanTooLarge => ["Файл 8 МБдан чоң.", "Файл больше 8 МБ.", "The file is larger than 8 MB."],
    ScanWrongType => [
        "Файлдын мазмуну JPEG, PNG же PDF эмес.",
        "Содержимое файла — не JPEG, PNG и не PDF.",
        "The file's content is not a JPEG, PNG or PDF.",
    ],
    ScanMissing => ["Файл тандалган эмес.", "Файл не выбран.", "No file was chosen."],
    ScanNone => ["Скан жүктөлгөн эмес.", "Скан не загружен.", "No scan attached yet."],
    OpenScan => ["Сканды өзүнчө ачуу", "Открыть скан отдельно", "Open the scan on its own"],
    CorrectionSecondOf => ["оңдоонун экинчи киргизүүсү", "второй ввод исправления", "second entry of the correction"],
    CorrectionAwaiting => ["оңдоо: экинчи киргизүү күтүлүүдө", "исправление: ждёт второго ввода", "correction: awaiting the second entry"],
    CorrectionDiffers => ["оңдоо: айырмачылыктар", "исправление: расхождения", "correction: differences"],
    KeyCorrection => ["Оңдоону кайра киргизүү", "Ввести исправление повторно", "Key the correction again"],
    ReasonChosenBy => ["Себебин тандаган:", "Основание выбрал(а):", "Reason chosen by"],
    CorrectionTwice => [
        "Оңдоо протокол сыяктуу эки жолу киргизилет: экинчи адам сандарды кагаздан өз алдынча кайра терет.",
        "Исправление вводится дважды, как протокол: второй человек независимо набирает числа с бумаги.",
        "A correction is keyed twice like a protocol: a second person keys the numbers again from the paper.",
    ],
    StationPage => ["Участоктун барагы", "Страница участка", "Station page"],
    Versions => ["Журналдагы версиялары", "Версии в журнале", "Versions in the log"],
    Superseded => ["алмаштырылган", "заменена", "superseded"],
    Current => ["учурдагы", "текущая", "current"],
    Source => ["Булак", "Источник", "Source"],
    KeyHint => [
        "Enter — кийинки талаа; акыркы талаада Enter — аяктоо.",
        "Enter — следующее поле; на последнем поле Enter завершает ввод.",
        "Enter moves to the next field; on the last field Enter finishes the entry.",
    ],
}
