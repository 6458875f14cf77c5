//! Per-device tuning: `results/<device>/tuning.json` holds, per (kernel, head dim), the
//! fastest correct tile configuration `attnbench tune` found ([`search`]), with every
//! configuration it tried and its time or the reason it was rejected. [`apply`] loads the
//! file, checked, into the device's [`TunedConfigs`], where flash reads it; the benches, `sweep`,
//! `run` and `verify` do this, so they measure the tuned kernels.

pub mod search;

use crate::bench::Bench;
use crate::error::{Error, Result};
use crate::files::{FolderLock, load_json, save_json};
use crate::kernels::flash::{FlashConfig, TunedConfigs, TuningKey, kernel_name};
use crate::kernels::{Precision, TunedChoices};
use crate::results::{DeviceFolder, DeviceHeader};
use crate::shape::Shape;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Identifies the schema of every tuning file.
pub const SCHEMA: &str = "attnbench-tuning/1";

/// One configuration the tuner tried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// The configuration (in the file, its text form, e.g. `broadcast,32,4`).
    pub config: FlashConfig,
    /// Median time at the tuning shape, when it ran and was correct.
    pub median_ms: Option<f64>,
    /// Relative L2 error on the correctness shapes, when it ran.
    pub rel_l2_err: Option<f64>,
    /// Why it was not timed (unsupported, wrong results, pruned as slow), when it was not.
    pub rejected: Option<String>,
}

/// The choice for one (kernel, head dim).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TunedChoice {
    /// Kernel name (`flash` or `flash_f16`; the name carries the dtype).
    pub kernel: String,
    /// Element type of the kernel's arithmetic.
    pub dtype: Precision,
    /// Head dimension d.
    pub head_dim: u32,
    /// The fastest correct configuration.
    pub config: FlashConfig,
    /// Its median time in ms at the tuning shape.
    pub median_ms: f64,
    /// Its GFLOP/s there (4·B·H·n²·d).
    pub gflops: f64,
    /// The configuration the kernel would use untuned, and its median time.
    pub untuned_config: FlashConfig,
    /// Median ms of the untuned configuration (None if it was rejected).
    pub untuned_ms: Option<f64>,
    /// The tuning shape: `B×H×n×d`, non-causal.
    pub shape: String,
    /// Every configuration tried.
    pub trials: Vec<Trial>,
}

/// The tuning file of one device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TuningFile {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The device (and software) the choices were measured on.
    pub device: DeviceHeader,
    /// The choices, sorted by kernel and head dim.
    pub choices: Vec<TunedChoice>,
}

impl TuningFile {
    /// An empty file for `device`.
    pub fn new(device: DeviceHeader) -> Self {
        TuningFile {
            schema: SCHEMA.into(),
            device,
            choices: Vec::new(),
        }
    }

