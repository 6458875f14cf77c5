//! Why the peer could not measure: attnbench's typed refusals (the adapter choice, the
//! shape, the files), or the device's and Burn's failures.

use attnbench::Error;

/// Why the peer could not measure.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// attnbench refused something (the adapter choice, the shape, the files).
    #[error(transparent)]
    Attnbench(#[from] Error),
    /// The device or Burn failed.
    #[error("{0}")]
    Device(String),
}

impl PeerError {
    /// Whether the input was refused (exit 2), rather than the device failing (exit 1).
    pub fn is_input_error(&self) -> bool {
        matches!(self, PeerError::Attnbench(e) if e.is_input_error())
    }
}
