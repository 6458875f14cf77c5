//! Every setting of attnbench, parsed once at the edge ([`SettingsArgs`] and its parts:
//! each a flag with its `ATTNBENCH_*`/`WGPU_*` variable, through clap) into one value,
//! [`Settings`], which the commands and benches pass down. Nothing below this module reads
//! the environment: the device layer takes an [`AdapterChoice`], the kernels' plans a
//! [`KernelOverrides`], the sweep a [`crate::sweep::SweepConfig`]. The reference of every
//! setting, `docs/settings.md`, is generated from these parsers ([`reference_markdown`]).

mod args;
mod env;
mod parsed;
mod reference;

pub use args::{
    BenchArgs, DEFAULT_TARGETS_BUDGET_S, DeviceArgs, KernelArgs, SettingsArgs, SweepArgs,
    TargetsArgs,
};
pub use env::{check_environment, exhaustive, is_attnbench_variable};
pub use parsed::Settings;
pub use reference::reference_markdown;
