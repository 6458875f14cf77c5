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
        limit: Limit,
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

/// Which limit a planned allocation or dispatch went past ([`Error::TooLarge`]). Results
/// rows carry it as data (`{"kind": "memory_budget", "source": …}`); files written before
/// it was typed carry its text, which [`Limit::from_text`] reads back once, at the loader.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Limit {
    /// The bytes all buffers may hold at once ([`crate::gpu::MemoryBudget`]).
    MemoryBudget {
        /// Where the budget came from (an override, the backend's heap, host memory).
        source: String,
    },
    /// `max_buffer_size`: one buffer.
    MaxBufferSize,
    /// `max_storage_buffer_binding_size`: one buffer bound as storage.
    MaxStorageBufferBindingSize,
    /// Workgroups per dispatch (a count, not bytes).
    WorkgroupsPerDispatch,
    /// `max_texture_dimension_2d`: the rows of a texel array.
    MaxTextureDimension2d {
        /// Texels per row.
        texels_per_row: u32,
        /// Rows allowed.
        rows: u64,
    },
    /// The host memory available (MemAvailable).
    HostMemory,
    /// A limit this attnbench does not know (a file from another version): kept as text,
    /// shown, never acted on.
    Other {
        /// Its text.
        text: String,
    },
}

impl Limit {
    /// The limit a text written before limits were typed names (its [`Display`] form);
    /// [`Limit::Other`] for text this version does not know.
    ///
    /// [`Display`]: std::fmt::Display
    pub fn from_text(text: &str) -> Limit {
        let text = text.trim();
        let texture = || {
            let inner = text
                .strip_prefix("max_texture_dimension_2d (")?
                .strip_suffix(" rows)")?;
            let (per_row, rows) = inner.split_once(" texels per row × ")?;
            Some(Limit::MaxTextureDimension2d {
                texels_per_row: per_row.parse().ok()?,
                rows: rows.parse().ok()?,
            })
        };
        match text {
            "max_buffer_size" => Limit::MaxBufferSize,
            "max_storage_buffer_binding_size" => Limit::MaxStorageBufferBindingSize,
            "workgroups per dispatch" => Limit::WorkgroupsPerDispatch,
            "host memory available (MemAvailable)" => Limit::HostMemory,
            _ => match text.strip_prefix("memory budget from ") {
                Some(source) => Limit::MemoryBudget {
                    source: source.to_string(),
                },
                None => texture().unwrap_or_else(|| Limit::Other { text: text.into() }),
            },
        }
    }

    /// Whether it counts workgroups rather than bytes.
    pub fn counts_workgroups(&self) -> bool {
        matches!(self, Limit::WorkgroupsPerDispatch)
    }

    /// Whether it limits every buffer together (the budget), not one buffer.
    pub fn is_budget(&self) -> bool {
        matches!(self, Limit::MemoryBudget { .. } | Limit::HostMemory)
    }

    /// A few words for chart labels: `budget`, `max storage binding`, `max buffer size`.
    pub fn short(&self) -> String {
        match self {
            Limit::MemoryBudget { .. } => "budget".into(),
            Limit::MaxStorageBufferBindingSize => "max storage binding".into(),
            Limit::MaxBufferSize => "max buffer size".into(),
            other => other.to_string(),
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::MemoryBudget { source } => write!(f, "memory budget from {source}"),
            Limit::MaxBufferSize => f.write_str("max_buffer_size"),
            Limit::MaxStorageBufferBindingSize => f.write_str("max_storage_buffer_binding_size"),
            Limit::WorkgroupsPerDispatch => f.write_str("workgroups per dispatch"),
            Limit::MaxTextureDimension2d {
                texels_per_row,
                rows,
            } => write!(
                f,
                "max_texture_dimension_2d ({texels_per_row} texels per row × {rows} rows)"
            ),
            Limit::HostMemory => f.write_str("host memory available (MemAvailable)"),
            Limit::Other { text } => f.write_str(text),
        }
    }
}

/// A [`Limit`] as results files hold it: the typed object, or (files written before limits
/// were typed) its text.
pub fn limit_or_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Limit, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Text(String),
        Typed(Limit),
    }
    Ok(
        match <Stored as serde::Deserialize>::deserialize(deserializer)? {
            Stored::Text(text) => Limit::from_text(&text),
            Stored::Typed(limit) => limit,
        },
    )
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::Limit;

    /// Every limit's text reads back as that limit; unknown text is kept as text.
    #[test]
    fn limits_read_back_from_their_text() {
        for limit in [
            Limit::MemoryBudget {
                source: "Vulkan device-local heap".into(),
            },
            Limit::MaxBufferSize,
            Limit::MaxStorageBufferBindingSize,
            Limit::WorkgroupsPerDispatch,
            Limit::MaxTextureDimension2d {
                texels_per_row: 8192,
                rows: 16384,
            },
            Limit::HostMemory,
        ] {
            assert_eq!(Limit::from_text(&limit.to_string()), limit);
            let json = serde_json::to_value(&limit).unwrap();
            assert_eq!(serde_json::from_value::<Limit>(json).unwrap(), limit);
        }
        assert_eq!(
            Limit::from_text("a wall of <b>glass</b>"),
            Limit::Other {
                text: "a wall of <b>glass</b>".into()
            }
        );
    }
}
