//! Provenance: every invocation that measures is a run ([`RunRecord`]) — its id, the code
//! (commit and whether the sources differed from it), the software, the device, the inputs,
//! the settings in effect, and the device's ceilings probed at its start and at its end.
//! Results rows name the run that measured them, so a table never silently divides numbers
//! from different runs, and a ceiling that moved during a run marks it unstable.

use crate::gpu::Gpu;
use serde::{Deserialize, Serialize};

/// The wgpu version attnbench is built against.
pub const WGPU_VERSION: &str = "30";

/// The commit attnbench was built from (`build.rs`), when the build knew it.
pub fn git_commit() -> Option<String> {
    Some(env!("ATTNBENCH_GIT_COMMIT").to_string()).filter(|c| !c.is_empty())
}

/// Whether the build's sources differed from that commit: `clean`, `dirty` or `unknown`.
pub fn git_dirty() -> &'static str {
    env!("ATTNBENCH_GIT_DIRTY")
}

/// Now as RFC 3339 in UTC, seconds precision (the browser's clock without `native`).
pub fn now_rfc3339() -> String {
    let since_epoch = web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .unwrap_or_default();
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + since_epoch).to_string()
}

/// The device's probed ceilings (from `probe.json`), kept with its results for the charts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ceilings {
    /// f32 FMA peak, GFLOP/s.
    pub fma_f32_gflops: f64,
    /// f16 FMA peak, GFLOP/s, where the device has f16 (f16 rows' denominator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fma_f16_gflops: Option<f64>,
    /// Device memory bandwidth, GB/s.
    pub bandwidth_gbps: f64,
    /// Host → device, GB/s.
    pub upload_gbps: f64,
    /// Device → host, GB/s.
    pub readback_gbps: f64,
}

/// What kind of invocation measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// `cargo bench` (criterion's sweep).
    Bench,
    /// `attnbench sweep`.
    Sweep,
    /// `attnbench suite`.
    Suite,
    /// The targets (`cargo bench --bench targets`).
    Targets,
    /// `attnbench tune`.
    Tune,
    /// `attnbench probe`.
    Probe,
    /// The browser edition.
    Web,
}

/// How much a ceiling may move between a run's start and its end before the run is
/// marked unstable.
pub const STABLE_CHANGE: f64 = 0.10;

/// Whether the machine held still during a run: its ceilings at the start and at the end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stability {
    /// (end − start) / start of the f32 FMA peak.
    pub fma_change: f64,
    /// (end − start) / start of the device bandwidth.
    pub bandwidth_change: f64,
    /// Both within ±[`STABLE_CHANGE`].
    pub stable: bool,
}

impl Stability {
    /// From the ceilings at a run's start and end.
    pub fn between(start: &Ceilings, end: &Ceilings) -> Stability {
        let change = |a: f64, b: f64| if a > 0.0 { (b - a) / a } else { 0.0 };
        let fma_change = change(start.fma_f32_gflops, end.fma_f32_gflops);
        let bandwidth_change = change(start.bandwidth_gbps, end.bandwidth_gbps);
        Stability {
            fma_change,
            bandwidth_change,
            stable: fma_change.abs() <= STABLE_CHANGE && bandwidth_change.abs() <= STABLE_CHANGE,
        }
    }

    /// `FMA +3%, bandwidth −14%: unstable`.
    pub fn describe(&self) -> String {
        format!(
            "FMA {:+.0}%, bandwidth {:+.0}% between start and end: {}",
            100.0 * self.fma_change,
            100.0 * self.bandwidth_change,
            if self.stable { "stable" } else { "UNSTABLE" }
        )
    }
}

/// One invocation that measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique id: start time and a random suffix, e.g. `20261201T234512Z-3f9a`.
    pub id: String,
    /// What kind of invocation.
    pub kind: RunKind,
    /// When it started (RFC 3339, UTC).
    pub started: String,
    /// When it saved its last results.
    #[serde(default)]
    pub finished: Option<String>,
    /// The commit attnbench was built from, when the build knew it.
    pub commit: Option<String>,
    /// Whether the sources differed from that commit: `clean`, `dirty` or `unknown`.
    pub sources: String,
    /// attnbench's version.
    pub attnbench_version: String,
    /// wgpu's version.
    pub wgpu_version: String,
    /// Adapter name.
    pub adapter: String,
    /// Backend.
    pub backend: String,
    /// Driver name and version.
    pub driver: String,
    /// The inputs its kernels ran on.
    pub inputs: String,
    /// The settings given (variable name, value), from flags or the environment.
    #[serde(default)]
    pub settings: Vec<(String, String)>,
    /// The ceilings probed at its start.
    #[serde(default)]
    pub ceilings_start: Option<Ceilings>,
    /// The ceilings probed at its end.
    #[serde(default)]
    pub ceilings_end: Option<Ceilings>,
    /// How much they moved.
    #[serde(default)]
    pub stability: Option<Stability>,
}

