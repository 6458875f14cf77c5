//! `attnbench tune`.

use super::Failure;
use attnbench::Shape;
use attnbench::kernels::Precision;
use attnbench::results::RunKind;
use attnbench::session::Session;
use attnbench::settings::Settings;
use attnbench::tuning::TuningFile;
use attnbench::tuning::search::{TuneOptions, tune};

/// Options of `tune`.
#[derive(Debug, clap::Args)]
pub struct TuneArgs {
    /// Head dims to tune (comma separated).
    #[arg(long, value_delimiter = ',', default_values_t = [32u32, 64, 128, 256])]
    head_dims: Vec<u32>,
    /// Sequence length of the tuning shape [default: 4096 on GPUs, 2048 on CPU drivers]
    #[arg(long)]
    seq_len: Option<u32>,
    /// Batch of the tuning shape [default: 2 on GPUs, 1 on CPU drivers]
    #[arg(long)]
    batch: Option<u32>,
    /// Heads of the tuning shape [default: 16 on GPUs, 4 on CPU drivers]
    #[arg(long)]
    heads: Option<u32>,
    /// Timed runs per configuration (at least 1).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    samples: u32,
    /// Tune f32 flash only (skip flash_f16).
    #[arg(long)]
    f32_only: bool,
    /// List the configurations each head dim would try, checking and timing none of
    /// them, and write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Tunes flash (and flash_f16 where the device has f16) per head dim and records the
/// fastest correct configuration in the device's `tuning.json`.
pub fn tune_cmd(args: &TuneArgs, settings: &Settings) -> Result<(), Failure> {
    // Candidates are fixed configurations: the user's overrides do not apply to them.
    let gpu = settings.open_bench()?;
    let device = TuneOptions::for_device(gpu.facts());
    let options = TuneOptions {
        head_dims: args.head_dims.clone(),
        seq_len: args.seq_len.unwrap_or(device.seq_len),
        batch: args.batch.unwrap_or(device.batch),
        heads: args.heads.unwrap_or(device.heads),
        samples: args.samples.max(1),
        ..device
    };
    // Every tuning shape is checked before the first is tuned.
    for &head_dim in &options.head_dims {
        Shape::new(options.seq_len, head_dim)
            .with_batch_heads(options.batch, options.heads)
            .validate()?;
    }
    // A destination that cannot take the choices (another device's tuning.json, a folder
    // that cannot be written) fails before minutes of tuning, not after.
    let session = if args.dry_run {
        None
    } else {
        Some(Session::open(&gpu, &settings.results_dir, RunKind::Tune)?)
    };
    let mut precisions = vec![Precision::F32];
    if !args.f32_only && gpu.features().contains(wgpu::Features::SHADER_F16) {
        precisions.push(Precision::F16);
    }
    if args.dry_run {
        for &precision in &precisions {
            for &head_dim in &options.head_dims {
                let all = attnbench::tuning::search::candidates(precision, head_dim, &gpu);
                println!(
                    "flash {precision:?}, d = {head_dim}, at {}×{}×{}×{head_dim} on {}: {} candidates (dry run: none checked or timed)",
                    options.batch,
                    options.heads,
                    options.seq_len,
                    gpu.summary().name,
                    all.len()
                );
                for config in all {
                    println!("  {config}");
                }
            }
        }
        return Ok(());
    }
    let mut choices = Vec::new();
    for &precision in &precisions {
        for &head_dim in &options.head_dims {
            println!(
                "flash {precision:?}, d = {head_dim}, at {}×{}×{}×{head_dim} on {}:",
                options.batch,
                options.heads,
                options.seq_len,
                gpu.summary().name
            );
            let mut print = |t: &attnbench::tuning::Trial| match (t.median_ms, &t.rejected) {
                (Some(ms), _) => println!("  {:<20} {ms:>10.2} ms", t.config),
                (None, Some(reason)) => println!("  {:<20} rejected: {reason}", t.config),
                (None, None) => {}
            };
            match tune(&gpu, precision, head_dim, &options, &mut print)? {
                Some(choice) => {
                    println!(
                        "  → {} ({:.2} ms, {:.2} GFLOP/s; untuned {} {})",
                        choice.config,
                        choice.median_ms,
                        choice.gflops,
                        choice.untuned_config,
                        choice
                            .untuned_ms
                            .map(|ms| format!("{ms:.2} ms"))
                            .unwrap_or_else(|| "not timed".into())
                    );
                    choices.push(choice);
                }
                None => println!("  → no configuration ran correctly; nothing recorded"),
            }
        }
    }
    let Some(session) = session else {
        return Ok(());
    };
    let lock = session.lock()?;
    TuningFile::merge_and_save(session.dir(), &lock, session.device.clone(), choices)?;
    println!("wrote {}", TuningFile::path(session.dir()).display());
    Ok(())
}
