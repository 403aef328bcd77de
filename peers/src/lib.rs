//! A small bridge to Debian's libspandsp 0.0.6 (LGPL-2.1, by Steve Underwood),
//! used only by tests to check modemflow's kernels against an independent
//! implementation, both ways. Nothing in modemflow links it; without the
//! library (`cfg(spandsp)` unset) the functions here do not exist and the
//! checks are skipped.

/// True when this build linked libspandsp.
pub const AVAILABLE: bool = cfg!(spandsp);

#[cfg(spandsp)]
mod ffi {
    use std::os::raw::{c_char, c_int, c_uint, c_void};

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

    /// spandsp/v8.h `v8_parms_t`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    pub struct V8Parms {
        pub status: c_int,
        pub modem_connect_tone: c_int,
        pub send_ci: c_int,
        pub v92: c_int,
        pub call_function: c_int,
        pub modulations: c_uint,
        pub protocol: c_int,
        pub pstn_access: c_int,
        pub pcm_modem_availability: c_int,
        pub nsf: c_int,
        pub t66: c_int,
    }

    /// spandsp/v8.h `v8_result_handler_t`.
    pub type V8ResultHandler = extern "C" fn(user_data: *mut c_void, result: *mut V8Parms);
    /// spandsp/super_tone_rx.h `tone_report_func_t`.
    pub type ToneReportFunc =
        extern "C" fn(user_data: *mut c_void, code: c_int, level: c_int, delay: c_int);

    #[link(name = "spandsp")]
    extern "C" {
        pub fn v8_init(
            s: *mut c_void,
            calling_party: c_int,
            parms: *mut V8Parms,
            result_handler: V8ResultHandler,
            user_data: *mut c_void,
        ) -> *mut c_void;
        pub fn v8_free(s: *mut c_void) -> c_int;
        pub fn v8_tx(s: *mut c_void, amp: *mut i16, max_len: c_int) -> c_int;
        pub fn v8_rx(s: *mut c_void, amp: *const i16, len: c_int) -> c_int;

        pub fn modem_connect_tones_rx_init(
            s: *mut c_void,
            tone_type: c_int,
            tone_callback: ToneReportFunc,
            user_data: *mut c_void,
        ) -> *mut c_void;
        pub fn modem_connect_tones_rx(s: *mut c_void, amp: *const i16, len: c_int) -> c_int;
        pub fn modem_connect_tones_rx_free(s: *mut c_void) -> c_int;
        pub fn modem_connect_tone_to_str(tone: c_int) -> *const c_char;
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

/// Modem connect tones (ANS, ANS/, ANSam, ANSam/, …) through spandsp's
/// detector, `modem_connect_tones_rx_*`.
#[cfg(spandsp)]
pub mod connect_tones {
    use super::ffi;
    use std::os::raw::{c_int, c_void};

    // spandsp/modem_connect_tones.h: the tone codes, as reported and as asked for.
    /// Reported when a tone stops.
    pub const MODEM_CONNECT_TONES_NONE: i32 = 0;
    pub const MODEM_CONNECT_TONES_FAX_CNG: i32 = 1;
    /// 2100 Hz.
    pub const MODEM_CONNECT_TONES_ANS: i32 = 2;
    /// 2100 Hz with phase reversals every 450 ms (ANS/).
    pub const MODEM_CONNECT_TONES_ANS_PR: i32 = 3;
    /// 2100 Hz with 15 Hz AM at 20 % (ANSam).
    pub const MODEM_CONNECT_TONES_ANSAM: i32 = 4;
    /// ANSam with phase reversals (ANSam/).
    pub const MODEM_CONNECT_TONES_ANSAM_PR: i32 = 5;
    pub const MODEM_CONNECT_TONES_FAX_PREAMBLE: i32 = 6;
    pub const MODEM_CONNECT_TONES_FAX_CED_OR_PREAMBLE: i32 = 7;
    pub const MODEM_CONNECT_TONES_BELL_ANS: i32 = 8;
    pub const MODEM_CONNECT_TONES_CALLING_TONE: i32 = 9;

    /// One callback of the detector.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Report {
        /// Index of the input sample during which it was reported.
        pub sample: u64,
        /// The tone (`MODEM_CONNECT_TONES_*`; `NONE` when a tone ends).
        pub code: i32,
        /// spandsp's level argument (dBm0 as spandsp computes it).
        pub level: i32,
        /// spandsp's delay argument.
        pub delay: i32,
    }

    struct Sink {
        sample: u64,
        reports: Vec<Report>,
    }

    extern "C" fn on_tone(user_data: *mut c_void, code: c_int, level: c_int, delay: c_int) {
        // SAFETY: user_data is the boxed Sink that `detect` passed to
        // modem_connect_tones_rx_init; it outlives the detector and nothing
        // else touches it while spandsp runs.
        let sink = unsafe { &mut *(user_data as *mut Sink) };
        sink.reports.push(Report {
            sample: sink.sample,
            code,
            level,
            delay,
        });
    }

    struct Detector(*mut c_void);

    impl Drop for Detector {
        fn drop(&mut self) {
            // SAFETY: the state came from modem_connect_tones_rx_init and is
            // freed once.
            unsafe { ffi::modem_connect_tones_rx_free(self.0) };
        }
    }

    /// Runs spandsp's detector, set up with `tone_type`, over `x` one sample
    /// at a time, and returns its reports with the sample each came at.
    pub fn detect(tone_type: i32, x: &[i16]) -> Vec<Report> {
        let mut sink = Box::new(Sink {
            sample: 0,
            reports: Vec::new(),
        });
        let user = &mut *sink as *mut Sink as *mut c_void;
        // SAFETY: a null state makes spandsp allocate one; `user` points to
        // the boxed Sink, which stays put and outlives the detector (dropped
        // below, before `sink`).
        let p = unsafe {
            ffi::modem_connect_tones_rx_init(std::ptr::null_mut(), tone_type, on_tone, user)
        };
        assert!(!p.is_null(), "modem_connect_tones_rx_init failed");
        let det = Detector(p);
        for (n, s) in x.iter().enumerate() {
            // SAFETY: the callback's only access to the Sink is through
            // `user`; no Rust reference to it is live across the call.
            unsafe { (*(user as *mut Sink)).sample = n as u64 };
            // SAFETY: one valid sample; the state is live.
            unsafe { ffi::modem_connect_tones_rx(det.0, s, 1) };
        }
        drop(det);
        sink.reports
    }

    /// spandsp's name for a tone code (`modem_connect_tone_to_str`).
    pub fn tone_name(code: i32) -> String {
        // SAFETY: spandsp returns a pointer to a static NUL-terminated string
        // (or null, handled below).
        let p = unsafe { ffi::modem_connect_tone_to_str(code) };
        if p.is_null() {
            return String::new();
        }
        // SAFETY: non-null, static and NUL-terminated.
        unsafe { std::ffi::CStr::from_ptr(p) }
            .to_string_lossy()
            .into_owned()
    }
}

