//! Large buffers on 2 MiB pages where Linux offers them. Decoding one token streams every
//! weight (497 MB for GPT-2 small in f32): on 4 KiB pages that is a TLB miss and a page walk
//! every 4 KiB, 120,000 a token. Linux's transparent huge pages are commonly given only to
//! memory that asks for them (`/sys/kernel/mm/transparent_hugepage/enabled` = `madvise`);
//! asking costs one system call per buffer, and PyTorch's CPU allocator does the same for its
//! large tensors (`THP_MEM_ALLOC_ENABLE`). Measured on the 124M model's f32 decoding products,
//! one row, 2 threads, alternated 40 times: median 19.1-19.8 -> 18.4-19.1 ms (2-4%); through
//! `minichat serve`, one client, old and new alternated 4 times: 48.1-49.4 -> 49.6-53.0
//! tokens/s.
//! Where huge pages are off, or on other systems, the buffers are plain and nothing changes.

/// Buffers from this size up ask for huge pages (smaller ones would hold at most one).
const MIN_BYTES: usize = 4 << 20;

/// `len` zeros; from `MIN_BYTES` up, marked for huge pages before any page is touched (a zeroed
/// allocation this large is fresh memory from the system: its pages are faulted in on first
/// write, as 2 MiB pages where the marked range covers one).
pub fn zeroed<T: Copy + Default>(len: usize) -> Vec<T> {
    let v = vec![T::default(); len];
    let bytes = std::mem::size_of_val(v.as_slice());
    if bytes >= MIN_BYTES {
        advise(v.as_ptr().cast(), bytes);
    }
    v
}

/// Asks Linux to back the whole 4 KiB pages inside `[ptr, ptr + bytes)` with huge pages.
#[cfg(target_os = "linux")]
fn advise(ptr: *const u8, bytes: usize) {
    const PAGE: usize = 4096;
    let start = (ptr as usize).next_multiple_of(PAGE);
    let end = (ptr as usize + bytes) / PAGE * PAGE;
    if end > start {
        // SAFETY: the range lies inside one live allocation of ours; MADV_HUGEPAGE only changes
        // how the kernel backs it, never its contents. A refusal (huge pages compiled out or
        // set to `never`) leaves the buffer as it was, which is fine.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_: *const u8, _: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_buffers_are_zero_at_any_size() {
        for len in [0, 1, 1000, (MIN_BYTES / 4) + 12_345] {
            let v: Vec<f32> = zeroed(len);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == 0.0));
            let w: Vec<u16> = zeroed(len);
            assert!(w.len() == len && w.iter().all(|&x| x == 0));
        }
    }
}
