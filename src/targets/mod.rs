//! Flash's performance targets, measured as ratios in one run on one adapter (the
//! `targets` bench, `cargo bench --bench targets`, and a step of `attnbench suite`):
//! 1. flash f32 at B·H = 8, n = 4096, d = 64 as a fraction of the f32 FMA peak that
//!    `attnbench probe` measures on the same device;
//! 2. flash's speedup over naive at n = 512 … 4096, d = 64 and 128 (B = H = 1);
//! 3. flash against a BLAS-backed CPU attention (numpy, `benches/numpy_attention.py`) at
//!    n = 2048, d = 64, one head, on the same inputs; numpy's output is also compared with
//!    flash's, so the ratio is between two correct results;
//! 4. the same-GPU peer: PyTorch's `scaled_dot_product_attention`, each backend (flash,
//!    efficient, cuDNN, math) in f32 and, on a GPU, f16 and bf16
//!    (`benches/torch_attention.py`), against flash on the same inputs, both outputs
//!    checked against the f64 reference. Torch on the CPU is a valid peer too, labelled so.
//!
//! 5. the long-context targets of [`long_context`]: decode's bandwidth, grouped-query
//!    decode, sliding windows, flash at d = 128, and the seed's inference claim;
//! 6. the training targets of [`training`]: flash's backward against naive's and against
//!    the FMA peak, and the backward's peak bytes.
//!
//! The Python scripts are embedded in the binary and written to a temporary folder when
//! they run, so a copied `attnbench` binary needs no source tree. Times are medians; GPU
//! timestamps where the adapter has them (see `timing`), numpy's wall clock, torch's CUDA
//! events. Nothing here asserts a time: the report states the ratios. With a deadline
//! (`attnbench suite`), steps that no longer fit are recorded as skipped.

use crate::error::{Error, Result};
use crate::files::{save_json, write_atomic};
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::markdown::{Align, Table};
use crate::reference::{Comparison, attention_f64_last_rows, last_rows};
use crate::results::DeviceHeader;
use crate::run::{KernelRun, MeasureOptions, gflops};
use crate::shape::Shape;
use crate::tensors::{AttentionInputs, read_npy};
use serde::Serialize;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub mod long_context;
pub mod training;
pub use long_context::{LongContext, LongContextShapes};
pub use training::{Training, TrainingShapes};

/// Identifies the schema of `targets.json`.
pub const SCHEMA: &str = "attnbench-targets/4";

/// `benches/numpy_attention.py`, embedded.
pub const NUMPY_SCRIPT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/numpy_attention.py"
));

/// `benches/torch_attention.py`, embedded.
pub const TORCH_SCRIPT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/torch_attention.py"
));

/// Query rows per head compared with the f64 reference in the peer comparison (the last
/// ones: the reference of every row at B·H = 16, n = 4096 would take minutes on the CPU).
pub const PEER_REFERENCE_ROWS: u32 = 64;

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
    /// f32 FMA peak probed on the device.
    pub fma_peak_gflops: f64,
    /// flash_gflops / fma_peak_gflops.
    pub fraction: f64,
}

impl PeakFraction {
    /// The report's table row: flash's rate against the probed peak.
    pub fn table_row(&self) -> [String; 2] {
        [
            format!(
                "flash f32 {} ({}) vs probed f32 FMA peak",
                self.shape,
                self.config.as_deref().unwrap_or("-")
            ),
            format!(
                "{:.1} / {:.1} GFLOP/s = **{:.0}%**",
                self.flash_gflops,
                self.fma_peak_gflops,
                100.0 * self.fraction
            ),
        ]
    }
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
    /// flash's median ms, when measured.
    pub flash_ms: Option<f64>,
    /// numpy's median ms (wall clock), when it ran.
    pub numpy_ms: Option<f64>,
    /// flash_ms / numpy_ms (below 1: flash is faster).
    pub ratio: Option<f64>,
    /// numpy version and its BLAS, when it ran.
    pub numpy: Option<String>,
    /// ‖flash − numpy‖/‖numpy‖ on the same inputs.
    pub rel_l2_vs_numpy: Option<f64>,
    /// Why numpy (or the whole comparison) did not run, when it did not.
    pub skipped: Option<String>,
}

