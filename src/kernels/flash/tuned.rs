//! [`TunedConfigs`]: the configurations `attnbench tune` chose for one device, keyed by
//! precision and head dim. The tuning layer fills it from the device's `tuning.json`
//! (after checking every entry) and keeps it with the device ([`crate::gpu::Gpu::extension`]);
//! [`super::plan`] reads it. Nothing here is text.

use super::config::FlashConfig;
use crate::kernels::Precision;
use std::collections::HashMap;

/// What a tuned choice is filed under: flash in `precision` (`flash` is f32, `flash_f16`
/// f16) at one head dim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TuningKey {
    /// The precision of the kernel it was tuned for.
    pub precision: Precision,
    /// The head dim it was tuned at.
    pub head_dim: u32,
}

/// One device's tuned configurations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TunedConfigs {
    choices: HashMap<TuningKey, FlashConfig>,
}

impl TunedConfigs {
    /// A table of `choices` (a later entry for the same key wins).
    pub fn new(choices: impl IntoIterator<Item = (TuningKey, FlashConfig)>) -> Self {
        TunedConfigs {
            choices: choices.into_iter().collect(),
        }
    }

    /// The choice for `key`, if one was tuned.
    pub fn get(&self, key: &TuningKey) -> Option<FlashConfig> {
        self.choices.get(key).copied()
    }

    /// How many choices it holds.
    pub fn len(&self) -> usize {
        self.choices.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.choices.is_empty()
    }
}
