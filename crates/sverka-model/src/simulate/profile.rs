//! The simulation profile (`simulate.toml`): national targets the synthetic night should land on —
//! turnout, each party's share of the voters who took part, "against all" — and optional regional and
//! district colour. Statistics, not electoral rules: floats are fine here.
//!
//! ```toml
//! turnout = 0.3461            # took part / registered, nationally
//! against_all = 0.0217        # share of took part, party-list races
//! [parties]                   # share of took part, by party id
//! ata-jurt = 0.1732
//! [region_turnout]            # turnout relative to the national one, by region id
//! bishkek = 0.72
//! [district_against_all]      # "against all" share in a district's single-member race
//! d34 = 0.22
//! ```
//!
//! Everything is optional; what is missing is filled with plausible defaults (see `model.rs`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::SimulateError;

/// National targets for a simulated night.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Took part / registered, nationally.
    #[serde(default)]
    pub turnout: Option<f64>,
    /// "Against all" as a share of took part in party-list races.
    #[serde(default)]
    pub against_all: Option<f64>,
    /// Each party's share of took part, by party id.
    #[serde(default)]
    pub parties: BTreeMap<String, f64>,
    /// Turnout relative to the national turnout, by region id (1.0 = national).
    #[serde(default)]
    pub region_turnout: BTreeMap<String, f64>,
    /// The "against all" share of took part in a district's single-member race, by district id.
    #[serde(default)]
    pub district_against_all: BTreeMap<String, f64>,
}

impl Profile {
    /// Parses a profile; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Profile, SimulateError> {
        let profile: Profile =
            toml::from_str(text).map_err(|e| SimulateError::Profile(format!("{file}: {e}")))?;
        profile.check_ranges().map_err(|m| SimulateError::Profile(format!("{file}: {m}")))?;
        Ok(profile)
    }

    fn check_ranges(&self) -> Result<(), String> {
        let share = |what: &str, x: f64| {
            if (0.0..1.0).contains(&x) {
                Ok(())
            } else {
                Err(format!("{what} {x} is outside [0, 1)"))
            }
        };
        if let Some(t) = self.turnout {
            share("turnout", t)?;
        }
        if let Some(a) = self.against_all {
            share("against_all", a)?;
        }
        for (id, x) in &self.parties {
            share(&format!("parties.{id}"), *x)?;
        }
        for (id, x) in &self.district_against_all {
            share(&format!("district_against_all.{id}"), *x)?;
        }
        for (id, x) in &self.region_turnout {
            if !(*x > 0.0 && *x < 10.0) {
                return Err(format!("region_turnout.{id} {x} must be a factor in (0, 10)"));
            }
        }
        let total: f64 = self.parties.values().sum::<f64>() + self.against_all.unwrap_or(0.0);
        if total >= 1.0 {
            return Err(format!(
                "the party shares and against_all add up to {total:.4}; they must leave room below 1"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let p = Profile::from_toml("p", "turnout = 0.5\n[parties]\na = 0.3\nb = 0.2\n").unwrap();
        assert_eq!(p.parties.len(), 2);
        assert!(Profile::from_toml("p", "turnout = 1.5").is_err());
        assert!(Profile::from_toml("p", "[parties]\na = 0.6\nb = 0.5\n").is_err());
        assert!(Profile::from_toml("p", "colour = 1").is_err());
    }
}