/// One SDPA backend in one dtype.
#[derive(Clone, Debug, Serialize)]
pub struct PeerRun {
    /// SDPA backend: flash, efficient, cudnn or math.
    pub backend: String,
    /// float32, float16 or bfloat16.
    pub dtype: String,
    /// Median ms, when it ran.
    pub median_ms: Option<f64>,
    /// GFLOP/s (4·B·H·n²·d, halved when causal).
    pub gflops: Option<f64>,
    /// ‖out − ref‖/‖ref‖ against the f64 reference (last rows of each head).
    pub rel_l2_err: Option<f64>,
    /// attnbench flash's median ÷ this run's (above 1: torch is faster).
    pub flash_time_ratio: Option<f64>,
    /// Why it did not run (PyTorch's own reason).
    pub skipped: Option<String>,
}

/// Target 4: attnbench flash against PyTorch SDPA at one shape.
#[derive(Clone, Debug, Serialize)]
pub struct PeerComparison {
    /// The shape (`B×H×n×d`).
    pub shape: String,
    /// flash's median ms and GFLOP/s, when measured.
    pub flash_ms: Option<f64>,
    /// flash's GFLOP/s.
    pub flash_gflops: Option<f64>,
    /// flash's error against the f64 reference (same rows as the peer's).
    pub flash_rel_l2_err: Option<f64>,
    /// `torch <version> on <device>`: a CPU peer is labelled as such.
    pub peer: Option<String>,
    /// How torch timed (`cuda-events`, `mps-events`, `wall-clock`).
    pub peer_timing: Option<String>,
    /// Every backend × dtype.
    pub runs: Vec<PeerRun>,
    /// Why the comparison did not run (no Python, no torch, no time), when it did not.
    pub skipped: Option<String>,
}

/// Everything the targets measured.
#[derive(Clone, Debug, Serialize)]
pub struct TargetsReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The device.
    pub device: DeviceHeader,
    /// Where the GPU times came from.
    pub timing: String,
    /// Target 1, when measured.
    pub peak_fraction: Option<PeakFraction>,
    /// Target 2.
    pub speedups: Vec<Speedup>,
    /// Target 3.
    pub blas: BlasComparison,
    /// Target 4, per shape.
    pub peers: Vec<PeerComparison>,
    /// Target 5: the long-context targets.
    pub long_context: LongContext,
    /// Target 6: the training targets.
    #[serde(default)]
    pub training: Training,
    /// Steps not measured, and why (e.g. the suite's time budget).
    pub skipped: Vec<String>,
}

/// How many steps the report saved in `dir` skipped; `None` when there is no readable one.
fn saved_skips(dir: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join("targets.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    (value.get("schema")?.as_str()? == SCHEMA).then_some(())?;
    Some(value.get("skipped")?.as_array()?.len())
}

/// Sizes of the measurements (the defaults are the issues').
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
    /// Target 4's shapes.
    pub peer_shapes: Vec<Shape>,
    /// The Python interpreter (`ATTNBENCH_PYTHON`, else `python3`).
    pub python: String,
    /// Timed runs per measurement.
    pub samples: u32,
    /// The probed f32 FMA peak, when already known (else it is probed).
    pub fma_peak_gflops: Option<f64>,
    /// The probed device bandwidth, when already known (else it is probed).
    pub bandwidth_gbps: Option<f64>,
    /// Target 5's shapes.
    pub long_context: LongContextShapes,
    /// Target 6's shapes.
    pub training: TrainingShapes,
    /// Past this instant no further step starts (recorded in `skipped`).
    pub deadline: Option<Instant>,
    /// flash's GFLOP/s as the sweep measured it, when known: with a deadline, a step whose
    /// predicted time (a warm-up and one timed run) does not fit is skipped.
    pub flash_gflops_hint: Option<f64>,
}

