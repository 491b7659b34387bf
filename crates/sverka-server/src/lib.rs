//! sverka-server (being built).
