//! The `sverka allocate` JSON contract: strict input, specific lowercase errors, exact
//! thresholds as written, sorted output keys, optional extensions.

use sverka_tally::seats::allocate_json;

fn error(input: &str) -> String {
    allocate_json(input).expect_err(input).to_string()
}

fn code(input: &str) -> String {
    allocate_json(input).expect_err(input).code()
}

#[test]
fn unknown_missing_and_repeated_fields_are_errors() {
    assert!(error(r#"{"seats":1,"method":"hare","votes":{"a":1},"treshold":0.05}"#)
        .contains("unknown field `treshold`"));
    assert!(error(r#"{"method":"hare","votes":{"a":1}}"#).contains("missing field `seats`"));
    assert!(error(r#"{"seats":1,"seats":2,"method":"hare","votes":{"a":1}}"#)
        .contains("duplicate field `seats`"));
    assert_eq!(code(r#"{"seats":1,"method":"hare","votes":{"a":1},"x":1}"#), "allocate.json");
    assert!(error(r#"[1,2]"#).starts_with("invalid input: "));
    assert!(error("").starts_with("invalid input: "));
    assert!(error(r#"{"seats":1,"method":"hare","votes":{"a":1}} trailing"#)
        .starts_with("invalid input: "));
}

#[test]
fn a_party_listed_twice_is_an_error() {
    assert_eq!(
        error(r#"{"seats":1,"method":"hare","votes":{"a":1,"a":2}}"#),
        r#"votes must be an object without repeated keys: "a" is listed twice"#
    );
    assert_eq!(code(r#"{"seats":1,"method":"hare","votes":{"a":1,"a":2}}"#), "allocate.votes");
}

#[test]
fn votes_must_be_plain_non_negative_integers() {
    let cases = [
        ("-1", r#"votes: votes for "a" must not be negative, got -1"#),
        ("1.0", r#"votes: votes for "a" must be a non-negative whole number, got 1.0"#),
        ("1e3", r#"votes: votes for "a" must be a non-negative whole number, got 1e3"#),
        (r#""5""#, r#"votes: votes for "a" must be a non-negative whole number, got "5""#),
        ("null", r#"votes: votes for "a" must be a non-negative whole number, got null"#),
        (
            "9007199254740992",
            r#"votes: votes for "a" exceeds the maximum of 9007199254740991, got 9007199254740992"#,
        ),
        (
            "99999999999999999999999",
            r#"votes: votes for "a" exceeds the maximum of 9007199254740991, got 99999999999999999999999"#,
        ),
    ];
    for (value, message) in cases {
        let input = format!(r#"{{"seats":1,"method":"hare","votes":{{"a":{value}}}}}"#);
        assert_eq!(error(&input), message, "{value}");
    }
    assert_eq!(
        error(r#"{"seats":1,"method":"hare","votes":[1,2]}"#),
        "votes must be an object without repeated keys: invalid type: sequence, expected an object"
    );
    assert_eq!(
        error(r#"{"seats":1,"method":"hare","votes":{}}"#),
        "votes must list at least one party"
    );
    assert_eq!(error(r#"{"seats":1,"method":"hare","votes":{"":1}}"#), "votes: party id is empty");
    assert_eq!(
        error(r#"{"seats":1,"method":"hare","votes":{"against_all":5,"a":1}}"#),
        "votes: against_all cannot win seats: leave it out of the votes and count it in the threshold base"
    );
}

#[test]
fn seats_and_method_are_checked() {
    for bad in ["0", "-1", "1.5", "65536", r#""54""#, "1e2"] {
        let input = format!(r#"{{"seats":{bad},"method":"hare","votes":{{"a":1}}}}"#);
        assert_eq!(
            error(&input),
            format!("seats must be a whole number from 1 to 65535, got {bad}")
        );
    }
    assert_eq!(
        error(r#"{"seats":1,"method":"d'hondt","votes":{"a":1}}"#),
        r#"unknown method "d'hondt": expected "hare", "droop", "dhondt" or "sainte-lague""#
    );
    assert_eq!(
        error(r#"{"seats":1,"method":5,"votes":{"a":1}}"#),
        "method must be a string, got 5"
    );
}

#[test]
fn threshold_is_read_exactly_as_written() {
    // 0.1 × 30 = 3 exactly: a party with 3 of 30 votes qualifies. (As a double, 0.1 is
    // 0.1000000000000000055…, and 3 >= 0.1 × 30 would be a coin toss on rounding.)
    for written in ["0.1", r#""0.1""#, "1e-1", r#""0.10""#] {
        let input = format!(
            r#"{{"seats":3,"method":"dhondt","threshold":{written},"votes":{{"a":27,"b":3}}}}"#
        );
        assert_eq!(
            allocate_json(&input).unwrap(),
            r#"{"qualified":["a","b"],"seats":{"a":3,"b":0},"ties":[]}"#
        );
    }
    // 1/3 cannot be written as a decimal; the nearest 18-place decimal excludes b (1 of 3).
    let input =
        r#"{"seats":2,"method":"dhondt","threshold":"0.333333333333333334","votes":{"a":2,"b":1}}"#;
    assert!(allocate_json(input).unwrap().starts_with(r#"{"qualified":["a"]"#));
}

#[test]
fn bad_thresholds_are_specific() {
    let cases = [
        ("-0.05", "threshold: -0.05 is negative; a share must be from 0 up to (not including) 1"),
        ("1", "threshold: 1 is not below 1; a share must be from 0 up to (not including) 1"),
        ("1.5", "threshold: 1.5 is not below 1; a share must be from 0 up to (not including) 1"),
        (r#""5%""#, r#"threshold: "5%" is not a decimal number (write it like 0.05)"#),
        (
            "0.0000000000000000001",
            "threshold: 0.0000000000000000001 has more than 18 decimal places",
        ),
        ("true", "threshold must be a number or a string, got true"),
        ("null", "threshold must be a number or a string, got null"),
        (r#"{"x":1}"#, r#"threshold must be a number or a string, got {"x":1}"#),
    ];
    for (value, message) in cases {
        let input =
            format!(r#"{{"seats":1,"method":"hare","threshold":{value},"votes":{{"a":1}}}}"#);
        assert_eq!(error(&input), message, "{value}");
        assert_eq!(code(&input), "allocate.threshold");
    }
}

#[test]
fn threshold_base_is_checked() {
    assert_eq!(
        error(r#"{"seats":1,"method":"hare","threshold_base":5,"votes":{"a":3,"b":3}}"#),
        "threshold_base (5) is less than the sum of the votes (6)"
    );
    assert_eq!(
        code(r#"{"seats":1,"method":"hare","threshold_base":5,"votes":{"a":3,"b":3}}"#),
        "allocate.inconsistent"
    );
    assert_eq!(
        error(r#"{"seats":1,"method":"hare","threshold_base":-5,"votes":{"a":3}}"#),
        "threshold_base must not be negative, got -5"
    );
}

#[test]
fn output_keys_are_sorted_and_every_party_is_listed() {
    let out =
        allocate_json(r#"{"votes":{"zz":10,"aa":0,"mm":5},"method":"dhondt","seats":3}"#).unwrap();
    assert_eq!(out, r#"{"qualified":["mm","zz"],"seats":{"aa":0,"mm":1,"zz":2},"ties":[]}"#);
}

#[test]
fn regions_extension_is_strict() {
    let base = r#""seats":1,"method":"hare","votes":{"a":1}"#;
    assert_eq!(
        error(&format!(r#"{{{base},"regional_threshold":0.005}}"#)),
        "regional_threshold and regions must be given together"
    );
    assert_eq!(
        error(&format!(
            r#"{{{base},"regional_threshold":0.005,"regions":{{"r":{{"base":10,"votes":{{"b":1}}}}}}}}"#
        )),
        "region r has votes for b, which is not in the national votes"
    );
    assert_eq!(
        error(&format!(
            r#"{{{base},"regional_threshold":0.005,"regions":{{"r":{{"base":1,"votes":{{"a":2}}}}}}}}"#
        )),
        "region r: its votes (2) exceed its threshold base (1)"
    );
    assert!(error(&format!(
        r#"{{{base},"regional_threshold":0.005,"regions":{{"r":{{"base":1,"votes":{{}},"x":1}}}}}}"#
    ))
    .starts_with(r#"region "r": unknown field `x`"#));
}

#[test]
fn margins_extension_adds_margins() {
    let input = r#"{"seats":5,"method":"dhondt","threshold":0.1,"votes":{"a":9400,"b":5800,"c":2700,"d":1900},"margins":true}"#;
    let out: serde_json::Value = serde_json::from_str(&allocate_json(input).unwrap()).unwrap();
    // 10 % of 19,800 = 1,980: d (1,900) needs 80 more with the base fixed, and with the base
    // moving x >= (1,980 − 1,900)·10/9 = 88.9 → 89.
    assert_eq!(
        out["margins"]["threshold"]["d"],
        serde_json::json!({"flip_base_moves": 89, "flip_fixed_base": 80, "min_votes": 1980, "passes": false})
    );
    assert_eq!(out["margins"]["last_seat"]["last"], "b");
    assert_eq!(out["margins"]["last_seat"]["runner_up"], "c");
    assert_eq!(out["margins"]["last_seat"]["runner_up_needs"], 201);
    assert_eq!(
        error(r#"{"seats":1,"method":"hare","votes":{"a":1},"margins":1}"#),
        "margins must be true or false, got 1"
    );
}

#[test]
fn seed_is_checked() {
    assert_eq!(
        error(r#"{"seats":1,"method":"hare","votes":{"a":1},"seed":"a\u0000b"}"#),
        "seed contains a control character"
    );
    assert_eq!(
        error(r#"{"seats":1,"method":"hare","votes":{"a":1},"seed":7}"#),
        "seed must be a string, got 7"
    );
}
