//! The results schema: its version, and the rows of a results file (one per family,
//! kernel and shape, measured or skipped with its reason), as `results.json` holds them.

use super::family::{Axis, FamilyKind};
use super::run::Ceilings;
use super::skip::Skip;
use crate::gpu::TimingSource;
use crate::kernels::{Precision, Workload};
use crate::shape::{Pass, Shape};
use crate::stats::Measurement;
use crate::stats::{Interval, IntervalMethod};
use serde::{Deserialize, Serialize};

pub use attnbench_schema::{SCHEMA, SCHEMA_V1, SCHEMA_V2};

/// Whether a point was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Measured.
    Ok,
    /// Not run; `reason` says why.
    Skipped,
}

/// One point of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Chart family, e.g. `prefill-d64`.
    pub family: String,
    /// What the family measures, as data; none for a family this attnbench does not know
    /// (kept and shown, never acted on). Files written before it was recorded: read from
    /// `family` once, at the loader.
    #[serde(default)]
    pub family_kind: Option<FamilyKind>,
    /// Kernel name.
    pub kernel: String,
    /// Batch B.
    pub batch: u32,
    /// Heads H.
    pub heads: u32,
    /// Sequence length n.
    pub seq_len: u32,
    /// Head dim d.
    pub head_dim: u32,
    /// Causal mask.
    pub causal: bool,
    /// Heads of K and V when fewer than `heads` (grouped-query attention). Always written
    /// (null when unset), so that every CSV record has the same columns.
    #[serde(default)]
    pub kv_heads: Option<u32>,
    /// Causal sliding window, when there is one (always written, like `kv_heads`).
    #[serde(default)]
    pub window: Option<u32>,
    /// Which passes were timed: `fwd`, `bwd` or `fwd-bwd` (older files: `fwd`).
    #[serde(default)]
    pub pass: Pass,
    /// Element type of the kernel's arithmetic.
    pub dtype: Precision,
    /// ok or skipped.
    pub status: Status,
    /// Why it was skipped, as text (empty when ok).
    pub reason: String,
    /// Why it was skipped, as data (none when ok, and in files written before skips were
    /// typed).
    #[serde(default)]
    pub skip: Option<Skip>,
    /// Median time per run, ms.
    pub median_ms: Option<f64>,
    /// Fastest run, ms.
    pub min_ms: Option<f64>,
    /// Slowest run, ms.
    pub max_ms: Option<f64>,
    /// Timed runs.
    pub samples: u32,
    /// Lower end of the interval of the median, ms ([`crate::stats::Interval`]: a 95%
    /// interval where the samples allow one, else their range; `interval_method` says).
    #[serde(default, alias = "ci95_low_ms")]
    pub interval_low_ms: Option<f64>,
    /// Upper end of that interval, ms.
    #[serde(default, alias = "ci95_high_ms")]
    pub interval_high_ms: Option<f64>,
    /// How the interval was made: `order-statistic`, `range` or (files written before it
    /// was recorded) `bootstrap`.
    #[serde(default)]
    pub interval_method: Option<IntervalMethod>,
    /// The probability that the interval covers the true median (at most, for a bootstrap).
    #[serde(default)]
    pub interval_coverage: Option<f64>,
    /// Where the times came from (`gpu-timestamps` or `wall-clock`); none when skipped.
    #[serde(default, deserialize_with = "timing_or_empty")]
    pub timing: Option<TimingSource>,
    /// FLOP model of the point (4·B·H·n²·d, halved when causal; ×2.5 for bwd, ×3.5 for
    /// fwd-bwd).
    pub flops: f64,
    /// GFLOP/s at the median.
    pub gflops: Option<f64>,
    /// Peak bytes of all buffers the run created (from the buffer tracker).
    pub peak_buffer_bytes: Option<u64>,
    /// Bytes the kernel's plan needs (also for skipped points).
    pub needed_bytes: u64,
    /// Analytic size of the B·H·n×n f32 score matrix.
    pub score_matrix_bytes: u64,
    /// The fewest bytes the kernel must move (achieved GB/s is over these).
    #[serde(default)]
    pub min_bytes: u64,
    /// GFLOP/s as a % of the probed FMA peak of the row's dtype: f32 rows of the f32
    /// peak, f16 rows of the f16 peak (none where the probe has no f16 peak).
    #[serde(default)]
    pub pct_of_fma_peak: Option<f64>,
    /// min_bytes / median time, GB/s.
    #[serde(default)]
    pub achieved_gbps: Option<f64>,
    /// achieved_gbps as a % of the probed device bandwidth.
    #[serde(default)]
    pub pct_of_bandwidth: Option<f64>,
    /// For kernels that materialize the n×n scores: ms to read them back to the host at the
    /// probed readback rate (beside median_ms, the compute time).
    #[serde(default)]
    pub scores_transfer_ms: Option<f64>,
    /// The kernel's tile configuration, for kernels that have one (e.g. `broadcast,32,4`).
    #[serde(default)]
    pub config: Option<String>,
    /// The run that measured it ([`crate::results::ResultsFile::runs`]); none in files from before runs
    /// were recorded.
    #[serde(default)]
    pub run_id: Option<String>,
    /// What the family's charts put on the x axis.
    #[serde(default)]
    pub axis: Axis,
    /// Prefill (every query row) or decode (the last row against a KV cache of n keys).
    #[serde(default)]
    pub workload: Workload,
    /// Where the time goes, phase by phase, for kernels that name their phases (naive and
    /// chunked: QKᵀ, softmax, P·V; their backward's five), each phase timed in its own pass
    /// after the samples ([`crate::run::phase_split`]); none otherwise, and in files from before
    /// phases were recorded.
    #[serde(default)]
    pub phases: Option<super::PhaseSplit>,
}

