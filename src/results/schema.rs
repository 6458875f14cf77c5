//! The results schema: a device header, rows (one per family, kernel and shape, measured
//! or skipped with its reason) and the device's ceilings, as `results.json` holds them.

use super::run::{Ceilings, RunRecord, WGPU_VERSION, git_commit, now_rfc3339};
use super::skip::Skip;
use crate::gpu::Gpu;
use crate::gpu::TimingSource;
use crate::kernels::{Precision, Workload};
use crate::shape::{Pass, Shape};
use serde::{Deserialize, Serialize};

/// Identifies the schema in every results file.
pub const SCHEMA: &str = "attnbench-results/2";

/// The schema before runs were recorded; read, and written back as [`SCHEMA`].
pub const SCHEMA_V1: &str = "attnbench-results/1";

/// Who measured: the device and the software.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceHeader {
    /// Adapter name.
    pub adapter: String,
    /// PCI vendor id.
    pub vendor: u32,
    /// Backend (Vulkan, Gl, Metal, Dx12).
    pub backend: String,
    /// Device type (DiscreteGpu, Cpu, ...).
    pub device_type: String,
    /// Driver name and version.
    pub driver: String,
    /// wgpu version.
    pub wgpu_version: String,
    /// attnbench version.
    pub attnbench_version: String,
    /// Git commit of attnbench, when known.
    pub git_commit: Option<String>,
    /// When the file was last written (RFC 3339, UTC).
    pub date: String,
    /// Operating system and architecture.
    pub os: String,
    /// The memory budget the sweep ran under, when known.
    #[serde(default)]
    pub memory_budget_bytes: Option<u64>,
    /// `max_storage_buffer_binding_size` of the device.
    #[serde(default)]
    pub max_storage_buffer_binding_size: u64,
}

