//! The 2021 Kyrgyz list race through the whole fold: the CEC's final votes of the six lists that
//! passed (data/kyrgyzstan-2021.md: Ata-Jurt 222,005, Ishenim 174,470, Yntymak 141,009, Alliance
//! 106,955, Butun Kyrgyzstan 90,223, Yiman Nuru 79,025; 1,281,622 took part; 5 % threshold of
//! those who took part; 54 seats by Hare) must give 15 / 12 / 9 / 7 / 6 / 5.
//!
//! The 15 lists that failed, "against all" and the invalid ballots are unconfirmed; here they share
//! the remaining 467,935 ballots: against all 27,800, invalid 20,000, and 28,009 for each of the 15
//! (each under the 64,082 votes that 5 % of 1,281,622 requires).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sverka_model::election::Election;
use sverka_model::{Body, Payload, Protocol, Source, Submission};
use sverka_tally::tabulate::{Outcome, Tally};

const PASSED: [(&str, u64); 6] = [
    ("ata-jurt", 222_005),
    ("ishenim", 174_470),
    ("yntymak", 141_009),
    ("alliance", 106_955),
    ("butun", 90_223),
    ("yiman-nuru", 79_025),
];

fn election() -> Election {
    let mut t = String::from(
        "id = \"kg2021\"\nname = { ky = \"ЖК\", ru = \"ЖК\", en = \"Jogorku Kenesh 2021\" }\ndate = \"2021-11-28\"\ntie_seed = \"kg-2021\"\n\n\
         [[regions]]\nid = \"kg\"\nname = { ky = \"k\", ru = \"k\", en = \"Kyrgyzstan\" }\n\n\
         [[districts]]\nid = \"all\"\nregion = \"kg\"\nname = { ky = \"a\", ru = \"a\", en = \"All\" }\n\n\
         [[stations]]\nid = \"all-1\"\nname = \"The whole country as one station\"\ndistrict = \"all\"\nregistered = 3703420\n\n\
         [[forms]]\nid = \"p\"\nregistered = \"registered\"\nvalid = \"valid\"\ninvalid = \"invalid\"\ntook_part = \"issued\"\n\
         relations = [\"valid = sum(options)\"]\nlines = [\n",
    );
    for line in ["registered", "issued", "valid", "invalid"] {
        let _ = writeln!(
            t,
            "  {{ id = \"{line}\", name = {{ ky = \"l\", ru = \"l\", en = \"{line}\" }} }},"
        );
    }
    t.push_str("]\n\n[[contests]]\nid = \"list\"\nkind = \"party_list\"\nname = { ky = \"l\", ru = \"l\", en = \"Lists\" }\nform = \"p\"\nagainst_all = true\nseats = 54\nmethod = \"hare\"\nthreshold = { share = \"0.05\", base = \"took_part\" }\n\n");
    let ids: Vec<String> = PASSED
        .iter()
        .map(|(id, _)| id.to_string())
        .chain((1..=15).map(|i| format!("other-{i}")))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let _ = writeln!(t, "[[contests.parties]]\nid = \"{id}\"\nballot_number = {}\nname = {{ ky = \"p\", ru = \"p\", en = \"{id}\" }}\n", i + 1);
    }
    Election::from_toml("kg2021.toml", &t).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn final_2021_list_seats() {
    let election = election();
    let mut votes: BTreeMap<String, u64> =
        PASSED.iter().map(|(id, v)| (id.to_string(), *v)).collect();
    votes.extend((1..=15).map(|i| (format!("other-{i}"), 28_009)));
    votes.insert("against_all".into(), 27_800);
    let valid: u64 = votes.values().sum();
    assert_eq!(valid + 20_000, 1_281_622);
    let lines =
        [("registered", 3_703_420), ("issued", 1_281_622), ("valid", valid), ("invalid", 20_000)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    let protocol = Protocol {
        station: "all-1".into(),
        contest: "list".into(),
        source: Source::Manual,
        lines,
        votes,
        preferences: BTreeMap::new(),
        supersedes: None,
        scan_sha256: None,
    };
    let payload = Payload {
        v: 1,
        election: "kg2021".into(),
        signer: "op".into(),
        seq: 1,
        time: None,
        body: Body::Protocol(protocol),
    };
    let submission = Submission { payload, signature: String::new() };
    let mut tally = Tally::new(&election);
    tally.apply(1, &submission);
    let results = tally.results(&election);
    let Outcome::PartyList(list) = &results.contest("list").unwrap().official.outcome else {
        panic!()
    };
    assert_eq!(list.threshold_base, 1_281_622);
    let seats: Vec<u32> = list.parties.iter().map(|p| p.seats).collect();
    assert_eq!(seats[..6], [15, 12, 9, 7, 6, 5]);
    assert!(seats[6..].iter().all(|&s| s == 0));
    // Shares of those who took part, as the CEC published them: Ata-Jurt 17.32 %.
    assert_eq!(list.parties[0].share.display(), "17.32%");
    assert_eq!(list.parties[5].share.display(), "6.17%");
    // Turnout 1,281,622 / 3,703,420 = 34.61 %.
    assert_eq!(results.contest("list").unwrap().official.nation().turnout.display(), "34.61%");
    // Yiman Nuru, the smallest list that passed, can lose 79,025 − 64,082 = 14,943 votes (base
    // fixed) and still pass; the 14,944th takes it out.
    assert_eq!(list.parties[5].flip_fixed_base, Some(-14_944));
}
