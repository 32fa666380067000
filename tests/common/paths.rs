//! Where the shared datasets and the workspace are, for the integration tests of every crate of
//! the workspace (each crate's `tests/common/mod.rs` includes this file). Tests that need
//! `../shared` (or `$WEAKSUP_SHARED`) skip with a message when it is absent, unless
//! `WEAKSUP_REQUIRE_SHARED=1` (set by `.ci/run`), which turns the skip into a failure.

use std::path::PathBuf;

/// The workspace root: the nearest folder above the including crate with a `Cargo.lock`.
pub fn repo() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().find(|p| p.join("Cargo.lock").is_file()).map_or(here.clone(), PathBuf::from)
}

pub fn shared() -> Option<PathBuf> {
    let candidates = [std::env::var_os("WEAKSUP_SHARED").map(PathBuf::from), Some(repo().join("../shared"))];
    if let Some(p) = candidates.into_iter().flatten().find(|p| p.join("datasets").is_dir()) {
        return Some(p);
    }
    if std::env::var("WEAKSUP_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!(
            "WEAKSUP_REQUIRE_SHARED=1 but no shared/ folder (set WEAKSUP_SHARED or place it beside the checkout)"
        );
    }
    eprintln!("SKIPPED: shared/ datasets not found (set WEAKSUP_SHARED); this test did not run");
    None
}

/// `shared()/datasets/<name>`, or None (skip).
pub fn dataset(name: &str) -> Option<PathBuf> {
    shared().map(|s| s.join("datasets").join(name))
}
