//! The browser's shader compiler as a second opinion: every WGSL module the run compiled
//! (as the library specialized it) is handed to the browser's compiler again and its
//! compilation messages are read (`GPUShaderModule.getCompilationInfo()`). In Chrome and
//! Edge that is Tint, with WGSL's full uniformity analysis, stricter than naga: an error
//! here is a portability bug in the kernel, and fails the run.

use attnbench::Gpu;
use serde::Serialize;

/// What the browser's compiler said about the run's modules.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CompilerReport {
    /// Distinct modules (specialized WGSL texts) compiled.
    pub modules: usize,
    /// Pipelines (module, entry point and override constants) created from them.
    pub pipelines: usize,
    /// The modules, by file name, in compile order.
    pub names: Vec<String>,
    /// Error messages, each `module:line:column: message`.
    pub errors: Vec<String>,
    /// Warnings, likewise.
    pub warnings: Vec<String>,
}

impl CompilerReport {
    /// `Ok` when the compiler accepted every module.
    pub fn verdict(&self) -> Result<(), String> {
        match self.errors.first() {
            None => Ok(()),
            Some(first) => Err(format!(
                "the browser's shader compiler rejected {} of {} modules (first: {first})",
                self.errors.len(),
                self.modules
            )),
        }
    }
}

/// Recompiles every module `gpu` has compiled so far and collects the compiler's messages.
pub async fn check(gpu: &Gpu) -> CompilerReport {
    let compiled = gpu.compiled_shaders();
    let mut report = CompilerReport {
        pipelines: compiled.len(),
        ..CompilerReport::default()
    };
    let mut seen: Vec<&str> = Vec::new();
    for shader in &compiled {
        if seen.contains(&shader.wgsl.as_str()) {
            continue;
        }
        seen.push(&shader.wgsl);
        report.modules += 1;
        report.names.push(shader.name.clone());
        let module = gpu
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(&shader.name),
                source: wgpu::ShaderSource::Wgsl(shader.wgsl.as_str().into()),
            });
        let info = module.get_compilation_info().await;
        for message in info.messages {
            let at = message
                .location
                .map(|l| format!("{}:{}", l.line_number, l.line_position))
                .unwrap_or_default();
            let text = format!("{}:{at}: {}", shader.name, message.message.trim());
            match message.message_type {
                wgpu::CompilationMessageType::Error => report.errors.push(text),
                wgpu::CompilationMessageType::Warning => report.warnings.push(text),
                wgpu::CompilationMessageType::Info => {}
            }
        }
    }
    report
}
