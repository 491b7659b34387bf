#!/usr/bin/env python3
"""Generates examples/kyrgyzstan-2021/election.toml and simulate.toml from the facts in
../shared/data/kyrgyzstan-2021.md (numbers copied below, with where each one comes from).

Python 3 standard library only, deterministic: the same arguments always write the same bytes (it uses
its own splitmix64 generator, never `random`, whose algorithms may change between Python versions).

    python3 examples/kyrgyzstan-2021/generate.py            # rewrites both files beside this script
    python3 examples/kyrgyzstan-2021/generate.py --check    # exit 1 if the committed files are stale

What is a fact and what is synthetic:
  fact       21 parties with their ballot numbers; 54 list seats, Hare, 5% of took part; 36 districts;
             2,494 stations (2,435 in the country, 59 abroad); 3,703,420 registered (3,619,292 in the
             country); the national shares written to simulate.toml (CEC final for the six winners,
             election-night machine shares for the others and for "against all"); took part 34.61%.
  unconfirmed  the regional threshold (0.5% of took part in each of 7 oblasts + Bishkek + Osh, the pre-2021
             wording), the protocol form (the Russian analogue), whether voters abroad count regionally.
  synthetic  how stations, voters and districts spread over the regions (plausible, not the CEC's lists),
             station and district names, every candidate (names, sexes, list sizes), the tie seed.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------------------------------
# Facts (../shared/data/kyrgyzstan-2021.md)

REGISTERED_TOTAL = 3_703_420
REGISTERED_IN_COUNTRY = 3_619_292
STATIONS_IN_COUNTRY = 2_435
STATIONS_ABROAD = 59
DISTRICTS = 36
LIST_SEATS = 54
TOOK_PART_SHARE = 0.3461  # 1,281,622 / 3,703,420
AGAINST_ALL_SHARE = 0.0217  # election-night machine share; the final figure is unconfirmed

# (ballot number, id, English, Russian, Kyrgyz, share of took part in %, whether the share is the CEC
# final (True) or the election-night machine share (False)).
#
# Kyrgyz names as the CEC listed them on 28 November 2021 (shailoo.gov.kg, news 5978, "21 саясий
# партиядан 1006 талапкер"). Russian names as Russian-language reporting (24.kg, Kloop, Kabar) wrote
# them; most parties use their Kyrgyz name in Russian too (see the note below the table).
PARTIES = [
    (1, "ata-meken", "Ata-Meken", "Ата-Мекен", "Ата-Мекен", 3.48, False),
    (2, "butun", "Butun Kyrgyzstan", "Бутун Кыргызстан", "Бутун Кыргызстан", 7.04, True),
    (3, "alliance", "Alliance", "Альянс", "Альянс", 8.35, True),
    (4, "legalize", "Legalize", "Легалайз", "Легалайз", 0.62, False),
    (5, "yiman-nuru", "Yiman Nuru", "Ыйман Нуру", "Ыйман Нуру", 6.17, True),
    (6, "kuchtuu-region", "Kuchtuu Region", "Кучтуу регион", "Күчтүү регион", 0.62, False),
    (7, "bagyt", "Bagyt", "Либерально-демократическая партия Кыргызстана «Багыт»",
     "«Багыт» Кыргызстандын либералдык-демократиялык партиясы", 0.95, False),
    (8, "yntymak", "Yntymak", "Ынтымак", "Ынтымак", 11.00, True),
    (9, "ishenim", "Ishenim", "Ишеним", "Ишеним", 13.61, True),
    (10, "azattyk", "Azattyk", "Азаттык", "Азаттык", 4.01, False),
    (11, "mekenchil-el", "Mekenchil El", "Мекенчил Эл", "Мекенчил Эл", 1.54, False),
    (12, "green", "Green Party of Kyrgyzstan", "Партия зелёных Кыргызстана",
     "Кыргызстандын жашылдар партиясы", 0.41, False),
    (13, "zhashasyn", "Zhashasyn Kyrgyzstan", "Жашасын Кыргызстан", "Жашасын Кыргызстан", 0.44, False),
    (14, "social-democrats", "Social Democrats", "Социал-демократы", "Социал-демократтар", 3.21, False),
    (15, "aruuzat", "Aruuzat - El Kutu", "Аруузат — Эл Куту", "Аруузат – Эл Куту", 0.46, False),
    (16, "patriots", "Patriotic Party of Unity", "Патриотическая партия единения Кыргызстана",
     "Кыргызстанды бириктирүүчү патриоттук партия", 0.96, False),
    (17, "uluttar-birimdigi", "Uluttar Birimdigi", "Улуттар Биримдиги", "Улуттар Биримдиги", 2.48, False),
    (18, "el-umutu", "El Umutu", "Эл Умуту", "Эл Умуту", 4.46, False),
    (19, "ordo", "Ordo", "Ордо", "Ордо", 0.46, False),
    (20, "uluu-jurt", "Uluu-Jurt", "Улуу-Журт", "Улуу-Журт", 0.71, False),
    (21, "ata-jurt", "Ata-Jurt Kyrgyzstan", "Ата-Журт Кыргызстан", "Ата-Журт Кыргызстан", 17.32, True),
]
# Russian forms: the long names of "bagyt", "green" and "patriots" are those of the CEC's October 2021
# notices as casian.info listed them; every other party is written in Russian with its Kyrgyz name.
# English names are the facts file's; "Aruuzat - El Kutu" and the other Kyrgyz names are transliterated.

# (id, Kyrgyz, Russian, English, share of the country's registered voters, mean voters per station,
# districts). The shares and station sizes are plausible (cities have fewer, larger stations), not the
# CEC's lists; the districts add up to 36.
REGIONS = [
    ("batken", "Баткен облусу", "Баткенская область", "Batken oblast", 0.083, 1300, 3),
    ("chui", "Чүй облусу", "Чуйская область", "Chui oblast", 0.163, 1500, 6),
    ("issyk-kul", "Ысык-Көл облусу", "Иссык-Кульская область", "Issyk-Kul oblast", 0.085, 1300, 3),
    ("jalal-abad", "Жалал-Абад облусу", "Джалал-Абадская область", "Jalal-Abad oblast", 0.175, 1300, 6),
    ("naryn", "Нарын облусу", "Нарынская область", "Naryn oblast", 0.048, 1000, 2),
    ("osh-oblast", "Ош облусу", "Ошская область", "Osh oblast", 0.195, 1300, 7),
    ("talas", "Талас облусу", "Таласская область", "Talas oblast", 0.044, 1100, 2),
    ("bishkek", "Бишкек шаары", "город Бишкек", "Bishkek city", 0.155, 2400, 5),
    ("osh-city", "Ош шаары", "город Ош", "Osh city", 0.052, 2000, 2),
]
# Station numbers: the first digit is the region's block (synthetic numbering, 4 digits as on the CEC
# site); stations abroad are 0001 to 0059.
REGION_BLOCK = {
    "batken": 1, "jalal-abad": 2, "issyk-kul": 3, "naryn": 4, "osh-oblast": 5, "talas": 6,
    "chui": 7, "bishkek": 8, "osh-city": 9,
}
BISHKEK_DISTRICTS = ["Leninsky-1", "Leninsky-2", "Oktyabrsky", "Pervomaisky", "Sverdlovsky"]
BISHKEK_DISTRICTS_RU = ["Ленинский-1", "Ленинский-2", "Октябрьский", "Первомайский", "Свердловский"]
BISHKEK_DISTRICTS_KY = ["Ленин-1", "Ленин-2", "Октябрь", "Биринчи май", "Свердлов"]
# "Against all" beat every candidate in these two Bishkek districts in 2021 (facts file).
AGAINST_ALL_DISTRICTS = {"Pervomaisky": 0.24, "Sverdlovsky": 0.22}

# Where Kyrgyz citizens vote abroad (most of the 59 stations were in Russia); synthetic spread.
ABROAD_CITIES = [
    ("Moscow", 14), ("Saint Petersburg", 5), ("Yekaterinburg", 3), ("Novosibirsk", 2),
    ("Krasnoyarsk", 2), ("Kazan", 2), ("Samara", 2), ("Irkutsk", 2), ("Surgut", 2), ("Tomsk", 1),
    ("Yakutsk", 1), ("Tyumen", 1), ("Nizhny Novgorod", 1), ("Rostov-on-Don", 1), ("Vladivostok", 1),
    ("Almaty", 2), ("Nur-Sultan", 1), ("Tashkent", 1), ("Dushanbe", 1), ("Istanbul", 2),
    ("Ankara", 1), ("Dubai", 1), ("Seoul", 2), ("Washington", 1), ("New York", 1), ("London", 1),
    ("Berlin", 1), ("Prague", 1), ("Beijing", 1), ("Tokyo", 1), ("Baku", 1),
]

VENUES = ["School No. {n}", "Secondary school No. {n}", "Lyceum No. {n}", "Gymnasium No. {n}",
          "House of Culture", "Village club", "Ayil okmotu building", "Kindergarten No. {n}",
          "Medical college", "Sports school", "Library No. {n}", "Vocational school No. {n}"]

MALE = ["Aibek", "Almaz", "Azamat", "Bakyt", "Bolot", "Daniyar", "Emil", "Ermek", "Erlan", "Ilim",
        "Kanat", "Kubanychbek", "Marat", "Mirlan", "Nurlan", "Omurbek", "Ruslan", "Sanjar", "Talant",
        "Temirlan", "Ulan", "Urmat", "Zhanybek", "Zhyrgalbek", "Asylbek", "Chyngyz", "Adilet", "Beksultan"]
FEMALE = ["Aida", "Aigul", "Ainura", "Aizada", "Asel", "Begimai", "Cholpon", "Dinara", "Elmira",
          "Gulnara", "Gulzat", "Jyldyz", "Kalys", "Meerim", "Nazgul", "Nurzhan", "Saltanat", "Tolgonai",
          "Venera", "Zhazgul", "Aziza", "Bermet", "Aikanysh", "Kanykei"]
SURNAME_ROOTS = ["Asan", "Bek", "Osmon", "Isak", "Tokon", "Sadyk", "Jumabai", "Ali", "Kadyr", "Nur",
                 "Usen", "Sultan", "Kasym", "Tash", "Mamyt", "Abdrakhman", "Japar", "Toktogul", "Sydyk",
                 "Omur", "Kurmanbek", "Akmat", "Esen", "Duishen", "Mambet", "Turdu", "Zhoro", "Kalyk"]


class Rng:
    """splitmix64: tiny, fast, and the same everywhere."""

    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFFFFFFFFFF

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) / float(1 << 53)

    def below(self, n):
        return self.next() % n

    def choice(self, items):
        return items[self.below(len(items))]


def apportion(total, weights):
    """Largest remainder: integers proportional to weights that sum to exactly `total`."""
    s = sum(weights)
    quotas = [total * w / s for w in weights]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def person(rng, sex):
    first = rng.choice(FEMALE if sex == "female" else MALE)
    root = rng.choice(SURNAME_ROOTS)
    style = rng.below(5)
    if style == 0:
        last = f"{root} uulu" if sex == "male" else f"{root} kyzy"
    else:
        last = f"{root}ov" if sex == "male" else f"{root}ova"
    return f"{first} {last}"


def q(text):
    """A TOML basic string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def names(ky, ru, en):
    return "{ ky = %s, ru = %s, en = %s }" % (q(ky), q(ru), q(en))


