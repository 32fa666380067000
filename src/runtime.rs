//! Process-level tuning for tensor workloads.

/// Keeps large tensor buffers on glibc's heap instead of mmap/munmap-ing them on every
/// allocation: training allocates and frees buffers of tens of MiB each step (embedding gradients,
/// optimizer temporaries), and above glibc's default 32 MiB mmap threshold each one costs page
/// faults and zeroing. Measured on MiniLM training steps (batch 32, 2 cores): +8% fp32 and +11%
/// bf16 examples/s; on the n-gram model with a 32 MiB table, 42 → 11 ms a step. Call once at
/// start-up, before large allocations. A no-op off glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before other threads allocate.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
