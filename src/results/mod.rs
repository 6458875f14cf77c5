//! The results schema: one file per device (`results/<device>/results.json`, with a CSV
//! twin), in attnbench's own format — never criterion's private JSON. A header names the
//! device and the software; each row is one (family, kernel, shape) point, measured or
//! skipped with its reason.

mod family;
mod file;
mod header;
mod phases;
mod run;
mod schema;
mod skip;
#[cfg(feature = "native")]
mod store;
mod validate;

pub use family::{Axis, FamilyKind};
pub use file::ResultsFile;
pub use header::{DeviceHeader, device_slug};
pub use phases::{PhaseSplit, PhaseTime};
pub use run::{
    Ceilings, RunKind, RunRecord, STABLE_CHANGE, Stability, WGPU_VERSION, git_commit, git_dirty,
    now_rfc3339,
};
pub use schema::{ResultRow, SCHEMA, SCHEMA_V1, SCHEMA_V2, Status};
pub use skip::Skip;
#[cfg(feature = "native")]
pub use store::{DeviceFolder, refuse_foreign};
pub use validate::{
    DAY_MS, MAX_FAMILIES, MAX_RATE, check_ceilings, check_header, check_rate, check_time_ms,
};