# --------------------------------------------------------------------------------------------------
# Geography


def build_geography(rng):
    """Regions, districts and stations with registered voters that add up exactly."""
    region_registered = apportion(REGISTERED_IN_COUNTRY, [r[4] for r in REGIONS])
    region_stations = apportion(STATIONS_IN_COUNTRY, [r[4] / r[5] for r in REGIONS])
    districts, stations = [], []
    number = 0
    for (rid, ky, ru, en, _share, _size, n_districts), registered, n_stations in zip(
        REGIONS, region_registered, region_stations
    ):
        # Districts of one region have about the same number of voters (the law asks for equal
        # districts); stations are split among them evenly with a little noise.
        per_district_stations = apportion(n_stations, [1.0 + 0.2 * rng.uniform() for _ in range(n_districts)])
        per_district_registered = apportion(registered, per_district_stations)
        block = REGION_BLOCK[rid]
        station_no = 0
        for d in range(n_districts):
            number += 1
            did = f"d{number:02d}"
            if rid == "bishkek":
                name = names(
                    f"№{number} Бишкек ({BISHKEK_DISTRICTS_KY[d]}) шайлоо округу",
                    f"Избирательный округ № {number} (Бишкек, {BISHKEK_DISTRICTS_RU[d]})",
                    f"District No. {number} (Bishkek, {BISHKEK_DISTRICTS[d]})",
                )
                label = BISHKEK_DISTRICTS[d]
            else:
                name = names(
                    f"№{number} шайлоо округу ({ky})",
                    f"Избирательный округ № {number} ({ru})",
                    f"District No. {number} ({en})",
                )
                label = None
            districts.append((did, rid, name, number, label))
            k = per_district_stations[d]
            # Station sizes vary: a few tiny remote stations, most around the mean, some large ones.
            weights = []
            for _ in range(k):
                u = rng.uniform()
                weights.append(0.3 + 1.2 * u * u if rng.below(40) else 0.05 + 0.1 * u)
            sizes = apportion(per_district_registered[d], weights)
            for size in sizes:
                sid = f"{block}{station_no:03d}"
                station_no += 1
                venue = rng.choice(VENUES).format(n=1 + rng.below(60))
                stations.append((sid, venue, did, size))
    assert number == DISTRICTS and len(stations) == STATIONS_IN_COUNTRY

    abroad_registered = REGISTERED_TOTAL - REGISTERED_IN_COUNTRY
    abroad_names = []
    for city, n in ABROAD_CITIES:
        for i in range(n):
            abroad_names.append(f"{city}" + (f" No. {i + 1}" if n > 1 else ""))
    assert len(abroad_names) == STATIONS_ABROAD, len(abroad_names)
    weights = [0.4 + 1.2 * rng.uniform() for _ in abroad_names]
    for i, (label, size) in enumerate(zip(abroad_names, apportion(abroad_registered, weights))):
        stations.append((f"{i + 1:04d}", label, "abroad", size))
    return districts, stations


