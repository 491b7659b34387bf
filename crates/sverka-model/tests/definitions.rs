//! Broken election definitions: each one gets its own message at the line and column of the
//! problem, and a file with several problems gets all of them.
//!
//! Every case edits `data/tiny.toml` (a frozen copy of `examples/tiny/election.toml`, so the line
//! numbers below stay true when the example changes). Lines and columns are 1-based; columns count
//! characters. The expected positions were read off the file by hand.

use sverka_model::election::{ContestKind, Election};

const TINY: &str = include_str!("data/tiny.toml");

/// The tiny election with each `(from, to)` applied; every `from` must occur exactly once.
fn edited(edits: &[(&str, &str)]) -> String {
    let mut text = TINY.to_string();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "{from:?} must occur exactly once");
        text = text.replace(from, to);
    }
    text
}

/// Every error of a definition as `(line, column, message)`, in file order.
fn errors(text: &str) -> Vec<(usize, usize, String)> {
    match Election::from_toml("election.toml", text) {
        Ok(_) => Vec::new(),
        Err(e) => {
            for error in &e.0 {
                assert_eq!(error.file, "election.toml");
            }
            e.0.into_iter().map(|e| (e.line, e.column, e.message)).collect()
        }
    }
}

/// Asserts that the edited file has exactly these errors.
fn check(edits: &[(&str, &str)], expected: &[(usize, usize, &str)]) {
    let got = errors(&edited(edits));
    let expected: Vec<(usize, usize, String)> =
        expected.iter().map(|(l, c, m)| (*l, *c, m.to_string())).collect();
    assert_eq!(got, expected);
}

#[test]
fn the_unedited_copy_is_valid() {
    assert_eq!(errors(TINY), []);
}

#[test]
fn unknown_key_is_reported_with_a_suggestion_and_the_field_as_missing() {
    check(
        &[("registered = 900", "registred = 900")],
        &[
            (39, 1, "station \"1002\" has no `registered`"),
            (43, 1, "unknown key `registred` in station \"1002\"; did you mean `registered`?"),
        ],
    );
}

#[test]
fn unknown_key_far_from_any_lists_the_keys() {
    check(
        &[("id = \"north\"\n", "id = \"north\"\ncapital = \"x\"\n")],
        &[(16, 1, "unknown key `capital` in region \"north\"; expected one of: id, name, abroad")],
    );
}

#[test]
fn negative_registered_voters() {
    check(
        &[("registered = 900", "registered = -900")],
        &[(43, 14, "`registered` of station \"1002\" is -900, which is negative")],
    );
}

#[test]
fn station_in_unknown_district() {
    check(
        &[("district = \"d1\"\nregistered = 900", "district = \"d3\"\nregistered = 900")],
        &[(42, 12, "unknown district \"d3\"")],
    );
}

#[test]
fn duplicate_station_id() {
    check(&[("id = \"1002\"", "id = \"1001\"")], &[(40, 6, "duplicate station id \"1001\"")]);
}

#[test]
fn malformed_station_id() {
    check(
        &[("id = \"1003\"", "id = \"Station 3\"")],
        &[(
            46,
            6,
            "station id \"Station 3\" is not valid: use 1 to 64 of a-z, 0-9, '-', '_' and '.', \
             starting with a letter or digit",
        )],
    );
}

#[test]
fn station_region_contradicts_its_district() {
    check(
        &[("registered = 400", "registered = 400\nregion = \"abroad\"")],
        &[(
            56,
            10,
            "station \"1004\" says region \"abroad\" but its district \"d1\" is in region \"north\"",
        )],
    );
}

#[test]
fn district_in_unknown_region() {
    check(&[("region = \"north\"", "region = \"south\"")], &[(25, 10, "unknown region \"south\"")]);
}

#[test]
fn name_missing_a_language() {
    check(
        &[(
            "name = { ky = \"Түндүк\", ru = \"Север\", en = \"North\" }",
            "name = { ky = \"Түндүк\", ru = \"Север\" }",
        )],
        &[(16, 8, "`name` of region \"north\" has no `en`")],
    );
}

