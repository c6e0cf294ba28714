//! Allocator tuning for training on the CPU.
//!
//! A training step allocates and frees hundreds of activation and gradient buffers of several
//! megabytes. glibc serves such sizes with fresh `mmap`s and returns them with `munmap`, so
//! every step pays page faults and page zeroing in the kernel for memory it just gave back
//! (about a fifth of a MiniLM step in `perf`). Raising the trim threshold and taking no block
//! from mmap makes glibc keep those pages in the heap and reuse them. The peak memory does not grow: the same
//! buffers are reused from one step to the next.

/// Keep large freed blocks in the heap for reuse (glibc only; a no-op elsewhere). Call once,
/// early, before the first training step.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables; it is safe to call at any time.
    unsafe {
        // Blocks up to 32 MiB (glibc's largest allowed threshold on 64-bit) come from the
        // heap, not from a fresh mmap.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        // Do not hand the top of the heap back to the kernel after each free.
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        // Larger blocks too (the word-embedding gradient of a BERT-base vocabulary is 45 MiB
        // and is allocated three times per step): no mmap at all, so they are reused from the
        // heap instead of being faulted in and zeroed by the kernel every step.
        libc::mallopt(libc::M_MMAP_MAX, 0);
    }
}
