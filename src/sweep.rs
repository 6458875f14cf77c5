//! The sequence-length sweep behind `cargo bench` and `attnbench sweep`.
//!
//! For each family (head dim × causal) and each registered kernel, n doubles from
//! `min_seq_len` up to `max_seq_len`. A kernel's sweep stops — and every later point is
//! recorded as skipped with the reason — when the next point would pass a device limit or
//! the memory budget, when the n² law predicts that one run of it would take longer than
//! the time budget, or when one run did take longer. Everything is configurable through
//! environment variables (see [`SweepConfig::from_env`] and README).

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::{KERNELS, Kernel, Workload, find_kernel};
pub use crate::results::Axis;
use crate::results::{ResultRow, Status};
use crate::run::{KernelRun, Measurement, gflops, plan_for};
use crate::settings::{check_u32_in, list, number, seconds};
use crate::shape::{MAX_HEAD_DIM, Pass, Shape};
use crate::tensors::AttentionInputs;
use std::path::PathBuf;
use std::time::Duration;

/// What to sweep.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    /// Sequence lengths, ascending.
    pub seq_lens: Vec<u32>,
    /// Head dims: one family per head dim (and causal setting).
    pub head_dims: Vec<u32>,
    /// Batch B.
    pub batch: u32,
    /// Heads H.
    pub heads: u32,
    /// Heads of K and V (grouped-query attention); `None`: as many as `heads`.
    pub kv_heads: Option<u32>,
    /// Causal settings to sweep (false, true or both).
    pub causal: Vec<bool>,
    /// Window W of the sliding-window families (one per head dim: causal with keys
    /// i − W < j ≤ i); `None`: no such family.
    pub window: Option<u32>,
    /// Whether to sweep the training families per head dim (`train-d…` and
    /// `train-causal-d…`: fwd-bwd; `backward-d…`: bwd alone), for kernels with a backward.
    pub training: bool,
    /// Head dims of the head-dim family (empty: no such family), at `head_dim_sweep_seq_len`.
    pub head_dim_sweep: Vec<u32>,
    /// Sequence length of the head-dim family.
    pub head_dim_sweep_seq_len: u32,
    /// Kernels, by registry name.
    pub kernels: Vec<&'static dyn Kernel>,
    /// Longest one run of a point may take before the kernel's sweep stops.
    pub time_budget: Duration,
    /// Where device folders go.
    pub results_dir: PathBuf,
    /// Seed of the random inputs.
    pub seed: u64,
    /// Past this instant no further point is measured: every remaining point is recorded
    /// as skipped for lack of time (`attnbench suite` gives the sweep a share of its budget).
    pub deadline: Option<std::time::Instant>,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            seq_lens: doubling(128, 1 << 20),
            head_dims: vec![64],
            batch: 1,
            heads: 1,
            kv_heads: None,
            causal: vec![false, true],
            window: Some(DEFAULT_WINDOW),
            training: true,
            head_dim_sweep: vec![32, 64, 128, 256],
            head_dim_sweep_seq_len: 1024,
            kernels: KERNELS.to_vec(),
            time_budget: Duration::from_secs(6),
            results_dir: PathBuf::from("results"),
            seed: 0,
            deadline: None,
        }
    }
}

/// min, 2·min, 4·min, … ≤ max.
pub fn doubling(min: u32, max: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut n = u64::from(min.max(1));
    while n <= u64::from(max) {
        out.push(n as u32);
        n *= 2;
    }
    out
}