#[test]
fn threshold_written_as_a_toml_float() {
    check(
        &[("share = \"0.05\"", "share = 0.05")],
        &[(
            104,
            23,
            "`share` of `threshold` of contest \"list\" is the TOML number 0.05; write it as a \
             quoted decimal, share = \"0.05\", so that it is exact (a float cannot hold most \
             decimals exactly, and thresholds are compared exactly)",
        )],
    );
}

#[test]
fn threshold_outside_zero_one() {
    check(
        &[("share = \"0.05\"", "share = \"1.5\"")],
        &[(104, 23, "`share` of `threshold` of contest \"list\" is 1.5, outside [0, 1)")],
    );
}

#[test]
fn threshold_that_is_not_a_decimal() {
    check(
        &[("share = \"0.05\"", "share = \"5%\"")],
        &[(
            104,
            23,
            "`share` of `threshold` of contest \"list\" is \"5%\", not a decimal such as \"0.05\"",
        )],
    );
}

#[test]
fn threshold_with_an_unknown_base() {
    check(
        &[("base = \"took_part\" }\nregional", "base = \"took-part\" }\nregional")],
        &[(
            104,
            38,
            "`base` of `threshold` of contest \"list\" is \"took-part\"; use one of \"took_part\", \
             \"valid\", \"registered\"",
        )],
    );
}

#[test]
fn regional_threshold_listing_no_region() {
    check(
        &[("regions = [\"north\"]", "regions = []")],
        &[(
            105,
            71,
            "a regional threshold must list the regions it applies to; remove \
             `regional_threshold` if there is none",
        )],
    );
}

#[test]
fn regional_threshold_naming_an_unknown_region() {
    check(
        &[("regions = [\"north\"]", "regions = [\"north\", \"south\"]")],
        &[(105, 81, "unknown region \"south\"")],
    );
}

#[test]
fn seats_below_one() {
    check(
        &[("seats = 10", "seats = 0")],
        &[(102, 9, "`seats` of contest \"list\" is 0; it must be between 1 and 100000")],
    );
}

#[test]
fn seats_as_a_float() {
    check(
        &[("seats = 10", "seats = 10.0")],
        &[(102, 9, "`seats` of contest \"list\" must be a whole number, not a float")],
    );
}

#[test]
fn unknown_method() {
    check(
        &[("method = \"hare\"", "method = \"largest-remainder\"")],
        &[(
            103,
            10,
            "`method` of contest \"list\" is \"largest-remainder\"; use one of \"hare\", \
             \"droop\", \"dhondt\", \"sainte-lague\"",
        )],
    );
}

#[test]
fn women_min_share_of_one() {
    check(
        &[("women_min_share = \"0.3\"", "women_min_share = \"1\"")],
        &[(106, 19, "`women_min_share` of contest \"list\" is 1, outside [0, 1)")],
    );
}

#[test]
fn a_party_without_candidates_is_fine_even_with_the_women_rule() {
    let text = edited(&[(
        "candidates = [\n  { id = \"mountain-1\", name = \"Marat Sultanov\", position = 1, sex = \"male\" },\n  { id = \"mountain-2\", name = \"Nazgul Kasymova\", position = 2, sex = \"female\" },\n  { id = \"mountain-3\", name = \"Omurbek Tashiev\", position = 3, sex = \"male\" },\n]\n",
        "",
    )]);
    let election = Election::from_toml("election.toml", &text).unwrap();
    let ContestKind::PartyList(list) = &election.contest("list").unwrap().kind else {
        panic!("the list contest is a party list")
    };
    assert!(list.women_min_share.is_some());
    assert!(list.parties[2].candidates.is_empty());
}

#[test]
fn candidate_ids_are_unique_across_the_whole_list_contest() {
    check(
        &[("{ id = \"river-1\"", "{ id = \"sun-1\"")],
        &[(126, 10, "duplicate candidate id \"sun-1\"")],
    );
}

#[test]
fn duplicate_position_on_a_list() {
    check(
        &[("\"Aigul Bekova\", position = 2", "\"Aigul Bekova\", position = 1")],
        &[(114, 53, "duplicate position 1 on the same list or ballot")],
    );
}

