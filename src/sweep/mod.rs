//! The sequence-length sweep behind `cargo bench`, `attnbench sweep` and `attnbench suite`:
//! what to measure (`config.rs`), the chart families it makes of it ([`families`]), and
//! running it (`run.rs`). Everything is configurable through environment variables (see
//! [`SweepConfig::from_env`] and README).

mod config;
mod families;
#[cfg(not(target_arch = "wasm32"))]
mod run;

pub use config::{DEFAULT_SWEEP_BUDGET_S, DEFAULT_WINDOW, SweepConfig, doubling};
pub use families::{Family, FamilyKind, families};
#[cfg(not(target_arch = "wasm32"))]
pub use run::{LazyRun, Measurer, Point, Sampler, run_sweep};