impl DeviceHeader {
    /// The header for `gpu`, dated now.
    pub fn for_gpu(gpu: &Gpu) -> Self {
        let s = gpu.summary();
        DeviceHeader {
            adapter: s.name.clone(),
            vendor: s.vendor,
            backend: s.backend.clone(),
            device_type: s.device_type.clone(),
            driver: format!("{} {}", s.driver, s.driver_info).trim().to_string(),
            wgpu_version: WGPU_VERSION.to_string(),
            attnbench_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git_commit(),
            date: now_rfc3339(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            memory_budget_bytes: gpu.memory_budget().bytes,
            max_storage_buffer_binding_size: s.max_storage_buffer_binding_size,
        }
    }

    /// Whether `other` names the same device (adapter and backend): one device's files
    /// are never merged into, or applied to, another's.
    pub fn is_same_device(&self, other: &DeviceHeader) -> bool {
        self.adapter == other.adapter && self.backend == other.backend
    }

    /// A header for tests: adapter `name` on Vulkan, fixed date and versions.
    #[cfg(test)]
    pub(crate) fn for_test(name: &str) -> Self {
        DeviceHeader {
            adapter: name.into(),
            vendor: 0,
            backend: "Vulkan".into(),
            device_type: "Cpu".into(),
            driver: "test".into(),
            wgpu_version: "30".into(),
            attnbench_version: "0".into(),
            git_commit: None,
            date: "2026-01-01T00:00:00Z".into(),
            os: "linux".into(),
            memory_budget_bytes: Some(1 << 30),
            max_storage_buffer_binding_size: 1 << 27,
        }
    }

    /// The folder name of this device: adapter name and backend.
    pub fn slug(&self) -> String {
        device_slug(&self.adapter, &self.backend)
    }
}

/// `llvmpipe (LLVM 15.0.6, 256 bits)` on Vulkan → `llvmpipe-llvm-15-0-6-256-bits-vulkan`.
pub fn device_slug(adapter: &str, backend: &str) -> String {
    let mut slug = String::new();
    for c in format!("{adapter} {backend}").chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

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
    /// Lower end of the 95% confidence interval of the median, ms (bootstrap over the
    /// samples).
    #[serde(default)]
    pub ci95_low_ms: Option<f64>,
    /// Upper end of that interval, ms.
    #[serde(default)]
    pub ci95_high_ms: Option<f64>,
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
    /// The run that measured it ([`ResultsFile::runs`]); none in files from before runs
    /// were recorded.
    #[serde(default)]
    pub run_id: Option<String>,
    /// What the family's charts put on the x axis.
    #[serde(default)]
    pub axis: Axis,
    /// Prefill (every query row) or decode (the last row against a KV cache of n keys).
    #[serde(default)]
    pub workload: Workload,
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

/// What varies along a family, and so on its charts' x axis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    /// The sequence length n.
    #[default]
    SeqLen,
    /// The head dimension d.
    HeadDim,
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
/// name (`headdim-…`, `decode-…`): fills them in, in the JSON, before it is parsed.
#[cfg(feature = "native")]
pub(crate) fn fill_legacy_row_fields(file: &mut serde_json::Value) {
    if let Some(schema) = file.get_mut("schema") {
        *schema = SCHEMA.into();
    }
    let Some(rows) = file.get_mut("rows").and_then(|r| r.as_array_mut()) else {
        return;
    };
    for row in rows.iter_mut().filter_map(|r| r.as_object_mut()) {
        let family = row
            .get("family")
            .and_then(|f| f.as_str())
            .unwrap_or("")
            .to_string();
        row.entry("axis").or_insert_with(|| {
            if family.starts_with("headdim") {
                "head_dim"
            } else {
                "seq_len"
            }
            .into()
        });
        row.entry("workload").or_insert_with(|| {
            if family.starts_with("decode") {
                "decode"
            } else {
                "prefill"
            }
            .into()
        });
    }
}

impl ResultRow {
    /// A row for `shape` with nothing measured yet.
    pub fn new(family: &str, kernel: &str, shape: &Shape) -> Self {
        ResultRow {
            family: family.to_string(),
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
            ci95_low_ms: None,
            ci95_high_ms: None,
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
        }
    }

    /// Fills the columns derived from the device's probed ceilings.
    pub fn apply_ceilings(&mut self, probe: &Ceilings) {
        let kernel = crate::kernels::find_kernel(&self.kernel).ok();
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

    /// The 95% confidence interval of the median in ms, where the row has one.
    pub fn ci95_ms(&self) -> Option<(f64, f64)> {
        Some((self.ci95_low_ms?, self.ci95_high_ms?))
    }
}

/// A device's results file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The device and software.
    pub device: DeviceHeader,
    /// The device's probed ceilings, when `attnbench probe` (or `cargo bench`) measured them.
    #[serde(default)]
    pub ceilings: Option<Ceilings>,
    /// Every run whose rows the file holds or held, oldest first.
    #[serde(default)]
    pub runs: Vec<RunRecord>,
    /// The points, sorted by family, kernel and n.
    pub rows: Vec<ResultRow>,
}

impl ResultsFile {
    /// An empty file for `device`.
    pub fn new(device: DeviceHeader) -> Self {
        ResultsFile {
            schema: SCHEMA.to_string(),
            device,
            ceilings: None,
            runs: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Replaces the rows with the same keys as `rows`, keeps the others, adds the new ones,
    /// and takes the newer header. A skipped row never replaces a measured one (a short,
    /// interrupted or what-if re-run skips for its own reasons): a measurement is only
    /// replaced by a newer measurement, and the older run stays listed.
    pub fn merge(&mut self, device: DeviceHeader, rows: Vec<ResultRow>) {
        self.device = device;
        for row in rows {
            match self.rows.iter_mut().find(|r| r.key() == row.key()) {
                Some(existing) if existing.is_ok() && !row.is_ok() => {}
                Some(existing) => *existing = row,
                None => self.rows.push(row),
            }
        }
        self.sort();
    }

    /// Adds `run` to the runs, replacing an earlier record of the same run (a run saves
    /// more than once: rows as they are measured, its end at the end).
    pub fn record_run(&mut self, run: RunRecord) {
        match self.runs.iter_mut().find(|r| r.id == run.id) {
            Some(existing) => *existing = run,
            None => self.runs.push(run),
        }
    }

    /// The record of the run `id`, if the file has it.
    pub fn run(&self, id: &str) -> Option<&RunRecord> {
        self.runs.iter().find(|r| r.id == id)
    }

    /// Recomputes every row's derived columns (% of peak, GB/s) from the ceilings of the
    /// run that measured it, where that run probed them, else from the device's probe.
    pub fn apply_ceilings(&mut self) {
        let runs = self.runs.clone();
        let device = self.ceilings.clone();
        for row in &mut self.rows {
            let of_run = row
                .run_id
                .as_deref()
                .and_then(|id| runs.iter().find(|r| r.id == id))
                .and_then(|r| r.ceilings_start.clone());
            let mut ceilings = of_run.or_else(|| device.clone());
            // Transfer rates come from the full probe only.
            if let (Some(c), Some(d)) = (ceilings.as_mut(), &device)
                && c.readback_gbps <= 0.0
            {
                c.readback_gbps = d.readback_gbps;
                c.upload_gbps = d.upload_gbps;
            }
            if let Some(c) = ceilings {
                row.apply_ceilings(&c);
            }
        }
    }

    /// Sorts by family, then kernel in registry order, then shape.
    pub fn sort(&mut self) {
        let order = |k: &str| {
            crate::kernels::kernel_names()
                .iter()
                .position(|n| *n == k)
                .unwrap_or(usize::MAX)
        };
        self.rows.sort_by(|a, b| {
            (
                &a.family,
                order(&a.kernel),
                &a.kernel,
                a.batch,
                a.heads,
                a.head_dim,
                a.causal,
                a.seq_len,
            )
                .cmp(&(
                    &b.family,
                    order(&b.kernel),
                    &b.kernel,
                    b.batch,
                    b.heads,
                    b.head_dim,
                    b.causal,
                    b.seq_len,
                ))
        });
    }

    /// The families present, in order.
    pub fn families(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.family) {
                out.push(r.family.clone());
            }
        }
        out
    }
}