#[test]
fn duplicate_ballot_number() {
    check(&[("ballot_number = 3", "ballot_number = 2")], &[(135, 17, "duplicate ballot number 2")]);
}

#[test]
fn unknown_sex() {
    check(
        &[(
            "\"Omurbek Tashiev\", position = 3, sex = \"male\"",
            "\"Omurbek Tashiev\", position = 3, sex = \"m\"",
        )],
        &[(140, 70, "`sex` of candidate \"mountain-3\" is \"m\"; use one of \"female\", \"male\"")],
    );
}

#[test]
fn single_member_contest_in_an_abroad_district() {
    check(
        &[("district = \"d1\"\nagainst_all", "district = \"d2\"\nagainst_all")],
        &[(
            148,
            12,
            "district \"d2\" is abroad (its region \"abroad\" has abroad = true); single-member \
             contests are held only in the country",
        )],
    );
}

#[test]
fn form_line_id_colliding_with_a_vote_option() {
    check(
        &[("{ id = \"d1-c\"", "{ id = \"lost\"")],
        &[(
            153,
            10,
            "vote option \"lost\" of contest \"smd-d1\" has the id of a line of form \"protocol\"; \
             relations could not tell them apart",
        )],
    );
}

#[test]
fn form_without_a_relation_over_the_votes() {
    let message = |contest: &str| {
        format!(
            "form \"protocol\" has no control relation over the votes, such as \"valid = \
             sum(options)\"; the votes of contest \"{contest}\" would never be checked"
        )
    };
    check(
        &[("  \"valid = sum(options)\",\n", "")],
        &[(99, 8, &message("list")), (146, 8, &message("smd-d1"))],
    );
}

#[test]
fn relation_naming_an_unknown_line() {
    check(
        &[("\"valid = sum(options)\"", "\"valid = sum(options) + spoiled\"")],
        &[(79, 3, "relation names \"spoiled\", which is not a line of this form")],
    );
}

#[test]
fn relation_with_two_comparisons() {
    check(
        &[(
            "\"in_portable_boxes + in_stationary_boxes = valid + invalid\"",
            "\"in_portable_boxes + in_stationary_boxes = valid = invalid\"",
        )],
        &[(
            77,
            3,
            "relation: expected exactly one of '=', '>=' or '<=' in \"in_portable_boxes + \
             in_stationary_boxes = valid = invalid\"",
        )],
    );
}

#[test]
fn took_part_naming_an_unknown_line() {
    check(
        &[(
            "took_part = \"issued_early + issued_in_room + issued_outside\"",
            "took_part = \"issued_early + issued_at_home\"",
        )],
        &[(74, 13, "`took_part` names \"issued_at_home\", which is not a line of this form")],
    );
}

#[test]
fn form_naming_an_unknown_valid_line() {
    check(
        &[("valid = \"valid\"", "valid = \"valid_ballots\"")],
        &[(72, 9, "`valid` names \"valid_ballots\", which is not a line of this form")],
    );
}

#[test]
fn unknown_contest_kind() {
    check(
        &[("kind = \"single_member\"", "kind = \"district\"")],
        &[(
            145,
            8,
            "`kind` of contest \"smd-d1\" is \"district\"; use one of \"party_list\", \
             \"single_member\"",
        )],
    );
}

#[test]
fn party_list_field_on_a_single_member_contest() {
    check(
        &[("district = \"d1\"\nagainst_all", "district = \"d1\"\nseats = 1\nagainst_all")],
        &[(149, 1, "`seats` is only for party_list contests, and contest \"smd-d1\" is not one")],
    );
}

#[test]
fn contest_with_an_unknown_form() {
    check(
        &[("form = \"protocol\"\ndistrict", "form = \"protokol\"\ndistrict")],
        &[(147, 8, "unknown form \"protokol\"")],
    );
}

#[test]
fn single_member_candidate_of_an_unknown_party() {
    check(
        &[("party = \"river\"", "party = \"lake\"")],
        &[(152, 85, "unknown party \"lake\": no party_list contest has it")],
    );
}