impl SweepConfig {
    /// The defaults, overridden by these environment variables:
    ///
    /// | variable | default | meaning |
    /// |---|---|---|
    /// | `ATTNBENCH_SEQ_LENS` | doubling | explicit list, e.g. `256,1024,4096` |
    /// | `ATTNBENCH_MIN_SEQ_LEN` / `ATTNBENCH_MAX_SEQ_LEN` | 128 / 1048576 | doubling range |
    /// | `ATTNBENCH_HEAD_DIMS` | 64 | one family each |
    /// | `ATTNBENCH_BATCH`, `ATTNBENCH_HEADS` | 1, 1 | B and H |
    /// | `ATTNBENCH_KV_HEADS` | H | heads of K and V (GQA; a divisor of H) |
    /// | `ATTNBENCH_WINDOW` | 1024 | W of the sliding-window family, or `none` |
    /// | `ATTNBENCH_CAUSAL` | both | `false`, `true` or `both` |
    /// | `ATTNBENCH_TRAINING` | all | `none` leaves out the training families (fwd-bwd, bwd) |
    /// | `ATTNBENCH_HEAD_DIM_SWEEP` | 32,64,128,256 | head dims of the head-dim family, or `none` |
    /// | `ATTNBENCH_HEAD_DIM_SWEEP_N` | 1024 | its sequence length |
    /// | `ATTNBENCH_KERNELS` | all | comma-separated registry names |
    /// | `ATTNBENCH_TIME_BUDGET` | 6 | seconds one run may take |
    /// | `ATTNBENCH_SWEEP_BUDGET` | 480 | seconds the whole sweep may take, shared by its families and kernels (points past a share are skipped with the reason), or `none` |
    /// | `ATTNBENCH_RESULTS_DIR` | results | where device folders go |
    /// | `ATTNBENCH_SEED` | 0 | seed of the random inputs |
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|key| std::env::var(key).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Like [`SweepConfig::from_env`] with any lookup (tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut c = SweepConfig::default();
        let positive = |what: &str, v: u32| check_u32_in(what, v, 1..=u32::MAX);
        let head_dim = |what: &str, v: u32| check_u32_in(what, v, 1..=MAX_HEAD_DIM);
        let min = get("ATTNBENCH_MIN_SEQ_LEN")
            .map(|v| number("ATTNBENCH_MIN_SEQ_LEN", &v))
            .transpose()?
            .map(|v| positive("ATTNBENCH_MIN_SEQ_LEN", v))
            .transpose()?;
        let max = get("ATTNBENCH_MAX_SEQ_LEN")
            .map(|v| number("ATTNBENCH_MAX_SEQ_LEN", &v))
            .transpose()?
            .map(|v| positive("ATTNBENCH_MAX_SEQ_LEN", v))
            .transpose()?;
        c.seq_lens = match get("ATTNBENCH_SEQ_LENS") {
            Some(text) => list("ATTNBENCH_SEQ_LENS", &text)?,
            None => {
                let (min, max) = (min.unwrap_or(128), max.unwrap_or(1 << 20));
                if min > max {
                    return Err(Error::InvalidSetting {
                        what: "ATTNBENCH_MIN_SEQ_LEN".into(),
                        value: min.to_string(),
                        expected: format!("at most ATTNBENCH_MAX_SEQ_LEN, {max}"),
                    });
                }
                doubling(min, max)
            }
        };
        for &n in &c.seq_lens {
            positive("ATTNBENCH_SEQ_LENS", n)?;
        }
        c.seq_lens.sort_unstable();
        c.seq_lens.dedup();
        if let Some(v) = get("ATTNBENCH_HEAD_DIMS") {
            c.head_dims = list("ATTNBENCH_HEAD_DIMS", &v)?;
            for &d in &c.head_dims {
                head_dim("ATTNBENCH_HEAD_DIMS", d)?;
            }
        }
        if let Some(v) = get("ATTNBENCH_BATCH") {
            c.batch = positive("ATTNBENCH_BATCH", number("ATTNBENCH_BATCH", &v)?)?;
        }
        if let Some(v) = get("ATTNBENCH_HEAD_DIM_SWEEP") {
            c.head_dim_sweep = if v.trim() == "none" {
                Vec::new()
            } else {
                list("ATTNBENCH_HEAD_DIM_SWEEP", &v)?
            };
            for &d in &c.head_dim_sweep {
                head_dim("ATTNBENCH_HEAD_DIM_SWEEP", d)?;
            }
        }
        if let Some(v) = get("ATTNBENCH_HEAD_DIM_SWEEP_N") {
            c.head_dim_sweep_seq_len = positive(
                "ATTNBENCH_HEAD_DIM_SWEEP_N",
                number("ATTNBENCH_HEAD_DIM_SWEEP_N", &v)?,
            )?;
        }
        if let Some(v) = get("ATTNBENCH_HEADS") {
            c.heads = positive("ATTNBENCH_HEADS", number("ATTNBENCH_HEADS", &v)?)?;
        }
        if let Some(v) = get("ATTNBENCH_KV_HEADS") {
            let kv = positive("ATTNBENCH_KV_HEADS", number("ATTNBENCH_KV_HEADS", &v)?)?;
            if !c.heads.is_multiple_of(kv) {
                return Err(Error::InvalidSetting {
                    what: "ATTNBENCH_KV_HEADS".into(),
                    value: v,
                    expected: format!("a divisor of the heads, {}", c.heads),
                });
            }
            c.kv_heads = Some(kv);
        }
        if let Some(v) = get("ATTNBENCH_WINDOW") {
            c.window = if v.trim() == "none" {
                None
            } else {
                Some(positive(
                    "ATTNBENCH_WINDOW",
                    number("ATTNBENCH_WINDOW", &v)?,
                )?)
            };
        }
        if let Some(v) = get("ATTNBENCH_TRAINING") {
            c.training = match v.trim() {
                "none" => false,
                "all" => true,
                _ => {
                    return Err(Error::InvalidSetting {
                        what: "ATTNBENCH_TRAINING".into(),
                        value: v,
                        expected: "all or none".into(),
                    });
                }
            };
        }
        if let Some(v) = get("ATTNBENCH_CAUSAL") {
            c.causal = match v.trim().to_ascii_lowercase().as_str() {
                "false" | "0" | "no" => vec![false],
                "true" | "1" | "yes" => vec![true],
                "both" => vec![false, true],
                _ => {
                    return Err(Error::InvalidSetting {
                        what: "ATTNBENCH_CAUSAL".into(),
                        value: v,
                        expected: "false, true or both".into(),
                    });
                }
            };
        }
        if let Some(v) = get("ATTNBENCH_KERNELS") {
            c.kernels = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(find_kernel)
                .collect::<Result<_>>()?;
        }
        if let Some(v) = get("ATTNBENCH_TIME_BUDGET") {
            c.time_budget = seconds("ATTNBENCH_TIME_BUDGET", &v)?;
        }
        let sweep_budget = match get("ATTNBENCH_SWEEP_BUDGET") {
            Some(v) if v.trim() == "none" => None,
            Some(v) => Some(seconds("ATTNBENCH_SWEEP_BUDGET", &v)?),
            None => Some(Duration::from_secs(DEFAULT_SWEEP_BUDGET_S)),
        };
        c.deadline = sweep_budget.map(|b| std::time::Instant::now() + b);
        if let Some(v) = get("ATTNBENCH_RESULTS_DIR") {
            c.results_dir = PathBuf::from(v);
        }
        if let Some(v) = get("ATTNBENCH_SEED") {
            c.seed = number("ATTNBENCH_SEED", &v)?;
        }
        if c.seq_lens.is_empty() || c.head_dims.is_empty() || c.kernels.is_empty() {
            return Err(Error::InvalidSetting {
                what: "sweep".into(),
                value: format!("{:?} / {:?}", c.seq_lens, c.head_dims),
                expected: "at least one positive sequence length, head dim and kernel".into(),
            });
        }
        Ok(c)
    }

