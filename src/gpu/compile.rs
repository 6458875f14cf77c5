//! Compiling shaders into pipelines: the one place shader modules are created, with
//! naga's runtime checks or, for shaders whose every index is in bounds by construction,
//! without them ([`Bounds`]); and the log of every shader compiled (`attnbench shader`, the
//! translation tests).

use super::context::{Gpu, ShaderSource};
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

/// Whether `ATTNBENCH_SHADER_CHECKS=on` asks for naga's runtime checks on every shader
/// (for debugging a kernel suspected of reading out of bounds); `auto` or unset leaves
/// them out of [`Bounds::InBounds`] shaders. Any other value is an
/// [`Error::InvalidSetting`] (the CLI checks it at start-up, exit 2).
pub fn shader_checks_forced() -> Result<bool> {
    match std::env::var("ATTNBENCH_SHADER_CHECKS") {
        Err(_) => Ok(false),
        Ok(text) => match text.trim() {
            "on" => Ok(true),
            "" | "auto" => Ok(false),
            _ => Err(Error::InvalidSetting {
                what: "ATTNBENCH_SHADER_CHECKS".into(),
                value: text,
                expected: "on (naga's runtime checks on every shader) or auto".into(),
            }),
        },
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
}

impl Gpu {
    /// Compiles `entry` of `source` into a compute pipeline with the given override
    /// constants (not cached: see [`Gpu::cached`]).
    pub fn compile(
        &self,
        source: ShaderSource,
        entry: &str,
        layout: Option<&wgpu::PipelineLayout>,
        constants: &[(&str, f64)],
    ) -> Result<wgpu::ComputePipeline> {
        self.compile_wgsl(
            source.name,
            source.wgsl.to_string(),
            entry,
            layout,
            constants,
        )
    }

    /// Compiles WGSL text (already specialized) named `name`, with naga's runtime checks
    /// unless `bounds` says every index is in bounds by construction
    /// ([`Gpu::runtime_checks_off`]).
    pub fn compile_text(
        &self,
        bounds: Bounds,
        name: &str,
        wgsl: String,
        entry: &str,
        layout: Option<&wgpu::PipelineLayout>,
        constants: &[(&str, f64)],
    ) -> Result<wgpu::ComputePipeline> {
        let unchecked = self.runtime_checks_off(bounds);
        self.compile_checked(name, wgsl, entry, layout, (constants, unchecked))
    }

    /// Whether shaders declared [`Bounds::InBounds`] are compiled without naga's runtime
    /// checks on this device: always, unless `ATTNBENCH_SHADER_CHECKS=on`.
    pub fn runtime_checks_off(&self, bounds: Bounds) -> bool {
        bounds == Bounds::InBounds && !self.checks_forced
    }

    fn compile_wgsl(
        &self,
        name: &str,
        wgsl: String,
        entry: &str,
        layout: Option<&wgpu::PipelineLayout>,
        constants: &[(&str, f64)],
    ) -> Result<wgpu::ComputePipeline> {
        self.compile_checked(name, wgsl, entry, layout, (constants, false))
    }

    /// The one place shader modules are created: with naga's runtime checks (bounds clamps
    /// on dynamic indices, a counter on every loop), or without them where `unchecked`.
    fn compile_checked(
        &self,
        name: &str,
        wgsl: String,
        entry: &str,
        layout: Option<&wgpu::PipelineLayout>,
        (constants, unchecked): (&[(&str, f64)], bool),
    ) -> Result<wgpu::ComputePipeline> {
        let during = format!("compiling {name}:{entry}");
        if let Ok(mut log) = self.compiled.lock() {
            log.push(CompiledShader {
                name: name.to_string(),
                entry: entry.to_string(),
                wgsl: wgsl.clone(),
                constants: constants.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            });
        }
        let began = std::time::Instant::now();
        let compiled = self.scoped(&during, || {
            let desc = wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(wgsl.into()),
            };
            let module = if unchecked {
                // SAFETY: only shaders declared `Bounds::InBounds` get here: every index
                // they compute is in bounds and every loop ends, by construction (audited
                // per shader; `ATTNBENCH_SHADER_CHECKS=on` restores the checks).
                unsafe {
                    self.device
                        .create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked())
                }
            } else {
                self.device.create_shader_module(desc)
            };
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout,
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants,
                        // Kernels initialize what they read; zeroing costs time.
                        zero_initialize_workgroup_memory: false,
                    },
                    cache: None,
                })
        });
        if std::env::var_os("ATTNBENCH_LOG_COMPILES").is_some() {
            eprintln!(
                "compiled {name}:{entry} {constants:?} in {:.2} s{}",
                began.elapsed().as_secs_f64(),
                if unchecked {
                    " (runtime checks off)"
                } else {
                    ""
                }
            );
        }
        compiled
    }

    /// Every shader compiled on this device so far, in order (pipelines are cached, so each
    /// appears once): what `attnbench shader` prints and the translation tests check.
    pub fn compiled_shaders(&self) -> Vec<CompiledShader> {
        self.compiled.lock().map(|l| l.clone()).unwrap_or_default()
    }
}