#[test]
fn failing_on_against_all_without_an_against_all_line() {
    check(
        &[(
            "district = \"d1\"\nagainst_all = true",
            "district = \"d1\"\nagainst_all = false\nfails_if_against_all_leads = true",
        )],
        &[(
            150,
            30,
            "contest \"smd-d1\" has no \"against all\" line (against_all = true), so it cannot \
             fail by it",
        )],
    );
}

#[test]
fn date_written_as_a_toml_date() {
    check(
        &[("date = \"2026-03-01\"", "date = 2026-03-01")],
        &[(5, 8, "`date` of the election \"tiny\" must be a quoted string, not an unquoted date")],
    );
}

#[test]
fn turnout_warning_written_as_a_toml_float() {
    check(
        &[("turnout_warning = \"0.95\"", "turnout_warning = 0.95")],
        &[(
            11,
            19,
            "`turnout_warning` of `rules` of the election \"tiny\" is the TOML number 0.95; write \
             it as a quoted decimal, turnout_warning = \"0.95\", so that it is exact (a float \
             cannot hold most decimals exactly, and thresholds are compared exactly)",
        )],
    );
}

#[test]
fn missing_tie_seed() {
    check(
        &[("tie_seed = \"tiny-2026-public-seed\"\n", "")],
        &[(1, 1, "the election \"tiny\" has no `tie_seed`")],
    );
}

#[test]
fn toml_syntax_error_is_located() {
    let got = errors(&edited(&[("seats = 10", "seats = = 10")]));
    assert_eq!(got.len(), 1);
    let (line, column, message) = &got[0];
    assert_eq!((*line, *column), (102, 9));
    assert!(message.starts_with("not valid TOML: "), "{message}");
}

/// A second single-member contest to append to a file; its `district` is the 7th line after the
/// file's last.
fn second_district_contest(district: &str) -> String {
    format!(
        "\n[[contests]]\nid = \"smd-bis\"\nkind = \"single_member\"\nname = {{ ky = \"x\", ru = \"x\", en = \"x\" }}\n\
         form = \"protocol\"\ndistrict = \"{district}\"\n\
         candidates = [{{ id = \"bis-a\", name = \"X\", position = 1, sex = \"male\" }}]\n"
    )
}

#[test]
fn two_single_member_contests_in_one_district() {
    let text = format!("{TINY}{}", second_district_contest("d1"));
    assert_eq!(
        errors(&text),
        [(161, 12, "district \"d1\" already has single-member contest \"smd-d1\"".to_string())]
    );
}

#[test]
fn single_member_contest_in_a_district_without_stations() {
    let with_d3 = edited(&[(
        "en = \"Abroad district\" }\n",
        "en = \"Abroad district\" }\n\n[[districts]]\nid = \"d3\"\nregion = \"north\"\nname = { ky = \"3\", ru = \"3\", en = \"3\" }\n",
    )]);
    let text = format!("{with_d3}{}", second_district_contest("d3"));
    assert_eq!(
        errors(&text),
        [(166, 12, "district \"d3\" has no polling stations in the country".to_string())]
    );
}

/// Keys appended to the tiny election: RFC 8032 §7.1 test keys 1 to 3.
const KEY_1: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const KEY_2: &str = "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=";
const KEY_3: &str = "/FHNjmIYoaONpH7QAjDwWAgW7RO6MwOsXeuRFUiQgCU=";

fn with_keys(keys: &str) -> String {
    format!("{TINY}\n{keys}")
}

#[test]
fn valid_keys_are_accepted() {
    let text = with_keys(&format!(
        "[[keys]]\nid = \"box-1001\"\nrole = \"machine\"\npublic_key = \"{KEY_1}\"\nstation = \"1001\"\n\n\
         [[keys]]\nid = \"op-d1\"\nrole = \"operator\"\npublic_key = \"{KEY_2}\"\ndistrict = \"d1\"\n\n\
         [[keys]]\nid = \"cec\"\nrole = \"admin\"\npublic_key = \"{KEY_3}\"\n"
    ));
    let election = Election::from_toml("election.toml", &text).unwrap();
    assert_eq!(election.keys.len(), 3);
    assert_eq!(election.keys[0].station.as_deref(), Some("1001"));
}

