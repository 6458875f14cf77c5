//! Typed errors of the library. The binary maps them to exit codes:
//! [`Error::is_input_error`] errors are the caller's (exit 2), the rest are runtime failures.

use std::path::PathBuf;

/// Everything that can go wrong in attnbench's library code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter at all on this machine.
    #[error(
        "no GPU adapter found (backends tried: {backends}). Install a GPU driver with Vulkan, Metal or DX12 support, \
         or on Linux without a GPU the lavapipe CPU driver: `apt-get install mesa-vulkan-drivers`"
    )]
    NoAdapter {
        /// The backends that were searched.
        backends: String,
    },
    /// `WGPU_ADAPTER_NAME` / `--adapter` matched none of the adapters.
    #[error("no adapter name contains {wanted:?}; adapters found: {available}")]
    AdapterNotFound {
        /// The substring asked for.
        wanted: String,
        /// The adapters that exist, comma separated.
        available: String,
    },
    /// A value of an environment variable or option could not be understood.
    #[error("invalid {what}: {value:?} ({expected})")]
    InvalidSetting {
        /// The setting's name.
        what: String,
        /// The value given.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// The device could not be created.
    #[error("could not create a device on {adapter}: {source}")]
    RequestDevice {
        /// The adapter's name.
        adapter: String,
        /// wgpu's error.
        source: wgpu::RequestDeviceError,
    },
    /// A problem shape that no kernel can run (zero sizes, overflowing byte counts).
    #[error("invalid shape: {0}")]
    InvalidShape(String),
    /// A kernel that does not support the shape or the device.
    #[error("kernel {kernel} does not support this: {reason}")]
    Unsupported {
        /// The kernel's name.
        kernel: String,
        /// Why.
        reason: String,
    },
    /// No kernel of that name is registered.
    #[error("unknown kernel {name:?}; registered kernels: {known}")]
    UnknownKernel {
        /// The name asked for.
        name: String,
        /// The registered names, comma separated.
        known: String,
    },
    /// A planned allocation does not fit the device: refused before anything was allocated.
    #[error("{what} needs {needed} bytes, device allows {allowed} ({limit})")]
    TooLarge {
        /// What was to be allocated.
        what: String,
        /// Bytes needed.
        needed: u64,
        /// Bytes the device allows.
        allowed: u64,
        /// Which limit this is.
        limit: String,
    },
    /// The device ran out of memory although the plan fitted the known limits.
    #[error("out of GPU memory while {during}: {message}")]
    OutOfMemory {
        /// What was being done.
        during: String,
        /// wgpu's message.
        message: String,
    },
    /// wgpu reported a validation or internal error.
    #[error("GPU error while {during}: {message}")]
    Gpu {
        /// What was being done.
        during: String,
        /// wgpu's message.
        message: String,
    },
    /// The device was lost.
    #[error("GPU device lost: {0}")]
    DeviceLost(String),
    /// A tensor file could not be read or written.
    #[error("{path}: {message}")]
    TensorFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A results or configuration file could not be read or written.
    #[error("{path}: {message}")]
    DataFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Ctrl-C or SIGTERM stopped the work ([`crate::interrupt`]); what was finished has
    /// been, or is about to be, saved.
    #[error("interrupted")]
    Interrupted,
    /// Any other I/O error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Error {
    /// True for errors caused by the request rather than by the device or the kernels:
    /// bad shapes, unknown names, sizes past a device limit, malformed files.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            Error::AdapterNotFound { .. }
                | Error::InvalidSetting { .. }
                | Error::InvalidShape(_)
                | Error::Unsupported { .. }
                | Error::UnknownKernel { .. }
                | Error::TooLarge { .. }
                | Error::TensorFile { .. }
                | Error::DataFile { .. }
        )
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
