//! `attnbench plan`: what every kernel plans at the suite's shapes on a device — this
//! adapter (as `--plan-as` has it) or a GPU that is not here (`--adapter-limits h100`) —
//! with each working dispatch's workgroup, live floats and workgroup memory, and on a
//! profiled GPU the occupancy and the roofline figure to expect. Nothing runs.

use super::{Failure, ShapeArgs};
use attnbench::gpu::{DeviceFacts, GpuProfile};
use attnbench::kernels::{Kernel, PlanContext, Precision, Workload};
use attnbench::markdown::{Align, Table};
use attnbench::settings::Settings;
use attnbench::shape::{Pass, Shape};
use attnbench::{Error, Gpu, KERNELS, find_kernel};

/// Options of `plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Plan for a GPU that is not here instead of this adapter: a built-in profile (h100)
    #[arg(long)]
    adapter_limits: Option<String>,
    /// Only this kernel (repeatable; default: all registered).
    #[arg(long = "kernel")]
    kernels: Vec<String>,
    /// One shape of your own instead of the suite's shapes.
    #[command(flatten)]
    shape: ShapeArgs,
}

/// The shapes `attnbench suite` measures, one or two per family of its sweep (B = H = 1,
/// d = 64, n doubling from 128) and the targets' own.
pub fn suite_shapes() -> Vec<(&'static str, Shape)> {
    let causal = |n, d| Shape::new(n, d).with_causal(true);
    vec![
        ("prefill-d64", Shape::new(4096, 64)),
        ("prefill-d64", Shape::new(65_536, 64)),
        ("prefill-causal-d64", causal(65_536, 64)),
        ("headdim-n1024", Shape::new(1024, 32)),
        ("headdim-n1024", Shape::new(1024, 128)),
        ("headdim-n1024", Shape::new(1024, 256)),
        ("window-d64", causal(65_536, 64).with_window(Some(1024))),
        (
            "train-d64",
            Shape::new(16_384, 64).with_pass(Pass::ForwardBackward),
        ),
        (
            "backward-d64",
            Shape::new(16_384, 64).with_pass(Pass::Backward),
        ),
        ("decode-d64", causal(65_536, 64)),
        ("decode-d64", causal(1 << 20, 64)),
        ("target: decode bandwidth", causal(262_144, 64)),
        (
            "target: GQA decode",
            causal(65_536, 64).with_batch_heads(1, 8).with_kv_heads(2),
        ),
        (
            "target: flash d128",
            Shape::new(4096, 128).with_batch_heads(2, 4),
        ),
        (
            "target: training",
            Shape::new(2048, 64)
                .with_batch_heads(2, 4)
                .with_pass(Pass::Backward),
        ),
        ("tune (GPUs)", Shape::new(4096, 64).with_batch_heads(2, 16)),
    ]
}

/// Whether `kernel` runs at `shape` in the suite: decode on decode shapes, the others on
/// prefill shapes, kernels with a backward on training shapes.
fn applies(kernel: &dyn Kernel, family: &str, shape: &Shape) -> bool {
    let decode = family.contains("decode");
    (kernel.workload() == Workload::Decode) == decode
        && (!shape.pass.has_backward() || kernel.backward().is_some())
}

