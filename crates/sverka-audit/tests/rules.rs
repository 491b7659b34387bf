//! The escalation rule and the early-stopping scan, as an audit board would meet them.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sverka_audit::alpha::{AlphaTest, Estimator};
use sverka_audit::escalation::{decide, Decision, RiskLimit};

#[test]
fn audit_stops_only_when_every_assertion_is_at_or_below_the_risk_limit() {
    let alpha = RiskLimit::new(0.05).unwrap();
    assert_eq!(decide(&[0.01, 0.05, 0.0], alpha, 300, 10_000, &[0, 0, 0]), Decision::Confirmed);
    assert_eq!(
        decide(&[0.01, 0.2, 0.07], alpha, 300, 10_000, &[0, 900, 450]),
        Decision::Escalate { open: vec![1, 2], next_sample_size: 900 }
    );
    // an estimate below the current sample still draws at least one more
    assert_eq!(
        decide(&[0.2], alpha, 300, 10_000, &[10]),
        Decision::Escalate { open: vec![0], next_sample_size: 301 }
    );
    // never past the population
    assert_eq!(
        decide(&[0.2], alpha, 9_000, 10_000, &[50_000]),
        Decision::Escalate { open: vec![0], next_sample_size: 10_000 }
    );
    assert_eq!(
        decide(&[0.2, 0.01], alpha, 10_000, 10_000, &[1, 1]),
        Decision::FullHandCount { open: vec![0] }
    );
    assert!(RiskLimit::new(0.0).is_err() && RiskLimit::new(1.0).is_err());
}

#[test]
fn first_crossing_matches_the_full_p_value_history() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    for case in 0..50 {
        let n = 2_000u64;
        let x: Vec<f64> = (0..500)
            .map(|_| if rng.gen_bool(0.6) { 1.0 } else { rng.gen_range(0.0..0.6) })
            .collect();
        let population = if case % 2 == 0 { Some(n) } else { None };
        let est = if case % 3 == 0 {
            Estimator::Fixed { eta: 0.6 }
        } else {
            Estimator::shrink_trunc(0.6)
        };
        let test = AlphaTest::new(1.0, population, 0.5, est).unwrap();
        let history = test.p_values(&x).unwrap().history;
        let scan = history.iter().position(|p| *p <= 0.05).map(|i| i + 1);
        assert_eq!(test.first_crossing(&x, 0.05).unwrap(), scan, "case {case}");
    }
}
