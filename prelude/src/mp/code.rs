//! Which code a process has: the shared objects loaded in it, found with
//! `dl_iterate_phdr`. A pool worker forked before a cell's library was loaded
//! does not have that cell's functions; the pool asks here before sending one.

use std::collections::HashSet;

/// Called with an object's load address and a test for "this address is in it".
type Visitor<'a> = dyn FnMut(usize, &dyn Fn(usize) -> bool) + 'a;

/// The load address of the shared object containing `address`, if any.
pub(crate) fn object_of(address: usize) -> Option<usize> {
    let mut search = (address, None::<usize>);
    iterate_objects(|object, contains| {
        if contains(search.0) {
            search.1 = Some(object);
        }
    });
    search.1
}

/// The load addresses of every object loaded now.
pub(crate) fn loaded_objects() -> HashSet<usize> {
    let mut objects = HashSet::new();
    iterate_objects(|object, _| {
        objects.insert(object);
    });
    objects
}

/// Calls `visit(load_address, contains)` for every loaded object, where
/// `contains(address)` tells whether one of its loaded segments holds it.
fn iterate_objects(mut visit: impl FnMut(usize, &dyn Fn(usize) -> bool)) {
    unsafe extern "C" fn callback(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info, and `data` is the visitor below.
        unsafe {
            let visit = &mut *(data as *mut &mut Visitor);
            let info = &*info;
            let base = info.dlpi_addr as usize;
            let headers = if info.dlpi_phdr.is_null() {
                &[]
            } else {
                std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize)
            };
            let contains = |address: usize| {
                headers.iter().any(|header| {
                    header.p_type == libc::PT_LOAD
                        && (base + header.p_vaddr as usize
                            ..base + (header.p_vaddr + header.p_memsz) as usize)
                            .contains(&address)
                })
            };
            visit(base, &contains);
        }
        0
    }
    let mut visitor: &mut Visitor = &mut visit;
    // SAFETY: the callback only uses `data` as the visitor, during this call.
    unsafe { libc::dl_iterate_phdr(Some(callback), (&raw mut visitor).cast()) };
}
