//! The CSV exports: stable headers, one row per number, hand-checked values.

mod tabulate_fixture;

use sverka_model::Source::{Machine, Manual};
use sverka_tally::export::csv::{levels_csv, stations_csv, LEVELS_HEADER, STATIONS_HEADER};
use sverka_tally::tabulate::Tally;
use tabulate_fixture::*;

fn results() -> sverka_tally::tabulate::Results {
    let election = tiny();
    let night = [
        list(
            "1001",
            Manual,
            600,
            20,
            &[("sun", 300), ("river", 200), ("mountain", 50), ("against_all", 30)],
        ),
        list(
            "1003",
            Machine,
            800,
            0,
            &[("sun", 400), ("river", 300), ("mountain", 100), ("against_all", 0)],
        ),
    ];
    let mut tally = Tally::new(&election);
    for (index, submission) in log(&election, &night) {
        tally.apply(index, &submission);
    }
    tally.apply(3, &annul(&election, "1002", None));
    tally.results(&election)
}

#[test]
fn stations_csv_has_one_row_per_option() {
    let csv = stations_csv(&results());
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], STATIONS_HEADER);
    // List: 6 stations × 4 options × 2 views; district d1: 4 stations × 4 options × 2 views.
    assert_eq!(lines.len() - 1, 6 * 4 * 2 + 4 * 4 * 2);
    assert!(lines
        .contains(&"list,official,1001,d1,north,false,1200,counted,manual,1,600,580,20,sun,300"));
    assert!(lines.contains(&"list,official,1003,d1,north,false,1500,not_counted,,,,,,sun,"));
    assert!(lines.contains(
        &"list,preliminary,1003,d1,north,false,1500,counted,machine,2,800,800,0,river,300"
    ));
    assert!(lines.contains(&"list,official,1002,d1,north,false,900,annulled,,,,,,sun,"));
}

#[test]
fn levels_csv_totals_shares_and_seats() {
    let csv = levels_csv(&results());
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], LEVELS_HEADER);
    // Official nation: 1001 only. Turnout 600/1200 = 5000 bp; sun 300/600 = 5000 bp.
    // 5 % of 600 = 30; Hare on 550, quota 55: sun 5 r 25, river 3 r 35, mountain 0 r 50 → the
    // last two seats to mountain and river: 5 / 4 / 1.
    assert!(lines.contains(&"list,official,nation,,6,1,7300,1200,600,5000,580,20,sun,300,5000,5"));
    assert!(lines.contains(&"list,official,nation,,6,1,7300,1200,600,5000,580,20,river,200,3333,4"));
    assert!(
        lines.contains(&"list,official,nation,,6,1,7300,1200,600,5000,580,20,mountain,50,833,1")
    );
    assert!(
        lines.contains(&"list,official,nation,,6,1,7300,1200,600,5000,580,20,against_all,30,500,0")
    );
    assert!(
        lines.contains(&"list,official,district,d1,4,1,4000,1200,600,5000,580,20,sun,300,5000,")
    );
    // No district results yet: seats are empty, not 0.
    assert!(lines.contains(&"smd-d1,official,nation,,4,0,4000,0,0,,0,0,d1-a,0,,"));
}