/// A row's timing source, where files written before it was typed have an empty string for
/// skipped rows (and CSV always does).
fn timing_or_empty<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<TimingSource>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => serde_json::from_value(serde_json::Value::String(text.into()))
            .map_err(serde::de::Error::custom),
    }
}

impl Axis {
    /// The row's value along this axis.
    pub fn value(self, row: &ResultRow) -> u32 {
        match self {
            Axis::SeqLen => row.seq_len,
            Axis::HeadDim => row.head_dim,
        }
    }
}

/// Rows written before `axis` and `workload` were recorded carry them only in their family
/// (`headdim-…`, `decode-…`): fills them in from the family's kind, in the JSON, before it
/// is parsed; the schema becomes [`SCHEMA`].
#[cfg(feature = "native")]
pub(crate) fn fill_legacy_row_fields(file: &mut serde_json::Value) {
    if let Some(schema) = file.get_mut("schema") {
        *schema = SCHEMA.into();
    }
    let Some(rows) = file.get_mut("rows").and_then(|r| r.as_array_mut()) else {
        return;
    };
    for row in rows.iter_mut().filter_map(|r| r.as_object_mut()) {
        let family = row.get("family").and_then(|f| f.as_str()).unwrap_or("");
        let window = row
            .get("window")
            .and_then(|w| w.as_u64())
            .and_then(|w| u32::try_from(w).ok());
        let Some(kind) = FamilyKind::from_name(family, window) else {
            continue;
        };
        let json = |v: Result<serde_json::Value, _>| v.unwrap_or_default();
        row.entry("axis")
            .or_insert_with(|| json(serde_json::to_value(kind.axis())));
        row.entry("workload")
            .or_insert_with(|| json(serde_json::to_value(kind.workload())));
    }
}

impl ResultRow {
    /// A row for `shape` with nothing measured yet; its family's kind is the one `family`
    /// names, if it names one.
    pub fn new(family: &str, kernel: &str, shape: &Shape) -> Self {
        ResultRow {
            family: family.to_string(),
            family_kind: FamilyKind::from_name(family, shape.window),
            kernel: kernel.to_string(),
            batch: shape.batch,
            heads: shape.heads,
            seq_len: shape.seq_len,
            head_dim: shape.head_dim,
            causal: shape.causal,
            kv_heads: shape.kv_heads,
            window: shape.window,
            pass: shape.pass,
            dtype: Precision::F32,
            status: Status::Skipped,
            reason: String::new(),
            skip: None,
            median_ms: None,
            min_ms: None,
            max_ms: None,
            samples: 0,
            interval_low_ms: None,
            interval_high_ms: None,
            interval_method: None,
            interval_coverage: None,
            timing: None,
            flops: shape.flops(),
            gflops: None,
            peak_buffer_bytes: None,
            needed_bytes: 0,
            score_matrix_bytes: shape.score_matrix_bytes(),
            min_bytes: 0,
            pct_of_fma_peak: None,
            achieved_gbps: None,
            pct_of_bandwidth: None,
            scores_transfer_ms: None,
            config: None,
            run_id: None,
            axis: Axis::SeqLen,
            workload: Workload::Prefill,
            phases: None,
        }
    }

