//! One device per test binary: creating a device and compiling pipelines costs real time
//! on lavapipe. With no adapter the tests fail with the library's message, never skip.

use attnbench::Gpu;
use std::sync::OnceLock;

/// The shared device of this test binary.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| Gpu::from_env().unwrap_or_else(|e| panic!("{e}")))
}
