//! sverka-tally (being built).