# --------------------------------------------------------------------------------------------------
# Candidates


def list_size(share):
    """Bigger parties field longer lists: about 10 to 60 candidates."""
    return max(10, min(60, int(12 + share * 3.2)))


def party_candidates(rng, pid, n):
    """A list with at least 30% women: a woman at every third position (2, 5, 8, ...) and a few more."""
    sexes = []
    for pos in range(1, n + 1):
        if pos % 3 == 2 or rng.below(6) == 0:
            sexes.append("female")
        else:
            sexes.append("male")
    assert sexes.count("female") * 10 >= 3 * n
    return [(f"{pid}-{pos}", person(rng, sex), pos, sex) for pos, sex in enumerate(sexes, 1)]


def district_candidates(rng, did, label):
    n = 8 if label in AGAINST_ALL_DISTRICTS else 3 + rng.below(6)
    out = []
    for pos in range(1, n + 1):
        sex = "female" if rng.below(4) == 0 else "male"
        # About half the district candidates are nominated by a party; the rest self-nominated.
        party = PARTIES[rng.below(len(PARTIES))][1] if rng.below(2) == 0 else None
        out.append((f"{did}-{pos}", person(rng, sex), pos, sex, party))
    return out


# --------------------------------------------------------------------------------------------------
# Output

FORM = '''[[forms]]
# The 2021 Kyrgyz protocol form and its official control relations are unconfirmed; these are the lines
# and relations of the Russian precinct protocol, the closest documented analogue (facts file,
# "Protocol lines"), the same as examples/tiny.
id = "protocol"
registered = "registered"
valid = "valid"
invalid = "invalid"
took_part = "issued_early + issued_in_room + issued_outside"
relations = [
  "ballots_received = issued_early + issued_in_room + issued_outside + cancelled + lost - unaccounted",
  "in_portable_boxes + in_stationary_boxes = valid + invalid",
  "in_portable_boxes + in_stationary_boxes <= issued_early + issued_in_room + issued_outside",
  "valid = sum(options)",
]
lines = [
  { id = "registered", name = { ky = "Шайлоочулардын саны", ru = "Число избирателей в списке", en = "Voters on the list" } },
  { id = "ballots_received", name = { ky = "Алынган бюллетендер", ru = "Получено бюллетеней", en = "Ballots received" } },
  { id = "issued_early", name = { ky = "Мөөнөтүнөн мурда берилген", ru = "Выдано досрочно", en = "Issued early" } },
  { id = "issued_in_room", name = { ky = "Шайлоо жайында берилген", ru = "Выдано в помещении", en = "Issued in the room" } },
  { id = "issued_outside", name = { ky = "Жайдан сырткары берилген", ru = "Выдано вне помещения", en = "Issued outside" } },
  { id = "cancelled", name = { ky = "Жокко чыгарылган", ru = "Погашено", en = "Cancelled" } },
  { id = "in_portable_boxes", name = { ky = "Көчмө үкөктөрдө", ru = "В переносных ящиках", en = "In portable boxes" } },
  { id = "in_stationary_boxes", name = { ky = "Стационардык үкөктөрдө", ru = "В стационарных ящиках", en = "In stationary boxes" } },
  { id = "invalid", name = { ky = "Жараксыз", ru = "Недействительных", en = "Invalid" } },
  { id = "valid", name = { ky = "Жарактуу", ru = "Действительных", en = "Valid" } },
  { id = "lost", name = { ky = "Жоголгон", ru = "Утраченных", en = "Lost" } },
  { id = "unaccounted", name = { ky = "Эсепке алынбаган", ru = "Не учтённых при получении", en = "Not accounted for on receipt" } },
]
'''


