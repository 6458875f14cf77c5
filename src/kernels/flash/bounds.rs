//! What flash's shaders vouch for (in a file of its own, so that every file compiling a
//! flash shader can use it without using the family's `mod.rs`).

use crate::gpu::Bounds;

/// Every flash shader (forward, backward, texel pack) is in bounds by construction: rows and
/// keys past n are clamped to the last one and masked, columns past the head dim clamped to
/// the last vec4, and private arrays indexed within their loop bounds. So naga's runtime
/// checks are left out ([`Bounds::InBounds`]).
pub(crate) const BOUNDS: Bounds = Bounds::InBounds;
