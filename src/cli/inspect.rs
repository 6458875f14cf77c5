//! `attnbench shader` (the final WGSL a kernel runs) and `attnbench ladder` (the version
//! ladder, textbook naive → naive → flash, verified and measured again on this adapter).

use super::{Failure, ShapeArgs};
use attnbench::kernels::Precision;
use attnbench::kernels::flash::{FLASH, Flash, FlashConfig};
use attnbench::kernels::ladder::{LADDER, Rung, RungKernel};
use attnbench::kernels::naive::{NAIVE, textbook::TEXTBOOK};
use attnbench::probe::ProbeReport;
use attnbench::reference::{Comparison, attention_f64_last_rows, last_rows};
use attnbench::report::human_bytes;
use attnbench::results::{DeviceFolder, DeviceHeader};
use attnbench::run::{KernelRun, MeasureOptions, PointPlan, gflops};
use attnbench::settings::Settings;
use attnbench::tensors::AttentionInputs;
use attnbench::{Error, Kernel, Shape, find_kernel};
use std::time::Duration;

/// Options of `shader`.
#[derive(Debug, clap::Args)]
pub struct ShaderArgs {
    /// Registered kernel name.
    kernel: String,
    /// A flash configuration instead of the device's (e.g. tiles,64,8,32 or broadcast,32,4).
    #[arg(long)]
    config: Option<String>,
    /// The shape the kernel is prepared for [defaults: --seq-len 256, --head-dim 64].
    #[command(flatten)]
    shape: ShapeArgs,
}

/// Options of `ladder`.
#[derive(Debug, clap::Args)]
pub struct LadderArgs {
    /// Sequence length n.
    #[arg(long, default_value_t = 2048)]
    seq_len: u32,
    /// Head dimension d.
    #[arg(long, default_value_t = 64)]
    head_dim: u32,
    /// Batch B.
    #[arg(long, default_value_t = 1)]
    batch: u32,
    /// Heads H.
    #[arg(long, default_value_t = 4)]
    heads: u32,
    /// Timed runs per rung (at least 1).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    samples: u32,
}

/// Flash (f32 or f16 by `kernel`) with a configuration given as text.
fn flash_with(kernel: &dyn Kernel, text: &str) -> Result<Flash, Failure> {
    let precision = match kernel.name() {
        "flash" => Precision::F32,
        "flash_f16" => Precision::F16,
        other => {
            return Err(Error::InvalidSetting {
                what: "--config".into(),
                value: text.into(),
                expected: format!("no --config: {other} has no tile configuration"),
            }
            .into());
        }
    };
    Ok(Flash::with_config(precision, FlashConfig::parse(text)?))
}

/// Prepares the kernel on the chosen shape and prints every shader it compiled.
pub fn shader(args: &ShaderArgs, settings: &Settings) -> Result<(), Failure> {
    let registered = find_kernel(&args.kernel)?;
    let custom = args
        .config
        .as_deref()
        .map(|c| flash_with(registered, c))
        .transpose()?;
    let kernel: &dyn Kernel = match &custom {
        Some(k) => k,
        None => registered,
    };
    let shape = Shape {
        seq_len: args.shape.seq_len.unwrap_or(256),
        head_dim: args.shape.head_dim.unwrap_or(64),
        ..args.shape.shape()
    };
    shape.validate()?;
    let gpu = super::open_tuned_bench(settings, &[registered.name()])?;
    let plan = PointPlan::checked(&gpu, kernel, &shape)?;
    let inputs = AttentionInputs::random(shape, 0)?;
    KernelRun::new(&gpu, &plan, &inputs)?;
    println!(
        "// attnbench shader {} at {shape} on {} ({}){}",
        kernel.name(),
        gpu.summary().name,
        gpu.summary().backend,
        plan.label()
            .map(|c| format!(", configuration {c}"))
            .unwrap_or_default()
    );
    for s in gpu.compiled_shaders() {
        let constants: Vec<String> = s
            .constants
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        println!(
            "\n// ---- {}:{} (override constants: {})\n{}",
            s.name,
            s.entry,
            if constants.is_empty() {
                "none".to_string()
            } else {
                constants.join(", ")
            },
            s.wgsl
        );
    }
    Ok(())
}

/// Query rows per head the ladder compares with the f64 reference (the last ones: all of
/// them at the default B·H = 4, n = 2048 would take the CPU a while for every rung).
const LADDER_REFERENCE_ROWS: u32 = 64;

