//! `attnbench probe` and `attnbench capacity`.

use super::Failure;
use attnbench::capacity::capacity;
use attnbench::probe::{ProbeReport, run_probes};
use attnbench::report::human_bytes;
use attnbench::results::RunKind;
use attnbench::session::Session;
use attnbench::settings::Settings;
use attnbench::{KERNELS, Pass, Shape};

/// Options of `probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Options of `capacity`.
#[derive(Debug, clap::Args)]
pub struct CapacityArgs {
    /// The shape whose largest n is searched (--head-dim defaults to 64; --seq-len is what
    /// is searched and cannot be given).
    #[command(flatten)]
    shape: super::ShapeArgs,
}

/// Measures the device's ceilings and stores them in its results folder.
pub fn probe(args: &ProbeArgs, settings: &Settings) -> Result<(), Failure> {
    let gpu = settings.open_bench()?;
    // Every input checked before anything is measured or written.
    let session = Session::open(&gpu, &settings.results_dir, RunKind::Probe)?;
    let folder = &session.folder;
    let report = run_probes(&gpu)?;
    {
        let lock = session.lock()?;
        report.save(&lock, &folder.dir)?;
        // Existing results gain the % columns and the ceilings in their charts.
        if folder.load()?.is_some() {
            let device = session.device.clone();
            let file = folder.merge_and_save(
                &lock,
                device,
                Vec::new(),
                (Some(&report.ceilings()), None),
            )?;
            attnbench::report::write_device_report(&file, &folder.dir)?;
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{} ({}), timing: {}",
        report.device.adapter, report.device.backend, report.timing
    );
    println!("f32 FMA peak      {:>10.2} GFLOP/s", report.fma_f32_gflops);
    match report.fma_f16_gflops {
        Some(g) => println!("f16 FMA peak      {g:>10.2} GFLOP/s"),
        None => println!("f16 FMA peak      {:>10} (no SHADER_F16)", "-"),
    }
    println!(
        "device bandwidth  {:>10.2} GB/s (read + write)",
        report.bandwidth_gbps
    );
    println!("host → device     {:>10.2} GB/s", report.upload_gbps);
    println!("device → host     {:>10.2} GB/s", report.readback_gbps);
    println!("saved: {}", ProbeReport::path(&folder.dir).display());
    Ok(())
}

/// Largest n per kernel, and the bytes each needs at 4 096, 16 384 and 100 000.
pub fn capacity_cmd(args: &CapacityArgs, settings: &Settings) -> Result<(), Failure> {
    if let Some(n) = args.shape.seq_len {
        return Err(attnbench::Error::InvalidSetting {
            what: "--seq-len".into(),
            value: n.to_string(),
            expected: "nothing: capacity searches the largest n".into(),
        }
        .into());
    }
    let template = Shape {
        seq_len: 1,
        head_dim: args.shape.head_dim.unwrap_or(64),
        ..args.shape.shape()
    };
    template.validate()?;
    // A what-if budget (--memory-budget, ATTNBENCH_MEMORY_BUDGET) is not the device's
    // capacity: printed, never saved over it.
    let what_if = settings.adapter.memory_budget.is_some();
    let gpu = super::open_tuned_bench(settings, &[])?;
    // The destination is checked before anything is computed or printed.
    let session = if what_if {
        None
    } else {
        let session = Session::open(&gpu, &settings.results_dir, RunKind::Probe)?;
        attnbench::capacity::check_file(session.dir(), &session.device)?;
        Some(session)
    };
    let budget = gpu.memory_budget();
    println!(
        "{} ({}): memory budget {} ({}), max buffer {}, max storage binding {}; shape B={} H={} d={}{}",
        gpu.summary().name,
        gpu.summary().backend,
        budget
            .bytes
            .map(human_bytes)
            .unwrap_or_else(|| "unknown".into()),
        budget.source,
        human_bytes(gpu.summary().max_buffer_size),
        human_bytes(gpu.summary().max_storage_buffer_binding_size),
        template.batch,
        template.heads,
        template.head_dim,
        if template.causal { " causal" } else { "" }
    );
    println!(
        "{:<14} {:>7} {:>10}  {:>14} {:>14} {:>14}  limited by",
        "kernel", "pass", "max n", "n=4096", "n=16384", "n=100000"
    );
    // Without --pass: inference (fwd), then a training step (fwd-bwd) for every kernel
    // with a backward.
    let passes = match args.shape.pass {
        Some(pass) => vec![pass],
        None => vec![Pass::Forward, Pass::ForwardBackward],
    };
    let rows: Vec<_> = passes
        .iter()
        .flat_map(|&pass| {
            KERNELS
                .iter()
                .filter(move |k| !pass.has_backward() || k.backward().is_some())
                .map(move |&k| (pass, k))
        })
        .map(|(pass, k)| capacity(&gpu, k, &template.with_pass(pass)))
        .collect();
    for c in &rows {
        let need = |i: usize| {
            let n = &c.needs[i];
            let bytes = n.bytes.map(human_bytes).unwrap_or_else(|| "?".into());
            if n.fits {
                bytes
            } else {
                format!("{bytes} ✗")
            }
        };
        println!(
            "{:<14} {:>7} {:>10}  {:>14} {:>14} {:>14}  {}",
            c.kernel,
            c.pass.name(),
            c.max_seq_len
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            need(0),
            need(1),
            need(2),
            c.limited_by
        );
    }
    let Some(session) = session else {
        println!("not saved: a what-if memory budget is not the device's capacity");
        return Ok(());
    };
    let lock = session.lock()?;
    let path = attnbench::capacity::save(session.dir(), &lock, &session.device, &template, &rows)?;
    println!("saved: {}", path.display());
    Ok(())
}
