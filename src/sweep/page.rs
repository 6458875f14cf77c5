//! The browser page's sweep: a [`SweepConfig`] and families of its own, driven by the same
//! core runner as the native sweep (`web/src/sweep.rs` measures its points).

use super::config::{SweepConfig, doubling};
use super::families::{Family, families};
use crate::kernels::Kernel;
use crate::results::FamilyKind;
use std::time::Duration;

impl SweepConfig {
    /// The browser page's sweep: n from `min_n` doubling to `max_n` for `kernels` at
    /// d = 64, B = H = 1, causal and not (the native sweep's default prefill families, so
    /// that results compare with native folders), no window, training or head-dim family,
    /// one run at most [`PAGE_RUN_BUDGET`], nothing started past `deadline`. Its families are
    /// [`SweepConfig::page_families`].
    pub fn page(
        kernels: &[&'static dyn Kernel],
        (min_n, max_n): (u32, u32),
        seed: u64,
        deadline: web_time::Instant,
    ) -> SweepConfig {
        SweepConfig {
            seq_lens: doubling(min_n, max_n),
            head_dims: vec![64],
            causal: vec![false, true],
            window: None,
            training: false,
            head_dim_sweep: Vec::new(),
            kernels: kernels.to_vec(),
            seed,
            time_budget: PAGE_RUN_BUDGET,
            deadline: Some(deadline),
            ..SweepConfig::default()
        }
    }

    /// The families the page sweeps of this configuration: prefill (causal and not), and
    /// decode's where a decode kernel is asked for.
    pub fn page_families(&self) -> Vec<Family> {
        families(self)
            .into_iter()
            .filter(|f| {
                matches!(
                    f.kind,
                    FamilyKind::Prefill { .. } | FamilyKind::Decode { .. }
                )
            })
            .collect()
    }
}

/// Longest one run may take in the page (measured or predicted) before a kernel's line
/// stops: a browser tab must stay responsive.
pub const PAGE_RUN_BUDGET: Duration = Duration::from_secs(5);