/// Prints the plans as a Markdown table.
pub fn plan(args: &PlanArgs, settings: &Settings) -> Result<(), Failure> {
    let kernels: Vec<&'static dyn Kernel> = if args.kernels.is_empty() {
        KERNELS.to_vec()
    } else {
        args.kernels
            .iter()
            .map(|k| find_kernel(k))
            .collect::<Result<_, _>>()?
    };
    let shapes = if args.shape.any_given() || args.shape.pass.is_some() {
        args.shape.require(true, true)?;
        let shape = args.shape.shape();
        shape.validate()?;
        vec![("given", shape)]
    } else {
        suite_shapes()
    };
    let profile = args
        .adapter_limits
        .as_deref()
        .map(GpuProfile::named)
        .transpose()?;
    let facts: DeviceFacts = match &profile {
        Some(p) => p.facts.clone(),
        None => Gpu::new(&settings.adapter)?.facts().clone(),
    };
    println!("Plans on {}:\n", facts.name);
    let mut table = Table::new([
        ("family", Align::Left),
        ("kernel", Align::Left),
        ("shape", Align::Left),
        ("plan", Align::Left),
        ("dispatch", Align::Left),
        ("invocations", Align::Right),
        ("workgroups", Align::Right),
        ("live floats", Align::Right),
        ("workgroup memory", Align::Right),
        ("occupancy", Align::Left),
        ("roofline", Align::Left),
        ("measured", Align::Left),
    ]);
    for (family, shape) in shapes {
        for &kernel in &kernels {
            if family != "given" && !applies(kernel, family, &shape) {
                continue;
            }
            let cells = |plan: String| {
                vec![
                    family.to_string(),
                    kernel.name().into(),
                    shape.to_string(),
                    plan,
                ]
            };
            // Decided from the facts alone: no tuned choices, no overrides.
            let plan = match kernel.plan(&shape, &PlanContext::untuned(&facts)) {
                Err(Error::Unsupported { reason, .. }) => {
                    table.row(cells(format!("refused: {reason}")));
                    continue;
                }
                Err(e) if e.is_input_error() => {
                    table.row(cells(format!(
                        "refused: {}",
                        e.to_string().replace('\n', " ")
                    )));
                    continue;
                }
                Err(e) => return Err(e.into()),
                Ok(plan) => plan,
            };
            if plan.dispatches().is_empty() {
                table.row(cells("not modelled".into()));
                continue;
            }
            let label = plan.label().unwrap_or_default();
            let roofline = profile.as_ref().map(|p| roofline(p, kernel, &shape));
            for (i, d) in plan.dispatches().iter().enumerate() {
                let mut row = cells(if i == 0 { label.clone() } else { "〃".into() });
                row.extend([
                    d.name.to_string(),
                    d.invocations.to_string(),
                    d.workgroups.to_string(),
                    d.live_floats.to_string(),
                    format!("{} B", d.workgroup_bytes),
                    profile.as_ref().map_or(String::new(), |p| {
                        let o = p.occupancy(
                            d.invocations,
                            d.workgroups,
                            d.live_floats,
                            d.workgroup_bytes,
                        );
                        format!(
                            "{}/SM ({:.0}% of warps, {} regs, by {}), fills {:.0}% of a wave",
                            o.workgroups_per_sm,
                            100.0 * o.fraction,
                            o.registers,
                            o.limited_by,
                            100.0 * o.fill
                        )
                    }),
                    if i == 0 {
                        roofline.clone().unwrap_or_default()
                    } else {
                        String::new()
                    },
                    String::new(),
                ]);
                table.row(row);
            }
        }
    }
    print!("{}", table.render());
    Ok(())
}

/// The run's roofline on `profile`: its least time and the figure it would reach there —
/// GB/s for decode (bandwidth-bound), GFLOP/s of the dtype's non-tensor FMA peak for the
/// others.
fn roofline(profile: &GpuProfile, kernel: &dyn Kernel, shape: &Shape) -> String {
    let peak = match kernel.precision() {
        Precision::F32 => profile.peaks.f32_gflops,
        Precision::F16 => profile.peaks.f16_gflops,
    };
    let flops = kernel.flops(shape);
    let bytes = kernel.min_bytes(shape);
    let (us, bound) = profile.roofline(flops, bytes, peak);
    if kernel.workload() == Workload::Decode {
        format!(
            "{us:.1} µs ({bound}): {:.0} GB/s",
            bytes as f64 / (us * 1e3)
        )
    } else {
        format!("{us:.1} µs ({bound}): {:.0} GFLOP/s", flops / (us * 1e3))
    }
}