def election_toml(args):
    rng = Rng(20211128)
    districts, stations = build_geography(rng)
    out = []
    w = out.append
    w("# Kyrgyzstan, Jogorku Kenesh election of 28 November 2021, as a sverka election definition.\n")
    w("# GENERATED by examples/kyrgyzstan-2021/generate.py from ../shared/data/kyrgyzstan-2021.md;\n")
    w("# edit the script, not this file. Facts: the parties and their ballot numbers, the seats and rules,\n")
    w("# the counts of districts and stations, the registered voters (3,703,420; 3,619,292 in the country).\n")
    w("# Synthetic: how voters and stations spread over regions and districts, all names of stations and\n")
    w("# districts, every candidate, the tie seed. Unconfirmed and configurable: the regional threshold\n")
    w("# and the protocol form (see the comments at each).\n")
    w('id = "kg-2021"\n')
    w("name = " + names(
        "Кыргыз Республикасынын Жогорку Кеңешинин депутаттарын шайлоо, 2021",
        "Выборы депутатов Жогорку Кенеша Кыргызской Республики, 2021",
        "Election of deputies of the Jogorku Kenesh of the Kyrgyz Republic, 2021",
    ) + "\n")
    w('date = "2021-11-28"\n')
    w("# Synthetic: the CEC would publish its own seed (e.g. dice rolled in public) before the count.\n")
    w('tie_seed = "kg-2021-public-tie-seed"\n')
    w('log_origin = "sverka.example/kg-2021"\n\n')
    w("[rules]\nballots_over_registered = 10\nturnout_warning = \"0.95\"\nmachine_manual_tolerance = 0\n\n")

    for rid, ky, ru, en, *_ in REGIONS:
        w(f'[[regions]]\nid = "{rid}"\nname = {names(ky, ru, en)}\n\n')
    w('[[regions]]\nid = "abroad"\nname = ' + names("Чет өлкө", "Зарубежье", "Abroad") + "\nabroad = true\n\n")

    for did, rid, name, _number, _label in districts:
        w(f'[[districts]]\nid = "{did}"\nregion = "{rid}"\nname = {name}\n\n')
    w("# Voters abroad vote only in the list race: their district elects nobody (no single_member contest).\n")
    w('[[districts]]\nid = "abroad"\nregion = "abroad"\nname = '
      + names("Чет өлкөдөгү шайлоо участоктору", "Зарубежные избирательные участки", "Stations abroad")
      + "\n\n")

    for sid, name, did, registered in stations:
        w(f'[[stations]]\nid = "{sid}"\nname = {q(name)}\ndistrict = "{did}"\nregistered = {registered}\n\n')

    w(FORM + "\n")

    regions = [r[0] for r in REGIONS] if args.regional_regions == "all" else args.regional_regions.split(",")
    w("[[contests]]\n")
    w('id = "list"\nkind = "party_list"\n')
    w("name = " + names("Бирдиктүү шайлоо округу", "Единый избирательный округ", "Nationwide party lists") + "\n")
    w('form = "protocol"\nagainst_all = true\nseats = %d\nmethod = "hare"\n' % LIST_SEATS)
    w('threshold = { share = "0.05", base = "took_part" }\n')
    if args.regional_threshold != "0":
        w("# UNCONFIRMED: the pre-2021 wording (0.5% of took part in each of the 7 oblasts, Bishkek and Osh);\n")
        w("# the 2021 wording and the treatment of the vote abroad are not settled by any source. Change with\n")
        w("# generate.py --regional-threshold SHARE --regional-regions id,id,... (or 0 to drop it).\n")
        w('regional_threshold = { share = %s, base = "took_part", regions = [%s] }\n'
          % (q(args.regional_threshold), ", ".join(q(r) for r in regions)))
    w('women_min_share = "0.3"\n\n')

    for number, pid, en, ru, ky, share, _final in PARTIES:
        w("[[contests.parties]]\n")
        w(f'id = "{pid}"\nballot_number = {number}\nname = {names(ky, ru, en)}\n')
        w("# Synthetic candidates.\ncandidates = [\n")
        for cid, cname, pos, sex in party_candidates(rng, pid, list_size(share)):
            w(f'  {{ id = "{cid}", name = {q(cname)}, position = {pos}, sex = "{sex}" }},\n')
        w("]\n\n")

    for did, rid, name, number, label in districts:
        w("[[contests]]\n")
        w(f'id = "smd-{number:02d}"\nkind = "single_member"\n')
        w("name = " + names(
            f"№{number} бир мандаттуу шайлоо округу",
            f"Одномандатный избирательный округ № {number}",
            f"Single-member district No. {number}",
        ) + "\n")
        w(f'form = "protocol"\ndistrict = "{did}"\nagainst_all = true\n')
        w("# Synthetic candidates.\ncandidates = [\n")
        for cid, cname, pos, sex, party in district_candidates(rng, did, label):
            extra = f', party = "{party}"' if party else ""
            w(f'  {{ id = "{cid}", name = {q(cname)}, position = {pos}, sex = "{sex}"{extra} }},\n')
        w("]\n\n")
    return "".join(out).rstrip("\n") + "\n", districts


