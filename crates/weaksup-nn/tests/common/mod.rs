//! Test helpers: locating `../shared` (or `$WEAKSUP_SHARED`). Tests that need it skip with a
//! message when it is absent, unless `WEAKSUP_REQUIRE_SHARED=1` (set by `.ci/run`), which turns
//! the skip into a failure.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn shared() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("WEAKSUP_SHARED").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")),
    ];
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

/// The workspace root (this crate is `crates/<name>/`).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// libtorch's random generators are process-global: every test that seeds them or trains takes
/// this lock (the test modules share one process).
pub fn torch_lock() -> std::sync::MutexGuard<'static, ()> {
    static TORCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TORCH.lock().unwrap_or_else(|e| e.into_inner())
}
