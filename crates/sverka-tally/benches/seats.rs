//! Seat allocation timings (divan): the Kyrgyz 2021 list race through the JSON contract, and
//! the largest house with many lists for each method.
//!
//!     cargo bench -p sverka-tally --bench seats

use divan::{black_box, Bencher};
use sverka_tally::seats::{
    allocate, allocate_json, AllocationConfig, Method, PartyId, PartyVotes, SeatCount,
};

fn main() {
    divan::main();
}

const KYRGYZ_2021: &str = r#"{"seats":54,"method":"hare","threshold":0.05,"threshold_base":1281622,
  "votes":{"ata-jurt":222005,"ishenim":174470,"yntymak":141009,"alliance":106955,"butun":90223,
           "yiman-nuru":79025,"ata-meken":44000,"el-umutu":57000,"social-democrats":41000}}"#;

#[divan::bench]
fn kyrgyz_2021_json() -> String {
    allocate_json(black_box(KYRGYZ_2021)).unwrap()
}

/// 1,000 lists with pseudo-random votes (a fixed linear congruential sequence).
fn many_lists() -> PartyVotes {
    let mut x: u64 = 2021;
    PartyVotes::new((0..1000).map(|i| {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (PartyId::new(&format!("p{i:04}")).unwrap(), (x >> 40) % 1_000_000 + 1)
    }))
    .unwrap()
}

#[divan::bench(args = [Method::Hare, Method::Droop, Method::DHondt, Method::SainteLague])]
fn largest_house_1000_lists(bencher: Bencher, method: Method) {
    let votes = many_lists();
    let config = AllocationConfig::new(method, SeatCount::new(65_535).unwrap());
    bencher.bench(|| allocate(black_box(&votes), &config).unwrap());
}
