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

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The largest alignment mimalloc guarantees for any block at least that large
/// (`MI_MAX_ALIGN_SIZE`).
const NATURAL_ALIGN: usize = 16;

pub struct Mimalloc;

#[inline]
fn natural(align: usize, size: usize) -> bool {
    align <= NATURAL_ALIGN && align <= size
}

// SAFETY: every method forwards to the mimalloc function with the same contract; the plain
// entry points are used only where their alignment guarantee covers the layout (see `natural`).
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
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
        unsafe {
            if natural(layout.align(), new_size) {
                mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        }
    }
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