/// V.8 negotiation through spandsp's `v8_*` API.
#[cfg(spandsp)]
pub mod v8 {
    use super::ffi;
    use std::os::raw::{c_int, c_void};

    // spandsp/v8.h enum v8_call_function_e
    pub const V8_CALL_V_SERIES: i32 = 6;

    // enum v8_modulation_e
    pub const V8_MOD_V17: u32 = 1 << 0;
    pub const V8_MOD_V21: u32 = 1 << 1;
    pub const V8_MOD_V22: u32 = 1 << 2;
    pub const V8_MOD_V23HDX: u32 = 1 << 3;
    pub const V8_MOD_V23: u32 = 1 << 4;
    pub const V8_MOD_V26BIS: u32 = 1 << 5;
    pub const V8_MOD_V26TER: u32 = 1 << 6;
    pub const V8_MOD_V27TER: u32 = 1 << 7;
    pub const V8_MOD_V29: u32 = 1 << 8;
    pub const V8_MOD_V32: u32 = 1 << 9;
    pub const V8_MOD_V34HDX: u32 = 1 << 10;
    pub const V8_MOD_V34: u32 = 1 << 11;
    pub const V8_MOD_V90: u32 = 1 << 12;
    pub const V8_MOD_V92: u32 = 1 << 13;

    // enum v8_protocol_e
    pub const V8_PROTOCOL_NONE: i32 = 0;
    pub const V8_PROTOCOL_LAPM_V42: i32 = 1;

