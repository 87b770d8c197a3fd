//! Process tuning for training: the allocator and thread priority.
//!
//! Each training step allocates and frees the same large tensors. By default glibc serves
//! blocks over 128 KiB with mmap and returns freed memory to the kernel, so every step pays
//! for fresh page faults: about half the CPU time of a step was in the kernel. Keeping freed
//! memory in the process removes that cost.

/// Raises glibc's mmap and trim thresholds so freed tensors are reused instead of unmapped.
/// Call once at startup, before the first allocation-heavy work.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; we call it from the main thread before
    // any other thread exists.
    unsafe {
        const BIG: libc::c_int = 1 << 30;
        libc::mallopt(libc::M_MMAP_THRESHOLD, BIG);
        libc::mallopt(libc::M_TRIM_THRESHOLD, BIG);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// Lowers the calling thread's scheduling priority (nice `by`). The trainer calls it before its
/// first tensor op, so the compute threads it starts inherit it: the UI and probes then preempt
/// training instead of queueing behind it. Best effort; a failure changes nothing else.
pub fn lower_thread_priority(by: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority only read and set this thread's scheduling attributes.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let current = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, current + by);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = by;
}
