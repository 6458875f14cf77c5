//! `attnbench run`.

use super::Failure;
use attnbench::report::human_bytes;
use attnbench::run::{KernelRun, MeasureOptions, gflops};
use attnbench::settings::seconds_from_f64;
use attnbench::tensors::{AttentionInputs, write_npy};
use attnbench::{AdapterChoice, Error, find_kernel};
use std::path::PathBuf;

/// Options of `run`.
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// Kernel name (see `attnbench verify` or README for the list).
    #[arg(long)]
    kernel: String,
    /// The problem (with --load-tensors: taken from the tensors; given sizes are checked
    /// against them).
    #[command(flatten)]
    shape: super::ShapeArgs,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 0, help_heading = "Tensors")]
    seed: u64,
    /// Untimed warm-up runs (fewer if --time-budget runs out first, at least 1).
    #[arg(long, default_value_t = 2, help_heading = "Timing")]
    warmup: u32,
    /// Timed runs, at least 1 (fewer if --time-budget runs out first, at least 3).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Timing")]
    samples: u32,
    /// Seconds of warm-up, and again of timed runs, after which each stops (at most a week).
    #[arg(long, default_value_t = 20.0, help_heading = "Timing")]
    time_budget: f64,
    /// Print one JSON object instead of text.
    #[arg(long, help_heading = "Output")]
    json: bool,
    /// Write q.npy, k.npy, v.npy (inputs) and o.npy (output) into this folder; with a
    /// backward pass also do.npy (input) and dq.npy, dk.npy, dv.npy (gradients).
    #[arg(long, help_heading = "Tensors")]
    save_tensors: Option<PathBuf>,
    /// Run on q.npy, k.npy, v.npy from this folder instead of random inputs (and do.npy for
    /// a backward pass; random from --seed when absent).
    #[arg(long, help_heading = "Tensors")]
    load_tensors: Option<PathBuf>,
    /// Run on loaded tensors that hold NaN or infinities (refused otherwise: they give NaN
    /// outputs that look like a kernel's fault).
    #[arg(long, help_heading = "Tensors")]
    allow_non_finite: bool,
}

/// `args` with `ATTNBENCH_KV_HEADS` as `--kv-heads` when the flag is not given, as the sweep
/// reads it.
fn with_env_kv_heads(args: &RunArgs) -> Result<RunArgs, Error> {
    let mut args = args.clone();
    if args.shape.kv_heads.is_none()
        && let Some(text) = std::env::var("ATTNBENCH_KV_HEADS")
            .ok()
            .filter(|t| !t.trim().is_empty())
    {
        args.shape.kv_heads = Some(attnbench::settings::u32_in(
            "ATTNBENCH_KV_HEADS",
            &text,
            1..=u32::MAX,
        )?);
    }
    Ok(args)
}

/// The JSON record of one run.
#[derive(serde::Serialize)]
struct RunRecord {
    kernel: &'static str,
    adapter: String,
    backend: String,
    batch: u32,
    heads: u32,
    seq_len: u32,
    head_dim: u32,
    causal: bool,
    /// Heads of K and V (H unless grouped-query attention).
    kv_heads: u32,
    /// Causal sliding window, when there is one.
    window: Option<u32>,
    /// What was timed: fwd, bwd or fwd-bwd.
    pass: attnbench::Pass,
    /// The FLOP model behind `gflops`.
    flop_model: String,
    /// The fewest bytes the kernel must move (K + V + Q + O rows), over the median time.
    achieved_gbps: f64,
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
    samples: usize,
    gflops: f64,
    flops: f64,
    peak_buffer_bytes: u64,
    score_matrix_bytes: u64,
    timing: &'static str,
    /// Runs back to back per sample (each sample is its batch's time over them).
    runs_per_sample: u32,
    /// Why the wall clock timed it on a device that has timestamps.
    timing_fallback: Option<String>,
    seed: u64,
    /// The kernel's tile configuration, for kernels that have one.
    config: Option<String>,
}

fn inputs(args: &RunArgs) -> Result<AttentionInputs, Error> {
    if let Some(dir) = &args.load_tensors {
        let loaded = AttentionInputs::load_npy_dir(dir, args.shape.causal, args.shape.window)?;
        if !args.allow_non_finite {
            loaded.check_finite(dir)?;
        }
        let s = loaded.shape;
        let asked = [
            ("seq_len", args.shape.seq_len, s.seq_len),
            ("head_dim", args.shape.head_dim, s.head_dim),
            ("batch", args.shape.batch, s.batch),
            ("heads", args.shape.heads, s.heads),
            ("kv_heads", args.shape.kv_heads, s.kv_head_count()),
        ];
        for (name, wanted, found) in asked {
            if let Some(w) = wanted
                && w != found
            {
                return Err(Error::InvalidShape(format!(
                    "--{} {w} differs from the loaded tensors' {found}",
                    name.replace('_', "-")
                )));
            }
        }
        return Ok(loaded.for_pass(args.shape.pass.unwrap_or_default(), args.seed));
    }
    AttentionInputs::random(args.shape.shape(), args.seed)
}

