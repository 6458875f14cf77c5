//! The autotuner behind `attnbench tune`: for each head dim and precision, every flash
//! configuration in a small grid ([`candidates`]) is first checked against the f64
//! reference on awkward shapes ([`correctness_shapes`]), then timed at the tuning shape;
//! the fastest correct one wins. Configurations the device cannot run, wrong ones, and
//! ones whose first run is far slower than the best so far are recorded with the reason.

use super::{Trial, TunedChoice};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::kernels::Precision;
use crate::kernels::flash::{Flash, FlashConfig, KvSource, fixed_subgroup_size, untuned_config};
use crate::run::{KernelRun, MeasureOptions, gflops};
use crate::shape::Shape;
use crate::tensors::AttentionInputs;
use crate::verify::{InputKind, check, fresh_seed};
use std::time::{Duration, Instant};

/// What to tune and how hard.
#[derive(Clone, Debug)]
pub struct TuneOptions {
    /// Head dims to tune.
    pub head_dims: Vec<u32>,
    /// Sequence length of the tuning shape.
    pub seq_len: u32,
    /// Batch of the tuning shape.
    pub batch: u32,
    /// Heads of the tuning shape.
    pub heads: u32,
    /// Timed runs per configuration (median).
    pub samples: u32,
    /// A configuration whose untimed first run takes longer than this many times the best
    /// median so far is not timed further.
    pub prune_factor: f64,
    /// Past this instant the remaining candidates are not tried (recorded as rejected for
    /// lack of time): `attnbench suite` gives the tuner a share of its budget.
    pub deadline: Option<Instant>,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            head_dims: vec![32, 64, 128, 256],
            seq_len: 2048,
            batch: 1,
            heads: 4,
            samples: 3,
            prune_factor: 2.0,
            deadline: None,
        }
    }
}

/// Workgroup-tile grid: (block_q, rows, block_kv). Small on purpose: every entry is one
/// more pipeline to compile (seconds each on lavapipe with a cold shader cache) and to
/// check in the tests.
const TILE_GRID: &[(u32, u32, u32)] = &[
    (64, 1, 32),
    (64, 4, 32),
    (64, 8, 32),
    (128, 4, 32),
    (64, 8, 16),
    (32, 8, 32),
];

/// Rows per invocation tried with subgroup broadcast, with 4 subgroups per workgroup (1
/// subgroup per workgroup measured the same on lavapipe, within noise). 8 fits up to d = 64
/// ([`FlashConfig::validate`] drops it beyond): each loaded K/V element then serves 64 query
/// rows of a subgroup, which paid 1.5× on a slow day of lavapipe.
const BROADCAST_ROWS: &[u32] = &[1, 2, 4, 8];

/// The GPU grid's (rows per lane group, lanes per row): whole rows per lane with register
/// tiling, and rows split across 2 or 4 lanes of a subgroup (fewer registers per lane at
/// large head dims).
const GPU_ROWS_LANES: &[(u32, u32)] = &[
    (1, 1),
    (2, 1),
    (4, 1),
    (2, 2),
    (4, 2),
    (2, 4),
    (4, 4),
    (8, 4),
];

/// Invocations per workgroup the GPU grid tries (2–8 subgroups of 32), and keys per tile.
const GPU_BLOCK_Q: &[u32] = &[64, 128, 256];
const GPU_BLOCK_KV: &[u32] = &[32, 64];

/// The workgroup-tile grid for GPUs, from the adapter's limits: query-block size
/// (`block_q`, hence subgroups per workgroup), rows per lane group, lanes per row (where
/// there are subgroups) and keys per tile (where workgroup memory holds them).
pub fn gpu_grid(gpu: &Gpu) -> Vec<FlashConfig> {
    let limits = gpu.limits();
    let mut out = Vec::new();
    for &block_q in GPU_BLOCK_Q {
        if block_q > limits.max_compute_invocations_per_workgroup {
            continue;
        }
        for &(rows, lanes) in GPU_ROWS_LANES {
            for &block_kv in GPU_BLOCK_KV {
                out.push(FlashConfig {
                    kv: KvSource::WorkgroupTiles,
                    block_q,
                    rows,
                    block_kv,
                    lanes,
                });
            }
        }
    }
    out
}

