//! What a sweep measures ([`SweepConfig`]): sequence lengths, head dims, batch and heads,
//! which families and kernels, and its time budgets, from the defaults and the
//! `ATTNBENCH_*` environment variables.

use crate::error::{Error, Result};
use crate::kernels::{KERNELS, Kernel, find_kernel};
use crate::parse::{check_u32_in, list, number, seconds};
use crate::shape::{MAX_HEAD_DIM, Pass};
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
    pub deadline: Option<web_time::Instant>,
    /// (kernel, pass, why) that verification did not cover (`attnbench suite`): their
    /// points are recorded as skipped ([`crate::results::Skip::Unverified`]), never
    /// measured.
    pub unverified: Vec<(&'static str, Pass, String)>,
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
            unverified: Vec::new(),
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
    /// The defaults, overridden by the settings `get` returns by variable name (the
    /// sweep's flags and `ATTNBENCH_*` variables, [`crate::settings::SweepArgs`]; a test's
    /// table); `docs/settings.md` lists them.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut c = SweepConfig {
            seq_lens: seq_lens_from(&get)?,
            ..SweepConfig::default()
        };
        c.read_shape(&get)?;
        c.read_families(&get)?;
        c.read_budgets_and_output(&get)?;
        if c.seq_lens.is_empty() || c.head_dims.is_empty() || c.kernels.is_empty() {
            return Err(Error::InvalidSetting {
                what: "sweep".into(),
                value: format!("{:?} / {:?}", c.seq_lens, c.head_dims),
                expected: "at least one positive sequence length, head dim and kernel".into(),
            });
        }
        Ok(c)
    }

    /// Head dims, B, H, HKV, window and the head-dim family's dims.
    fn read_shape(&mut self, get: &impl Fn(&str) -> Option<String>) -> Result<()> {
        let c = self;
        let positive = |what: &str, v: u32| check_u32_in(what, v, 1..=u32::MAX);
        let head_dim = |what: &str, v: u32| check_u32_in(what, v, 1..=MAX_HEAD_DIM);
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
        Ok(())
    }

    /// Which families run (training, causal) and which kernels.
    fn read_families(&mut self, get: &impl Fn(&str) -> Option<String>) -> Result<()> {
        let c = self;
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
        Ok(())
    }

    /// The time budgets, the results folder and the inputs' seed.
    fn read_budgets_and_output(&mut self, get: &impl Fn(&str) -> Option<String>) -> Result<()> {
        let c = self;
        if let Some(v) = get("ATTNBENCH_TIME_BUDGET") {
            c.time_budget = at_least(
                "ATTNBENCH_TIME_BUDGET",
                seconds("ATTNBENCH_TIME_BUDGET", &v)?,
                MIN_RUN_BUDGET,
                "one run may take: shorter stops every line at its first point",
            )?;
        }
        let sweep_budget = match get("ATTNBENCH_SWEEP_BUDGET") {
            Some(v) if v.trim() == "none" => None,
            Some(v) => Some(seconds("ATTNBENCH_SWEEP_BUDGET", &v)?),
            None => Some(Duration::from_secs(DEFAULT_SWEEP_BUDGET_S)),
        };
        c.deadline = sweep_budget.map(|b| web_time::Instant::now() + b);
        if let Some(v) = get("ATTNBENCH_RESULTS_DIR") {
            c.results_dir = PathBuf::from(v);
        }
        if let Some(v) = get("ATTNBENCH_SEED") {
            c.seed = number("ATTNBENCH_SEED", &v)?;
        }
        Ok(())
    }
}

/// The sequence lengths: `ATTNBENCH_SEQ_LENS`, else doubling from `ATTNBENCH_MIN_SEQ_LEN`
/// to `ATTNBENCH_MAX_SEQ_LEN`; sorted, deduplicated, each positive.
fn seq_lens_from(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<u32>> {
    let positive = |what: &str, v: u32| check_u32_in(what, v, 1..=u32::MAX);
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
    let mut seq_lens = match get("ATTNBENCH_SEQ_LENS") {
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
    for &n in &seq_lens {
        positive("ATTNBENCH_SEQ_LENS", n)?;
    }
    seq_lens.sort_unstable();
    seq_lens.dedup();
    Ok(seq_lens)
}

/// The shortest run budget accepted (`ATTNBENCH_TIME_BUDGET`).
pub const MIN_RUN_BUDGET: Duration = Duration::from_millis(50);

/// `value`, refused below `min` with why such a budget is implausible.
fn at_least(what: &str, value: Duration, min: Duration, why: &str) -> Result<Duration> {
    if value < min {
        return Err(Error::InvalidSetting {
            what: what.into(),
            value: format!("{}", value.as_secs_f64()),
            expected: format!("at least {} s {why}", min.as_secs_f64()),
        });
    }
    Ok(value)
}

/// Seconds the default sweep may take in all (`ATTNBENCH_SWEEP_BUDGET`).
pub const DEFAULT_SWEEP_BUDGET_S: u64 = 480;

/// The window of the sliding-window families unless `ATTNBENCH_WINDOW` says otherwise.
pub const DEFAULT_WINDOW: u32 = 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Pass;
    use crate::sweep::families;
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
        assert_eq!(families(&c).len(), 14);
        let window = &families(&c)[4];
        assert_eq!(window.name, "window-d32");
        assert!(
            window
                .shapes
                .iter()
                .all(|s| s.window == Some(DEFAULT_WINDOW) && s.causal)
        );
        let train = &families(&c)[6];
        assert_eq!(train.name, "train-d32");
        assert!(train.shapes.iter().all(|s| s.pass == Pass::ForwardBackward));
        assert_eq!(families(&c)[8].name, "backward-d32");
        assert!(
            families(&c)[8]
                .shapes
                .iter()
                .all(|s| s.pass == Pass::Backward)
        );
        let lookup = |k: &str| (k == "ATTNBENCH_TRAINING").then(|| "none".to_string());
        let untrained = SweepConfig::from_lookup(lookup).unwrap();
        assert!(
            families(&untrained)
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