/// Validates, runs and times one kernel on one shape.
pub fn run(args: &RunArgs, choice: AdapterChoice) -> Result<(), Failure> {
    let kernel = find_kernel(&args.kernel)?;
    let time_budget = seconds_from_f64("--time-budget", args.time_budget)?;
    let args = &with_env_kv_heads(args)?;
    // A destination that cannot take the tensors fails now, not after the measurement.
    if let Some(dir) = &args.save_tensors {
        attnbench::files::check_writable_dir(dir)?;
    }
    // Validate the shape before touching the device or generating inputs.
    if args.load_tensors.is_none() {
        args.shape.require(true, true)?;
        args.shape.shape().validate()?;
    }
    let gpu = super::open_tuned_gpu(choice, &[kernel.name()])?;
    if args.load_tensors.is_none() {
        // Refuse oversized problems before generating gigabytes of inputs.
        let shape = args.shape.shape();
        attnbench::run::plan_for(kernel, &shape, &gpu)?;
        if args.save_tensors.is_some() {
            attnbench::host::check(
                &format!(
                    "running {} at {shape} and saving its tensors",
                    kernel.name()
                ),
                attnbench::host::inputs_bytes(&shape) + attnbench::host::readback_bytes(&shape),
            )?;
        }
    }
    let inputs = inputs(args)?;
    let shape = inputs.shape;
    let run = KernelRun::new(&gpu, kernel, &inputs)?;
    let m = run.measure(&MeasureOptions {
        warmup: args.warmup,
        samples: args.samples,
        time_budget: Some(time_budget),
        min_samples: 3.min(args.samples),
    })?;
    if let Some(dir) = &args.save_tensors {
        inputs.save_npy_dir(dir)?;
        // O holds the rows the kernel computes: [B, H, 1, d] for decode.
        let o_dims = [
            shape.batch,
            shape.heads,
            kernel.query_rows(&shape),
            shape.head_dim,
        ];
        write_npy(&dir.join("o.npy"), o_dims, &run.read_output()?)?;
        if let Some(grads) = run.read_gradients()? {
            grads.save_npy_dir(&shape, dir)?;
        }
    }
    let summary = gpu.summary();
    let record = RunRecord {
        kernel: kernel.name(),
        adapter: summary.name.clone(),
        backend: summary.backend.clone(),
        batch: shape.batch,
        heads: shape.heads,
        seq_len: shape.seq_len,
        head_dim: shape.head_dim,
        causal: shape.causal,
        kv_heads: shape.kv_head_count(),
        window: shape.window,
        pass: shape.pass,
        flop_model: kernel.flop_model(&shape),
        achieved_gbps: kernel.min_bytes(&shape) as f64 / (m.median_ms * 1e6),
        median_ms: m.median_ms,
        min_ms: m.min_ms,
        max_ms: m.max_ms,
        samples: m.samples_ms.len(),
        gflops: gflops(kernel.flops(&shape), m.median_ms),
        flops: kernel.flops(&shape),
        peak_buffer_bytes: run.peak_buffer_bytes(),
        score_matrix_bytes: shape.score_matrix_bytes(),
        timing: m.timing.as_str(),
        runs_per_sample: m.runs_per_sample,
        timing_fallback: m.timing_fallback.clone(),
        seed: args.seed,
        config: kernel.config_label(&shape, &gpu),
    };
    if args.json {
        println!("{}", serde_json::to_string(&record).unwrap_or_default());
    } else {
        println!(
            "{} on {} ({}), {shape}{}",
            record.kernel,
            record.adapter,
            record.backend,
            record
                .config
                .as_ref()
                .map(|c| format!(", tiles {c}"))
                .unwrap_or_default()
        );
        println!(
            "median {:.3} ms (min {:.3}, max {:.3}, {} samples of {} run(s) back to back, {})",
            record.median_ms,
            record.min_ms,
            record.max_ms,
            record.samples,
            record.runs_per_sample,
            record.timing
        );
        if let Some(why) = &record.timing_fallback {
            println!("timed by the wall clock: {why}");
        }
        println!(
            "{:.2} GFLOP/s ({}), {:.2} GB/s (over the {} the kernel must move), peak buffer bytes {} ({}); n×n matrix {}",
            record.gflops,
            record.flop_model,
            record.achieved_gbps,
            human_bytes(kernel.min_bytes(&shape)),
            record.peak_buffer_bytes,
            human_bytes(record.peak_buffer_bytes),
            human_bytes(record.score_matrix_bytes)
        );
    }
    Ok(())
}