impl Default for TargetOptions {
    fn default() -> Self {
        TargetOptions {
            peak_shape: Shape::new(4096, 64).with_batch_heads(2, 4),
            speedup_head_dims: vec![64, 128],
            speedup_seq_lens: vec![512, 1024, 2048, 4096],
            blas_shape: Shape::new(2048, 64),
            peer_shapes: vec![
                Shape::new(2048, 64),
                Shape::new(4096, 64).with_batch_heads(2, 8),
            ],
            python: std::env::var("ATTNBENCH_PYTHON").unwrap_or_else(|_| "python3".into()),
            samples: 5,
            fma_peak_gflops: None,
            bandwidth_gbps: None,
            long_context: LongContextShapes::default(),
            training: TrainingShapes::default(),
            deadline: None,
            flash_gflops_hint: None,
        }
    }
}

impl TargetOptions {
    /// Whether a step may start now; else records `what` as skipped for lack of time.
    fn time_for(&self, what: &str, skipped: &mut Vec<String>) -> bool {
        match self.deadline {
            Some(d) if Instant::now() >= d => {
                skipped.push(format!("{what}: not measured, the time budget ran out"));
                false
            }
            _ => true,
        }
    }

    /// Like [`TargetOptions::time_for`] for a step that runs flash on `shape`: also false
    /// (and recorded) when flash's known rate predicts that a warm-up and one timed run
    /// would not end before the deadline.
    fn time_for_flash(&self, what: &str, shape: &Shape, skipped: &mut Vec<String>) -> bool {
        if !self.time_for(what, skipped) {
            return false;
        }
        let (Some(deadline), Some(gflops)) = (self.deadline, self.flash_gflops_hint) else {
            return true;
        };
        let predicted = 2.0 * shape.flops() / (gflops.max(1e-3) * 1e9);
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        if predicted > left {
            skipped.push(format!(
                "{what}: not measured, predicted {predicted:.0} s at flash's swept {gflops:.1} GFLOP/s, {left:.0} s left"
            ));
            return false;
        }
        true
    }
}

/// Median ms of `kernel` on `inputs` (and the run, for its output).
/// Median ms of `kernel` on `inputs` (and the run, for its output). Without a deadline:
/// up to `samples` timed runs, at least 3, within 30 s. With one (the suite), the timed
/// runs stop when it passes, after at least one.
fn median_ms<'g>(
    gpu: &'g Gpu,
    kernel: &'g dyn Kernel,
    inputs: &AttentionInputs,
    options: &TargetOptions,
) -> Result<(f64, KernelRun<'g>)> {
    let run = KernelRun::new(gpu, kernel, inputs)?;
    let cap = Duration::from_secs(30);
    let (time_budget, min_samples) = match options.deadline {
        Some(d) => (d.saturating_duration_since(Instant::now()).min(cap), 1),
        None => (cap, 3),
    };
    let m = run.measure(&MeasureOptions {
        warmup: 1,
        samples: options.samples,
        time_budget: Some(time_budget),
        min_samples,
    })?;
    Ok((m.median_ms, run))
}

fn shape_text(s: &Shape) -> String {
    format!("{}×{}×{}×{}", s.batch, s.heads, s.seq_len, s.head_dim)
}