    /// `tuning.json` in a device folder.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("tuning.json")
    }

    /// Reads `tuning.json` from `dir`; `Ok(None)` when absent. A file of another schema, a
    /// malformed one, or one whose numbers are not times and rates ([`TuningFile::check`])
    /// is an error naming the file, the choice and the field.
    pub fn load(dir: &Path) -> Result<Option<TuningFile>> {
        let path = Self::path(dir);
        let file: Option<TuningFile> = load_json(&path, "tuning file", SCHEMA)?;
        if let Some(f) = &file {
            f.check().map_err(|message| Error::DataFile {
                path: path.clone(),
                message: format!("malformed tuning file: {message}"),
            })?;
        }
        Ok(file)
    }

    /// Checks what a file from elsewhere could get wrong: the device named, every time a
    /// time and every rate a rate, head dims a kernel can take. Configurations are checked
    /// against the device when they are applied ([`apply_for`]).
    pub fn check(&self) -> std::result::Result<(), String> {
        use crate::results::{check_rate, check_time_ms};
        crate::results::check_header(&self.device)?;
        for (i, c) in self.choices.iter().enumerate() {
            let at = |e: String| format!("choices[{i}] ({} d{}): {e}", c.kernel, c.head_dim);
            if c.head_dim == 0 || c.head_dim > crate::shape::MAX_HEAD_DIM {
                return Err(at(format!("head_dim: {} is no head dim", c.head_dim)));
            }
            check_time_ms("median_ms", c.median_ms).map_err(at)?;
            check_rate("gflops", c.gflops).map_err(at)?;
            if let Some(ms) = c.untuned_ms {
                check_time_ms("untuned_ms", ms).map_err(at)?;
            }
            for (j, t) in c.trials.iter().enumerate() {
                if let Some(ms) = t.median_ms {
                    check_time_ms(&format!("trials[{j}].median_ms"), ms).map_err(at)?;
                }
                if let Some(e) = t.rel_l2_err.filter(|e| !(e.is_finite() && *e >= 0.0)) {
                    return Err(at(format!("trials[{j}].rel_l2_err: {e} is no error")));
                }
            }
        }
        Ok(())
    }

    /// Merges `choices` into the file in `dir` (replacing those of the same kernel and
    /// head dim) and writes it atomically, under the folder's lock. A file of another
    /// device is refused and left as it is.
    pub fn merge_and_save(
        dir: &Path,
        _lock: &FolderLock,
        device: DeviceHeader,
        choices: Vec<TunedChoice>,
    ) -> Result<TuningFile> {
        let mut file = match Self::load(dir)? {
            Some(existing) => {
                if !existing.device.is_same_device(&device) {
                    return Err(Error::DataFile {
                        path: Self::path(dir),
                        message: format!(
                            "holds the tuning of {} ({}), not of {} ({}); refusing to overwrite it",
                            existing.device.adapter,
                            existing.device.backend,
                            device.adapter,
                            device.backend
                        ),
                    });
                }
                existing
            }
            None => TuningFile::new(device.clone()),
        };
        file.device = device;
        for choice in choices {
            file.choices
                .retain(|c| !(c.kernel == choice.kernel && c.head_dim == choice.head_dim));
            file.choices.push(choice);
        }
        file.choices
            .sort_by(|a, b| (&a.kernel, a.head_dim).cmp(&(&b.kernel, b.head_dim)));
        save_json(&Self::path(dir), &file)?;
        Ok(file)
    }
}

/// Loads the tuning file of `bench`'s device folder under `results_root`, if there is one,
/// into `bench`; returns how many choices it applied. A file recorded on another device (a
/// folder copied by hand) is an error.
pub fn apply(bench: &mut Bench, results_root: &Path) -> Result<usize> {
    apply_for(bench, results_root, |_| true)
}

