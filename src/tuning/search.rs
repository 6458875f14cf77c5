//! The autotuner behind `attnbench tune`: for each head dim and precision, every flash
//! configuration in a small grid ([`candidates`]) is first checked against the f64
//! reference on awkward shapes ([`correctness_shapes`]), then timed at the tuning shape;
//! the fastest correct one wins. Configurations the device cannot run, wrong ones, and
//! ones whose first timed run is far slower than the best so far (by the same timer) are
//! recorded with the reason. On GPUs it tunes at a shape that fills the device
//! ([`TuneOptions::for_device`]).

use super::{Trial, TunedChoice};
use crate::bench::Bench;
use crate::error::{Error, Result};
use crate::gpu::{DeviceFacts, Gpu, TimingSource};
use crate::kernels::Kernel;
use crate::kernels::Precision;
use crate::kernels::flash::{Flash, FlashConfig, KvSource, fixed_subgroup_size, untuned_config_on};
use crate::run::{KernelRun, MeasureOptions, PointPlan, gflops};
use crate::shape::Shape;
use crate::tensors::AttentionInputs;
use crate::verify::{InputKind, check, fresh_seed};

/// The grid GPUs run lives with flash's configurations (the device-coverage checks use it
/// too).
pub use crate::kernels::flash::gpu_grid;
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
    /// A configuration whose first timed run (after an untimed warm-up) takes longer than
    /// this many times the best median so far, by the same timer, is not timed further
    /// ([`prune_reason`]).
    pub prune_factor: f64,
    /// Past this instant the remaining candidates are not tried (recorded as rejected for
    /// lack of time): `attnbench suite` gives the tuner a share of its budget.
    pub deadline: Option<Instant>,
}

