//! A small bridge to Debian's libspandsp 0.0.6 (LGPL-2.1, by Steve Underwood),
//! used only by tests to check modemflow's kernels against an independent
//! implementation, both ways. Nothing in modemflow links it; without the
//! library (`cfg(spandsp)` unset) the functions here do not exist and the
//! checks are skipped.

/// True when this build linked libspandsp.
pub const AVAILABLE: bool = cfg!(spandsp);

#[cfg(spandsp)]
mod ffi {
    use std::os::raw::{c_int, c_void};

    // spandsp/g711.h
    pub const G711_ALAW: c_int = 0;
    pub const G711_ULAW: c_int = 1;

    #[link(name = "spandsp")]
    extern "C" {
        pub fn g711_init(s: *mut c_void, mode: c_int) -> *mut c_void;
        pub fn g711_free(s: *mut c_void) -> c_int;
        pub fn g711_encode(
            s: *mut c_void,
            g711_data: *mut u8,
            amp: *const i16,
            len: c_int,
        ) -> c_int;
        pub fn g711_decode(
            s: *mut c_void,
            amp: *mut i16,
            g711_data: *const u8,
            g711_bytes: c_int,
        ) -> c_int;
    }
}

/// G.711 through spandsp's block API (`g711_init`/`g711_encode`/`g711_decode`).
#[cfg(spandsp)]
pub mod g711 {
    use super::ffi;
    use std::os::raw::c_int;

    /// The companding law.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Law {
        Mu,
        A,
    }

    struct State(*mut std::os::raw::c_void);

    impl State {
        fn new(law: Law) -> State {
            let mode = match law {
                Law::Mu => ffi::G711_ULAW,
                Law::A => ffi::G711_ALAW,
            };
            // SAFETY: g711_init with a null state allocates a new one.
            let p = unsafe { ffi::g711_init(std::ptr::null_mut(), mode) };
            assert!(!p.is_null(), "g711_init failed");
            State(p)
        }
    }

    impl Drop for State {
        fn drop(&mut self) {
            // SAFETY: the state came from g711_init and is freed once.
            unsafe { ffi::g711_free(self.0) };
        }
    }

    /// Encodes samples to codewords.
    pub fn encode(law: Law, amp: &[i16]) -> Vec<u8> {
        let s = State::new(law);
        let mut out = vec![0u8; amp.len()];
        // SAFETY: both buffers hold amp.len() items.
        let n =
            unsafe { ffi::g711_encode(s.0, out.as_mut_ptr(), amp.as_ptr(), amp.len() as c_int) };
        out.truncate(n.max(0) as usize);
        out
    }

    /// Decodes codewords to samples.
    pub fn decode(law: Law, codes: &[u8]) -> Vec<i16> {
        let s = State::new(law);
        let mut out = vec![0i16; codes.len()];
        // SAFETY: both buffers hold codes.len() items.
        let n = unsafe {
            ffi::g711_decode(s.0, out.as_mut_ptr(), codes.as_ptr(), codes.len() as c_int)
        };
        out.truncate(n.max(0) as usize);
        out
    }
}