    // enum v8_pstn_access_e
    pub const V8_PSTN_ACCESS_CALL_DCE_CELLULAR: i32 = 0x01;
    pub const V8_PSTN_ACCESS_ANSWER_DCE_CELLULAR: i32 = 0x02;
    pub const V8_PSTN_ACCESS_DCE_ON_DIGITAL: i32 = 0x04;

    // enum v8_pcm_modem_availability_e
    pub const V8_PSTN_PCM_MODEM_V90_V92_ANALOGUE: i32 = 0x01;
    pub const V8_PSTN_PCM_MODEM_V90_V92_DIGITAL: i32 = 0x02;
    pub const V8_PSTN_PCM_MODEM_V91: i32 = 0x04;

    // enum v8_status_e
    pub const V8_STATUS_IN_PROGRESS: i32 = 0;
    pub const V8_STATUS_V8_OFFERED: i32 = 1;
    pub const V8_STATUS_V8_CALL: i32 = 2;
    pub const V8_STATUS_NON_V8_CALL: i32 = 3;
    pub const V8_STATUS_FAILED: i32 = 4;

    pub use super::connect_tones::{
        MODEM_CONNECT_TONES_ANS, MODEM_CONNECT_TONES_ANSAM, MODEM_CONNECT_TONES_ANSAM_PR,
        MODEM_CONNECT_TONES_ANS_PR, MODEM_CONNECT_TONES_NONE,
    };

