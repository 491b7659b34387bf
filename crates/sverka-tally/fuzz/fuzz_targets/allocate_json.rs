//! Fuzz target: `allocate_json` on arbitrary bytes never panics, and whatever it accepts it
//! answers deterministically with JSON whose seats fill the house or are all zero.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sverka_tally::seats::allocate_json;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let Ok(output) = allocate_json(input) else { return };
    assert_eq!(allocate_json(input).as_deref(), Ok(output.as_str()), "not deterministic");
    let request: serde_json::Value = serde_json::from_str(input).expect("accepted input is JSON");
    let response: serde_json::Value = serde_json::from_str(&output).expect("output is JSON");
    let house = request["seats"].as_u64().expect("accepted seats are a number");
    let given: u64 = response["seats"]
        .as_object()
        .expect("seats object")
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let qualified = response["qualified"].as_array().expect("qualified list");
    assert_eq!(given, if qualified.is_empty() { 0 } else { house });
    assert_eq!(
        response["seats"].as_object().unwrap().len(),
        request["votes"].as_object().unwrap().len(),
        "every party is listed"
    );
});
