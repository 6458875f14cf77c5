//! `attnbench shader` (the final WGSL a kernel runs) and `attnbench ladder` (flash's version
//! ladder measured again on this adapter).

use super::{Failure, ShapeArgs};
use attnbench::kernels::Precision;
use attnbench::kernels::flash::{FLASH, Flash, FlashConfig, LADDER};
use attnbench::probe::ProbeReport;
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

/// Times every runnable rung of flash's ladder and prints the table.
pub fn ladder(args: &LadderArgs, settings: &Settings) -> Result<(), Failure> {
    let shape = Shape::new(args.seq_len, args.head_dim).with_batch_heads(args.batch, args.heads);
    shape.validate()?;
    let gpu = super::open_tuned_bench(settings, &["flash"])?;
    let device = DeviceHeader::for_gpu(&gpu);
    let folder = DeviceFolder::for_device(&settings.results_dir, &device);
    let peak = ProbeReport::load_for(&folder.dir, &device)?.map(|p| p.fma_f32_gflops);
    println!(
        "flash ladder on {} ({}) at {shape}; FLOPs 4·B·H·n²·d; {}",
        device.adapter,
        device.backend,
        match peak {
            Some(p) => format!("% of the probed f32 FMA peak {p:.1} GFLOP/s"),
            None => "no probe.json: run `attnbench probe` for the % column".into(),
        }
    );
    println!(
        "| rung | configuration | ms | GFLOP/s | % of peak | peak bytes | idea |\n|---|---|---:|---:|---:|---:|---|"
    );
    let inputs = AttentionInputs::random(shape, 0)?;
    for rung in LADDER {
        let kernel: Box<dyn Kernel> = match (rung.runnable, rung.config) {
            (false, _) => {
                println!(
                    "| {} | not runnable (commit {}) | | | | | {} |",
                    rung.name, rung.commit, rung.idea
                );
                continue;
            }
            (true, Some(text)) => Box::new(Flash::with_config(
                Precision::F32,
                FlashConfig::parse(text)?,
            )),
            (true, None) => Box::new(Flash { ..FLASH }),
        };
        let plan = PointPlan::checked(&gpu, kernel.as_ref(), &shape);
        let config = plan
            .as_ref()
            .ok()
            .and_then(|p| p.label())
            .unwrap_or("-")
            .to_string();
        let measured = plan.and_then(|plan| {
            let run = KernelRun::new(&gpu, &plan, &inputs)?;
            let m = run.measure(&MeasureOptions {
                warmup: 1,
                samples: args.samples,
                time_budget: Some(Duration::from_secs(30)),
                min_samples: 1,
            })?;
            Ok((m.median_ms, run.peak_buffer_bytes()))
        });
        match measured {
            Ok((ms, bytes)) => {
                let g = gflops(shape.flops(), ms);
                println!(
                    "| {} | {config} | {ms:.2} | {g:.1} | {} | {} | {} |",
                    rung.name,
                    peak.map(|p| format!("{:.0}%", 100.0 * g / p))
                        .unwrap_or_else(|| "—".into()),
                    human_bytes(bytes),
                    rung.idea
                );
            }
            Err(e) if e.is_input_error() => println!(
                "| {} | {config} | skipped: {} | | | | {} |",
                rung.name,
                attnbench::markdown::text(&e.to_string()),
                rung.idea
            ),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