/// Measures the targets on `gpu`; `log` gets a line per step.
pub fn measure(
    gpu: &Gpu,
    options: &TargetOptions,
    log: &mut dyn FnMut(&str),
) -> Result<TargetsReport> {
    let flash = crate::kernels::find_kernel("flash")?;
    let naive = crate::kernels::find_kernel("naive")?;
    let mut skipped = Vec::new();

    // The ceilings the ratios are taken against, probed in this run unless given.
    let (peak, bandwidth) = match (options.fma_peak_gflops, options.bandwidth_gbps) {
        (Some(p), Some(b)) => (p, b),
        _ => {
            log("probing the f32 FMA peak and the bandwidth");
            let probe = crate::probe::run_probes(gpu)?;
            (
                options.fma_peak_gflops.unwrap_or(probe.fma_f32_gflops),
                options.bandwidth_gbps.unwrap_or(probe.bandwidth_gbps),
            )
        }
    };
    let mut peak_fraction = None;
    if options.time_for_flash(
        "flash's share of the FMA peak",
        &options.peak_shape,
        &mut skipped,
    ) {
        let shape = options.peak_shape;
        let (flash_ms, _) = median_ms(gpu, flash, &AttentionInputs::random(shape, 1)?, options)?;
        let flash_gflops = gflops(flash.flops(&shape), flash_ms);
        let p = PeakFraction {
            shape: shape_text(&shape),
            config: flash.config_label(&shape, gpu),
            flash_ms,
            flash_gflops,
            fma_peak_gflops: peak,
            fraction: flash_gflops / peak,
        };
        log(&format!(
            "flash {}: {flash_ms:.1} ms, {flash_gflops:.1} GFLOP/s = {:.0}% of {peak:.1}",
            p.shape,
            100.0 * p.fraction,
        ));
        peak_fraction = Some(p);
    }
    // Later flash steps are predicted from the rate just measured when no hint was given,
    // else from half the probed peak (the inference prefill alone takes half a minute on
    // lavapipe).
    let measured_hint = TargetOptions {
        flash_gflops_hint: options
            .flash_gflops_hint
            .or(peak_fraction.as_ref().map(|p| p.flash_gflops))
            .or(Some(peak / 2.0)),
        ..options.clone()
    };
    let options = &measured_hint;

    let blas = if options.time_for_flash("flash against numpy", &options.blas_shape, &mut skipped) {
        compare_with_numpy(gpu, flash, options, log)?
    } else {
        BlasComparison {
            shape: shape_text(&options.blas_shape),
            flash_ms: None,
            numpy_ms: None,
            ratio: None,
            numpy: None,
            rel_l2_vs_numpy: None,
            skipped: Some("the time budget ran out".into()),
        }
    };

    let mut peers = Vec::new();
    for &shape in &options.peer_shapes {
        let comparison = if options.time_for_flash(
            &format!("flash against PyTorch SDPA at {}", shape_text(&shape)),
            &shape,
            &mut skipped,
        ) {
            compare_with_torch(gpu, flash, shape, options, log)?
        } else {
            PeerComparison::skipped(shape, "the time budget ran out".into())
        };
        peers.push(comparison);
    }
    let training = training::measure(gpu, options, peak, &mut skipped, log)?;
    let long_context = long_context::measure(gpu, options, (peak, bandwidth), &mut skipped, log)?;
    // Slowest last: naive at large n.
    let mut speedups = Vec::new();
    let mut last_naive: Option<(u32, u32, f64)> = None;
    for &head_dim in &options.speedup_head_dims {
        for &seq_len in &options.speedup_seq_lens {
            if !options.time_for_flash(
                &format!("flash over naive at d {head_dim} n {seq_len}"),
                &Shape::new(seq_len, head_dim),
                &mut skipped,
            ) {
                continue;
            }
            let shape = Shape::new(seq_len, head_dim);
            let inputs = AttentionInputs::random(shape, 2)?;
            let (flash_ms, _) = median_ms(gpu, flash, &inputs, options)?;
            // With a deadline, naive is predicted from its last point by the n² law (a
            // warm-up and one timed run): one naive run at n = 4096 takes half a minute on
            // lavapipe.
            let naive_predicted_s = last_naive
                .filter(|&(d, _, _)| d == head_dim)
                .map(|(_, n, ms)| 2.0 * ms * (f64::from(seq_len) / f64::from(n)).powi(2) / 1e3);
            let left_s = options
                .deadline
                .map(|d| d.saturating_duration_since(Instant::now()).as_secs_f64());
            let (naive_ms, note) = match (naive_predicted_s, left_s) {
                (Some(p), Some(left)) if p > left => (
                    None,
                    Some(format!(
                        "naive not measured: predicted {p:.0} s by the n² law, {left:.0} s of the time budget left"
                    )),
                ),
                _ => match median_ms(gpu, naive, &inputs, options) {
                    Ok((ms, _)) => (Some(ms), None),
                    Err(e) if e.is_input_error() || matches!(e, Error::Unsupported { .. }) => {
                        (None, Some(e.to_string()))
                    }
                    Err(e) => return Err(e),
                },
            };
            if let Some(ms) = naive_ms {
                last_naive = Some((head_dim, seq_len, ms));
            }
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

    Ok(TargetsReport {
        schema: SCHEMA.into(),
        device: DeviceHeader::for_gpu(gpu),
        timing: gpu_timing(gpu),
        peak_fraction,
        speedups,
        blas,
        peers,
        long_context,
        training,
        skipped,
    })
}

fn gpu_timing(gpu: &Gpu) -> String {
    if gpu.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
        "gpu-timestamps".into()
    } else {
        "wall-clock".into()
    }
}

/// Runs an embedded Python `script` (written as `name` into `dir`) with `args`; its JSON
/// line, or why it could not run.
fn run_python(
    options: &TargetOptions,
    dir: &Path,
    name: &str,
    script: &str,
    args: &[String],
) -> Result<std::result::Result<serde_json::Value, String>> {
    let path = dir.join(name);
    write_atomic(&path, script.as_bytes())?;
    let output = match Command::new(&options.python).arg(&path).args(args).output() {
        Ok(o) => o,
        Err(e) => return Ok(Err(format!("cannot run {}: {e}", options.python))),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("").to_string();
        return Ok(Err(format!("{} {name} failed ({last})", options.python)));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or("");
    Ok(serde_json::from_str(line).map_err(|e| format!("{name} printed no JSON: {e}")))
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
    let (flash_ms, run) = median_ms(gpu, flash, &inputs, options)?;
    run.poison_output()?;
    run.run_once()?;
    let flash_out = run.read_output()?;
    let mut comparison = BlasComparison {
        shape: shape_text(&shape),
        flash_ms: Some(flash_ms),
        numpy_ms: None,
        ratio: None,
        numpy: None,
        rel_l2_vs_numpy: None,
        skipped: None,
    };
    let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    inputs.save_npy_dir(dir.path())?;
    let args = [
        dir.path().display().to_string(),
        options.samples.max(3).to_string(),
    ];
    let parsed = match run_python(
        options,
        dir.path(),
        "numpy_attention.py",
        NUMPY_SCRIPT,
        &args,
    )? {
        Ok(v) => v,
        Err(reason) => {
            comparison.skipped = Some(format!("{reason}; `pip install numpy` if it is missing"));
            log(comparison.skipped.as_deref().unwrap_or(""));
            return Ok(comparison);
        }
    };
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

impl PeerComparison {
    fn skipped(shape: Shape, reason: String) -> Self {
        PeerComparison {
            shape: shape_text(&shape),
            flash_ms: None,
            flash_gflops: None,
            flash_rel_l2_err: None,
            peer: None,
            peer_timing: None,
            runs: Vec::new(),
            skipped: Some(reason),
        }
    }
}

/// Target 4: attnbench flash and every PyTorch SDPA backend on the same inputs; times, and
/// every output's error against the f64 reference on the last rows of each head.
fn compare_with_torch(
    gpu: &Gpu,
    flash: &dyn Kernel,
    shape: Shape,
    options: &TargetOptions,
    log: &mut dyn FnMut(&str),
) -> Result<PeerComparison> {
    if let Err(e) = crate::run::plan_for(flash, &shape, gpu) {
        return Ok(PeerComparison::skipped(shape, e.to_string()));
    }
    let inputs = AttentionInputs::random(shape, 4)?;
    let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    inputs.save_npy_dir(dir.path())?;
    let mut args = vec![
        dir.path().display().to_string(),
        options.samples.max(3).to_string(),
    ];
    if shape.causal {
        args.push("--causal".into());
    }
    let parsed = match run_python(
        options,
        dir.path(),
        "torch_attention.py",
        TORCH_SCRIPT,
        &args,
    )? {
        Ok(v) => v,
        Err(reason) => {
            let reason = format!("{reason}; PyTorch is the peer (`pip install torch`)");
            log(&reason);
            return Ok(PeerComparison::skipped(shape, reason));
        }
    };
    if let Some(reason) = parsed["skipped"].as_str() {
        log(&format!("PyTorch peer skipped: {reason}"));
        return Ok(PeerComparison::skipped(shape, reason.to_string()));
    }
    let rows = PEER_REFERENCE_ROWS.min(shape.seq_len);
    let reference = attention_f64_last_rows(&shape, &inputs.q, &inputs.k, &inputs.v, rows);
    let error_of =
        |out: &[f32]| Comparison::new(&last_rows(&shape, out, rows), &reference).rel_l2_error;

    let (flash_ms, run) = median_ms(gpu, flash, &inputs, options)?;
    run.poison_output()?;
    run.run_once()?;
    let flash_err = error_of(&run.read_output()?);
    drop(run);
    let flops = flash.flops(&shape);
    let mut runs = Vec::new();
    for r in parsed["runs"].as_array().into_iter().flatten() {
        let text = |k: &str| r[k].as_str().unwrap_or("?").to_string();
        let median_ms = r["median_ms"].as_f64();
        let rel_l2_err = match r["output"].as_str() {
            Some(path) => Some(error_of(&read_npy(Path::new(path))?.1)),
            None => None,
        };
        runs.push(PeerRun {
            backend: text("backend"),
            dtype: text("dtype"),
            median_ms,
            gflops: median_ms.map(|ms| gflops(flops, ms)),
            rel_l2_err,
            flash_time_ratio: median_ms.filter(|ms| *ms > 0.0).map(|ms| flash_ms / ms),
            skipped: r["skipped"].as_str().map(str::to_string),
        });
    }
    let device = parsed["device"].as_str().unwrap_or("?");
    let peer = format!(
        "torch {} on {}{}",
        parsed["torch"].as_str().unwrap_or("?"),
        parsed["device_name"].as_str().unwrap_or(device),
        if device == "cpu" {
            " (a CPU peer, not the GPU)"
        } else {
            ""
        }
    );
    log(&format!(
        "{}: flash {flash_ms:.2} ms; {peer}: {} backend runs",
        shape_text(&shape),
        runs.iter().filter(|r| r.median_ms.is_some()).count()
    ));
    Ok(PeerComparison {
        shape: shape_text(&shape),
        flash_ms: Some(flash_ms),
        flash_gflops: Some(gflops(flops, flash_ms)),
        flash_rel_l2_err: Some(flash_err),
        peer: Some(peer),
        peer_timing: parsed["timing"].as_str().map(str::to_string),
        runs,
        skipped: None,
    })
}

impl TargetsReport {
    /// The report as Markdown (`targets.md`, the device README).
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "Measured on {} ({}), {}; FLOPs 4·B·H·n²·d, halved when causal, 4·B·H·d·Σᵢ min(i+1, W) \
             with a window W; decode 4·B·H·n·d per token.\n\n",
            self.device.adapter, self.device.backend, self.timing
        );
        let mut table = Table::new([("target", Align::Left), ("measured", Align::Right)]);
        if let Some(p) = &self.peak_fraction {
            table.row(p.table_row());
        }
        let b = &self.blas;
        match (b.flash_ms, b.numpy_ms, b.ratio) {
            (Some(flash_ms), Some(numpy_ms), Some(ratio)) => table.row([
                format!(
                    "flash vs {} at {}",
                    b.numpy.as_deref().unwrap_or("numpy"),
                    b.shape
                ),
                format!(
                    "{flash_ms:.1} ms vs {numpy_ms:.1} ms = **{ratio:.2}×** numpy's time (outputs agree to {:.1e})",
                    b.rel_l2_vs_numpy.unwrap_or(f64::NAN)
                ),
            ]),
            _ => table.row([
                format!("flash vs numpy at {}", b.shape),
                format!("not measured: {}", b.skipped.as_deref().unwrap_or("?")),
            ]),
        };
        md += &table.render();

        md += "\nflash over naive (B = H = 1, non-causal):\n\n";
        let mut table = Table::new([
            ("d", Align::Right),
            ("n", Align::Right),
            ("naive ms", Align::Right),
            ("flash ms", Align::Right),
            ("speedup", Align::Right),
        ]);
        for s in &self.speedups {
            table.row([
                s.head_dim.to_string(),
                s.seq_len.to_string(),
                s.naive_ms.map_or("-".into(), |ms| format!("{ms:.2}")),
                format!("{:.2}", s.flash_ms),
                s.speedup.map_or_else(
                    || s.note.clone().unwrap_or_default(),
                    |x| format!("**{x:.1}×**"),
                ),
            ]);
        }
        md += &table.render();

        md += &format!(
            "\nThe same-GPU peer, PyTorch `scaled_dot_product_attention` per backend (errors against \
             the f64 reference on the last {PEER_REFERENCE_ROWS} rows of each head; \"flash ÷ torch\" \
             above 1: torch is faster):\n\n"
        );
        let mut table = Table::new([
            ("shape", Align::Left),
            ("peer", Align::Left),
            ("backend", Align::Left),
            ("dtype", Align::Left),
            ("ms", Align::Right),
            ("GFLOP/s", Align::Right),
            ("rel. error", Align::Right),
            ("flash ÷ torch", Align::Right),
        ]);
        for p in &self.peers {
            if let Some(reason) = &p.skipped {
                table.row([
                    p.shape.clone(),
                    "skipped".into(),
                    String::new(),
                    String::new(),
                    reason.clone(),
                ]);
                continue;
            }
            table.row([
                p.shape.clone(),
                "attnbench flash".into(),
                "-".into(),
                "float32".into(),
                p.flash_ms.map_or(String::new(), |ms| format!("{ms:.3}")),
                p.flash_gflops.map_or(String::new(), |g| format!("{g:.1}")),
                p.flash_rel_l2_err
                    .map_or(String::new(), |e| format!("{e:.1e}")),
                "1.00×".into(),
            ]);
            for r in &p.runs {
                table.row([
                    p.shape.clone(),
                    p.peer.clone().unwrap_or_default(),
                    r.backend.clone(),
                    r.dtype.clone(),
                    r.median_ms.map_or_else(
                        || format!("skipped: {}", r.skipped.as_deref().unwrap_or("?")),
                        |ms| format!("{ms:.3}"),
                    ),
                    r.gflops.map_or(String::new(), |g| format!("{g:.1}")),
                    r.rel_l2_err.map_or(String::new(), |e| format!("{e:.1e}")),
                    r.flash_time_ratio
                        .map_or(String::new(), |x| format!("{x:.2}×")),
                ]);
            }
        }
        md += &table.render();
        md += &self.long_context.markdown();
        md += &self.training.markdown();
        if !self.skipped.is_empty() {
            md += "\nNot measured:\n\n";
            for s in &self.skipped {
                md += &format!("- {s}\n");
            }
        }
        md
    }

    /// Writes `targets.json` and `targets.md` into `dir`, each atomically, unless the
    /// report there skipped fewer steps for lack of time: a short run never replaces the
    /// numbers of a longer one (a one-second suite after a full one keeps the full one's).
    /// Returns whether it wrote. Callers hold the folder's lock.
    pub fn save(&self, dir: &Path) -> Result<bool> {
        if saved_skips(dir).is_some_and(|kept| self.skipped.len() > kept) {
            return Ok(false);
        }
        save_json(&dir.join("targets.json"), self)?;
        write_atomic(&dir.join("targets.md"), self.markdown().as_bytes())?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(skipped: usize) -> TargetsReport {
        TargetsReport {
            schema: SCHEMA.into(),
            device: DeviceHeader::for_test("gpu"),
            timing: "wall-clock".into(),
            peak_fraction: None,
            speedups: Vec::new(),
            blas: BlasComparison {
                shape: "1×1×2048×64".into(),
                flash_ms: None,
                numpy_ms: None,
                ratio: None,
                numpy: None,
                rel_l2_vs_numpy: None,
                skipped: None,
            },
            peers: Vec::new(),
            long_context: LongContext::default(),
            training: Training::default(),
            skipped: (0..skipped).map(|i| format!("step {i}")).collect(),
        }
    }

    /// A run that skipped more for lack of time keeps the report there; one that skipped
    /// as few or fewer replaces it.
    #[test]
    fn a_shorter_run_never_replaces_the_targets_of_a_longer_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(report(1).save(dir.path()).unwrap());
        let before = std::fs::read(dir.path().join("targets.md")).unwrap();
        assert!(!report(5).save(dir.path()).unwrap());
        assert_eq!(
            std::fs::read(dir.path().join("targets.md")).unwrap(),
            before
        );
        assert!(report(0).save(dir.path()).unwrap());
        assert_ne!(
            std::fs::read(dir.path().join("targets.md")).unwrap(),
            before
        );
    }
}
