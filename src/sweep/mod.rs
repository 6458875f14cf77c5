//! The sequence-length sweep behind `cargo bench`, `attnbench sweep`, `attnbench suite` and
//! the browser page: what to measure (`config.rs`), the chart families it makes of it
//! ([`families`]), how its time budget is spent (`schedule.rs`), each kernel's line
//! through a family (`line.rs`), the sweep as a state machine with no I/O
//! ([`SweepRunner`]), how attnbench's sampler takes a point (`sampling.rs`), and the native
//! driver that measures its points (`drive.rs`, `measure.rs`); the browser's driver is
//! `web/src/sweep.rs`.

mod config;
#[cfg(not(target_arch = "wasm32"))]
mod drive;
mod families;
mod line;
#[cfg(not(target_arch = "wasm32"))]
mod measure;
mod page;
mod runner;
mod sampling;
mod schedule;

pub use crate::results::FamilyKind;
pub use config::{DEFAULT_SWEEP_BUDGET_S, DEFAULT_WINDOW, MIN_RUN_BUDGET, SweepConfig, doubling};
#[cfg(not(target_arch = "wasm32"))]
pub use drive::run_sweep;
pub use families::{Family, families};
pub use line::{MeasureCost, PointMeasured};
#[cfg(not(target_arch = "wasm32"))]
pub use measure::{LazyRun, Measurer, Progress, Sampler};
pub use page::PAGE_RUN_BUDGET;
pub use runner::{SweepPoint, SweepRunner, SweepStep};
pub use sampling::{point_options, sweep_sampling};
pub use schedule::{
    LONG_POINT_SAMPLING, LONG_RUN, MARK_RUN_FACTOR, MARK_SEQ_LEN, MAX_LONG_SAMPLES,
    MIN_LONG_SAMPLES, Phase, long_run_samples,
};
