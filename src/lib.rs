//! attnbench: GPU attention microbenchmarks on wgpu.
//!
//! - [`shape`]: the problem (B, H, n, d, causal), its FLOP and byte models;
//! - [`gpu`]: adapter choice, device, buffer accounting, timing;
//! - [`kernels`]: the kernel registry ([`kernels::KERNELS`]) and the WGSL kernels;
//! - [`reference`](mod@reference): the f64 CPU reference and the comparison;
//! - [`run`]: running and timing a kernel, and where its time goes phase by phase;
//!   [`stats`]: medians and their intervals; [`verify`]: every kernel against the
//!   reference;
//! - [`tensors`]: random inputs and `.npy` files; [`host`]: host memory checks;
//! - [`sweep`]: the sequence-length sweep behind `cargo bench`;
//! - [`session`]: one invocation recording into a device folder (opened, checked, saved);
//! - [`suite`]: `attnbench suite`, the whole job on one adapter within one time budget;
//! - [`targets`]: flash's performance targets as ratios (the `targets` bench);
//! - [`settings`]: every setting (flags and `ATTNBENCH_*`/`WGPU_*` variables) parsed once at
//!   the edge into one value; [`parse`]: range-checked parsers for text; [`interrupt`]:
//!   stopping at Ctrl-C or SIGTERM with what was measured kept;
//! - [`tuning`]: `attnbench tune`, the per-device tile choices in `tuning.json`;
//! - [`results`], [`report`], [`charts`]: results files, tables and plotters charts;
//!   [`files`]: atomic writes, temporary files and folder locks under them; [`markdown`]:
//!   tables that are always valid GitHub Markdown.

// Whatever is `pub` is reachable from outside the crate; the rest says `pub(crate)`.
#![warn(unreachable_pub)]

// The platform-neutral core: builds for wasm32-unknown-unknown without `native`.
pub mod bench;
pub mod capacity;
pub mod charts;
pub mod error;
pub mod gpu;
pub mod host;
pub mod interrupt;
pub mod kernels;
pub mod markdown;
pub mod parse;
pub mod probe;
pub mod reference;
pub mod report;
pub mod results;
pub mod run;
pub mod shape;
pub mod stats;
pub mod sweep;
pub mod tensors;
pub mod verify;

// What needs an operating system: files, locks, host memory, the Python peers.
#[cfg(feature = "native")]
pub mod files;
#[cfg(feature = "native")]
pub mod session;
#[cfg(feature = "native")]
pub mod settings;
#[cfg(feature = "native")]
pub mod suite;
#[cfg(feature = "native")]
pub mod targets;
#[cfg(feature = "native")]
pub mod tuning;

pub use bench::Bench;
pub use error::{Error, Result};
pub use gpu::{AdapterChoice, Gpu};
pub use kernels::{KERNELS, Kernel, find_kernel};
pub use shape::{Pass, Shape};
