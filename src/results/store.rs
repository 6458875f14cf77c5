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

/// Suffix of attnbench's temporary files: `.gitignore`'s `*.tmp` matches them, so files
/// left behind by a killed run are never committed (and [`clean_stale_temp_files`] removes them).
pub const TEMP_SUFFIX: &str = ".tmp";

/// Prefix of attnbench's temporary files.
pub const TEMP_PREFIX: &str = ".attnbench-";

/// Creates `dir` and its parents; a failure is a [`Error::DataFile`] (exit 2), like any
/// other failure to write results.
pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::DataFile {
        path: dir.to_path_buf(),
        message: format!("cannot create the folder: {e}"),
    })
}

/// A new temporary file in `dir` named `.attnbench-XXXXXX.tmp`, created with mode 0666
/// less the umask (like any file the user creates), not tempfile's private 0600.
pub fn temp_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).suffix(TEMP_SUFFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // open(2) applies the umask to this mode.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_dir(dir)?;
    let fail = |e: std::io::Error| Error::DataFile {
        path: path.to_path_buf(),
        message: format!("cannot write: {e}"),
    };
    let mut tmp = temp_file_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Removes temporary files a killed run left in `dir` (named by [`temp_file_in`]) that are
/// older than a minute, so that a writer still running in parallel keeps its own.
pub fn clean_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let minute = std::time::Duration::from_secs(60);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > minute);
        if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) && stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// An exclusive advisory lock on a device folder (`.attnbench.lock` in it), held while a
/// writer reads, merges and writes the folder's files, so that concurrent runs into one
/// folder never lose each other's rows. Released when dropped.
#[derive(Debug)]
pub struct FolderLock {
    _file: std::fs::File,
}

/// Name of the lock file in a device folder.
pub const LOCK_FILE: &str = ".attnbench.lock";

