//! Reading and writing a device's results folder. Writes are atomic (a temporary file in
//! the same folder, then a rename) and a folder that belongs to another device, or holds a
//! malformed file, is an error that names the file and changes nothing.

use super::{DeviceHeader, ResultRow, ResultsFile, SCHEMA};
use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `llvmpipe (LLVM 15.0.6, 256 bits)` on Vulkan → `llvmpipe-llvm-15-0-6-256-bits-vulkan`.
pub fn device_slug(adapter: &str, backend: &str) -> String {
    let mut slug = String::new();
    for c in format!("{adapter} {backend}").chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let fail = |e: std::io::Error| Error::DataFile {
        path: path.to_path_buf(),
        message: format!("cannot write: {e}"),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Reads a JSON file of `what` (e.g. "probe file") whose `schema` field must equal
/// `schema`; `Ok(None)` when the file does not exist. Unreadable, malformed or foreign
/// files are errors that name the file.
pub fn load_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    schema: &str,
) -> Result<Option<T>> {
    let fail = |message: String| Error::DataFile {
        path: path.to_path_buf(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(format!("cannot read: {e}"))),
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("malformed {what}: {e}")))?;
    let found = value.get("schema").and_then(|s| s.as_str()).unwrap_or("");
    if found != schema {
        return Err(fail(format!(
            "not an attnbench {what} (schema {found:?}, expected {schema:?})"
        )));
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| fail(format!("malformed {what}: {e}")))
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn save_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| Error::DataFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, &json)
}

/// One device's folder under the results root.
#[derive(Clone, Debug)]
pub struct DeviceFolder {
    /// The folder, e.g. `results/llvmpipe-llvm-15-0-6-256-bits-vulkan`.
    pub dir: PathBuf,
}

impl DeviceFolder {
    /// The folder for `device` under `root`.
    pub fn for_device(root: &Path, device: &DeviceHeader) -> Self {
        DeviceFolder {
            dir: root.join(device.slug()),
        }
    }

    /// An existing folder given by path.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        DeviceFolder { dir: dir.into() }
    }

    /// `results.json`.
    pub fn json_path(&self) -> PathBuf {
        self.dir.join("results.json")
    }

    /// `results.csv`.
    pub fn csv_path(&self) -> PathBuf {
        self.dir.join("results.csv")
    }

    /// Reads `results.json`, checking the schema; `Ok(None)` when there is none yet.
    pub fn load(&self) -> Result<Option<ResultsFile>> {
        load_json(&self.json_path(), "results file", SCHEMA)
    }

    /// Like [`DeviceFolder::load`], but a missing file is an error too.
    pub fn load_existing(&self) -> Result<ResultsFile> {
        self.load()?.ok_or_else(|| Error::DataFile {
            path: self.json_path(),
            message: "no results here (run `cargo bench` first)".into(),
        })
    }

    /// Merges `rows` measured on `device` into the folder's results and writes JSON and
    /// CSV atomically. A folder holding another device's results, or a malformed file, is
    /// an error and nothing is written.
    pub fn merge_and_save(
        &self,
        device: DeviceHeader,
        rows: Vec<ResultRow>,
    ) -> Result<ResultsFile> {
        let mut file = match self.load()? {
            Some(existing) => {
                if !existing.device.is_same_device(&device) {
                    return Err(Error::DataFile {
                        path: self.json_path(),
                        message: format!(
                            "holds results of {} ({}), not of {} ({}); refusing to overwrite another device's results",
                            existing.device.adapter,
                            existing.device.backend,
                            device.adapter,
                            device.backend
                        ),
                    });
                }
                existing
            }
            None => ResultsFile::new(device.clone()),
        };
        file.merge(device, rows);
        // Derived columns follow the device's probed ceilings, when probed.
        if let Some(probe) = crate::probe::ProbeReport::load(&self.dir)? {
            file.rows.iter_mut().for_each(|r| r.apply_probe(&probe));
            file.ceilings = Some((&probe).into());
        }
        self.save(&file)?;
        Ok(file)
    }

    /// Writes `file` as `results.json` and `results.csv`, each atomically.
    pub fn save(&self, file: &ResultsFile) -> Result<()> {
        let json = serde_json::to_vec_pretty(file).map_err(|e| Error::DataFile {
            path: self.json_path(),
            message: e.to_string(),
        })?;
        let csv = to_csv(&file.rows).map_err(|message| Error::DataFile {
            path: self.csv_path(),
            message,
        })?;
        write_atomic(&self.csv_path(), &csv)?;
        write_atomic(&self.json_path(), &json)
    }
}

fn to_csv(rows: &[ResultRow]) -> std::result::Result<Vec<u8>, String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row).map_err(|e| e.to_string())?;
    }
    writer.into_inner().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Status;
    use crate::shape::Shape;

    fn header(name: &str) -> DeviceHeader {
        DeviceHeader::for_test(name)
    }

    fn row(kernel: &str, n: u32, ms: f64) -> ResultRow {
        let mut r = ResultRow::new("prefill-d64", kernel, &Shape::new(n, 64));
        r.status = Status::Ok;
        r.median_ms = Some(ms);
        r
    }

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(
            device_slug("llvmpipe (LLVM 15.0.6, 256 bits)", "Vulkan"),
            "llvmpipe-llvm-15-0-6-256-bits-vulkan"
        );
    }

    #[test]
    fn results_round_trip_and_reruns_merge() {
        let dir = tempfile::tempdir().unwrap();
        let folder = DeviceFolder::at(dir.path().join("dev"));
        folder
            .merge_and_save(
                header("gpu"),
                vec![row("naive", 128, 1.0), row("naive", 256, 4.0)],
            )
            .unwrap();
        let merged = folder
            .merge_and_save(
                header("gpu"),
                vec![row("naive", 256, 3.0), row("flash", 128, 0.5)],
            )
            .unwrap();
        assert_eq!(merged, folder.load().unwrap().unwrap());
        assert_eq!(merged.rows.len(), 3);
        let n256 = merged.rows.iter().find(|r| r.seq_len == 256).unwrap();
        assert_eq!(n256.median_ms, Some(3.0));
        let csv = std::fs::read_to_string(folder.csv_path()).unwrap();
        assert_eq!(csv.lines().count(), 4);
        assert!(csv.starts_with("family,kernel,batch"));
    }

    #[test]
    fn foreign_and_malformed_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let folder = DeviceFolder::at(dir.path());
        folder
            .merge_and_save(header("gpu-a"), vec![row("naive", 128, 1.0)])
            .unwrap();
        let before = std::fs::read(folder.json_path()).unwrap();
        let err = folder
            .merge_and_save(header("gpu-b"), vec![row("naive", 128, 9.0)])
            .unwrap_err();
        assert!(err.to_string().contains("results.json"), "{err}");
        assert_eq!(std::fs::read(folder.json_path()).unwrap(), before);

        std::fs::write(folder.json_path(), b"{\"schema\": \"something-else\"}").unwrap();
        let err = folder.load().unwrap_err();
        assert!(err.to_string().contains("results.json"), "{err}");
        std::fs::write(folder.json_path(), b"{ not json").unwrap();
        assert!(folder.merge_and_save(header("gpu-a"), vec![]).is_err());
        assert_eq!(std::fs::read(folder.json_path()).unwrap(), b"{ not json");
    }
}
