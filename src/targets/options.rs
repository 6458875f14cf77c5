//! How the targets measure: their shapes and budget ([`TargetOptions`]), whether a step
//! still fits the deadline, a kernel's median time, and a step refused by the device
//! recorded as skipped.

use super::burn_peer::BurnPeer;
use crate::bench::Bench;
use crate::error::Result;
use crate::kernels::Kernel;
use crate::run::{KernelRun, MeasureOptions, Measurement};
use crate::shape::{Pass, Shape};
use crate::stats::Interval;
use crate::tensors::AttentionInputs;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Sizes of the measurements (the defaults are the issues').
#[derive(Clone, Debug)]
pub struct TargetOptions {
    /// Shape of flash's share of the FMA peak.
    pub peak_shape: Shape,
    /// Head dims of flash over naive.
    pub speedup_head_dims: Vec<u32>,
    /// Sequence lengths of flash over naive.
    pub speedup_seq_lens: Vec<u32>,
    /// Shape of flash against numpy.
    pub blas_shape: Shape,
    /// Shape of naive against the materializing peers (numpy, torch's math backend).
    pub materializing_shape: Shape,
    /// Interleaved rounds of that comparison.
    pub materializing_rounds: u32,
    /// Shapes of flash against PyTorch.
    pub peer_shapes: Vec<Shape>,
    /// The Python interpreter of the peers (`--python`, `ATTNBENCH_PYTHON`; `python3`).
    pub python: String,
    /// Shapes of flash against Burn (f32; grouped-query and causal among them).
    pub burn_shapes: Vec<Shape>,
    /// The Burn peer program, where there is one (`--burn-peer`, `ATTNBENCH_BURN_PEER`, or
    /// beside the executable).
    pub burn_peer: BurnPeer,
    /// Timed runs per measurement.
    pub samples: u32,
    /// The probed f32 FMA peak, when already known (else it is probed).
    pub fma_peak_gflops: Option<f64>,
    /// The probed device bandwidth, when already known (else it is probed).
    pub bandwidth_gbps: Option<f64>,
    /// Shapes of the long-context targets.
    pub long_context: LongContextShapes,
    /// Shapes of the training targets.
    pub training: TrainingShapes,
    /// Past this instant no further step starts (recorded in `skipped`).
    pub deadline: Option<Instant>,
    /// flash's GFLOP/s as the sweep measured it, when known: with a deadline, a step whose
    /// predicted time (a warm-up and one timed run) does not fit is skipped.
    pub flash_gflops_hint: Option<f64>,
}

impl Default for TargetOptions {
    fn default() -> Self {
        TargetOptions {
            peak_shape: Shape::new(4096, 64).with_batch_heads(2, 4),
            speedup_head_dims: vec![64, 128],
            speedup_seq_lens: vec![512, 1024, 2048, 4096],
            blas_shape: Shape::new(2048, 64),
            materializing_shape: Shape::new(2048, 64),
            materializing_rounds: 3,
            // Multi-head, a bigger batch, grouped-query (torch's enable_gqa) and a sliding
            // window (a boolean mask for torch).
            peer_shapes: vec![
                Shape::new(2048, 64),
                Shape::new(4096, 64).with_batch_heads(2, 8),
                Shape::new(2048, 64).with_batch_heads(1, 8).with_kv_heads(2),
                Shape::new(2048, 64).with_window(Some(256)),
            ],
            python: "python3".into(),
            // The shapes: one head, many heads and a batch, grouped-query (Burn
            // takes fewer K/V heads), causal.
            burn_shapes: vec![
                Shape::new(2048, 64),
                Shape::new(4096, 64).with_batch_heads(2, 8),
                Shape::new(2048, 64).with_batch_heads(1, 8).with_kv_heads(2),
                Shape::new(4096, 64)
                    .with_batch_heads(1, 8)
                    .with_causal(true),
            ],
            burn_peer: BurnPeer::default(),
            samples: 5,
            fma_peak_gflops: None,
            bandwidth_gbps: None,
            long_context: LongContextShapes::default(),
            training: TrainingShapes::default(),
            deadline: None,
            flash_gflops_hint: None,
        }
    }
}

impl TargetOptions {
    /// Whether a step may start now; else records `what` as skipped for lack of time.
    pub(super) fn time_for(&self, what: &str, skipped: &mut Vec<String>) -> bool {
        match self.deadline {
            Some(d) if Instant::now() >= d => {
                skipped.push(format!("{what}: not measured, the time budget ran out"));
                false
            }
            _ => true,
        }
    }

    /// Like [`TargetOptions::time_for`] for a step that runs flash on `shape`: also false
    /// (and recorded) when flash's known rate predicts that a warm-up and one timed run
    /// would not end before the deadline.
    pub(super) fn time_for_flash(
        &self,
        what: &str,
        shape: &Shape,
        skipped: &mut Vec<String>,
    ) -> bool {
        if !self.time_for(what, skipped) {
            return false;
        }
        let (Some(deadline), Some(gflops)) = (self.deadline, self.flash_gflops_hint) else {
            return true;
        };
        let predicted = 2.0 * shape.flops() / (gflops.max(1e-3) * 1e9);
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        if predicted > left {
            skipped.push(format!(
                "{what}: not measured, predicted {predicted:.0} s at flash's swept {gflops:.1} GFLOP/s, {left:.0} s left"
            ));
            return false;
        }
        true
    }
}

/// A target's time: the median, its interval (with how it was made), how many samples,
/// and whether it was measured again because the first interval was wider than
/// ±[`MAX_SPREAD`].
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Timed {
    /// Median ms.
    pub ms: f64,
    /// The interval of the median, ms: a 95% interval where the samples allow one, else
    /// their range ([`Interval::of_median`]); none from one sample.
    pub interval: Option<Interval>,
    /// Timed runs behind it.
    pub samples: usize,
    /// Whether it is the second measurement (the first was too spread).
    pub remeasured: bool,
}

/// The widest interval a target reports without measuring again: ±10% of the median.
pub(super) const MAX_SPREAD: f64 = 0.10;

impl Timed {
    /// The time of `samples` (ms), for times another program measured.
    pub(super) fn from_samples(samples: &[f64]) -> Option<Timed> {
        Some(Timed {
            ms: crate::stats::median(samples)?,
            interval: Interval::of_median(samples),
            samples: samples.len(),
            remeasured: false,
        })
    }

    pub(super) fn of(m: &Measurement, remeasured: bool) -> Timed {
        Timed {
            ms: m.median_ms,
            interval: m.interval,
            samples: m.samples_ms.len(),
            remeasured,
        }
    }

    /// The interval's ends, ms (the median twice without one).
    pub fn ends(&self) -> (f64, f64) {
        self.interval
            .map_or((self.ms, self.ms), |i| (i.low, i.high))
    }

    /// `self.ms / other.ms` and the bounds the two medians' intervals allow.
    pub fn ratio(&self, other: &Timed) -> Ratio {
        let (lo, hi) = self.ends();
        let (olo, ohi) = other.ends();
        let confident = |t: &Timed| t.interval.is_some_and(|i| i.is_confident());
        Ratio {
            value: self.ms / other.ms,
            bounds: (
                lo / ohi.max(f64::MIN_POSITIVE),
                hi / olo.max(f64::MIN_POSITIVE),
            ),
            from_confidence_intervals: confident(self) && confident(other),
        }
    }

    /// `12.3 ms (12.1–12.6, 97% CI)`, or `(… range of 3 (75% coverage))`.
    pub fn describe(&self) -> String {
        match self.interval {
            Some(i) => format!("{:.1} ms ({})", self.ms, i.with_ends(1)),
            None => format!("{:.1} ms (one sample)", self.ms),
        }
    }
}

/// A ratio of two medians with the bounds their intervals allow.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Ratio {
    /// The ratio of the medians.
    pub value: f64,
    /// The worst cases of the two medians' intervals.
    pub bounds: (f64, f64),
    /// Whether both intervals were 95% intervals (else one was a range or missing).
    pub from_confidence_intervals: bool,
}