impl FolderLock {
    /// Waits for, then takes, the lock on `dir` (created if missing).
    pub fn acquire(dir: &Path) -> Result<FolderLock> {
        create_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        let fail = |e: std::io::Error| Error::DataFile {
            path: path.clone(),
            message: format!("cannot lock the folder: {e}"),
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(fail)?;
        file.lock().map_err(fail)?;
        clean_stale_temp_files(dir);
        Ok(FolderLock { _file: file })
    }
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

    /// Takes the folder's lock ([`FolderLock`]); hold it across read-merge-write.
    pub fn lock(&self) -> Result<FolderLock> {
        FolderLock::acquire(&self.dir)
    }

    /// Checks, before anything is measured, that results of `device` can be written here:
    /// every file already in the folder (results, probe, tuning) is readable, well formed
    /// and of the same device, and the folder can be created and written. A run that would
    /// fail only at its final write fails here instead, and loses no measurement.
    pub fn preflight(&self, device: &DeviceHeader) -> Result<()> {
        if let Some(existing) = self.load()? {
            refuse_foreign(&self.json_path(), &existing.device, device, "results")?;
        }
        crate::probe::ProbeReport::load_for(&self.dir, device)?;
        if let Some(tuning) = crate::tuning::TuningFile::load(&self.dir)? {
            refuse_foreign(
                &crate::tuning::TuningFile::path(&self.dir),
                &tuning.device,
                device,
                "tuning",
            )?;
        }
        create_dir(&self.dir)?;
        temp_file_in(&self.dir).map_err(|e| Error::DataFile {
            path: self.dir.clone(),
            message: format!("cannot write into the folder: {e}"),
        })?;
        Ok(())
    }

    /// Merges `rows` measured on `device` into the folder's results and writes JSON and
    /// CSV atomically, under the folder's `lock`. A folder holding another device's
    /// results or probe, or a malformed file, is an error and nothing is written.
    pub fn merge_and_save(
        &self,
        _lock: &FolderLock,
        device: DeviceHeader,
        rows: Vec<ResultRow>,
    ) -> Result<ResultsFile> {
        let mut file = match self.load()? {
            Some(existing) => {
                refuse_foreign(&self.json_path(), &existing.device, &device, "results")?;
                existing
            }
            None => ResultsFile::new(device.clone()),
        };
        let probe = crate::probe::ProbeReport::load_for(&self.dir, &device)?;
        file.merge(device, rows);
        // Derived columns follow the device's probed ceilings, when probed.
        if let Some(probe) = probe {
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

/// An error naming `path` when `found` (the device a file was written for) is not `wanted`.
pub fn refuse_foreign(
    path: &Path,
    found: &DeviceHeader,
    wanted: &DeviceHeader,
    what: &str,
) -> Result<()> {
    if found.is_same_device(wanted) {
        return Ok(());
    }
    Err(Error::DataFile {
        path: path.to_path_buf(),
        message: format!(
            "holds the {what} of {} ({}), not of {} ({}); refusing to use or overwrite another device's files",
            found.adapter, found.backend, wanted.adapter, wanted.backend
        ),
    })
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
        let lock = folder.lock().unwrap();
        folder
            .merge_and_save(
                &lock,
                header("gpu"),
                vec![row("naive", 128, 1.0), row("naive", 256, 4.0)],
            )
            .unwrap();
        let merged = folder
            .merge_and_save(
                &lock,
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
        let lock = folder.lock().unwrap();
        folder
            .merge_and_save(&lock, header("gpu-a"), vec![row("naive", 128, 1.0)])
            .unwrap();
        let before = std::fs::read(folder.json_path()).unwrap();
        let err = folder
            .merge_and_save(&lock, header("gpu-b"), vec![row("naive", 128, 9.0)])
            .unwrap_err();
        assert!(err.to_string().contains("results.json"), "{err}");
        assert_eq!(std::fs::read(folder.json_path()).unwrap(), before);

        std::fs::write(folder.json_path(), b"{\"schema\": \"something-else\"}").unwrap();
        let err = folder.load().unwrap_err();
        assert!(err.to_string().contains("results.json"), "{err}");
        std::fs::write(folder.json_path(), b"{ not json").unwrap();
        assert!(
            folder
                .merge_and_save(&lock, header("gpu-a"), vec![])
                .is_err()
        );
        assert_eq!(std::fs::read(folder.json_path()).unwrap(), b"{ not json");
    }

    #[test]
    fn concurrent_writers_under_the_lock_keep_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8u32)
            .map(|i| {
                let folder = DeviceFolder::at(dir.path().join("dev"));
                std::thread::spawn(move || {
                    for j in 0..4u32 {
                        let lock = folder.lock().unwrap();
                        let rows = vec![row(&format!("k{i}"), 16 << j, 1.0)];
                        folder.merge_and_save(&lock, header("gpu"), rows).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let file = DeviceFolder::at(dir.path().join("dev"))
            .load_existing()
            .unwrap();
        assert_eq!(file.rows.len(), 32);
    }

    #[test]
    fn written_files_follow_the_umask_and_temp_files_match_gitignore() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("ours.json");
        write_atomic(&ours, b"{}").unwrap();
        let plain = dir.path().join("plain.json");
        std::fs::write(&plain, b"{}").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&ours), mode(&plain));
        }
        let tmp = temp_file_in(dir.path()).unwrap();
        let name = tmp
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(name.ends_with(".tmp"), "{name}");
    }

    #[test]
    fn preflight_refuses_foreign_or_corrupt_files_and_unwritable_folders() {
        let dir = tempfile::tempdir().unwrap();
        let folder = DeviceFolder::at(dir.path().join("dev"));
        folder.preflight(&header("gpu-a")).unwrap();
        let lock = folder.lock().unwrap();
        folder
            .merge_and_save(&lock, header("gpu-a"), vec![row("naive", 128, 1.0)])
            .unwrap();
        assert!(folder.preflight(&header("gpu-a")).is_ok());
        let err = folder.preflight(&header("gpu-b")).unwrap_err();
        assert!(err.is_input_error(), "{err}");
        std::fs::write(folder.dir.join("probe.json"), b"{ corrupt").unwrap();
        let err = folder.preflight(&header("gpu-a")).unwrap_err();
        assert!(err.to_string().contains("probe.json"), "{err}");
        // A folder that cannot be created (a file stands in its place).
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, b"x").unwrap();
        let err = DeviceFolder::at(blocked.join("dev"))
            .preflight(&header("gpu-a"))
            .unwrap_err();
        assert!(err.is_input_error(), "{err}");
    }
}