/// The grid for CPU drivers: workgroup tiles with many rows per invocation (each
/// workgroup-memory read costs many FMAs there), and subgroup broadcast with K/V from the
/// buffers or from texel arrays.
fn cpu_grid(gpu: &Gpu) -> Vec<FlashConfig> {
    let mut all: Vec<FlashConfig> = TILE_GRID
        .iter()
        .map(|&(block_q, rows, block_kv)| FlashConfig {
            kv: KvSource::WorkgroupTiles,
            block_q,
            rows,
            block_kv,
            lanes: 1,
        })
        .collect();
    if let Ok(sg) = fixed_subgroup_size(gpu) {
        for kv in [KvSource::SubgroupBroadcast, KvSource::TexelBroadcast] {
            for &rows in BROADCAST_ROWS {
                all.push(FlashConfig {
                    kv,
                    block_q: 4 * sg,
                    rows,
                    block_kv: 4,
                    lanes: 1,
                });
            }
        }
    }
    all
}

/// Every configuration the tuner may choose for `precision` and `head_dim` on `gpu`: the
/// untuned default, then the CPU-driver grid (workgroup tiles with many rows per lane, and
/// subgroup broadcast) on CPU adapters or the GPU grid ([`gpu_grid`]) elsewhere, kept where
/// the device and shape allow them.
pub fn candidates(precision: Precision, head_dim: u32, gpu: &Gpu) -> Vec<FlashConfig> {
    let shape = Shape::new(256, head_dim);
    let mut all = if gpu.is_cpu() {
        cpu_grid(gpu)
    } else {
        gpu_grid(gpu)
    };
    // The untuned default first: a fast first entry lets the pruning skip slow ones early.
    if let Ok(default) = untuned_config(&shape, gpu, precision) {
        all.insert(0, default);
    }
    let mut kept: Vec<FlashConfig> = Vec::new();
    for config in all {
        if !kept.contains(&config) && config.validate(&shape, gpu, precision).is_ok() {
            kept.push(config);
        }
    }
    kept
}

/// Shapes every candidate must pass before it is timed: n not a multiple of any tile,
/// causal with two heads, and a single row.
pub fn correctness_shapes(head_dim: u32) -> Vec<Shape> {
    vec![
        Shape::new(131, head_dim)
            .with_batch_heads(1, 2)
            .with_causal(true),
        Shape::new(67, head_dim),
        Shape::new(1, head_dim),
    ]
}

/// Checks `config` on [`correctness_shapes`], with uniform inputs on each and the hostile
/// ones on the first: the worst relative error, or why it failed.
pub fn check_config(
    gpu: &Gpu,
    precision: Precision,
    config: FlashConfig,
    head_dim: u32,
) -> Result<std::result::Result<f64, String>> {
    let kernel = Flash::with_config(precision, config);
    let shapes = correctness_shapes(head_dim);
    let cases = shapes
        .iter()
        .map(|&s| (s, InputKind::Uniform))
        .chain(InputKind::HOSTILE.iter().map(|&kind| (shapes[0], kind)));
    let mut worst: f64 = 0.0;
    for (shape, inputs) in cases {
        let check = match check(gpu, &kernel, shape, fresh_seed(), inputs) {
            Ok(check) => check,
            Err(Error::Unsupported { reason, .. }) => return Ok(Err(reason)),
            Err(e) => return Err(e),
        };
        let Some(comparison) = check.comparison else {
            return Ok(Err(check.skipped.unwrap_or_else(|| "not run".into())));
        };
        if !check.passed() {
            return Ok(Err(format!(
                "wrong results at {shape} with {inputs} inputs: rel_l2_err {:e}",
                comparison.rel_l2_error
            )));
        }
        worst = worst.max(comparison.rel_l2_error);
    }
    Ok(Ok(worst))
}

