//! The simulated geography: the election's stations, or (with `--stations N`) a synthetic rescaling
//! that keeps the regions and districts and splits every station into several of plausible size; and
//! the `election.toml` text the simulator writes (the input with its stations replaced when rescaled,
//! and the generated public keys appended).

use std::fmt::Write as _;

use crate::election::Election;

use super::rng::Streams;
use super::SimulateError;

/// The most stations `--stations` accepts (memory, not principle: the plan holds a few dozen bytes
/// and one signing key per station).
pub const MAX_STATIONS: u64 = 10_000_000;

/// One polling station of the simulation.
#[derive(Clone, Debug)]
pub(crate) struct SimStation {
    pub id: String,
    pub registered: u64,
    /// Index into `Election::districts`.
    pub district: u32,
    /// Index into `Election::regions`.
    pub region: u32,
    pub abroad: bool,
    /// The election station it was split from.
    pub source: u32,
    /// Its part number (1-based) and the number of parts the source was split into; (1, 1) unscaled.
    pub part: u32,
    pub parts: u32,
}

/// The stations of the simulation, in a fixed order.
pub(crate) fn stations(
    election: &Election,
    target: Option<u64>,
    streams: &Streams,
) -> Result<(Vec<SimStation>, bool), SimulateError> {
    let district_index = |id: &str| {
        election.districts.iter().position(|d| d.id == id).expect("validated district") as u32
    };
    let region_index = |id: &str| {
        election.regions.iter().position(|r| r.id == id).expect("validated region") as u32
    };
    let originals: Vec<SimStation> = election
        .stations
        .iter()
        .enumerate()
        .map(|(i, s)| SimStation {
            id: s.id.clone(),
            registered: s.registered,
            district: district_index(&s.district),
            region: region_index(&s.region),
            abroad: s.abroad,
            source: i as u32,
            part: 1,
            parts: 1,
        })
        .collect();
    let n_original = originals.len() as u64;
    let target = match target {
        None => return Ok((originals, false)),
        Some(n) if n == n_original => return Ok((originals, false)),
        Some(n) if n == 0 || n > MAX_STATIONS => {
            return Err(SimulateError::Config(format!(
                "--stations {n}: choose between 1 and {MAX_STATIONS}"
            )))
        }
        Some(n) => n,
    };
    let mut out = Vec::with_capacity(target as usize);
    let mut piece = 0u64;
    for (i, original) in originals.iter().enumerate() {
        let i = i as u64;
        // An even spread: original i gets floor(N(i+1)/S) - floor(N·i/S) parts, N in all.
        let parts = (u128::from(target) * u128::from(i + 1) / u128::from(n_original)
            - u128::from(target) * u128::from(i) / u128::from(n_original))
            as u32;
        let width = parts.to_string().len();
        for part in 1..=parts {
            let mut rng = streams.stream("scale", piece);
            piece += 1;
            // Each part is a plausible station of its own: about the size of the one it came from.
            let registered = (original.registered as f64 * (0.75 + 0.5 * rng.uniform())) as u64;
            out.push(SimStation {
                id: format!("{}-{:0width$}", original.id, part),
                registered: registered.max(1),
                part,
                parts,
                ..original.clone()
            });
        }
    }
    Ok((out, true))
}

/// A TOML basic string.
pub(crate) fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The definition text without its `[[stations]]` tables, checked to mean exactly the input minus
/// its stations (so a layout this line-based edit does not understand is refused, never mangled).
pub(crate) fn strip_stations(text: &str) -> Result<String, SimulateError> {
    let mut out = String::with_capacity(text.len());
    let mut skipping = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            skipping = header_name(trimmed).as_deref() == Some("[[stations]]");
        }
        if !skipping {
            out.push_str(line);
        }
    }
    let parse = |t: &str| t.parse::<toml::Table>().map_err(|e| e.to_string());
    let mut before = parse(text).map_err(SimulateError::Rescale)?;
    before.remove("stations");
    let after = parse(&out).map_err(SimulateError::Rescale)?;
    if before != after {
        return Err(SimulateError::Rescale(
            "to rescale, write the stations as [[stations]] tables (not an inline array)".into(),
        ));
    }
    Ok(out)
}

/// The table header at the start of a line (`[[stations]]`, `[rules]`), without spaces or comment.
fn header_name(line: &str) -> Option<String> {
    let end = line.find(']')?;
    let end = if line[end..].starts_with("]]") { end + 2 } else { end + 1 };
    Some(line[..end].chars().filter(|c| !c.is_whitespace()).collect())
}

/// Appends one station table in the layout of the examples.
pub(crate) fn write_station(out: &mut String, election: &Election, s: &SimStation) {
    let original = &election.stations[s.source as usize];
    let name = if s.parts > 1 {
        format!("{} ({}/{})", original.name, s.part, s.parts)
    } else {
        original.name.clone()
    };
    let district = &election.districts[s.district as usize].id;
    let _ = write!(
        out,
        "[[stations]]\nid = {}\nname = {}\ndistrict = {}\nregistered = {}\n",
        toml_string(&s.id),
        toml_string(&name),
        toml_string(district),
        s.registered
    );
    if s.abroad != election.regions[s.region as usize].abroad {
        let _ = writeln!(out, "abroad = {}", s.abroad);
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_station_tables_only() {
        let text = "id = \"x\"\n[[stations]]\nid = \"1\"\nregistered = 5\n\n[[ forms ]]\nid = \"f\"\n[[stations]] # c\nid = \"2\"\n[rules]\na = 1\n";
        let out = strip_stations(text).unwrap();
        assert_eq!(out, "id = \"x\"\n[[ forms ]]\nid = \"f\"\n[rules]\na = 1\n");
        let spaced = "[[ stations ]]\nid = \"1\"\n[rules]\n";
        assert_eq!(strip_stations(spaced).unwrap(), "[rules]\n");
        assert!(strip_stations("stations = [{ id = \"1\" }]\n").is_err());
    }

    #[test]
    fn toml_strings_escape() {
        assert_eq!(toml_string("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u0001\"");
    }
}
