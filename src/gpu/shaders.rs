//! What is said about shaders apart from compiling them (`compile.rs`): whether naga's
//! runtime checks stay ([`Bounds`], `ATTNBENCH_SHADER_CHECKS`) and the record of one
//! compiled shader ([`CompiledShader`]).

use crate::error::{Error, Result};

/// What a shader's author vouches for: whether naga must add its runtime checks (a clamp
/// on every dynamic index, a counter on every loop; gfx-rs/wgpu#7698 measured the loop
/// bounding alone turning 0.1 ms into 10 ms) or every index is in bounds by construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bounds {
    /// Not audited: naga's checks stay.
    Checked,
    /// Every index in bounds and every loop finite by construction (rows and keys past n
    /// clamped and masked, private arrays indexed within their loop bounds): compiled with
    /// `create_shader_module_trusted` and no checks, unless `ATTNBENCH_SHADER_CHECKS=on`.
    InBounds,
}

/// Parses the shader checks setting: `on` asks for naga's runtime checks on every shader
/// (for debugging a kernel suspected of reading out of bounds); `auto` (or nothing) leaves
/// them out of [`Bounds::InBounds`] shaders.
pub fn parse_shader_checks(text: &str) -> Result<bool> {
    match text.trim() {
        "on" => Ok(true),
        "" | "auto" => Ok(false),
        _ => Err(Error::InvalidSetting {
            what: "ATTNBENCH_SHADER_CHECKS".into(),
            value: text.into(),
            expected: "on (naga's runtime checks on every shader) or auto".into(),
        }),
    }
}

/// One shader as it was handed to the driver: the final WGSL after includes,
/// specialization and unrolling, and the override constants of its pipeline.
#[derive(Clone, Debug)]
pub struct CompiledShader {
    /// The shader file it came from.
    pub name: String,
    /// Its entry point.
    pub entry: String,
    /// The WGSL text compiled.
    pub wgsl: String,
    /// Override constants set at pipeline creation.
    pub constants: Vec<(String, f64)>,
    /// Seconds the pipeline took to create (drivers that compile lazily compile more at
    /// its first dispatch).
    pub seconds: f64,
    /// Whether it was compiled without naga's runtime checks ([`Bounds::InBounds`]).
    pub unchecked: bool,
}
