//! Test helpers: locating `../shared` (or `$WEAKSUP_SHARED`). Tests that need it skip with a
//! message when it is absent, unless `WEAKSUP_REQUIRE_SHARED=1` (set by `.ci/run`), which turns
//! the skip into a failure.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn shared() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("WEAKSUP_SHARED").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared")),
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

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `weaksup` binary (without `RUST_LOG`, so logging is the default).
pub fn weaksup(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_weaksup"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run weaksup")
}

/// Runs `weaksup`, expects success, returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = weaksup(args);
    assert!(out.status.success(), "weaksup {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `weaksup`, expects exit code `code` (1: an error; 2: clap's usage errors) with one
/// `error:` line and no panic or internal error; returns stderr.
pub fn fails_with(code: i32, args: &[&str]) -> String {
    let out = weaksup(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "weaksup {args:?}: {stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("error: ")), "{stderr}");
    assert!(!stderr.contains("panicked at") && !stderr.contains("internal error"), "{stderr}");
    stderr
}

/// [`fails_with`] exit code 1.
pub fn fails(args: &[&str]) -> String {
    fails_with(1, args)
}

/// A path as the `&str` a command line takes.
pub fn s(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 path")
}