impl Ratio {
    /// `**3.1×** (2.9–3.3)`, the bounds marked when a side had no 95% interval.
    pub fn describe(&self) -> String {
        let mark = if self.from_confidence_intervals {
            ""
        } else {
            ", from ranges"
        };
        format!(
            "**{:.2}×** ({:.2}–{:.2}{mark})",
            self.value, self.bounds.0, self.bounds.1
        )
    }
}

/// How to time a target's runs: up to `samples` timed runs, at least 3, within 30 s;
/// with a deadline (the suite), the timed runs stop when it passes, after at least one.
pub(super) fn measure_options(options: &TargetOptions) -> MeasureOptions {
    let cap = Duration::from_secs(30);
    let (time_budget, min_samples) = match options.deadline {
        Some(d) => (d.saturating_duration_since(Instant::now()).min(cap), 1),
        None => (cap, 3),
    };
    MeasureOptions {
        warmup: 1,
        samples: options.samples,
        time_budget: Some(time_budget),
        min_samples,
    }
}

/// The median time of `kernel` on `inputs` with its interval (and the run, for its
/// output), measured again once where the interval is wider than ±[`MAX_SPREAD`].
pub(super) fn median_ms<'g>(
    bench: &'g Bench,
    kernel: &'g dyn Kernel,
    inputs: &AttentionInputs,
    options: &TargetOptions,
) -> Result<(Timed, KernelRun<'g>)> {
    let run = KernelRun::plan_new(bench, kernel, inputs)?;
    let measure = measure_options(options);
    let mut m = run.measure(&measure)?;
    let spread = m.relative_spread() > MAX_SPREAD;
    if spread && options.deadline.is_none_or(|d| Instant::now() < d) {
        m = run.measure(&MeasureOptions {
            warmup: 0,
            ..measure
        })?;
    }
    Ok((Timed::of(&m, spread), run))
}

