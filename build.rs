//! Records the commit attnbench is built from, and whether the sources differed from it,
//! so that every results file can name the code that measured it — also from a binary
//! copied to a machine without the repository (`ATTNBENCH_GIT_COMMIT`,
//! `ATTNBENCH_GIT_DIRTY`: `clean`, `dirty` or `unknown`).

use std::process::Command;

/// What the measuring code is made of: a change to any of these makes a build dirty.
const SOURCES: &[&str] = &[
    "src",
    "schema",
    "shaders",
    "benches",
    "build.rs",
    "Cargo.toml",
    "Cargo.lock",
];

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("--no-optional-locks")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    for path in SOURCES {
        println!("cargo:rerun-if-changed={path}");
    }
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/index");
    }
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_default();
    let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--"];
    status.extend(SOURCES);
    let dirty = match git(&status) {
        Some(changes) if changes.is_empty() => "clean",
        Some(_) => "dirty",
        None => "unknown",
    };
    println!("cargo:rustc-env=ATTNBENCH_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=ATTNBENCH_GIT_DIRTY={dirty}");
}
