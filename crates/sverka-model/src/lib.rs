//! sverka-model (being built).
