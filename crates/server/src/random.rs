//! The operating system's random number generator.

use salus_domain::Random;

/// Random bytes from the OS (getrandom). A failing OS generator aborts the
/// process: continuing without randomness would mint guessable secrets.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            std::process::abort();
        }
    }
}
