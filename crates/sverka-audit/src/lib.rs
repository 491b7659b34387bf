//! sverka-audit (being built).
