//! Reading and writing a device's results folder. Writes are atomic (a temporary file in
//! the same folder, then a rename) and a folder that belongs to another device, or holds a
//! malformed file, is an error that names the file and changes nothing.

use super::file::ResultsFile;
use super::header::DeviceHeader;
use super::run::{Ceilings, RunRecord};
use super::schema::{ResultRow, SCHEMA, SCHEMA_V1, SCHEMA_V2, fill_legacy_row_fields};
use crate::error::{Error, Result};
use crate::files::{FolderLock, create_dir, load_json_with, temp_file_in, write_atomic};
use std::path::{Path, PathBuf};

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
        load_json_with(
            &self.json_path(),
            "results file",
            &[SCHEMA, SCHEMA_V2, SCHEMA_V1],
            fill_legacy_row_fields,
        )
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

    /// Checks that the folder can be created and written (a temporary file is created and
    /// removed), so that a run fails before measuring rather than at its final write.
    pub fn check_writable(&self) -> Result<()> {
        create_dir(&self.dir)?;
        temp_file_in(&self.dir).map_err(|e| Error::DataFile {
            path: self.dir.clone(),
            message: format!("cannot write into the folder: {e}"),
        })?;
        Ok(())
    }

    /// Merges `rows` measured on `device` into the folder's results and writes JSON and
    /// CSV atomically, under the folder's `lock`. With `ceilings` (the device's probe), every
    /// row's derived columns (% of peak, GB/s) are recomputed from them. A folder holding
    /// another device's results, or a malformed file, is an error and nothing is written.
    pub fn merge_and_save(
        &self,
        _lock: &FolderLock,
        device: DeviceHeader,
        rows: Vec<ResultRow>,
        (ceilings, run): (Option<&Ceilings>, Option<&RunRecord>),
    ) -> Result<ResultsFile> {
        let mut file = match self.load()? {
            Some(existing) => {
                refuse_foreign(&self.json_path(), &existing.device, &device, "results")?;
                existing
            }
            None => ResultsFile::new(device.clone()),
        };
        file.merge(device, rows);
        if let Some(run) = run {
            file.record_run(run.clone());
        }
        if let Some(c) = ceilings {
            file.ceilings = Some(c.clone());
        }
        file.apply_ceilings();
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

/// The rows as CSV: one column per field of a row in the schema's order, the typed skip
/// and family kind left out (their text is the `reason` and `family` columns).
fn to_csv(rows: &[ResultRow]) -> std::result::Result<Vec<u8>, String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header_written = false;
    for row in rows {
        let serde_json::Value::Object(fields) =
            serde_json::to_value(row).map_err(|e| e.to_string())?
        else {
            return Err("a results row is not a JSON object".into());
        };
        let fields: Vec<(String, serde_json::Value)> = fields
            .into_iter()
            .filter(|(k, _)| k != "skip" && k != "family_kind")
            .collect();
        if !header_written {
            writer
                .write_record(fields.iter().map(|(k, _)| k.as_str()))
                .map_err(|e| e.to_string())?;
            header_written = true;
        }
        writer
            .write_record(fields.iter().map(|(_, v)| match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }))
            .map_err(|e| e.to_string())?;
    }
    writer.into_inner().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::device_slug;
    use crate::shape::Shape;

    fn header(name: &str) -> DeviceHeader {
        DeviceHeader::for_test(name)
    }

    fn row(kernel: &str, n: u32, ms: f64) -> ResultRow {
        let mut r = ResultRow::new("prefill-d64", kernel, &Shape::new(n, 64));
        let timing = crate::gpu::TimingSource::WallClock;
        r.record(&crate::stats::Measurement::from_samples(vec![ms], timing).unwrap());
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
                (None, None),
            )
            .unwrap();
        let merged = folder
            .merge_and_save(
                &lock,
                header("gpu"),
                vec![row("naive", 256, 3.0), row("flash", 128, 0.5), {
                    // A grouped-query, windowed point beside plain ones: same CSV columns.
                    let shape = crate::Shape::new(128, 64)
                        .with_batch_heads(1, 4)
                        .with_kv_heads(2)
                        .with_window(Some(32));
                    ResultRow::new("window-d64", "flash", &shape)
                }],
                (None, None),
            )
            .unwrap();
        assert_eq!(merged, folder.load().unwrap().unwrap());
        assert_eq!(merged.rows.len(), 4);
        let n256 = merged.rows.iter().find(|r| r.seq_len == 256).unwrap();
        assert_eq!(n256.median_ms, Some(3.0));
        let csv = std::fs::read_to_string(folder.csv_path()).unwrap();
        assert_eq!(csv.lines().count(), 5);
        assert!(csv.starts_with("family,kernel,batch"));
    }

    /// A re-run that skips points (a short sweep budget, a what-if memory budget) keeps the
    /// measured rows; a newer measurement replaces an older one, and a skip an older skip.
    #[test]
    fn skips_never_replace_measurements() {
        let dir = tempfile::tempdir().unwrap();
        let folder = DeviceFolder::at(dir.path().join("dev"));
        let lock = folder.lock().unwrap();
        let skipped = |n: u32, reason: &str| {
            let mut r = ResultRow::new("prefill-d64", "naive", &Shape::new(n, 64));
            r.reason = reason.into();
            r
        };
        folder
            .merge_and_save(
                &lock,
                header("gpu"),
                vec![row("naive", 128, 1.0), skipped(256, "old reason")],
                (None, None),
            )
            .unwrap();
        let merged = folder
            .merge_and_save(
                &lock,
                header("gpu"),
                vec![
                    skipped(128, "time budget of the whole sweep: 0.0 s left"),
                    skipped(256, "new reason"),
                ],
                (None, None),
            )
            .unwrap();
        assert_eq!(merged.rows[0].median_ms, Some(1.0), "{:?}", merged.rows[0]);
        assert!(merged.rows[0].is_ok());
        assert_eq!(merged.rows[1].reason, "new reason");
        let newer = folder
            .merge_and_save(
                &lock,
                header("gpu"),
                vec![row("naive", 128, 2.0)],
                (None, None),
            )
            .unwrap();
        assert_eq!(newer.rows[0].median_ms, Some(2.0));
    }

    #[test]
    fn foreign_and_malformed_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let folder = DeviceFolder::at(dir.path());
        let lock = folder.lock().unwrap();
        folder
            .merge_and_save(
                &lock,
                header("gpu-a"),
                vec![row("naive", 128, 1.0)],
                (None, None),
            )
            .unwrap();
        let before = std::fs::read(folder.json_path()).unwrap();
        let err = folder
            .merge_and_save(
                &lock,
                header("gpu-b"),
                vec![row("naive", 128, 9.0)],
                (None, None),
            )
            .unwrap_err();
        assert!(err.to_string().contains("results.json"), "{err}");
        assert_eq!(std::fs::read(folder.json_path()).unwrap(), before);

        std::fs::write(folder.json_path(), b"{\"schema\": \"something-else\"}").unwrap();
        let err = folder.load().unwrap_err();
        assert!(err.to_string().contains("results.json"), "{err}");
        std::fs::write(folder.json_path(), b"{ not json").unwrap();
        assert!(
            folder
                .merge_and_save(&lock, header("gpu-a"), vec![], (None, None))
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
                        folder
                            .merge_and_save(&lock, header("gpu"), rows, (None, None))
                            .unwrap();
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
    fn unwritable_folders_are_found_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            DeviceFolder::at(dir.path().join("dev"))
                .check_writable()
                .is_ok()
        );
        // A folder that cannot be created (a file stands in its place).
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, b"x").unwrap();
        let err = DeviceFolder::at(blocked.join("dev"))
            .check_writable()
            .unwrap_err();
        assert!(err.is_input_error(), "{err}");
    }
}
