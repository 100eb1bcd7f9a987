//! The process allocator of the `ask` binary: mimalloc (v2), called through its plain entry
//! points whenever the requested alignment is one every mimalloc block already has.
//!
//! Why mimalloc at all: Ask values are many small heap objects (an `Rc` box and often a separate
//! string or vector buffer each); glibc's malloc/free showed up as ~28 % of the cycles of
//! string-building code and a visible share of every HTTP request.
//!
//! Why not the `mimalloc` crate's `MiMalloc`: it sends every request through
//! `mi_malloc_aligned`, three calls deep with an extra alignment test, even for the
//! alignments of 1 to 16 that are nearly all of Rust's allocations. mimalloc hands out every
//! block of at least 16 bytes 16-aligned (and smaller blocks aligned to their size, which Rust
//! layouts are a multiple of), so those can take `mi_malloc` directly; the ~43 allocations of a
//! small HTTP request cost ~1,700 fewer instructions that way.
//!
//! Transparent huge pages: mimalloc marks its arena `MADV_HUGEPAGE`, which makes big heaps
//! (a 200,000-item list, a large dict) fault 2 MiB at a time instead of 4 KiB, worth ~10 % on
//! such scripts. But the first touch of each 2 MiB region then zeroes all of it, and start-up
//! touches a few scattered KiB in two regions: ~1 ms of a 2 ms `ask run` of an empty file.
//! So the process starts with huge pages off ([`huge_pages_later`]) and the allocator turns them
//! on once the program has asked for [`HUGE_PAGES_AFTER`] bytes: start-up and small scripts get
//! small pages, a heap that grows gets huge ones. Servers turn them on at once ([`huge_pages`]).

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use libmimalloc_sys as mi;

/// The largest alignment mimalloc guarantees for any block at least that large
/// (`MI_MAX_ALIGN_SIZE`).
const NATURAL_ALIGN: usize = 16;

pub struct Mimalloc;

/// Bytes requested (in total, not live) after which a process started with
/// [`huge_pages_later`] gets huge pages. Start-up asks for ~70 KiB, a small web app's boot
/// ~200 KiB.
pub const HUGE_PAGES_AFTER: usize = 1 << 20;

/// Set while huge pages are off and waiting for the heap to grow.
static HUGE_PENDING: AtomicBool = AtomicBool::new(false);
static REQUESTED: AtomicUsize = AtomicUsize::new(0);

/// Count a request while huge pages wait; the one that crosses the threshold turns them on.
#[inline]
fn note_request(size: usize) {
    if HUGE_PENDING.load(Ordering::Relaxed) {
        count_request(size);
    }
}

#[cold]
fn count_request(size: usize) {
    let total = REQUESTED.fetch_add(size, Ordering::Relaxed) + size;
    if total >= HUGE_PAGES_AFTER && HUGE_PENDING.swap(false, Ordering::Relaxed) {
        // A syscall that allocates nothing: safe inside the allocator.
        huge_pages(true);
    }
}

#[inline]
fn natural(align: usize, size: usize) -> bool {
    align <= NATURAL_ALIGN && align <= size
}

// SAFETY: every method forwards to the mimalloc function with the same contract; the plain
// entry points are used only where their alignment guarantee covers the layout (see `natural`).
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_request(layout.size());
        unsafe {
            if natural(layout.align(), layout.size()) {
                mi::mi_malloc(layout.size()) as *mut u8
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_request(layout.size());
        unsafe {
            if natural(layout.align(), layout.size()) {
                mi::mi_zalloc(layout.size()) as *mut u8
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_request(new_size);
        unsafe {
            if natural(layout.align(), new_size) {
                mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        }
    }
}

/// Runs [`huge_pages_later`] before anything allocates: the Rust runtime's first allocation
/// (before `main`) already makes mimalloc reserve its arena and touch its first pages. A
/// prioritised `.init_array` entry runs ahead of the other constructors, including mimalloc's.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array.00100")]
static SMALL_PAGES_FIRST: extern "C" fn() = {
    extern "C" fn start_small() {
        huge_pages_later();
    }
    start_small
};

/// Start without huge pages; the allocator turns them on when the heap grows (see the module
/// comment).
pub fn huge_pages_later() {
    huge_pages(false);
    HUGE_PENDING.store(true, Ordering::Relaxed);
}

/// Allow (`true`) or forbid transparent huge pages for the process (`PR_SET_THP_DISABLE`; a no-op
/// where Linux's prctl is not available). Pages already faulted in keep their size.
pub fn huge_pages(on: bool) {
    if on {
        HUGE_PENDING.store(false, Ordering::Relaxed);
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes an integer flag and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, if on { 0 } else { 1 } as libc::c_ulong, 0, 0, 0);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = on;
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout};

    #[test]
    fn every_layout_gets_its_alignment() {
        let a = super::Mimalloc;
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [align, align * 2, align * 3, 48, 80, 1 << 12, 1 << 20] {
                if size % align != 0 {
                    continue;
                }
                let l = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let p = a.alloc(l);
                    assert!(!p.is_null() && p as usize % align == 0, "size {size} align {align}");
                    let z = a.alloc_zeroed(l);
                    assert!(p as usize % align == 0 && (0..size).all(|i| *z.add(i) == 0));
                    let q = a.realloc(p, l, size * 2 + align);
                    assert!(q as usize % align == 0, "realloc size {size} align {align}");
                    a.dealloc(q, Layout::from_size_align(size * 2 + align, align).unwrap());
                    a.dealloc(z, l);
                }
            }
        }
    }
}
