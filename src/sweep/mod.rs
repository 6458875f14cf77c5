//! The sequence-length sweep behind `cargo bench`, `attnbench sweep` and `attnbench suite`:
//! what to measure ([`config`]), the chart families it makes of it ([`families`]), how its
//! time budget is spent ([`schedule`]), each kernel's line through a family ([`line`]), the
//! measurer interface ([`measure`]), and running it ([`run`]). Everything is configurable
//! through environment variables (see [`SweepConfig::from_env`] and README).

mod config;
mod families;
mod line;
mod measure;
mod run;
mod schedule;

pub use config::{DEFAULT_SWEEP_BUDGET_S, DEFAULT_WINDOW, SweepConfig, doubling};
pub use families::{Family, FamilyKind, families};
pub use measure::{LazyRun, Measurer, Point, Progress, Sampler};
pub use run::run_sweep;
pub use schedule::{
    LONG_POINT_SAMPLING, LONG_RUN, MARK_RUN_FACTOR, MARK_SEQ_LEN, MAX_LONG_SAMPLES,
    MIN_LONG_SAMPLES, Phase, long_run_samples,
};
