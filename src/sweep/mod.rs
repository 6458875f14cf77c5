//! The sequence-length sweep behind `cargo bench`, `attnbench sweep` and `attnbench suite`:
//! what to measure (`config.rs`), the chart families it makes of it ([`families`]), how its
//! time budget is spent (`schedule.rs`), each kernel's line through a family (`line.rs`),
//! the measurer interface (`measure.rs`), and running it (`run.rs`). Everything is
//! configurable through environment variables (see [`SweepConfig::from_env`] and README).

mod config;
mod families;
#[cfg(not(target_arch = "wasm32"))]
mod line;
#[cfg(not(target_arch = "wasm32"))]
mod measure;
#[cfg(not(target_arch = "wasm32"))]
mod run;
mod schedule;

pub use crate::results::FamilyKind;
pub use config::{DEFAULT_SWEEP_BUDGET_S, DEFAULT_WINDOW, SweepConfig, doubling};
pub use families::{Family, families};
#[cfg(not(target_arch = "wasm32"))]
pub use measure::{LazyRun, Measurer, Point, Progress, Sampler};
#[cfg(not(target_arch = "wasm32"))]
pub use run::run_sweep;
pub use schedule::{
    LONG_POINT_SAMPLING, LONG_RUN, MARK_RUN_FACTOR, MARK_SEQ_LEN, MAX_LONG_SAMPLES,
    MIN_LONG_SAMPLES, Phase, long_run_samples,
};
