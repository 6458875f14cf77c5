//! Flash's performance targets, measured as ratios in one run on one adapter (the
//! `targets` bench, `cargo bench --bench targets`):
//! 1. flash f32 at B·H = 8, n = 4096, d = 64 as a fraction of the f32 FMA peak that
//!    `attnbench probe` measures in the same run;
//! 2. flash's speedup over naive at n = 512 … 4096, d = 64 and 128 (B = H = 1);
//! 3. flash against a BLAS-backed CPU attention (numpy, `benches/numpy_attention.py`) at
//!    n = 2048, d = 64, one head, on the same inputs; numpy's output is also compared with
//!    flash's, so the ratio is between two correct results.
//!
//! Times are medians; GPU timestamps where the adapter has them (see `timing`), numpy's
//! wall clock. Nothing here asserts a time: the report states the ratios.

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::probe::run_probes;
use crate::reference::Comparison;
use crate::results::{DeviceHeader, save_json, write_atomic};
use crate::run::{KernelRun, MeasureOptions, gflops};
use crate::shape::Shape;
use crate::tensors::{AttentionInputs, read_npy};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Identifies the schema of `targets.json`.
pub const SCHEMA: &str = "attnbench-targets/1";

/// Target 1: flash's share of the probed FMA peak.
#[derive(Clone, Debug, Serialize)]
pub struct PeakFraction {
    /// The shape (`B×H×n×d`).
    pub shape: String,
    /// flash's tile configuration.
    pub config: Option<String>,
    /// flash's median ms.
    pub flash_ms: f64,
    /// flash's GFLOP/s (4·B·H·n²·d).
    pub flash_gflops: f64,
    /// f32 FMA peak probed in this run.
    pub fma_peak_gflops: f64,
    /// flash_gflops / fma_peak_gflops.
    pub fraction: f64,
}

/// Target 2: flash against naive at one shape.
#[derive(Clone, Debug, Serialize)]
pub struct Speedup {
    /// Head dim d.
    pub head_dim: u32,
    /// Sequence length n.
    pub seq_len: u32,
    /// naive's median ms (None when naive could not run; `note` says why).
    pub naive_ms: Option<f64>,
    /// flash's median ms.
    pub flash_ms: f64,
    /// naive_ms / flash_ms.
    pub speedup: Option<f64>,
    /// Why naive did not run, when it did not.
    pub note: Option<String>,
}

/// Target 3: flash against numpy.
#[derive(Clone, Debug, Serialize)]
pub struct BlasComparison {
    /// The shape (`B×H×n×d`).
    pub shape: String,
    /// flash's median ms.
    pub flash_ms: f64,
    /// numpy's median ms (wall clock), when it ran.
    pub numpy_ms: Option<f64>,
    /// flash_ms / numpy_ms (below 1: flash is faster).
    pub ratio: Option<f64>,
    /// numpy version and its BLAS, when it ran.
    pub numpy: Option<String>,
    /// ‖flash − numpy‖/‖numpy‖ on the same inputs.
    pub rel_l2_vs_numpy: Option<f64>,
    /// Why numpy did not run, when it did not.
    pub skipped: Option<String>,
}

/// Everything the `targets` bench measured.
#[derive(Clone, Debug, Serialize)]
pub struct TargetsReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The device.
    pub device: DeviceHeader,
    /// Where the GPU times came from.
    pub timing: String,
    /// Target 1.
    pub peak_fraction: PeakFraction,
    /// Target 2.
    pub speedups: Vec<Speedup>,
    /// Target 3.
    pub blas: BlasComparison,
}

/// Sizes of the three measurements (the defaults are the issue's).
#[derive(Clone, Debug)]
pub struct TargetOptions {
    /// Target 1's shape.
    pub peak_shape: Shape,
    /// Target 2's head dims.
    pub speedup_head_dims: Vec<u32>,
    /// Target 2's sequence lengths.
    pub speedup_seq_lens: Vec<u32>,
    /// Target 3's shape.
    pub blas_shape: Shape,
    /// The numpy script.
    pub numpy_script: PathBuf,
    /// The Python interpreter (`ATTNBENCH_PYTHON`, else `python3`).
    pub python: String,
    /// Timed runs per measurement.
    pub samples: u32,
}

