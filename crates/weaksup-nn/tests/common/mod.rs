//! Test helpers: the shared datasets and the workspace ([`paths`], one file for every crate).
#![allow(dead_code)]

#[path = "../../../../tests/common/paths.rs"]
mod paths;
#[allow(unused_imports)]
pub use paths::{dataset, repo, shared};

/// libtorch's random generators are process-global: every test that seeds them or trains takes
/// this lock (the test modules share one process).
pub fn torch_lock() -> std::sync::MutexGuard<'static, ()> {
    static TORCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TORCH.lock().unwrap_or_else(|e| e.into_inner())
}
