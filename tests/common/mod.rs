//! Test helpers: the shared datasets and the workspace ([`paths`], one file for every crate).
#![allow(dead_code)]

#[path = "paths.rs"]
mod paths;
#[allow(unused_imports)]
pub use paths::{dataset, repo, shared};

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