impl Default for TargetOptions {
    fn default() -> Self {
        TargetOptions {
            peak_shape: Shape::new(4096, 64).with_batch_heads(2, 4),
            speedup_head_dims: vec![64, 128],
            speedup_seq_lens: vec![512, 1024, 2048, 4096],
            blas_shape: Shape::new(2048, 64),
            numpy_script: Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/numpy_attention.py"),
            python: std::env::var("ATTNBENCH_PYTHON").unwrap_or_else(|_| "python3".into()),
            samples: 5,
        }
    }
}

/// Median ms of `kernel` on `inputs` (and the run, for its output).
fn median_ms<'g>(
    gpu: &'g Gpu,
    kernel: &'g dyn Kernel,
    inputs: &AttentionInputs,
    samples: u32,
) -> Result<(f64, KernelRun<'g>)> {
    let run = KernelRun::new(gpu, kernel, inputs)?;
    let m = run.measure(&MeasureOptions {
        warmup: 1,
        samples,
        time_budget: Some(Duration::from_secs(30)),
        min_samples: 3,
    })?;
    Ok((m.median_ms, run))
}

fn shape_text(s: &Shape) -> String {
    format!("{}×{}×{}×{}", s.batch, s.heads, s.seq_len, s.head_dim)
}

/// Measures the three targets on `gpu`; `log` gets a line per step.
pub fn measure(
    gpu: &Gpu,
    options: &TargetOptions,
    log: &mut dyn FnMut(&str),
) -> Result<TargetsReport> {
    let flash = crate::kernels::find_kernel("flash")?;
    let naive = crate::kernels::find_kernel("naive")?;

    log("probing the f32 FMA peak");
    let probe = run_probes(gpu)?;
    let shape = options.peak_shape;
    let (flash_ms, _) = median_ms(
        gpu,
        flash,
        &AttentionInputs::random(shape, 1)?,
        options.samples,
    )?;
    let flash_gflops = gflops(flash.flops(&shape), flash_ms);
    let peak_fraction = PeakFraction {
        shape: shape_text(&shape),
        config: flash.config_label(&shape, gpu),
        flash_ms,
        flash_gflops,
        fma_peak_gflops: probe.fma_f32_gflops,
        fraction: flash_gflops / probe.fma_f32_gflops,
    };
    log(&format!(
        "flash {}: {flash_ms:.1} ms, {flash_gflops:.1} GFLOP/s = {:.0}% of {:.1}",
        peak_fraction.shape,
        100.0 * peak_fraction.fraction,
        probe.fma_f32_gflops
    ));

    let mut speedups = Vec::new();
    for &head_dim in &options.speedup_head_dims {
        for &seq_len in &options.speedup_seq_lens {
            let shape = Shape::new(seq_len, head_dim);
            let inputs = AttentionInputs::random(shape, 2)?;
            let (flash_ms, _) = median_ms(gpu, flash, &inputs, options.samples)?;
            let (naive_ms, note) = match median_ms(gpu, naive, &inputs, options.samples) {
                Ok((ms, _)) => (Some(ms), None),
                Err(e) if e.is_input_error() || matches!(e, Error::Unsupported { .. }) => {
                    (None, Some(e.to_string()))
                }
                Err(e) => return Err(e),
            };
            log(&format!(
                "d {head_dim} n {seq_len}: naive {} ms, flash {flash_ms:.1} ms",
                naive_ms.map_or("-".into(), |ms| format!("{ms:.1}"))
            ));
            speedups.push(Speedup {
                head_dim,
                seq_len,
                naive_ms,
                flash_ms,
                speedup: naive_ms.map(|ms| ms / flash_ms),
                note,
            });
        }
    }

    let blas = compare_with_numpy(gpu, flash, options, log)?;
    Ok(TargetsReport {
        schema: SCHEMA.into(),
        device: DeviceHeader::for_gpu(gpu),
        timing: gpu_timing(gpu),
        peak_fraction,
        speedups,
        blas,
    })
}

fn gpu_timing(gpu: &Gpu) -> String {
    if gpu.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
        "gpu-timestamps".into()
    } else {
        "wall-clock".into()
    }
}