def simulate_toml(districts):
    out = []
    w = out.append
    w("# Targets for `sverka simulate` on the 2021 example (read automatically when it sits beside\n")
    w("# election.toml). GENERATED by generate.py; edit the script, not this file.\n")
    w("#\n")
    w("# Shares are of the voters who took part (ballots issued), as the CEC counts them. The six parties\n")
    w("# that passed are at their CEC final shares (15 December 2021); the others and \"against all\" at\n")
    w("# their election-night machine shares (2,247 of 2,494 boxes); their final shares are unconfirmed.\n")
    w("# What the options leave over is invalid ballots.\n")
    w(f"turnout = {TOOK_PART_SHARE}\n")
    w(f"against_all = {AGAINST_ALL_SHARE}\n\n")
    w("[parties]\n")
    for number, pid, en, _ru, _ky, share, final in PARTIES:
        w(f"{pid} = {share / 100:.4f}  # {number}. {en}, {'CEC final' if final else 'machine, election night'}\n")
    w("\n# Turnout by region relative to the national one (plausible: cities and voters abroad vote less).\n")
    w("[region_turnout]\n")
    for rid, factor in [("bishkek", 0.72), ("osh-city", 0.9), ("chui", 0.95), ("abroad", 0.45),
                        ("naryn", 1.2), ("talas", 1.2), ("batken", 1.12), ("issyk-kul", 1.05),
                        ("jalal-abad", 1.1), ("osh-oblast", 1.1)]:
        w(f"{rid} = {factor}\n")
    w("\n# \"Against all\" beat every candidate in two Bishkek districts (Sverdlovsky, Pervomaisky).\n")
    w("[district_against_all]\n")
    for did, _rid, _name, _number, label in districts:
        if label in AGAINST_ALL_DISTRICTS:
            w(f"{did} = {AGAINST_ALL_DISTRICTS[label]}  # Bishkek, {label}\n")
    return "".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--regional-threshold", default="0.005",
                        help='regional threshold share of took part, "0" for none (default 0.005, unconfirmed)')
    parser.add_argument("--regional-regions", default="all",
                        help='comma-separated region ids the regional threshold applies to (default: the 9)')
    parser.add_argument("--out", default=HERE, help="directory to write into (default: beside this script)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files on disk differ")
    args = parser.parse_args()

    election, districts = election_toml(args)
    files = {"election.toml": election, "simulate.toml": simulate_toml(districts)}
    stale = []
    for name, text in files.items():
        path = os.path.join(args.out, name)
        if args.check:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    stale.append(path)
        else:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
    if stale:
        print("stale (run generate.py):", ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
