//! One device per test binary: creating a device and compiling pipelines costs real time
//! on lavapipe. With no adapter the tests fail with the library's message, never skip.

use attnbench::Gpu;
use std::sync::OnceLock;

/// The shared device of this test binary.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| Gpu::from_env().unwrap_or_else(|e| panic!("{e}")))
}

/// Whether the exhaustive grids run (`ATTNBENCH_EXHAUSTIVE=1`): every tuner
/// candidate at every head dim, every input kind on every shape, every shader variant's
/// translation. Without it each test covers each distinct code path once.
#[allow(dead_code)]
pub fn exhaustive() -> bool {
    std::env::var("ATTNBENCH_EXHAUSTIVE").is_ok_and(|v| v.trim() == "1")
}

/// A second device of this test binary, for checks that compile on two cores at once
/// (`attnbench::verify::check_all`).
#[allow(dead_code)]
pub fn gpu2() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| Gpu::from_env().unwrap_or_else(|e| panic!("{e}")))
}
