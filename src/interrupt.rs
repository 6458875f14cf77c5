//! Cancellation on Ctrl-C (SIGINT) or SIGTERM. The binary's signal handler calls
//! [`request`]; long loops (the sweep's points, a kernel's warm-up and timed runs, verify's
//! checks) look at [`requested`] between their steps and stop with
//! [`Error::Interrupted`](crate::Error::Interrupted), or return what they finished, so that
//! the caller saves every finished measurement before it exits with [`EXIT_CODE`].

use std::sync::atomic::{AtomicBool, Ordering};

/// The exit code of a command stopped by a signal (128 + SIGINT), as shells report it.
pub const EXIT_CODE: u8 = 130;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every loop to stop at its next step; returns whether that had been asked before.
pub fn request() -> bool {
    REQUESTED.swap(true, Ordering::SeqCst)
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// [`crate::Error::Interrupted`] when a stop was asked for.
pub fn check() -> crate::Result<()> {
    if requested() {
        Err(crate::Error::Interrupted)
    } else {
        Ok(())
    }
}
