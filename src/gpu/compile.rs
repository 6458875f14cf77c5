//! Compiling shaders into pipelines: the one place shader modules are created, with
//! naga's runtime checks or, for shaders whose every index is in bounds by construction,
//! without them ([`Bounds`]); and the log of every shader compiled ([`CompiledShader`]:
//! `attnbench shader`, the translation tests).

use super::context::{Gpu, ShaderSource};
use super::shaders::{Bounds, CompiledShader};
use crate::error::Result;

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
    /// checks on this device: always, unless the shader checks setting is `on`.
    pub fn runtime_checks_off(&self, bounds: Bounds) -> bool {
        bounds == Bounds::InBounds && !self.options.shader_checks
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
                seconds: 0.0,
                unchecked,
            });
        }
        let began = web_time::Instant::now();
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
        let seconds = began.elapsed().as_secs_f64();
        if let Ok(mut log) = self.compiled.lock()
            && let Some(last) = log
                .iter_mut()
                .rev()
                .find(|c| c.name == name && c.entry == entry)
        {
            last.seconds = seconds;
        }
        if self.options.log_compiles {
            eprintln!(
                "compiled {name}:{entry} {constants:?} in {seconds:.2} s{}",
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