#[test]
fn key_problems() {
    // The tiny file has 154 lines and ends with a newline; the keys start on line 156.
    let text = with_keys(&format!(
        "[[keys]]\nid = \"box-1009\"\nrole = \"machine\"\npublic_key = \"{KEY_1}\"\nstation = \"1009\"\n\n\
         [[keys]]\nid = \"op-d1\"\nrole = \"operator\"\npublic_key = \"{KEY_1}\"\nstation = \"1001\"\n\n\
         [[keys]]\nid = \"observer\"\nrole = \"observer\"\npublic_key = \"not a key\"\n\n\
         [[keys]]\nid = \"cec\"\nrole = \"root\"\npublic_key = \"{KEY_3}\"\n"
    ));
    assert_eq!(
        errors(&text),
        [
            (160, 11, "unknown station \"1009\"".to_string()),
            (
                164,
                8,
                "key \"op-d1\" is an operator key and needs the `district` whose commission it \
                 belongs to"
                    .to_string()
            ),
            (165, 14, "key \"op-d1\" has the same public key as key \"box-1009\"".to_string()),
            (
                166,
                11,
                "key \"op-d1\" is an operator key: it belongs to a district, not a station"
                    .to_string()
            ),
            (
                171,
                14,
                "`public_key` of key \"observer\" is not base64 of a 32-byte Ed25519 key"
                    .to_string()
            ),
            (
                175,
                8,
                "`role` of key \"cec\" is \"root\"; use one of \"machine\", \"operator\", \
                 \"observer\", \"admin\""
                    .to_string()
            ),
        ]
    );
}

#[test]
fn every_problem_in_a_file_is_reported_in_file_order() {
    check(
        &[
            ("turnout_warning = \"0.95\"", "turnout_warning = \"1.2\""),
            ("region = \"north\"", "region = \"south\""),
            ("registered = 900", "registered = -900"),
            ("share = \"0.05\"", "share = 0.05"),
            ("seats = 10", "seats = 0"),
            ("{ id = \"river-1\"", "{ id = \"sun-1\""),
            ("district = \"d1\"\nagainst_all", "district = \"d2\"\nagainst_all"),
        ],
        &[
            (
                11,
                19,
                "`turnout_warning` of `rules` of the election \"tiny\" is 1.2, outside (0, 1]",
            ),
            (25, 10, "unknown region \"south\""),
            (43, 14, "`registered` of station \"1002\" is -900, which is negative"),
            (102, 9, "`seats` of contest \"list\" is 0; it must be between 1 and 100000"),
            (
                104,
                23,
                "`share` of `threshold` of contest \"list\" is the TOML number 0.05; write it as \
                 a quoted decimal, share = \"0.05\", so that it is exact (a float cannot hold \
                 most decimals exactly, and thresholds are compared exactly)",
            ),
            (126, 10, "duplicate candidate id \"sun-1\""),
            (
                148,
                12,
                "district \"d2\" is abroad (its region \"abroad\" has abroad = true); \
                 single-member contests are held only in the country",
            ),
        ],
    );
}

#[test]
fn a_party_colour_is_kept_in_lower_case_and_absent_when_not_given() {
    let text = edited(&[("ballot_number = 1\n", "ballot_number = 1\ncolor = \"#E5A100\"\n")]);
    let election = Election::from_toml("election.toml", &text).expect("a colour is allowed");
    let colors: Vec<Option<String>> = election
        .contests
        .iter()
        .filter_map(|contest| match &contest.kind {
            ContestKind::PartyList(list) => Some(list.parties.iter().map(|p| p.color.clone())),
            ContestKind::SingleMember(_) => None,
        })
        .flatten()
        .collect();
    assert_eq!(colors, [Some("#e5a100".to_string()), None, None]);
}

#[test]
fn a_party_colour_that_is_not_six_hex_digits_is_located() {
    check(
        &[("ballot_number = 1\n", "ballot_number = 1\ncolor = \"red\"\n")],
        &[(
            111,
            9,
            "`color` of party \"sun\" is \"red\"; write it as `#` and six hex digits, e.g. \"#1f77b4\"",
        )],
    );
}
