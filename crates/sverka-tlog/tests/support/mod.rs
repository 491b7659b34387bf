//! Test helpers shared by the integration tests: finding the `shared/` directory of outside test
//! vectors (DESIGN.md §"Test data from outside").

use std::path::PathBuf;

/// `$SVERKA_SHARED`, or `../shared` beside the repository root.
fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SVERKA_SHARED") {
        return PathBuf::from(dir);
    }
    // CARGO_MANIFEST_DIR is <repo>/crates/sverka-tlog.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// The directory `relative` inside the shared directory, or `None` after saying why the test is
/// skipped. With `SVERKA_REQUIRE_SHARED=1` (as CI sets) a missing directory fails the test instead.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn shared_path(relative: &str) -> Option<PathBuf> {
    let path = shared_dir().join(relative);
    if path.is_dir() {
        return Some(path);
    }
    let why = format!("{} is absent (set SVERKA_SHARED to the shared directory)", path.display());
    if std::env::var("SVERKA_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!("SVERKA_REQUIRE_SHARED=1 but {why}");
    }
    eprintln!("skipped: {why}");
    None
}
