//! The example elections shipped in `examples/` parse and validate.

use sverka_model::election::Election;

fn example(path: &str) -> Election {
    let full = format!("{}/../../examples/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap();
    Election::from_toml(path, &text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn tiny_example_parses() {
    let e = example("tiny/election.toml");
    assert_eq!(e.stations.len(), 6);
    assert_eq!(e.districts.len(), 2);
    assert_eq!(e.contests.len(), 2);
    assert_eq!(
        e.contest("list").unwrap().option_ids(),
        ["sun", "river", "mountain", "against_all"]
    );
    assert!(e.station("9001").unwrap().abroad);
    assert_eq!(e.form("protocol").unwrap().relations.len(), 4);
}
