//! flash against its peers on the same inputs, outputs compared: numpy (a BLAS-backed CPU
//! attention, `benches/numpy_attention.py`) and PyTorch's `scaled_dot_product_attention`
//! (`benches/torch_attention.py`), its fused backends (flash, efficient, cuDNN; the math
//! backend is naive's peer, `materializing.rs`). The scripts are embedded in the binary and written to a
//! temporary folder when they run.

use super::options::{Ratio, TargetOptions, Timed, median_ms, shape_text};
use crate::bench::Bench;
use crate::error::{Error, Result};
use crate::files::write_atomic;
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
    /// flash's time, when measured.
    pub flash: Option<Timed>,
    /// numpy's time (wall clock; median and interval of its samples), when it ran.
    pub numpy: Option<Timed>,
    /// flash / numpy (below 1: flash is faster).
    pub ratio: Option<Ratio>,
    /// numpy version and its BLAS, when it ran.
    pub numpy_version: Option<String>,
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
    /// float32 or float16.
    pub dtype: String,
    /// Its time per call (median and interval of samples of ≥ 10 ms loops), when it ran.
    pub time: Option<Timed>,
    /// Calls per timed sample.
    pub calls: Option<u64>,
    /// GFLOP/s (4·B·H·n²·d, halved when causal).
    pub gflops: Option<f64>,
    /// ‖out − ref‖/‖ref‖ against the f64 reference (last rows of each head).
    pub rel_l2_err: Option<f64>,
    /// The attnbench kernel of the same precision it is compared with: flash for
    /// float32, flash_f16 for float16.
    pub compared_with: Option<String>,
    /// That kernel's time ÷ this run's (above 1: torch is faster), like with like.
    pub ratio: Option<Ratio>,
    /// Why it did not run (PyTorch's own reason).
    pub skipped: Option<String>,
}

/// attnbench against PyTorch SDPA at one shape, precision by precision.
#[derive(Clone, Debug, Serialize)]
pub struct PeerComparison {
    /// The shape (`B×H×n×d`, with HKV, W and causal).
    pub shape: String,
    /// attnbench flash (f32): its time, when measured.
    pub flash: Option<Timed>,
    /// attnbench flash_f16, where the adapter has f16.
    pub flash_f16: Option<Timed>,
    /// flash's error against the f64 reference (same rows as the peer's).
    pub flash_rel_l2_err: Option<f64>,
    /// `torch <version> on <device>`: a CPU peer is labelled as such.
    pub peer: Option<String>,
    /// Why that torch device was chosen (it matches the wgpu adapter).
    pub chosen: Option<String>,
    /// How torch timed (`cuda-events`, `mps-events`, `wall-clock`).
    pub peer_timing: Option<String>,
    /// Every backend × dtype.
    pub runs: Vec<PeerRun>,
    /// Why the comparison did not run (no Python, no torch, no matching device, no time).
    pub skipped: Option<String>,
}

/// A time from samples in ms another program measured.
pub(super) fn timed_from_samples(samples: &[f64]) -> Option<Timed> {
    Timed::from_samples(samples)
}