/// Target 3: flash and numpy on the same inputs, times and outputs compared.
fn compare_with_numpy(
    gpu: &Gpu,
    flash: &dyn Kernel,
    options: &TargetOptions,
    log: &mut dyn FnMut(&str),
) -> Result<BlasComparison> {
    let shape = options.blas_shape;
    let inputs = AttentionInputs::random(shape, 3)?;
    let (flash_ms, run) = median_ms(gpu, flash, &inputs, options.samples)?;
    run.poison_output()?;
    run.run_once()?;
    let flash_out = run.read_output()?;
    let mut comparison = BlasComparison {
        shape: shape_text(&shape),
        flash_ms,
        numpy_ms: None,
        ratio: None,
        numpy: None,
        rel_l2_vs_numpy: None,
        skipped: None,
    };
    let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    inputs.save_npy_dir(dir.path())?;
    let output = Command::new(&options.python)
        .arg(&options.numpy_script)
        .arg(dir.path())
        .arg(options.samples.max(3).to_string())
        .output();
    let output = match output {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            let stderr = String::from_utf8_lossy(&o.stderr);
            let last = stderr.lines().last().unwrap_or("").to_string();
            comparison.skipped = Some(format!(
                "{} {} failed ({last}); `pip install numpy` if it is missing",
                options.python,
                options.numpy_script.display()
            ));
            log(comparison.skipped.as_deref().unwrap_or(""));
            return Ok(comparison);
        }
        Err(e) => {
            comparison.skipped = Some(format!("cannot run {}: {e}", options.python));
            log(comparison.skipped.as_deref().unwrap_or(""));
            return Ok(comparison);
        }
    };
    let parsed: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| Error::DataFile {
            path: options.numpy_script.clone(),
            message: format!("printed no JSON: {e}"),
        })?;
    let numpy_ms = parsed["median_ms"].as_f64();
    let (_, numpy_out) = read_npy(&dir.path().join("o_numpy.npy"))?;
    let numpy_f64: Vec<f64> = numpy_out.iter().map(|&x| f64::from(x)).collect();
    comparison.rel_l2_vs_numpy = Some(Comparison::new(&flash_out, &numpy_f64).rel_l2_error);
    comparison.numpy_ms = numpy_ms;
    comparison.ratio = numpy_ms.map(|ms| flash_ms / ms);
    comparison.numpy = Some(format!(
        "numpy {} ({})",
        parsed["numpy"].as_str().unwrap_or("?"),
        parsed["blas"].as_str().unwrap_or("?")
    ));
    log(&format!(
        "{}: flash {flash_ms:.1} ms, numpy {} ms",
        comparison.shape,
        numpy_ms.map_or("-".into(), |ms| format!("{ms:.1}"))
    ));
    Ok(comparison)
}

impl TargetsReport {
    /// The report as Markdown (README and `targets.md`).
    pub fn markdown(&self) -> String {
        let p = &self.peak_fraction;
        let mut md = format!(
            "Measured on {} ({}), {}; one run of `cargo bench --bench targets`.\n\n",
            self.device.adapter, self.device.backend, self.timing
        );
        md += "| target | measured |\n|---|---:|\n";
        md += &format!(
            "| flash f32 {} ({}) vs probed f32 FMA peak | {:.1} / {:.1} GFLOP/s = **{:.0}%** |\n",
            p.shape,
            p.config.as_deref().unwrap_or("-"),
            p.flash_gflops,
            p.fma_peak_gflops,
            100.0 * p.fraction
        );
        let b = &self.blas;
        md += &match (b.numpy_ms, b.ratio) {
            (Some(numpy_ms), Some(ratio)) => format!(
                "| flash vs {} at {} | {:.1} ms vs {:.1} ms = **{:.2}×** numpy's time (outputs agree to {:.1e}) |\n",
                b.numpy.as_deref().unwrap_or("numpy"),
                b.shape,
                b.flash_ms,
                numpy_ms,
                ratio,
                b.rel_l2_vs_numpy.unwrap_or(f64::NAN)
            ),
            _ => format!(
                "| flash vs numpy at {} | not measured: {} |\n",
                b.shape,
                b.skipped.as_deref().unwrap_or("?")
            ),
        };
        md += "\nflash over naive (B = H = 1, non-causal):\n\n| d | n | naive ms | flash ms | speedup |\n|---:|---:|---:|---:|---:|\n";
        for s in &self.speedups {
            md += &format!(
                "| {} | {} | {} | {:.2} | {} |\n",
                s.head_dim,
                s.seq_len,
                s.naive_ms.map_or("-".into(), |ms| format!("{ms:.2}")),
                s.flash_ms,
                s.speedup.map_or_else(
                    || s.note.clone().unwrap_or_default(),
                    |x| format!("**{x:.1}×**")
                )
            );
        }
        md
    }

    /// Writes `targets.json` and `targets.md` into `dir`, each atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        save_json(&dir.join("targets.json"), self)?;
        write_atomic(&dir.join("targets.md"), self.markdown().as_bytes())
    }
}
