//! The page's peer, ONNX Runtime Web, installed from npm: `web/package.json` pins its exact
//! version and `web/package-lock.json` records every package's integrity, which `npm ci`
//! checks. Only its WebGPU build is copied into the site (`dist/ort/`): the page never
//! fetches it from anywhere else. `npm ci` is skipped while `web/node_modules` holds what
//! the lock file says (a copy of the lock file installed beside it).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of ORT's WebGPU build the page loads (`ort.webgpu.min.mjs` loads the other
/// two; the package is MIT-licensed, its package.json says so).
const ORT_FILES: &[&str] = &[
    "dist/ort.webgpu.min.mjs",
    "dist/ort-wasm-simd-threaded.asyncify.mjs",
    "dist/ort-wasm-simd-threaded.asyncify.wasm",
    "package.json",
];

/// Where `npm ci` leaves a copy of the lock file it installed.
const INSTALLED_LOCK: &str = ".attnbench-installed-lock.json";

/// The installed package's folder.
fn package(web: &Path) -> PathBuf {
    web.join("node_modules").join("onnxruntime-web")
}

/// The version `web/package.json` pins.
pub fn pinned_version(web: &Path) -> Result<String, String> {
    let path = web.join("package.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let version = json["dependencies"]["onnxruntime-web"]
        .as_str()
        .ok_or_else(|| format!("{} names no onnxruntime-web", path.display()))?;
    if !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!(
            "{}: onnxruntime-web {version:?} is not an exact version",
            path.display()
        ));
    }
    Ok(version.to_string())
}

/// Installs the pinned ORT with `npm ci` unless `web/node_modules` already holds it;
/// returns its version.
pub fn install(web: &Path) -> Result<String, String> {
    let version = pinned_version(web)?;
    let lock = std::fs::read(web.join("package-lock.json"))
        .map_err(|e| format!("reading web/package-lock.json: {e}"))?;
    let installed = web.join("node_modules").join(INSTALLED_LOCK);
    if std::fs::read(&installed).is_ok_and(|l| l == lock) && package(web).is_dir() {
        println!("cargo web build: onnxruntime-web {version} already installed (web/node_modules)");
        return Ok(version);
    }
    println!(
        "cargo web build: installing onnxruntime-web {version} (npm ci, integrity from web/package-lock.json)"
    );
    let status = Command::new("npm")
        .current_dir(web)
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .status()
        .map_err(|e| {
            format!(
                "running npm: {e}. The page's peer, ONNX Runtime Web, is installed from npm: \
                 install Node.js and npm (e.g. `apt-get install -y nodejs npm`)"
            )
        })?;
    if !status.success() {
        return Err(format!("npm ci in {} failed ({status})", web.display()));
    }
    let got = std::fs::read_to_string(package(web).join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|j| j["version"].as_str().map(str::to_string));
    if got.as_deref() != Some(version.as_str()) {
        return Err(format!(
            "npm installed onnxruntime-web {got:?}, web/package.json pins {version}"
        ));
    }
    std::fs::write(&installed, &lock)
        .map_err(|e| format!("writing {}: {e}", installed.display()))?;
    Ok(version)
}

/// Copies ORT's WebGPU build into `dist/ort/`.
pub fn copy_into(web: &Path, dist: &Path) -> Result<(), String> {
    let to = dist.join("ort");
    std::fs::create_dir_all(&to).map_err(|e| format!("creating {}: {e}", to.display()))?;
    for file in ORT_FILES {
        let from = package(web).join(file);
        let name = Path::new(file).file_name().expect("a file name");
        std::fs::copy(&from, to.join(name))
            .map_err(|e| format!("copying {}: {e}", from.display()))?;
    }
    Ok(())
}

/// The inputs of the peer's files in the site: the installed lock file.
pub fn fingerprint(web: &Path) -> Vec<u8> {
    std::fs::read(web.join("package-lock.json")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_is_pinned_exactly_with_its_integrity_recorded() {
        let web = crate::site::root().join("web");
        let version = pinned_version(&web).unwrap();
        let lock: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(web.join("package-lock.json")).unwrap())
                .unwrap();
        let locked = &lock["packages"]["node_modules/onnxruntime-web"];
        assert_eq!(locked["version"], version.as_str());
        assert!(locked["integrity"].as_str().unwrap().starts_with("sha512-"));
        for (name, package) in lock["packages"].as_object().unwrap() {
            if !name.is_empty() {
                assert!(package["integrity"].is_string(), "{name} has no integrity");
            }
        }
    }
}