    /// The families: n sweeps per head dim and causal setting, then the head-dim sweep.
    pub fn families(&self) -> Vec<Family> {
        let shape = |seq_len, head_dim, causal| {
            Shape::new(seq_len, head_dim)
                .with_batch_heads(self.batch, self.heads)
                .with_causal(causal)
                .with_kv_heads(self.kv_heads.unwrap_or(self.heads))
        };
        let mut out = Vec::new();
        for &causal in &self.causal {
            for &d in &self.head_dims {
                out.push(Family {
                    name: prefill_family(causal, d),
                    axis: Axis::SeqLen,
                    workload: Workload::Prefill,
                    shapes: self.seq_lens.iter().map(|&n| shape(n, d, causal)).collect(),
                });
            }
        }
        if !self.head_dim_sweep.is_empty() {
            let n = self.head_dim_sweep_seq_len;
            out.push(Family {
                name: format!("{HEAD_DIM_FAMILY}-n{n}"),
                axis: Axis::HeadDim,
                workload: Workload::Prefill,
                shapes: self
                    .head_dim_sweep
                    .iter()
                    .map(|&d| shape(n, d, false))
                    .collect(),
            });
        }
        if let Some(w) = self.window {
            for &d in &self.head_dims {
                out.push(Family {
                    name: format!("{WINDOW_FAMILY}-d{d}"),
                    axis: Axis::SeqLen,
                    workload: Workload::Prefill,
                    shapes: self
                        .seq_lens
                        .iter()
                        .map(|&n| shape(n, d, true).with_window(Some(w)))
                        .collect(),
                });
            }
        }
        if self.training {
            for &d in &self.head_dims {
                let training = [
                    (format!("{TRAIN_FAMILY}-d{d}"), false, Pass::ForwardBackward),
                    (
                        format!("{TRAIN_FAMILY}-causal-d{d}"),
                        true,
                        Pass::ForwardBackward,
                    ),
                    (format!("{BACKWARD_FAMILY}-d{d}"), false, Pass::Backward),
                ];
                for (name, causal, pass) in training {
                    out.push(Family {
                        name,
                        axis: Axis::SeqLen,
                        workload: Workload::Prefill,
                        shapes: self
                            .seq_lens
                            .iter()
                            .map(|&n| shape(n, d, causal).with_pass(pass))
                            .collect(),
                    });
                }
            }
        }
        for &d in &self.head_dims {
            out.push(Family {
                name: format!("{DECODE_FAMILY}-d{d}"),
                axis: Axis::SeqLen,
                workload: Workload::Decode,
                shapes: self.seq_lens.iter().map(|&n| shape(n, d, true)).collect(),
            });
        }
        out
    }
}

