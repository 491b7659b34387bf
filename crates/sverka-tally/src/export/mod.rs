//! Exports of [`crate::tabulate::Results`] for other programs: CSV per station and per level
//! ([`csv`]) and the NIST SP 1500-100 Election Results Reporting common data format in JSON
//! ([`cdf`]). Pure: each function returns bytes or a JSON value; the caller writes them.

pub mod cdf;
pub mod csv;
