//! The shape of the repository: settings read only at the edge, files small enough to
//! read, a README that guides rather than lists, and a settings reference that cannot drift
//! from the parsers.

use std::path::{Path, PathBuf};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir` (relative to the repository).
fn rust_files(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repository().join(dir), &mut out);
    out.sort();
    out
}

/// The most lines a source file may have, tests included.
const MAX_LINES: usize = 550;

#[test]
fn no_source_file_is_over_550_lines() {
    let mut long = Vec::new();
    let mut seen = 0;
    for dir in [
        "src",
        "tests",
        "benches",
        "examples",
        "web/src",
        "xtask/src",
        "schema/src",
    ] {
        for path in rust_files(dir) {
            seen += 1;
            let lines = std::fs::read_to_string(&path).unwrap().lines().count();
            if lines > MAX_LINES {
                long.push(format!("{} ({lines})", path.display()));
            }
        }
    }
    assert!(seen > 100, "{seen} files read");
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines: {}",
        long.join(", ")
    );
}

/// Settings are read at the edge (`src/settings/`, the command line) and passed down:
/// nothing else in the library reads the environment (`std::env::consts`, the build
/// target, is not the environment).
#[test]
fn only_the_edge_reads_the_environment() {
    let src = repository().join("src");
    let mut readers = Vec::new();
    for path in rust_files("src") {
        let rel = path.strip_prefix(&src).unwrap();
        if rel.starts_with("settings") || rel.starts_with("cli") || rel.starts_with("main.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let reads = code.contains("std::env::") && !code.contains("std::env::consts");
            if reads || code.contains("env::var") {
                readers.push(format!("{}:{}: {}", rel.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(readers.is_empty(), "{}", readers.join("\n"));
}

#[test]
fn the_readme_guides_in_at_most_250_lines() {
    let readme = std::fs::read_to_string(repository().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 250, "README.md has {lines} lines");
}

/// `docs/settings.md` is what `attnbench settings` prints: regenerate it with
/// `cargo run --bin attnbench -- settings > docs/settings.md`.
#[test]
fn the_settings_reference_is_generated_from_the_parsers() {
    let committed = std::fs::read_to_string(repository().join("docs/settings.md")).unwrap();
    let generated = attnbench::settings::reference_markdown();
    assert!(
        committed == generated,
        "docs/settings.md is stale: run `cargo run --bin attnbench -- settings > docs/settings.md`"
    );
    for variable in [
        "ATTNBENCH_FLASH_TILES",
        "ATTNBENCH_SEQ_LENS",
        "WGPU_BACKEND",
    ] {
        assert!(generated.contains(variable), "{variable}");
    }
}
