//! flash against its peers on the same inputs, outputs compared: numpy (a BLAS-backed CPU
//! attention, `benches/numpy_attention.py`) and PyTorch's `scaled_dot_product_attention`
//! (`benches/torch_attention.py`). The scripts are embedded in the binary and written to a
//! temporary folder when they run.

use super::options::{TargetOptions, median_ms, shape_text};
use crate::error::{Error, Result};
use crate::files::write_atomic;
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::reference::{Comparison, attention_f64_last_rows, last_rows};
use crate::run::gflops;
use crate::shape::Shape;
use crate::tensors::{AttentionInputs, read_npy};
use serde::Serialize;
use std::path::Path;
use std::process::Command;

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

/// flash against numpy.
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

/// attnbench flash against PyTorch SDPA at one shape.
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

/// flash and numpy on the same inputs, times and outputs compared.
pub(super) fn compare_with_numpy(
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
    pub(super) fn skipped(shape: Shape, reason: String) -> Self {
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

/// attnbench flash and every PyTorch SDPA backend on the same inputs; times, and
/// every output's error against the f64 reference on the last rows of each head.
pub(super) fn compare_with_torch(
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