    /// Fills the columns derived from the device's probed ceilings.
    pub fn apply_ceilings(&mut self, probe: &Ceilings) {
        let kernel = self.known_kernel();
        let materializes = kernel.is_some_and(|k| k.materializes_scores());
        if self.min_bytes == 0
            && let Some(k) = kernel
        {
            self.min_bytes = k.min_bytes(&self.shape());
        }
        if materializes && probe.readback_gbps > 0.0 {
            self.scores_transfer_ms =
                Some(self.score_matrix_bytes as f64 / probe.readback_gbps / 1e6);
        }
        let Some(ms) = self.median_ms.filter(|_| self.is_ok()) else {
            return;
        };
        let peak = match self.dtype {
            Precision::F32 => Some(probe.fma_f32_gflops),
            Precision::F16 => probe.fma_f16_gflops,
        };
        self.pct_of_fma_peak = match (self.gflops, peak) {
            (Some(g), Some(peak)) if peak > 0.0 => Some(100.0 * g / peak),
            _ => None,
        };
        if self.min_bytes > 0 && ms > 0.0 {
            let gbps = self.min_bytes as f64 / (ms * 1e6);
            self.achieved_gbps = Some(gbps);
            if probe.bandwidth_gbps > 0.0 {
                self.pct_of_bandwidth = Some(100.0 * gbps / probe.bandwidth_gbps);
            }
        }
    }

    /// What identifies a point: a re-run replaces the row with the same key.
    pub fn key(&self) -> (String, String, Shape, Precision) {
        (
            self.family.clone(),
            self.kernel.clone(),
            self.shape(),
            self.dtype,
        )
    }

    /// The problem shape of the point.
    pub fn shape(&self) -> Shape {
        Shape {
            batch: self.batch,
            heads: self.heads,
            seq_len: self.seq_len,
            head_dim: self.head_dim,
            causal: self.causal,
            kv_heads: self.kv_heads,
            window: self.window,
            pass: self.pass,
        }
    }

    /// Records the point as skipped for `skip` (its text too).
    pub fn set_skip(&mut self, skip: Skip) {
        self.status = Status::Skipped;
        self.reason = skip.to_string();
        self.skip = Some(skip);
    }

    /// Whether it was measured.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// The interval of the median in ms, where the row has one: its ends, method and
    /// coverage (rows of files written before the method was recorded: a bootstrap).
    pub fn interval(&self) -> Option<Interval> {
        Some(Interval {
            low: self.interval_low_ms?,
            high: self.interval_high_ms?,
            method: self.interval_method.unwrap_or(IntervalMethod::Bootstrap),
            coverage: self.interval_coverage.unwrap_or_else(|| {
                crate::stats::order_statistic_coverage(self.samples as usize, 1)
                    .min(crate::stats::CONFIDENCE)
            }),
            samples: self.samples,
        })
    }

    /// Records `interval` (or none) as the row's interval of the median.
    pub fn set_interval(&mut self, interval: Option<Interval>) {
        self.interval_low_ms = interval.map(|i| i.low);
        self.interval_high_ms = interval.map(|i| i.high);
        self.interval_method = interval.map(|i| i.method);
        self.interval_coverage = interval.map(|i| i.coverage);
    }

    /// Records measurement `m` of this point: its median, extremes, samples, interval,
    /// timing and rate. A median that is not a positive, finite time (a timer that read
    /// nothing) is no measurement: the point is recorded as a device failure.
    pub fn record(&mut self, m: &Measurement) {
        if !(m.median_ms.is_finite() && m.median_ms > 0.0) {
            self.set_skip(Skip::DeviceFailure {
                message: format!(
                    "the timer ({}) gave a median of {} ms: not a time",
                    m.timing, m.median_ms
                ),
            });
            return;
        }
        self.status = Status::Ok;
        self.median_ms = Some(m.median_ms);
        self.min_ms = Some(m.min_ms);
        self.max_ms = Some(m.max_ms);
        self.samples = u32::try_from(m.samples_ms.len()).unwrap_or(u32::MAX);
        self.set_interval(m.interval);
        self.timing = Some(m.timing);
        self.gflops = Some(crate::stats::gflops(self.flops, m.median_ms));
    }

    /// The registered kernel this row names; `None` for a name this attnbench does not
    /// know (kept and shown, never run or styled as a kernel).
    pub fn known_kernel(&self) -> Option<&'static dyn crate::kernels::Kernel> {
        crate::kernels::find_kernel(&self.kernel).ok()
    }
}