/// `a` and `b` timed interleaved — a sample of one, then of the other, and so on — so
/// that a machine that changes speed during the measurement moves both alike, and their
/// ratio stays true. Each is warmed up first. Measured again once where either interval is
/// wider than ±[`MAX_SPREAD`].
pub(super) fn interleaved(
    bench: &Bench,
    (a, inputs_a): (&dyn Kernel, &AttentionInputs),
    (b, inputs_b): (&dyn Kernel, &AttentionInputs),
    options: &TargetOptions,
) -> Result<(Timed, Timed)> {
    let run_a = KernelRun::plan_new(bench, a, inputs_a)?;
    let run_b = KernelRun::plan_new(bench, b, inputs_b)?;
    let measure = measure_options(options);
    // Each warmed up (an untimed first run) and its runs per sample calibrated.
    let runs_a = run_a.calibrate(false)?;
    let runs_b = run_b.calibrate(false)?;
    let sample = |remeasured: bool| -> Result<(Timed, Timed)> {
        let started = Instant::now();
        let (mut ta, mut tb) = (Vec::new(), Vec::new());
        while ta.len() < measure.samples.max(1) as usize {
            crate::interrupt::check()?;
            ta.extend(run_a.timed_samples(runs_a, 1, 1, None)?.batches);
            tb.extend(run_b.timed_samples(runs_b, 1, 1, None)?.batches);
            let enough = ta.len() >= measure.min_samples as usize;
            if enough && measure.time_budget.is_some_and(|b| started.elapsed() >= b) {
                break;
            }
        }
        // Each row's timer decided over all its batches (`gpu::per_run_times`).
        let timestamps = bench
            .gpu()
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY);
        let of = |batches: Vec<crate::gpu::BatchReading>| {
            Measurement::from_run_times(crate::gpu::per_run_times(&batches, timestamps))
        };
        Ok((
            Timed::of(&of(ta)?, remeasured),
            Timed::of(&of(tb)?, remeasured),
        ))
    };
    let (ta, tb) = sample(false)?;
    let spread = |t: &Timed| {
        t.interval
            .is_some_and(|i| i.relative_spread(t.ms) > MAX_SPREAD)
    };
    if (spread(&ta) || spread(&tb)) && options.deadline.is_none_or(|d| Instant::now() < d) {
        return sample(true);
    }
    Ok((ta, tb))
}

/// `B×H×n×d`.
pub(super) fn shape_text(s: &Shape) -> String {
    format!("{}×{}×{}×{}", s.batch, s.heads, s.seq_len, s.head_dim)
}

/// Runs a step; a shape past the device's limits (or refused by a kernel) becomes a
/// `skipped` line with the reason instead of an error.
pub(super) fn or_skip<T>(
    what: &str,
    skipped: &mut Vec<String>,
    step: impl FnOnce() -> Result<T>,
) -> Result<Option<T>> {
    match step() {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is_input_error() => {
            skipped.push(format!("{what}: {e}"));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The shapes of the long-context targets.
#[derive(Clone, Debug)]
pub struct LongContextShapes {
    /// Decode's bandwidth shape.
    pub decode_bandwidth: Shape,
    /// The grouped-query decode shape (its multi-head twin has HKV = H).
    pub gqa_decode: Shape,
    /// The full causal shape (the windowed run adds `window`).
    pub window_full: Shape,
    /// The window W.
    pub window: u32,
    /// flash at d = 128.
    pub d128: Shape,
    /// The inference claim's layer.
    pub inference: Shape,
    /// The inference claim's layers.
    pub layers: u32,
}

impl Default for LongContextShapes {
    fn default() -> Self {
        LongContextShapes {
            decode_bandwidth: Shape::new(262_144, 64).with_causal(true),
            gqa_decode: Shape::new(65_536, 64)
                .with_batch_heads(1, 8)
                .with_kv_heads(2)
                .with_causal(true),
            window_full: Shape::new(8192, 64).with_causal(true),
            window: 256,
            d128: Shape::new(4096, 128).with_batch_heads(2, 4),
            inference: Shape::new(10_000, 128)
                .with_batch_heads(1, 32)
                .with_kv_heads(8)
                .with_causal(true),
            layers: 32,
        }
    }
}

/// The shapes of the training targets (the issue's).
#[derive(Clone, Debug)]
pub struct TrainingShapes {
    /// Target 1.
    pub speedup: Shape,
    /// Target 2.
    pub peak: Shape,
    /// Target 3.
    pub memory: Shape,
}

impl Default for TrainingShapes {
    fn default() -> Self {
        let backward = |s: Shape| s.with_pass(Pass::Backward);
        TrainingShapes {
            speedup: backward(Shape::new(2048, 64)),
            peak: backward(Shape::new(2048, 64).with_batch_heads(2, 4)),
            memory: backward(Shape::new(4096, 64)),
        }
    }
}