/// Like [`apply`] for the kernels `wanted` accepts: the choices of other kernels are
/// neither checked nor applied, so a command about one kernel never fails on another's
/// choice. A choice is checked against the device, not the memory budget: where it does
/// not fit a shape, that shape runs the kernel's default.
pub fn apply_for(
    bench: &mut Bench,
    results_root: &Path,
    wanted: impl Fn(&str) -> bool,
) -> Result<usize> {
    let device = DeviceHeader::for_gpu(bench);
    let folder = DeviceFolder::for_device(results_root, &device);
    let Some(file) = TuningFile::load(&folder.dir)? else {
        return Ok(0);
    };
    let path = TuningFile::path(&folder.dir);
    crate::results::refuse_foreign(&path, &file.device, &device, "tuning")?;
    // Check every choice before applying any: a configuration that would compute wrong
    // results (e.g. edited by hand) is refused, never run.
    let mut table = Vec::new();
    for choice in file.choices.iter().filter(|c| wanted(&c.kernel)) {
        let invalid = |message: String| Error::DataFile {
            path: path.clone(),
            message: format!("{} d{}: {message}", choice.kernel, choice.head_dim),
        };
        if choice.kernel != kernel_name(choice.dtype) {
            return Err(invalid(format!(
                "a {} choice is filed under kernel {}, expected {}",
                choice.dtype,
                choice.kernel,
                kernel_name(choice.dtype)
            )));
        }
        let config = choice.config;
        config
            .validate_on_device(&Shape::new(1, choice.head_dim), bench.facts(), choice.dtype)
            .map_err(|e| invalid(e.to_string()))?;
        let key = TuningKey {
            precision: choice.dtype,
            head_dim: choice.head_dim,
        };
        table.push((key, config));
    }
    let table = TunedConfigs::new(table);
    let applied = table.len();
    bench.set_tuned(TunedChoices { flash: table });
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str) -> DeviceHeader {
        DeviceHeader::for_test(name)
    }

    fn choice(head_dim: u32, config: &str) -> TunedChoice {
        TunedChoice {
            kernel: "flash".into(),
            dtype: Precision::F32,
            head_dim,
            config: FlashConfig::parse(config).unwrap(),
            median_ms: 1.0,
            gflops: 1.0,
            untuned_config: FlashConfig::parse("tiles,64,1,32").unwrap(),
            untuned_ms: Some(2.0),
            shape: format!("1×4×2048×{head_dim}"),
            trials: Vec::new(),
        }
    }

    #[test]
    fn reruns_replace_their_head_dims_and_keep_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let lock = FolderLock::acquire(dir.path()).unwrap();
        let a = header("gpu a");
        TuningFile::merge_and_save(
            dir.path(),
            &lock,
            a.clone(),
            vec![choice(64, "tiles,64,8,32"), choice(128, "tiles,64,4,32")],
        )
        .unwrap();
        let file =
            TuningFile::merge_and_save(dir.path(), &lock, a, vec![choice(64, "broadcast,32,4")])
                .unwrap();
        let configs: Vec<(u32, String)> = file
            .choices
            .iter()
            .map(|c| (c.head_dim, c.config.to_string()))
            .collect();
        assert_eq!(
            configs,
            [(64, "broadcast,32,4".into()), (128, "tiles,64,4,32".into())]
        );
        assert_eq!(
            TuningFile::load(dir.path()).unwrap().unwrap().choices,
            file.choices
        );
    }

    #[test]
    fn another_devices_or_a_malformed_file_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let lock = FolderLock::acquire(dir.path()).unwrap();
        TuningFile::merge_and_save(
            dir.path(),
            &lock,
            header("gpu a"),
            vec![choice(64, "tiles,64,8,32")],
        )
        .unwrap();
        let before = std::fs::read(TuningFile::path(dir.path())).unwrap();
        let err = TuningFile::merge_and_save(
            dir.path(),
            &lock,
            header("gpu b"),
            vec![choice(64, "tiles,64,4,32")],
        );
        assert!(err.unwrap_err().to_string().contains("refusing"));
        assert_eq!(std::fs::read(TuningFile::path(dir.path())).unwrap(), before);
        std::fs::write(TuningFile::path(dir.path()), "{\"schema\": 3").unwrap();
        assert!(TuningFile::load(dir.path()).is_err());
    }

    /// A configuration that is not one (edited by hand, or from a newer attnbench) is
    /// refused when the file is read, naming the file and the text.
    #[test]
    fn a_configuration_that_does_not_parse_refuses_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let lock = FolderLock::acquire(dir.path()).unwrap();
        let good = vec![choice(64, "tiles,64,8,32")];
        TuningFile::merge_and_save(dir.path(), &lock, header("gpu a"), good).unwrap();
        let path = TuningFile::path(dir.path());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"tiles,64,8,32\""), "{text}");
        std::fs::write(&path, text.replace("tiles,64,8,32", "tiles,64,8,<b>")).unwrap();
        let err = TuningFile::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("tuning.json"), "{err}");
    }
}
