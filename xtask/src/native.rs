//! The native `attnbench` command line, as `cargo web test` uses it: built with `cargo
//! build --bin attnbench` (the root crate's ordinary artifacts, so xtask itself never
//! compiles wgpu) and run on folders of a temporary results root. xtask does not link the
//! library: wasm-bindgen's CLI turns on features of crates they share, which would build
//! wgpu, naga and attnbench a second time.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The schema string of results files.
pub fn schema() -> &'static str {
    attnbench_schema::SCHEMA
}

pub use attnbench_schema::device_slug;

/// The `attnbench` binary, built.
pub struct Attnbench {
    exe: PathBuf,
}

impl Attnbench {
    /// `cargo build --bin attnbench` in the workspace root; cargo's diagnostics pass
    /// through.
    pub fn build(root: &Path) -> Result<Attnbench, String> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let started = std::time::Instant::now();
        let out = Command::new(&cargo)
            .current_dir(root)
            .args([
                "build",
                "--bin",
                "attnbench",
                "--message-format=json-render-diagnostics",
            ])
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("running {cargo}: {e}"))?;
        if !out.status.success() {
            return Err(format!("building attnbench failed ({})", out.status));
        }
        let exe = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "attnbench")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .ok_or("cargo built no attnbench executable")?;
        println!(
            "cargo web test: built {} ({:.1} s)",
            exe.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(Attnbench { exe })
    }

    /// Runs `attnbench args…` with `results_root` as its results root
    /// (ATTNBENCH_RESULTS_DIR); returns its standard output, or what it said on failure.
    pub fn run(&self, results_root: &Path, args: &[&OsStr]) -> Result<String, String> {
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let shown = format!("attnbench {}", shown.join(" "));
        let out = Command::new(&self.exe)
            .args(args)
            .env("ATTNBENCH_RESULTS_DIR", results_root)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {shown}: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "{shown} failed ({}):\n{stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(stdout)
    }
}

/// A folder removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh folder under the system's temporary folder.
    pub fn new(prefix: &str) -> Result<TempDir, String> {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_read_from_the_library_source() {
        let schema = schema();
        assert!(schema.starts_with("attnbench-results/"), "{schema}");
    }

    #[test]
    fn slugs_match_the_native_folders() {
        assert_eq!(
            device_slug("llvmpipe (LLVM 15.0.6, 256 bits)", "Vulkan"),
            "llvmpipe-llvm-15-0-6-256-bits-vulkan"
        );
        assert_eq!(
            device_slug("google swiftshader (Chromium 156)", "WebGPU"),
            "google-swiftshader-chromium-156-webgpu"
        );
    }
}