    /// The fields of spandsp's `v8_parms_t`: what `V8::new` offers, and what
    /// each result callback reports.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Parms {
        /// `V8_STATUS_*` (ignored when given to `V8::new`).
        pub status: i32,
        /// `MODEM_CONNECT_TONES_*`: the answer tone an answerer sends, the one
        /// a caller recognised.
        pub modem_connect_tone: i32,
        pub send_ci: i32,
        pub v92: i32,
        /// `V8_CALL_*`.
        pub call_function: i32,
        /// `V8_MOD_*` bits.
        pub modulations: u32,
        /// `V8_PROTOCOL_*`.
        pub protocol: i32,
        /// `V8_PSTN_ACCESS_*` bits.
        pub pstn_access: i32,
        /// `V8_PSTN_PCM_MODEM_*` bits.
        pub pcm_modem_availability: i32,
        /// NSF to send; −1 for none (`Parms::default()` has 0).
        pub nsf: i32,
        /// T.66 to send; −1 for none (`Parms::default()` has 0).
        pub t66: i32,
    }

    impl From<&Parms> for ffi::V8Parms {
        fn from(p: &Parms) -> Self {
            ffi::V8Parms {
                status: p.status,
                modem_connect_tone: p.modem_connect_tone,
                send_ci: p.send_ci,
                v92: p.v92,
                call_function: p.call_function,
                modulations: p.modulations,
                protocol: p.protocol,
                pstn_access: p.pstn_access,
                pcm_modem_availability: p.pcm_modem_availability,
                nsf: p.nsf,
                t66: p.t66,
            }
        }
    }

    impl From<&ffi::V8Parms> for Parms {
        fn from(p: &ffi::V8Parms) -> Self {
            Parms {
                status: p.status,
                modem_connect_tone: p.modem_connect_tone,
                send_ci: p.send_ci,
                v92: p.v92,
                call_function: p.call_function,
                modulations: p.modulations,
                protocol: p.protocol,
                pstn_access: p.pstn_access,
                pcm_modem_availability: p.pcm_modem_availability,
                nsf: p.nsf,
                t66: p.t66,
            }
        }
    }

    /// What the result handler sees; boxed so its address stays fixed.
    struct Shared {
        /// The parms given to v8_init, kept alive with the state.
        parms: ffi::V8Parms,
        caller: bool,
        narrow_to: Option<u32>,
        results: Vec<Parms>,
        result_samples: Vec<u64>,
        /// Samples given to `rx` so far (the index of the one being processed).
        rx_sample: u64,
    }

    extern "C" fn on_result(user_data: *mut c_void, result: *mut ffi::V8Parms) {
        // SAFETY: user_data is the boxed Shared of the V8 that registered this
        // handler; spandsp calls it only from inside v8_tx/v8_rx, while no
        // Rust reference to the Shared is live. `result` points to the
        // state's own v8_parms_t, valid for the call.
        let (sh, r) = unsafe { (&mut *(user_data as *mut Shared), &mut *result) };
        sh.results.push(Parms::from(&*r));
        sh.result_samples.push(sh.rx_sample);
        if r.status == V8_STATUS_V8_OFFERED && !sh.caller {
            if let Some(mask) = sh.narrow_to {
                // What JM will offer: spandsp copies CM's modes otherwise.
                r.modulations &= mask;
            }
        }
    }

    /// A spandsp V.8 caller or answerer (`v8_init(NULL, …)` … `v8_free`).
    pub struct V8 {
        state: *mut c_void,
        shared: *mut Shared,
    }

    impl V8 {
        /// A caller (`caller`) or answerer offering `parms`. Each result
        /// callback is recorded as spandsp reports it (see [`V8::results`]).
        pub fn new(caller: bool, parms: &Parms) -> V8 {
            V8::with_narrowing(caller, parms, None)
        }

        /// As [`V8::new`]; on an answerer with `narrow_to`, the handler
        /// narrows the modulations of a `V8_STATUS_V8_OFFERED` result to
        /// that mask (after recording it), so that JM offers only those, as
        /// spandsp leaves to the application.
        pub fn with_narrowing(caller: bool, parms: &Parms, narrow_to: Option<u32>) -> V8 {
            let shared = Box::into_raw(Box::new(Shared {
                parms: parms.into(),
                caller,
                narrow_to,
                results: Vec::new(),
                result_samples: Vec::new(),
                rx_sample: 0,
            }));
            // SAFETY: a null state makes spandsp allocate one. The parms
            // pointer and user data point into the leaked Box, which lives
            // until Drop frees it after v8_free.
            let state = unsafe {
                ffi::v8_init(
                    std::ptr::null_mut(),
                    c_int::from(caller),
                    std::ptr::addr_of_mut!((*shared).parms),
                    on_result,
                    shared as *mut c_void,
                )
            };
            if state.is_null() {
                // SAFETY: from Box::into_raw above, not shared with spandsp
                // any more.
                drop(unsafe { Box::from_raw(shared) });
                panic!("v8_init failed");
            }
            V8 { state, shared }
        }

        /// Fills `out` with transmit samples, calling `v8_tx` one sample at a
        /// time (spandsp 0.0.6 miscounts samples when its 75 ms silence and
        /// the start of FSK fall in one buffer); a sample it does not
        /// produce is 0.
        pub fn tx(&mut self, out: &mut [i16]) {
            for o in out {
                let mut s = 0i16;
                // SAFETY: room for one sample; the state is live.
                let n = unsafe { ffi::v8_tx(self.state, &mut s, 1) };
                *o = if n == 1 { s } else { 0 };
            }
        }

        /// Feeds received samples (one at a time, so that each result knows
        /// the sample it came at).
        pub fn rx(&mut self, x: &[i16]) {
            for s in x {
                // SAFETY: one valid sample; the state is live. The handler may
                // run inside and write to the Shared, which no Rust reference
                // covers during the call.
                unsafe { ffi::v8_rx(self.state, s, 1) };
                // SAFETY: spandsp is not running; nothing else holds the Shared.
                unsafe { (*self.shared).rx_sample += 1 };
            }
        }

        /// Every result callback so far, in order, as spandsp reported it
        /// (before any narrowing).
        pub fn results(&self) -> &[Parms] {
            // SAFETY: the Shared lives as long as self; spandsp only writes
            // it during tx/rx, which need &mut self.
            unsafe { &(*self.shared).results }
        }

        /// For each result, the index of the received sample being processed
        /// when it came (the number of samples given to `rx` before it).
        pub fn result_samples(&self) -> &[u64] {
            // SAFETY: as in `results`.
            unsafe { &(*self.shared).result_samples }
        }
    }

    impl Drop for V8 {
        fn drop(&mut self) {
            // SAFETY: the state came from v8_init and is freed once; then the
            // Shared, which spandsp no longer refers to, is freed once.
            unsafe {
                ffi::v8_free(self.state);
                drop(Box::from_raw(self.shared));
            }
        }
    }
}