/// The `samples_ms` array of a script's JSON.
pub(super) fn samples_of(value: &serde_json::Value) -> Vec<f64> {
    value["samples_ms"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
        .unwrap_or_default()
}

/// Runs an embedded Python `script` (written as `name` into `dir`) with `args`; its JSON
/// line, or why it could not run.
pub(super) fn run_python(
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
    bench: &Bench,
    flash: &dyn Kernel,
    options: &TargetOptions,
    log: &mut dyn FnMut(&str),
) -> Result<BlasComparison> {
    let shape = options.blas_shape;
    let inputs = AttentionInputs::random(shape, 3)?;
    let (flash_time, run) = median_ms(bench, flash, &inputs, options)?;
    run.poison_output()?;
    run.run_once()?;
    let flash_out = run.read_output()?;
    let mut comparison = BlasComparison {
        shape: shape_text(&shape),
        flash: Some(flash_time),
        numpy: None,
        ratio: None,
        numpy_version: None,
        rel_l2_vs_numpy: None,
        skipped: None,
    };
    let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    inputs.save_npy_dir(dir.path())?;
    let args = [
        dir.path().display().to_string(),
        options.samples.max(10).to_string(),
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
    let numpy = timed_from_samples(&samples_of(&parsed));
    let (_, numpy_out) = read_npy(&dir.path().join("o_numpy.npy"))?;
    let numpy_f64: Vec<f64> = numpy_out.iter().map(|&x| f64::from(x)).collect();
    comparison.rel_l2_vs_numpy = Some(Comparison::new(&flash_out, &numpy_f64).rel_l2_error);
    comparison.numpy = numpy;
    comparison.ratio = numpy.map(|n| flash_time.ratio(&n));
    comparison.numpy_version = Some(format!(
        "numpy {} ({})",
        parsed["numpy"].as_str().unwrap_or("?"),
        parsed["blas"].as_str().unwrap_or("?")
    ));
    log(&format!(
        "{}: flash {}, numpy {}",
        comparison.shape,
        flash_time.describe(),
        numpy.map_or("-".into(), |t| t.describe())
    ));
    Ok(comparison)
}

impl PeerComparison {
    pub(super) fn skipped(shape: Shape, reason: String) -> Self {
        PeerComparison {
            shape: label(&shape),
            flash: None,
            flash_f16: None,
            flash_rel_l2_err: None,
            peer: None,
            chosen: None,
            peer_timing: None,
            runs: Vec::new(),
            skipped: Some(reason),
        }
    }
}

/// `B×H×n×d`, with HKV, W and causal where set.
fn label(s: &Shape) -> String {
    let mut text = shape_text(s);
    if let Some(kv) = s.kv_heads.filter(|&kv| kv != s.heads) {
        text += &format!(" HKV={kv}");
    }
    if let Some(w) = s.window {
        text += &format!(" W={w}");
    }
    if s.causal {
        text += " causal";
    }
    text
}

/// The arguments of the torch script for `shape` on `bench`: like with like — float32 for
/// flash, float16 where flash_f16 runs here — on the torch device that is the adapter.
fn torch_args(
    dir: &Path,
    shape: &Shape,
    bench: &Bench,
    options: &TargetOptions,
    f16: bool,
) -> Vec<String> {
    let mut args = vec![
        dir.display().to_string(),
        options.samples.max(10).to_string(),
        "--adapter".into(),
        bench.summary().name.clone(),
        "--dtypes".into(),
        if f16 { "float32,float16" } else { "float32" }.into(),
        // The math backend writes the n×n matrix: naive's peer (`materializing.rs`).
        "--backends".into(),
        "flash,efficient,cudnn".into(),
    ];
    if shape.causal {
        args.push("--causal".into());
    }
    if let Some(w) = shape.window {
        args.extend(["--window".into(), w.to_string()]);
    }
    if bench.is_cpu() {
        args.push("--cpu-adapter".into());
    }
    args
}

/// attnbench flash (and flash_f16 where it runs) and every PyTorch SDPA backend on the same
/// inputs, on the torch device that is the adapter; times with intervals, ratios like with
/// like, and every output's error against the f64 reference on the last rows of each head.
pub(super) fn compare_with_torch(
    bench: &Bench,
    flash: &dyn Kernel,
    shape: Shape,
    options: &TargetOptions,
    log: &mut dyn FnMut(&str),
) -> Result<PeerComparison> {
    if let Err(e) = crate::run::PointPlan::checked(bench, flash, &shape) {
        return Ok(PeerComparison::skipped(shape, e.to_string()));
    }
    let flash_f16: &dyn Kernel = &crate::kernels::flash::FLASH_F16;
    let f16 = crate::run::PointPlan::checked(bench, flash_f16, &shape).is_ok();
    let inputs = AttentionInputs::random(shape, 4)?;
    let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    inputs.save_npy_dir(dir.path())?;
    let args = torch_args(dir.path(), &shape, bench, options, f16);
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
    let (flash_time, run) = median_ms(bench, flash, &inputs, options)?;
    run.poison_output()?;
    run.run_once()?;
    let flash_err = error_of(&run.read_output()?);
    drop(run);
    let f16_time = if f16 {
        Some(median_ms(bench, flash_f16, &inputs, options)?.0)
    } else {
        None
    };
    let flops = flash.flops(&shape);
    let mut runs = Vec::new();
    for r in parsed["runs"].as_array().into_iter().flatten() {
        let text = |k: &str| r[k].as_str().unwrap_or("?").to_string();
        let time = timed_from_samples(&samples_of(r));
        let rel_l2_err = match r["output"].as_str() {
            Some(path) => Some(error_of(&read_npy(Path::new(path))?.1)),
            None => None,
        };
        let (compared_with, ours) = match r["dtype"].as_str() {
            Some("float32") => (Some("flash"), Some(flash_time)),
            Some("float16") => (Some("flash_f16"), f16_time),
            _ => (None, None),
        };
        runs.push(PeerRun {
            backend: text("backend"),
            dtype: text("dtype"),
            time,
            calls: r["calls"].as_u64(),
            gflops: time.map(|t| gflops(flops, t.ms)),
            rel_l2_err,
            compared_with: compared_with.map(str::to_string),
            ratio: ours.zip(time).map(|(a, t)| a.ratio(&t)),
            skipped: r["skipped"].as_str().map(str::to_string),
        });
    }
    let device = parsed["device"].as_str().unwrap_or("?");
    let peer = format!(
        "torch {} on {}{}",
        parsed["torch"].as_str().unwrap_or("?"),
        parsed["device_name"].as_str().unwrap_or(device),
        if device == "cpu" {
            " (a CPU peer, on the CPU the adapter runs on)"
        } else {
            ""
        }
    );
    log(&format!(
        "{}: flash {}; {peer}: {} backend runs",
        label(&shape),
        flash_time.describe(),
        runs.iter().filter(|r| r.time.is_some()).count()
    ));
    Ok(PeerComparison {
        shape: label(&shape),
        flash: Some(flash_time),
        flash_f16: f16_time,
        flash_rel_l2_err: Some(flash_err),
        peer: Some(peer),
        chosen: parsed["chosen"].as_str().map(str::to_string),
        peer_timing: parsed["timing"].as_str().map(str::to_string),
        runs,
        skipped: None,
    })
}
