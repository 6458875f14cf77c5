//! `charts.json`: the list of the charts attnbench drew in a folder. A later report deletes
//! a chart it no longer draws only when this list names it, so that a file attnbench did
//! not write (a photo, a user's own chart beside the results) is never deleted, whatever
//! its name or extension.

use crate::error::{Error, Result};
use crate::files::{load_json, save_json};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The manifest's name in a folder of charts.
pub const MANIFEST: &str = "charts.json";

/// Identifies the manifest's schema.
pub const SCHEMA: &str = "attnbench-charts/1";

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    schema: String,
    /// File names (no folders) of the charts drawn, PNG and SVG.
    files: Vec<String>,
}

/// Whether `name` is a chart's plain file name: one path component, `.png` or `.svg`.
fn is_chart_name(name: &str) -> bool {
    let path = Path::new(name);
    path.file_name().is_some_and(|f| f == name)
        && matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("png" | "svg")
        )
}

/// The charts the manifest of `dir` lists (none when it has no readable manifest: then
/// nothing is deleted).
fn listed(dir: &Path) -> Vec<String> {
    load_json::<Manifest>(&dir.join(MANIFEST), "chart list", SCHEMA)
        .ok()
        .flatten()
        .map(|m| m.files.into_iter().filter(|f| is_chart_name(f)).collect())
        .unwrap_or_default()
}

/// Adds `names` (plain file names) to the list of `dir` before they are written, so that a
/// report stopped part-way — an error, a kill — never leaves a chart the list does not
/// name: the next report removes what it no longer draws.
pub fn claim(dir: &Path, names: &[String]) -> Result<()> {
    let mut files = listed(dir);
    for name in names.iter().filter(|n| is_chart_name(n)) {
        if !files.contains(name) {
            files.push(name.clone());
        }
    }
    crate::files::create_dir(dir)?;
    save_json(
        &dir.join(MANIFEST),
        &Manifest {
            schema: SCHEMA.into(),
            files,
        },
    )
}

/// Records `written` (the files a report just wrote into `dir`) as the charts of `dir`, and
/// deletes the charts the previous list named that `written` no longer holds. Files the
/// list never named are left alone.
pub fn replace_charts(dir: &Path, written: &[PathBuf]) -> Result<()> {
    let names: Vec<String> = written
        .iter()
        .filter(|p| p.parent() == Some(dir))
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .filter(|n| is_chart_name(n))
        .collect();
    for stale in listed(dir).iter().filter(|f| !names.contains(f)) {
        let path = dir.join(stale);
        if path.symlink_metadata().is_ok_and(|m| m.is_file()) {
            std::fs::remove_file(&path)
                .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
        }
    }
    save_json(
        &dir.join(MANIFEST),
        &Manifest {
            schema: SCHEMA.into(),
            files: names,
        },
    )
}

/// Refuses to write a report into `dir` when it holds files and none of attnbench's
/// (`marker`, e.g. `compare.md`, or a chart list): a folder of the user's own is never
/// filled with, or overwritten by, charts.
pub fn check_ours_or_empty(dir: &Path, marker: &str) -> Result<()> {
    let Ok(mut entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let empty = entries.next().is_none();
    if empty || dir.join(MANIFEST).is_file() || dir.join(marker).is_file() {
        return Ok(());
    }
    Err(Error::DataFile {
        path: dir.to_path_buf(),
        message: format!(
            "holds files attnbench did not write (no {MANIFEST} or {marker}); choose a new or empty folder"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_charts_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in ["a.png", "b.svg", "photo.png", "time-my-notes.png"] {
            std::fs::write(d.join(name), b"x").unwrap();
        }
        // A hand-edited list may name anything: only plain chart names in `dir` count.
        replace_charts(d, &[d.join("a.png"), d.join("b.svg")]).unwrap();
        let manifest = std::fs::read_to_string(d.join(MANIFEST)).unwrap();
        let manifest =
            manifest.replace("\"b.svg\"", "\"b.svg\", \"../outside.png\", \"notes.txt\"");
        std::fs::write(d.join(MANIFEST), manifest).unwrap();
        std::fs::write(d.join("notes.txt"), b"x").unwrap();
        replace_charts(d, &[d.join("a.png")]).unwrap();
        for kept in ["a.png", "photo.png", "time-my-notes.png", "notes.txt"] {
            assert!(d.join(kept).exists(), "{kept}");
        }
        assert!(!d.join("b.svg").exists());
    }

    /// Charts claimed before they are drawn are cleaned up by the next report, even when
    /// the report that claimed them stopped before recording what it wrote.
    #[test]
    fn claimed_charts_are_listed_before_they_exist() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        claim(
            d,
            &[
                "time-x.png".into(),
                "time-x.svg".into(),
                "../evil.png".into(),
            ],
        )
        .unwrap();
        std::fs::write(d.join("time-x.png"), b"half a report").unwrap();
        // The report died here; the next one draws nothing of it.
        replace_charts(d, &[]).unwrap();
        assert!(!d.join("time-x.png").exists());
        assert_eq!(listed(d), Vec::<String>::new());
    }

    #[test]
    fn foreign_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_ours_or_empty(&dir.path().join("new"), "compare.md").is_ok());
        assert!(check_ours_or_empty(dir.path(), "compare.md").is_ok());
        std::fs::write(dir.path().join("holiday.png"), b"x").unwrap();
        assert!(check_ours_or_empty(dir.path(), "compare.md").is_err());
        std::fs::write(dir.path().join("compare.md"), b"x").unwrap();
        assert!(check_ours_or_empty(dir.path(), "compare.md").is_ok());
    }
}
