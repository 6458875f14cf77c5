//! `capacity.json`: a device's capacity table, saved in its folder (native: files).

use super::table::Capacity;
use crate::error::{Error, Result};
use crate::files::{FolderLock, save_json};
use crate::results::{DeviceHeader, refuse_foreign};
use crate::shape::Shape;
use std::path::{Path, PathBuf};

/// Identifies the schema of `capacity.json` (files before it have no `schema`).
pub const SCHEMA: &str = "attnbench-capacity/1";

/// `capacity.json` in a device folder.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("capacity.json")
}

/// Refuses the `capacity.json` in `dir` when it holds another device's capacity or cannot
/// be read (it is never overwritten then); a missing file is fine.
pub fn check_file(dir: &Path, device: &DeviceHeader) -> Result<()> {
    let path = path(dir);
    let fail = |message: String| Error::DataFile {
        path: path.clone(),
        message,
    };
    let Some(text) = crate::files::read_data_file(&path)? else {
        return Ok(());
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("malformed capacity file: {e}")))?;
    let found: DeviceHeader = value
        .get("device")
        .cloned()
        .ok_or_else(|| fail("not an attnbench capacity file (no device)".into()))
        .and_then(|d| {
            serde_json::from_value(d).map_err(|e| fail(format!("malformed capacity file: {e}")))
        })?;
    refuse_foreign(&path, &found, device, "capacity")
}

/// Writes `capacity.json` into `dir` for `device` at `template` (atomically, under the
/// folder's lock), unless the file there is another device's.
pub fn save(
    dir: &Path,
    _lock: &FolderLock,
    device: &DeviceHeader,
    template: &Shape,
    rows: &[Capacity],
) -> Result<PathBuf> {
    check_file(dir, device)?;
    let path = path(dir);
    save_json(
        &path,
        &serde_json::json!({ "schema": SCHEMA, "device": device, "shape": template, "kernels": rows }),
    )?;
    Ok(path)
}