/// Name prefix of decode families (one generated token against n cached keys; their rows
/// have [`Workload::Decode`]).
pub const DECODE_FAMILY: &str = "decode";

/// How points skipped for lack of the whole sweep's time (its deadline) are recorded.
pub const SWEEP_BUDGET_REASON: &str = "time budget of the whole sweep";

/// Seconds the default sweep may take in all (`ATTNBENCH_SWEEP_BUDGET`).
pub const DEFAULT_SWEEP_BUDGET_S: u64 = 480;

/// Name prefix of training families (fwd-bwd: one training step of attention).
pub const TRAIN_FAMILY: &str = "train";

/// The name of the prefill family at head dim `head_dim`: `prefill-d64`,
/// `prefill-causal-d64`.
pub fn prefill_family(causal: bool, head_dim: u32) -> String {
    format!("prefill{}-d{head_dim}", if causal { "-causal" } else { "" })
}

/// Name prefix of backward families (bwd alone; the forward runs untimed).
pub const BACKWARD_FAMILY: &str = "backward";

/// Name prefix of sliding-window families (causal, keys i − W < j ≤ i, at a fixed W).
pub const WINDOW_FAMILY: &str = "window";

/// The window of the sliding-window families unless `ATTNBENCH_WINDOW` says otherwise.
pub const DEFAULT_WINDOW: u32 = 1024;

/// Name prefix of head-dim families (their rows have [`Axis::HeadDim`]).
pub const HEAD_DIM_FAMILY: &str = "headdim";

/// One chart family: a list of shapes along one axis.
#[derive(Clone, Debug)]
pub struct Family {
    /// Name, e.g. `prefill-causal-d64` or `headdim-n1024`.
    pub name: String,
    /// What varies.
    pub axis: Axis,
    /// Which kernels it runs.
    pub workload: Workload,
    /// The points, in sweep order.
    pub shapes: Vec<Shape>,
}

/// One point of the sweep, handed to the measurer.
pub struct Point<'a> {
    /// Family name.
    pub family: &'a str,
    /// The kernel.
    pub kernel: &'static dyn Kernel,
    /// The problem.
    pub shape: Shape,
    /// FLOP model of the problem.
    pub flops: f64,
}

/// The device-resident run of a point, created on first use so that points a measurer
/// filters out (e.g. criterion's name filters) allocate nothing.
pub struct LazyRun<'g> {
    gpu: &'g Gpu,
    kernel: &'static dyn Kernel,
    shape: Shape,
    seed: u64,
    run: Option<KernelRun<'g>>,
}

impl<'g> LazyRun<'g> {
    /// The run, allocating and uploading on the first call.
    pub fn get(&mut self) -> Result<&KernelRun<'g>> {
        if self.run.is_none() {
            let inputs = AttentionInputs::random(self.shape, self.seed)?;
            self.run = Some(KernelRun::new(self.gpu, self.kernel, &inputs)?);
        }
        Ok(self.run.as_ref().expect("set above"))
    }

    /// Peak buffer bytes, when the run was created.
    pub fn peak_buffer_bytes(&self) -> Option<u64> {
        self.run.as_ref().map(|r| r.peak_buffer_bytes())
    }
}

