//! sverka-store (being built).
