//! The results schema: one file per device (`results/<device>/results.json`, with a CSV
//! twin), in attnbench's own format — never criterion's private JSON. A header names the
//! device and the software; each row is one (family, kernel, shape) point, measured or
//! skipped with its reason.

mod run;
mod schema;
mod skip;
#[cfg(feature = "native")]
mod store;

pub use run::{RunKind, RunRecord, STABLE_CHANGE, Stability};
pub use schema::SCHEMA_V1;
pub use schema::{
    Axis, Ceilings, DeviceHeader, ResultRow, ResultsFile, SCHEMA, Status, WGPU_VERSION,
    device_slug, git_commit, git_dirty, now_rfc3339,
};
pub use skip::Skip;
#[cfg(feature = "native")]
pub use store::{DeviceFolder, refuse_foreign};