/// How a point is measured: `Ok(None)` means "not measured this time" (filtered out), and
/// the existing result, if any, is kept.
pub trait Measurer {
    /// Measures one point.
    fn measure(&mut self, point: &Point<'_>, run: &mut LazyRun<'_>) -> Result<Option<Measurement>>;
    /// Called before each point (progress display).
    fn progress(&mut self, _point: &Point<'_>, _done: usize, _total: usize) {}
    /// Time a point costs besides its runs (criterion's warm-up and measurement windows),
    /// counted when a deadline decides whether a point still fits.
    fn overhead(&self) -> Duration {
        Duration::ZERO
    }
}

/// Runs the sweep on `gpu`; returns one row per point (measured or skipped). Interrupted
/// ([`crate::interrupt`]), it returns the rows of the points finished so far.
pub fn run_sweep(
    gpu: &Gpu,
    config: &SweepConfig,
    measurer: &mut dyn Measurer,
) -> Result<Vec<ResultRow>> {
    // Measure the kernels as tuned for this device (`attnbench tune`), when it was.
    crate::tuning::apply(gpu, &config.results_dir)?;
    let mut rows = Vec::new();
    let families = config.families();
    let kernels_of = |f: &Family| -> Vec<&'static dyn Kernel> {
        config
            .kernels
            .iter()
            .copied()
            .filter(|k| k.workload() == f.workload)
            .filter(|k| f.shapes.iter().all(|s| !s.pass.has_backward()) || k.backward().is_some())
            .collect()
    };
    let total: usize = families
        .iter()
        .map(|f| f.shapes.len() * kernels_of(f).len())
        .sum();
    let mut done = 0;
    // With a deadline, each (family, kernel) gets an equal share of the time left when it
    // starts, so that one family cannot use up the budget of the others.
    let mut groups_left: u32 = families.iter().map(|f| kernels_of(f).len() as u32).sum();
    for fam in &families {
        let family = &fam.name;
        for kernel in kernels_of(fam) {
            let group_deadline = config.deadline.map(|d| {
                let now = std::time::Instant::now();
                now + d.saturating_duration_since(now) / groups_left.max(1)
            });
            groups_left = groups_left.saturating_sub(1);
            let mut stopped: Option<String> = None;
            let mut last: Option<(Shape, f64)> = None;
            for &shape in &fam.shapes {
                // Ctrl-C: the points measured so far are returned, to be saved.
                if crate::interrupt::requested() {
                    return Ok(rows);
                }
                let point = Point {
                    family,
                    kernel,
                    shape,
                    flops: kernel.flops(&shape),
                };
                measurer.progress(&point, done, total);
                done += 1;
                let mut row = ResultRow::new(family, kernel.name(), &shape);
                row.axis = fam.axis;
                row.workload = fam.workload;
                row.min_bytes = kernel.min_bytes(&shape);
                row.flops = kernel.flops(&shape);
                row.dtype = kernel.dtype().to_string();
                row.config = kernel.config_label(&shape, gpu);
                if let Ok(plan) = crate::run::memory_plan(kernel, &shape, gpu) {
                    row.needed_bytes = plan.total_bytes();
                }
                if let Some(reason) = &stopped {
                    row.reason = reason.clone();
                    rows.push(row);
                    continue;
                }
                match plan_for(kernel, &shape, gpu) {
                    Ok(_) => {}
                    Err(e @ (Error::TooLarge { .. } | Error::InvalidShape(_))) => {
                        row.reason = e.to_string();
                        stopped = Some(format!("sweep stopped at {shape}: {e}"));
                        rows.push(row);
                        continue;
                    }
                    Err(Error::Unsupported { reason, .. }) => {
                        row.reason = format!("unsupported: {reason}");
                        rows.push(row);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                if let Some(deadline) = group_deadline {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    // The next run is predicted from the last (the FLOP model); a run needs
                    // a warm-up and a few samples.
                    let predicted = measurer.overhead().as_secs_f64() * 1e3
                        + last.map_or(0.0, |(s, ms)| 4.0 * ms * growth(kernel, &s, &shape));
                    if left.is_zero() || predicted > left.as_secs_f64() * 1e3 {
                        row.reason = format!(
                            "{SWEEP_BUDGET_REASON}: {:.1} s left of this kernel's share, not enough to measure this point",
                            left.as_secs_f64()
                        );
                        rows.push(row);
                        continue;
                    }
                }
                if let Some((last_shape, last_ms)) = last {
                    // Time in proportion to FLOPs (the n² law along n, linear along d).
                    let predicted_ms = last_ms * growth(kernel, &last_shape, &shape);
                    if predicted_ms > config.time_budget.as_secs_f64() * 1e3 {
                        let reason = format!(
                            "time budget: the FLOP model predicts {:.1} s per run (from {:.2} s at {last_shape}), budget {:.1} s",
                            predicted_ms / 1e3,
                            last_ms / 1e3,
                            config.time_budget.as_secs_f64()
                        );
                        row.reason = reason.clone();
                        stopped = Some(reason);
                        rows.push(row);
                        continue;
                    }
                }
                let mut lazy = LazyRun {
                    gpu,
                    kernel,
                    shape,
                    seed: config.seed,
                    run: None,
                };
                let measured = match measurer.measure(&point, &mut lazy) {
                    Ok(m) => m,
                    Err(
                        e
                        @ (Error::OutOfMemory { .. } | Error::TooLarge { .. } | Error::Gpu { .. }),
                    ) => {
                        row.reason = e.to_string();
                        stopped = Some(format!("sweep stopped at {shape}: {e}"));
                        rows.push(row);
                        continue;
                    }
                    Err(Error::Interrupted) => return Ok(rows),
                    Err(e) => return Err(e),
                };
                let Some(m) = measured else { continue };
                row.status = Status::Ok;
                row.median_ms = Some(m.median_ms);
                row.min_ms = Some(m.min_ms);
                row.max_ms = Some(m.max_ms);
                row.samples = m.samples_ms.len() as u32;
                row.timing = m.timing.as_str().to_string();
                row.gflops = Some(gflops(row.flops, m.median_ms));
                row.peak_buffer_bytes = lazy.peak_buffer_bytes();
                rows.push(row);
                last = Some((shape, m.median_ms));
                if m.median_ms > config.time_budget.as_secs_f64() * 1e3 {
                    stopped = Some(format!(
                        "time budget: one run at {shape} took {:.1} s, budget {:.1} s",
                        m.median_ms / 1e3,
                        config.time_budget.as_secs_f64()
                    ));
                }
            }
        }
    }
    Ok(rows)
}

/// How much longer a run of `kernel` at `next` should take than at `last`: the ratio of
/// the kernel's FLOPs, or of the n×n matrix for kernels that materialize it (a windowed
/// naive still writes all of it).
fn growth(kernel: &dyn Kernel, last: &Shape, next: &Shape) -> f64 {
    let flops = kernel.flops(next) / kernel.flops(last);
    if kernel.materializes_scores() {
        flops.max(next.score_matrix_bytes() as f64 / last.score_matrix_bytes() as f64)
    } else {
        flops
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn config_reads_the_environment() {
        let env: HashMap<&str, &str> = [
            ("ATTNBENCH_SEQ_LENS", "512, 128,256"),
            ("ATTNBENCH_HEAD_DIMS", "32,64"),
            ("ATTNBENCH_CAUSAL", "both"),
            ("ATTNBENCH_HEAD_DIM_SWEEP", "none"),
            ("ATTNBENCH_KERNELS", "flash"),
            ("ATTNBENCH_TIME_BUDGET", "0.5"),
        ]
        .into_iter()
        .collect();
        let c = SweepConfig::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.seq_lens, vec![128, 256, 512]);
        // 2 head dims × (non-causal, causal, window) prefill, × (train, train-causal,
        // backward), + 2 decode families.
        assert_eq!(c.families().len(), 14);
        let window = &c.families()[4];
        assert_eq!(window.name, "window-d32");
        assert!(
            window
                .shapes
                .iter()
                .all(|s| s.window == Some(DEFAULT_WINDOW) && s.causal)
        );
        let train = &c.families()[6];
        assert_eq!(train.name, "train-d32");
        assert!(train.shapes.iter().all(|s| s.pass == Pass::ForwardBackward));
        assert_eq!(c.families()[8].name, "backward-d32");
        assert!(
            c.families()[8]
                .shapes
                .iter()
                .all(|s| s.pass == Pass::Backward)
        );
        let lookup = |k: &str| (k == "ATTNBENCH_TRAINING").then(|| "none".to_string());
        let untrained = SweepConfig::from_lookup(lookup).unwrap();
        assert!(
            untrained
                .families()
                .iter()
                .all(|f| f.shapes[0].pass == Pass::Forward)
        );
        assert_eq!(c.kernels.len(), 1);
        assert_eq!(c.time_budget, Duration::from_millis(500));
        let bad =
            SweepConfig::from_lookup(|k| (k == "ATTNBENCH_KERNELS").then(|| "nope".to_string()));
        assert!(bad.is_err());
    }

    #[test]
    fn doubling_covers_the_range() {
        assert_eq!(doubling(128, 1024), vec![128, 256, 512, 1024]);
        assert_eq!(doubling(100, 99), Vec::<u32>::new());
    }
}
