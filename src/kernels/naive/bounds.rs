//! Whether naive's GEMM-grade shaders compile without naga's runtime checks.

use crate::gpu::Bounds;

/// Every index naive's product and row-pass shaders compute is clamped or selected into
/// bounds (loads of rows past n or outside the chunk read element 0 and are zeroed, stores
/// are guarded) and every loop ends, by construction: they compile without naga's runtime
/// checks ([`Bounds::InBounds`]; `ATTNBENCH_SHADER_CHECKS=on` restores them).
pub(super) const BOUNDS: Bounds = Bounds::InBounds;