/// Tunes flash in `precision` for `head_dim`: every candidate checked, then timed; calls
/// `on_trial` after each. `Ok(None)` when no candidate ran correctly.
pub fn tune(
    gpu: &Gpu,
    precision: Precision,
    head_dim: u32,
    options: &TuneOptions,
    on_trial: &mut dyn FnMut(&Trial),
) -> Result<Option<TunedChoice>> {
    let shape =
        Shape::new(options.seq_len, head_dim).with_batch_heads(options.batch, options.heads);
    shape.validate()?;
    let untuned = untuned_config(&shape, gpu, precision)?;
    let inputs = AttentionInputs::random(shape, 7)?;
    let measure = MeasureOptions {
        warmup: 1,
        samples: options.samples,
        time_budget: Some(Duration::from_secs(20)),
        min_samples: 3,
    };
    let mut trials = Vec::new();
    let mut best: Option<(FlashConfig, f64)> = None;
    for config in candidates(precision, head_dim, gpu) {
        let mut trial = Trial {
            config: config.to_string(),
            median_ms: None,
            rel_l2_err: None,
            rejected: None,
        };
        if options.deadline.is_some_and(|d| Instant::now() >= d) {
            trial.rejected = Some("not tried: the time budget for tuning ran out".into());
            on_trial(&trial);
            trials.push(trial);
            continue;
        }
        match check_config(gpu, precision, config, head_dim)? {
            Err(reason) => trial.rejected = Some(reason),
            Ok(err) => {
                trial.rel_l2_err = Some(err);
                let kernel = Flash::with_config(precision, config);
                match time_config(&kernel, gpu, &inputs, &measure, best.map(|b| b.1), options) {
                    Ok(Ok(ms)) => {
                        trial.median_ms = Some(ms);
                        if best.is_none_or(|(_, b)| ms < b) {
                            best = Some((config, ms));
                        }
                    }
                    Ok(Err(reason)) => trial.rejected = Some(reason),
                    Err(Error::Unsupported { reason, .. }) => trial.rejected = Some(reason),
                    Err(e) if e.is_input_error() => trial.rejected = Some(e.to_string()),
                    Err(e) => return Err(e),
                }
            }
        }
        on_trial(&trial);
        trials.push(trial);
    }
    let Some((config, median_ms)) = best else {
        return Ok(None);
    };
    let flash = Flash::with_config(precision, config);
    let untuned_ms = trials
        .iter()
        .find(|t| t.config == untuned.to_string())
        .and_then(|t| t.median_ms);
    Ok(Some(TunedChoice {
        kernel: flash.name().into(),
        dtype: precision,
        head_dim,
        config: config.to_string(),
        median_ms,
        gflops: gflops(flash.flops(&shape), median_ms),
        untuned_config: untuned.to_string(),
        untuned_ms,
        shape: format!(
            "{}×{}×{}×{}",
            shape.batch, shape.heads, shape.seq_len, shape.head_dim
        ),
        trials,
    }))
}

/// Median ms of `kernel` on `inputs`, or why it was not timed (pruned: its first run took
/// more than `prune_factor` × the best median so far).
fn time_config(
    kernel: &Flash,
    gpu: &Gpu,
    inputs: &AttentionInputs,
    measure: &MeasureOptions,
    best_ms: Option<f64>,
    options: &TuneOptions,
) -> Result<std::result::Result<f64, String>> {
    let run = KernelRun::new(gpu, kernel, inputs)?;
    let start = Instant::now();
    run.run_once()?;
    let first_ms = start.elapsed().as_secs_f64() * 1e3;
    if let Some(best) = best_ms
        && first_ms > options.prune_factor * best
    {
        return Ok(Err(format!(
            "pruned: first run {first_ms:.1} ms > {}× the best median {best:.1} ms",
            options.prune_factor
        )));
    }
    Ok(Ok(run.measure(measure)?.median_ms))
}