impl TuneOptions {
    /// The defaults for a device with `facts`: on GPUs a shape that fills the device,
    /// 2×16×4096 (2048 workgroups of 64 query rows, over ten per core of a 132-SM GPU; at
    /// 1×4×1024 a GPU would run 64 and leave half its cores idle); on CPU drivers
    /// [`TuneOptions::default`] (1×4×2048, seconds per candidate on lavapipe).
    pub fn for_device(facts: &DeviceFacts) -> TuneOptions {
        if facts.is_cpu {
            TuneOptions::default()
        } else {
            TuneOptions {
                seq_len: 4096,
                batch: 2,
                heads: 16,
                ..TuneOptions::default()
            }
        }
    }
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
    let mut all = if gpu.facts().is_cpu {
        cpu_grid(gpu)
    } else {
        gpu_grid(gpu.facts(), head_dim, precision)
    };
    // The untuned default first: a fast first entry lets the pruning skip slow ones early.
    if let Ok(default) = untuned_config_on(&shape, gpu.facts(), precision) {
        all.insert(0, default);
    }
    let mut kept: Vec<FlashConfig> = Vec::new();
    for config in all {
        if !kept.contains(&config) && config.validate_on(&shape, gpu.facts(), precision).is_ok() {
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
    bench: &Bench,
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
        let check = match check(bench, &kernel, shape, fresh_seed(), inputs) {
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
    bench: &Bench,
    precision: Precision,
    head_dim: u32,
    options: &TuneOptions,
    on_trial: &mut dyn FnMut(&Trial),
) -> Result<Option<TunedChoice>> {
    let shape =
        Shape::new(options.seq_len, head_dim).with_batch_heads(options.batch, options.heads);
    shape.validate()?;
    let untuned = untuned_config_on(&shape, bench.facts(), precision)?;
    let inputs = AttentionInputs::random(shape, 7)?;
    let measure = MeasureOptions {
        warmup: 1,
        samples: options.samples,
        time_budget: Some(Duration::from_secs(20)),
        min_samples: 3,
    };
    let mut trials = Vec::new();
    let mut best: Option<(FlashConfig, Timed)> = None;
    // One timer for every candidate: GPU timestamps where the device has them.
    let timer = if bench
        .gpu()
        .features()
        .contains(wgpu::Features::TIMESTAMP_QUERY)
    {
        TimingSource::GpuTimestamps
    } else {
        TimingSource::WallClock
    };
    for config in candidates(precision, head_dim, bench) {
        let mut trial = Trial {
            config,
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
        match check_config(bench, precision, config, head_dim)? {
            Err(reason) => trial.rejected = Some(reason),
            Ok(err) => {
                trial.rel_l2_err = Some(err);
                let kernel = Flash::with_config(precision, config);
                match time_config(
                    &kernel,
                    bench,
                    &inputs,
                    &measure,
                    best.map(|b| b.1),
                    options,
                ) {
                    Ok(Ok(timed)) => match beats(timed, best.map(|b| b.1), timer) {
                        Ok(wins) => {
                            trial.median_ms = Some(timed.ms);
                            if wins {
                                best = Some((config, timed));
                            }
                        }
                        Err(reason) => trial.rejected = Some(reason),
                    },
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
    let Some((config, Timed { ms: median_ms, .. })) = best else {
        return Ok(None);
    };
    let flash = Flash::with_config(precision, config);
    let untuned_ms = trials
        .iter()
        .find(|t| t.config == untuned)
        .and_then(|t| t.median_ms);
    Ok(Some(TunedChoice {
        kernel: flash.name().into(),
        dtype: precision,
        head_dim,
        config,
        median_ms,
        gflops: gflops(flash.flops(&shape), median_ms),
        untuned_config: untuned,
        untuned_ms,
        shape: format!(
            "{}×{}×{}×{}",
            shape.batch, shape.heads, shape.seq_len, shape.head_dim
        ),
        trials,
    }))
}

/// A time and the timer that took it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timed {
    /// Milliseconds.
    pub ms: f64,
    /// GPU timestamps or the wall clock.
    pub timing: TimingSource,
}

/// Whether a candidate's median `timed` beats the best so far, both by the tuner's
/// `timer`; a candidate timed by another (its row fell back to the wall clock, its
/// timestamps not covering its batches) is not compared: the reason.
pub fn beats(
    timed: Timed,
    best: Option<Timed>,
    timer: TimingSource,
) -> std::result::Result<bool, String> {
    if timed.timing != timer {
        return Err(format!(
            "not compared: timed by the {} ({:.3} ms), the other candidates by {}",
            timed.timing, timed.ms, timer
        ));
    }
    Ok(best.is_none_or(|b| timed.ms < b.ms))
}

/// Why a candidate whose first timed run after its warm-up took `first` is not timed
/// further, against the best median so far: only a time from the same timer counts (the
/// wall clock adds submit, wait and lazy initialization, ≥ 0.1 ms, which on a GPU is more
/// than a whole kernel), and only past `factor` × the best. `None`: time it.
pub fn prune_reason(first: Timed, best: Option<Timed>, factor: f64) -> Option<String> {
    let best = best.filter(|b| b.timing == first.timing)?;
    (first.ms > factor * best.ms).then(|| {
        format!(
            "pruned: first timed run {:.3} ms > {factor}× the best median {:.3} ms ({})",
            first.ms, best.ms, first.timing
        )
    })
}

/// Median of `kernel` on `inputs` and its timer, or why it was not timed: after one
/// untimed warm-up run (shader JIT, lazy initialization), one timed run is compared with
/// the best median so far by [`prune_reason`].
fn time_config(
    kernel: &Flash,
    bench: &Bench,
    inputs: &AttentionInputs,
    measure: &MeasureOptions,
    best: Option<Timed>,
    options: &TuneOptions,
) -> Result<std::result::Result<Timed, String>> {
    let plan = PointPlan::checked(bench, kernel, &inputs.shape)?;
    let run = KernelRun::new(bench, &plan, inputs)?;
    run.run_once()?;
    let first = run.measure(&MeasureOptions {
        warmup: 0,
        samples: 1,
        time_budget: None,
        min_samples: 1,
    })?;
    let first = Timed {
        ms: first.median_ms,
        timing: first.timing,
    };
    if let Some(reason) = prune_reason(first, best, options.prune_factor) {
        return Ok(Err(reason));
    }
    let measured = run.measure(measure)?;
    Ok(Ok(Timed {
        ms: measured.median_ms,
        timing: measured.timing,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(ms: f64, timing: TimingSource) -> Timed {
        Timed { ms, timing }
    }

    #[test]
    fn the_winner_is_chosen_on_one_timer() {
        use TimingSource::{GpuTimestamps as Gpu, WallClock as Wall};
        let best = Some(timed(0.06, Gpu));
        assert_eq!(beats(timed(0.05, Gpu), best, Gpu), Ok(true));
        assert_eq!(beats(timed(0.07, Gpu), best, Gpu), Ok(false));
        // A faster wall-clock median is not compared with timestamp medians.
        let why = beats(timed(0.01, Wall), best, Gpu).unwrap_err();
        assert!(
            why.contains("wall-clock") && why.contains("gpu-timestamps"),
            "{why}"
        );
        // Without timestamps the wall clock is every candidate's timer.
        assert_eq!(beats(timed(0.2, Wall), None, Wall), Ok(true));
    }

    #[test]
    fn candidates_are_pruned_only_against_the_same_timer() {
        use TimingSource::{GpuTimestamps as Gpu, WallClock as Wall};
        // A GPU kernel of 0.05 ms whose wall-clock first run reads 0.2 ms: not pruned
        // against a 0.06 ms timestamp median (the old rule pruned it).
        assert_eq!(
            prune_reason(timed(0.2, Wall), Some(timed(0.06, Gpu)), 2.0),
            None
        );
        // The same timer: slow is pruned, within the factor is not.
        let pruned = prune_reason(timed(0.2, Gpu), Some(timed(0.06, Gpu)), 2.0).unwrap();
        assert!(
            pruned.contains("pruned") && pruned.contains("gpu-timestamps"),
            "{pruned}"
        );
        assert_eq!(
            prune_reason(timed(0.11, Gpu), Some(timed(0.06, Gpu)), 2.0),
            None
        );
        assert!(prune_reason(timed(9.0, Wall), Some(timed(3.0, Wall)), 2.0).is_some());
        // The first candidate has nothing to be pruned against.
        assert_eq!(prune_reason(timed(100.0, Gpu), None, 2.0), None);
    }
}