impl RunRecord {
    /// A run of `kind` on `gpu` starting now, on `inputs`.
    pub fn start(
        kind: RunKind,
        gpu: &Gpu,
        settings: Vec<(String, String)>,
        inputs: &str,
    ) -> RunRecord {
        let started = now_rfc3339();
        let stamp: String = started
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let nanos = web_time::SystemTime::now()
            .duration_since(web_time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let suffix = fastrand::Rng::with_seed(nanos).u16(..);
        let s = gpu.summary();
        RunRecord {
            id: format!("{stamp}-{suffix:04x}"),
            kind,
            started,
            finished: None,
            commit: git_commit(),
            sources: git_dirty().to_string(),
            attnbench_version: env!("CARGO_PKG_VERSION").to_string(),
            wgpu_version: WGPU_VERSION.to_string(),
            adapter: s.name.clone(),
            backend: s.backend.clone(),
            driver: format!("{} {}", s.driver, s.driver_info).trim().to_string(),
            inputs: inputs.to_string(),
            settings,
            ceilings_start: None,
            ceilings_end: None,
            stability: None,
        }
    }

    /// Records the ceilings probed at the end, and how much they moved since the start.
    pub fn end(&mut self, ceilings: Option<Ceilings>) {
        self.finished = Some(now_rfc3339());
        if let (Some(start), Some(end)) = (&self.ceilings_start, &ceilings) {
            self.stability = Some(Stability::between(start, end));
        }
        self.ceilings_end = ceilings;
    }

    /// Whether its ceilings moved more than [`STABLE_CHANGE`] (unknown counts as stable).
    pub fn is_unstable(&self) -> bool {
        self.stability.as_ref().is_some_and(|s| !s.stable)
    }

    /// `20261201T234512Z-3f9a (2026-12-01T23:45:12Z, commit abc123, sources clean)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, commit {}, sources {}{})",
            self.id,
            self.started,
            self.commit.as_deref().unwrap_or("unknown"),
            self.sources,
            self.stability
                .as_ref()
                .map_or(String::new(), |s| format!("; {}", s.describe()))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ceilings(fma: f64, bandwidth: f64) -> Ceilings {
        Ceilings {
            fma_f32_gflops: fma,
            fma_f16_gflops: None,
            bandwidth_gbps: bandwidth,
            upload_gbps: 1.0,
            readback_gbps: 1.0,
        }
    }

    #[test]
    fn a_ceiling_that_moves_more_than_ten_percent_marks_the_run_unstable() {
        let steady = Stability::between(&ceilings(50.0, 1.0), &ceilings(53.0, 0.95));
        assert!(steady.stable, "{steady:?}");
        let moved = Stability::between(&ceilings(50.0, 7.9), &ceilings(51.0, 0.79));
        assert!(!moved.stable && moved.bandwidth_change < -0.8);
        assert!(moved.describe().contains("UNSTABLE"));
    }

    #[test]
    fn f16_rows_are_a_share_of_the_f16_peak_and_f32_rows_of_the_f32_peak() {
        use crate::kernels::Precision;
        let mut probe = ceilings(100.0, 10.0);
        let row = |kernel: &str, dtype| {
            let mut r =
                crate::results::ResultRow::new("prefill-d64", kernel, &crate::Shape::new(1024, 64));
            r.dtype = dtype;
            r.status = crate::results::Status::Ok;
            r.median_ms = Some(1.0);
            r.gflops = Some(50.0);
            r
        };
        let mut f32_row = row("flash", Precision::F32);
        let mut f16_row = row("flash_f16", Precision::F16);
        f16_row.apply_ceilings(&probe);
        // No f16 peak probed: no share, never the f32 peak's.
        assert_eq!(f16_row.pct_of_fma_peak, None);
        probe.fma_f16_gflops = Some(200.0);
        f16_row.apply_ceilings(&probe);
        f32_row.apply_ceilings(&probe);
        assert_eq!(f16_row.pct_of_fma_peak, Some(25.0));
        assert_eq!(f32_row.pct_of_fma_peak, Some(50.0));
    }
}
