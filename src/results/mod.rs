//! The results schema: one file per device (`results/<device>/results.json`, with a CSV
//! twin), in attnbench's own format — never criterion's private JSON. A header names the
//! device and the software; each row is one (family, kernel, shape) point, measured or
//! skipped with its reason.

mod schema;
mod skip;
mod store;

pub use schema::{
    Axis, Ceilings, DeviceHeader, ResultRow, ResultsFile, SCHEMA, Status, WGPU_VERSION, device_slug,
};
pub use skip::Skip;
pub use store::{DeviceFolder, refuse_foreign};
