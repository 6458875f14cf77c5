//! [`Flash`]: the kernel's two registered variants ([`FLASH`], [`FLASH_F16`]) and the forms
//! the tuner, the ladder and the tests build (tiles fixed, key passes forced).

use super::backward_layout::ForcedBackward;
use super::config::FlashConfig;
use crate::kernels::Precision;

/// The flash kernel, in one of two precisions.
#[derive(Debug)]
pub struct Flash {
    /// Element type of the K/V tiles, query registers and Q·Kᵀ arithmetic.
    pub precision: Precision,
    /// Fixed tiles (the tuner's candidates); `None`: the plan chooses
    /// ([`super::FlashPlan::resolve`]).
    pub config: Option<FlashConfig>,
    /// At most this many keys per pass, as if the driver capped loops harder (tests use it
    /// to cross pass boundaries at small n); `None`: only the driver's cap splits.
    pub max_pass_keys: Option<u32>,
    /// The backward's layout kind fixed (tests run the GPU layout on CPU drivers); `None`:
    /// `ATTNBENCH_FLASH_BWD`, else the plan chooses.
    pub backward: Option<ForcedBackward>,
}

impl Flash {
    /// Flash in `precision` with the tiles fixed to `config`.
    pub fn with_config(precision: Precision, config: FlashConfig) -> Flash {
        Flash {
            precision,
            config: Some(config),
            max_pass_keys: None,
            backward: None,
        }
    }
}

/// `flash`: f32.
pub static FLASH: Flash = Flash {
    precision: Precision::F32,
    config: None,
    max_pass_keys: None,
    backward: None,
};

/// `flash_f16`: f16 K/V tiles and Q·Kᵀ, f32 softmax and accumulation.
pub static FLASH_F16: Flash = Flash {
    precision: Precision::F16,
    config: None,
    max_pass_keys: None,
    backward: None,
};