/// The kernel a runnable rung runs.
fn rung_kernel(rung: &Rung) -> Result<Box<dyn Kernel>, Failure> {
    Ok(match (rung.kernel, rung.config) {
        (RungKernel::NaiveTextbook, _) => Box::new(TEXTBOOK),
        (RungKernel::Naive, _) => Box::new(NAIVE),
        (RungKernel::Flash, Some(text)) => Box::new(Flash::with_config(
            Precision::F32,
            FlashConfig::parse(text)?,
        )),
        (RungKernel::Flash, None) => Box::new(Flash { ..FLASH }),
    })
}

/// Verifies every runnable rung of the ladder against the f64 reference (the last rows of
/// each head), then times it, and prints the table; a rung that fails verification is not
/// timed and makes the command fail (exit 1) once the table is printed.
pub fn ladder(args: &LadderArgs, settings: &Settings) -> Result<(), Failure> {
    let shape = Shape::new(args.seq_len, args.head_dim).with_batch_heads(args.batch, args.heads);
    shape.validate()?;
    let gpu = super::open_tuned_bench(settings, &["flash", "naive"])?;
    let device = DeviceHeader::for_gpu(&gpu);
    let folder = DeviceFolder::for_device(&settings.results_dir, &device);
    let peak = ProbeReport::load_for(&folder.dir, &device)?.map(|p| p.fma_f32_gflops);
    println!(
        "ladder (textbook naive → naive → flash) on {} ({}) at {shape}; FLOPs 4·B·H·n²·d; each rung checked against the f64 reference on the last {} rows of each head before it is timed; {}",
        device.adapter,
        device.backend,
        LADDER_REFERENCE_ROWS.min(shape.seq_len),
        match peak {
            Some(p) => format!("% of the probed f32 FMA peak {p:.1} GFLOP/s"),
            None => "no probe.json: run `attnbench probe` for the % column".into(),
        }
    );
    println!(
        "| rung | configuration | verified | ms | GFLOP/s | % of peak | peak bytes | idea |\n|---|---|---|---:|---:|---:|---:|---|"
    );
    let inputs = AttentionInputs::random(shape, 0)?;
    let rows = LADDER_REFERENCE_ROWS.min(shape.seq_len);
    let reference = attention_f64_last_rows(&shape, &inputs.q, &inputs.k, &inputs.v, rows);
    let mut failed = Vec::new();
    for rung in LADDER {
        if !rung.runnable {
            println!(
                "| {} | not runnable (commit {}) | | | | | | {} |",
                rung.name, rung.commit, rung.idea
            );
            continue;
        }
        let kernel = rung_kernel(rung)?;
        let plan = PointPlan::checked(&gpu, kernel.as_ref(), &shape);
        let config = plan
            .as_ref()
            .ok()
            .and_then(|p| p.label())
            .unwrap_or("-")
            .to_string();
        let measured = plan.and_then(|plan| {
            let run = KernelRun::new(&gpu, &plan, &inputs)?;
            run.poison_output()?;
            run.run_once()?;
            let out = last_rows(&shape, &run.read_output()?, rows);
            let check = Comparison::new(&out, &reference);
            if !check.passes(kernel.tolerance()) {
                return Ok(Err(check));
            }
            let m = run.measure(&MeasureOptions {
                warmup: 1,
                samples: args.samples,
                time_budget: Some(Duration::from_secs(30)),
                min_samples: 1,
            })?;
            Ok(Ok((check, m.median_ms, run.peak_buffer_bytes())))
        });
        match measured {
            Ok(Ok((check, ms, bytes))) => {
                let g = gflops(shape.flops(), ms);
                println!(
                    "| {} | {config} | ok ({:.1e}) | {ms:.2} | {g:.1} | {} | {} | {} |",
                    rung.name,
                    check.rel_l2_error,
                    peak.map(|p| format!("{:.0}%", 100.0 * g / p))
                        .unwrap_or_else(|| "—".into()),
                    human_bytes(bytes),
                    rung.idea
                );
            }
            Ok(Err(check)) => {
                println!(
                    "| {} | {config} | FAILED ({:.1e} > {:.0e}) | | | | | {} |",
                    rung.name,
                    check.rel_l2_error,
                    kernel.tolerance(),
                    rung.idea
                );
                failed.push(rung.name);
            }
            Err(e) if e.is_input_error() => println!(
                "| {} | {config} | skipped: {} | | | | | {} |",
                rung.name,
                attnbench::markdown::text(&e.to_string()),
                rung.idea
            ),
            Err(e) => return Err(e.into()),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "ladder: {} did not match the f64 reference",
            failed.join(", ")
        )))
    }
}
