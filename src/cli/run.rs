//! `attnbench run`.

use super::Failure;
use attnbench::parse::seconds_from_f64;
use attnbench::report::human_bytes;
use attnbench::run::{KernelRun, MeasureOptions, PointPlan, measured, planned_row};
use attnbench::settings::Settings;
use attnbench::tensors::{AttentionInputs, write_npy};
use attnbench::{Error, find_kernel};
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
pub fn run(args: &RunArgs, settings: &Settings) -> Result<(), Failure> {
    let kernel = find_kernel(&args.kernel)?;
    let time_budget = seconds_from_f64("--time-budget", args.time_budget)?;
    // A destination that cannot take the tensors fails now, not after the measurement.
    if let Some(dir) = &args.save_tensors {
        attnbench::files::check_writable_dir(dir)?;
    }
    // Validate the shape before touching the device or generating inputs.
    if args.load_tensors.is_none() {
        args.shape.require(true, true)?;
        args.shape.shape().validate()?;
    }
    let gpu = super::open_tuned_bench(settings, &[kernel.name()])?;
    // Refuse oversized problems before generating gigabytes of inputs: the plan of the
    // shape asked for, or of the loaded tensors' shape once they are read.
    let early = if args.load_tensors.is_none() {
        let shape = args.shape.shape();
        let plan = PointPlan::checked(&gpu, kernel, &shape)?;
        if args.save_tensors.is_some() {
            attnbench::host::check(
                &format!(
                    "running {} at {shape} and saving its tensors",
                    kernel.name()
                ),
                attnbench::host::inputs_bytes(&shape) + attnbench::host::readback_bytes(&shape),
            )?;
        }
        Some(plan)
    } else {
        None
    };
    let inputs = inputs(args)?;
    let shape = inputs.shape;
    let plan = match early {
        Some(plan) => plan,
        None => PointPlan::checked(&gpu, kernel, &shape)?,
    };
    let run = KernelRun::new(&gpu, &plan, &inputs)?;
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
    let row = measured(
        planned_row("run", kernel, &shape, Some(&plan)),
        &m,
        run.peak_buffer_bytes(),
    );
    let phases = run.phase_split(phase_repeats(m.median_ms))?;
    let summary = gpu.summary();
    if args.json {
        // The results row, with the device and the inputs beside it.
        let mut record = serde_json::to_value(&row).unwrap_or_default();
        if let Some(map) = record.as_object_mut() {
            map.insert("adapter".into(), summary.name.clone().into());
            map.insert("backend".into(), summary.backend.clone().into());
            map.insert("seed".into(), args.seed.into());
            map.insert("flop_model".into(), kernel.flop_model(&shape).into());
            // Where the time goes, phase by phase, for kernels that name their phases
            // (naive, chunked): each phase in its own timed pass, medians over a few runs.
            map.insert(
                "phases".into(),
                serde_json::to_value(&phases).unwrap_or_default(),
            );
            // Each sample is its batch's time over its runs; the wall clock's reason where
            // it timed a device that has timestamps.
            map.insert("runs_per_sample".into(), m.runs_per_sample.into());
            map.insert("timing_fallback".into(), m.timing_fallback.clone().into());
        }
        println!("{record}");
    } else {
        println!(
            "{} on {} ({}), {shape}{}",
            row.kernel,
            summary.name,
            summary.backend,
            row.config
                .as_ref()
                .map(|c| format!(", tiles {c}"))
                .unwrap_or_default()
        );
        println!(
            "median {:.3} ms (min {:.3}, max {:.3}, {} samples of {} run(s) back to back, {})",
            m.median_ms,
            m.min_ms,
            m.max_ms,
            row.samples,
            m.runs_per_sample,
            m.timing.as_str()
        );
        if let Some(why) = &m.timing_fallback {
            println!("timed by the wall clock: {why}");
        }
        let peak = run.peak_buffer_bytes();
        println!(
            "{:.2} GFLOP/s ({}), {:.2} GB/s (over the {} the kernel must move), peak buffer bytes {peak} ({}); n×n matrix {}",
            row.gflops.unwrap_or_default(),
            kernel.flop_model(&shape),
            row.achieved_gbps.unwrap_or_default(),
            human_bytes(row.min_bytes),
            human_bytes(peak),
            human_bytes(row.score_matrix_bytes)
        );
        if let Some(split) = &phases {
            let parts: Vec<String> = split
                .phases
                .iter()
                .map(|p| match p.gflops {
                    Some(g) => format!("{} {:.3} ms ({g:.2} GFLOP/s)", p.phase, p.median_ms),
                    None => format!("{} {:.3} ms", p.phase, p.median_ms),
                })
                .collect();
            println!(
                "phases (each its own pass, median of {}, {}): {}",
                split.repeats,
                split.timing,
                parts.join(", ")
            );
        }
    }
    Ok(())
}

/// Runs of the phase split: 5, or 3 for runs past a second.
fn phase_repeats(median_ms: f64) -> u32 {
    if median_ms > 1000.0 { 3 } else { 5 }
}
