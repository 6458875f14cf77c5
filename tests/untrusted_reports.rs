//! The third hostile round, reports: what a results folder from elsewhere holds is shown,
//! never interpreted (one escaper into Markdown), the README's generated section is the
//! only part of it a regeneration can change, compare marks every cell of an unstable run
//! and says when a geometric mean mixes runs, and every interval says what it is. Every
//! hostile folder is generated here, at run time.

mod common;
mod untrusted_fixtures;

use attnbench::markdown::{html_block_errors, table_errors};
use attnbench::report::{
    README_BEGIN, README_END, comparison_markdown, headline_families, key_ratios,
    median_with_interval, summary_table,
};
use attnbench::results::ResultsFile;
use common::cli::{run_within, stderr_lines};
use std::path::Path;
use std::time::Duration;
use untrusted_fixtures::{measured, run, save, unescaped, valid};

const SECONDS: Duration = Duration::from_secs(60);

/// Text that would be markup: a heading, HTML, a script, a link, a code span, a comment
/// marker of the README, cell breaks.
const HOSTILE: &str = "Evil <b>GPU</b>\n# pwned <script>alert(1)</script> [x](javascript:alert(1)) `c` | <!-- results: end -->";

/// Every way the hostile text could act, checked on generated Markdown.
fn assert_inert(md: &str, what: &str) {
    for raw in ["<b>", "<script", "<img", "<!--", "](javascript", "`c`"] {
        assert!(!unescaped(md, raw), "{what}: {raw} unescaped:\n{md}");
    }
    for line in md.lines() {
        for heading in ["# pwned", "## owned", "# Injected"] {
            assert!(!line.starts_with(heading), "{what}: {line}");
        }
    }
    assert!(
        table_errors(md).is_empty(),
        "{what}: {:?}",
        table_errors(md)
    );
    assert!(html_block_errors(md).is_empty(), "{what}");
}

/// A results file whose every string a report shows is hostile: adapter, driver, run id,
/// commit, configuration, skip reason, and a row of an unknown kernel in an unknown family.
fn hostile() -> ResultsFile {
    let mut file = valid("Evil", 2.0, true);
    file.device.adapter = HOSTILE.into();
    file.device.driver = "d|r|v `x`".into();
    let id = format!("r1\n{HOSTILE}");
    file.runs[0].id = id.clone();
    file.runs[0].commit = Some("<script>alert(2)</script>".into());
    for row in &mut file.rows {
        row.run_id = Some(id.clone());
        if row.config.is_some() {
            row.config = Some("texels|32`<img src=x onerror=alert(3)>".into());
        }
        if !row.is_ok() {
            row.reason = "[click](javascript:alert(4))\n## owned".into();
        }
    }
    let mut alien = measured("pwn<script>", 128, 1.0, &id);
    alien.family = "prefill-d64\n# Injected".into();
    alien.family_kind = None;
    file.rows.push(alien);
    file
}

/// Class 4: adapter, driver, run id, commit, configuration, skip reason, kernel and family
/// names reached compare.md and the READMEs unescaped. Now every one is shown as text;
/// the unknown kernel and family are kept as data and never charted.
#[test]
fn text_from_files_is_shown_never_interpreted() {
    let root = tempfile::tempdir().unwrap();
    let evil = save(&root.path().join("evil"), &hostile());
    let good = save(&root.path().join("good"), &valid("Good", 3.0, true));
    let loaded = evil.load_existing().unwrap();
    assert!(loaded.rows.iter().any(|r| r.kernel == "pwn<script>"));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out_dir = root.path().join("cmp");
    let args = [
        "compare",
        &s(&evil.dir),
        &s(&good.dir),
        "--out",
        &s(&out_dir),
    ];
    let out = run_within(&args, &[], SECONDS);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let out = run_within(&["plot", &s(&evil.dir)], &[], SECONDS);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let compare = std::fs::read_to_string(out_dir.join("compare.md")).unwrap();
    let readme = std::fs::read_to_string(evil.dir.join("README.md")).unwrap();
    for (md, what) in [(&compare, "compare.md"), (&readme, "README.md")] {
        assert_inert(md, what);
        assert!(
            md.contains("pwn\\<script\\>"),
            "{what}: the unknown kernel is shown"
        );
    }
    let charts = std::fs::read_to_string(evil.dir.join("charts.json")).unwrap();
    assert!(charts.contains("time-prefill-d64.png") && !charts.contains("Injected"));
}

/// Class 3: an adapter name holding a newline and the end marker made `plot --readme`
/// write a second end marker, corrupting README.md for good. Now the README changes only
/// between its markers, the section never holds a comment, links stay relative under an
/// absolute results root (class 10), a hostile folder's text leaves with the folder, and a
/// README whose markers do not pair is refused untouched.
#[test]
fn the_readme_changes_only_between_its_markers() {
    let original =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let readme = work.path().join("README.md");
    std::fs::write(&readme, &original).unwrap();
    let root = tempfile::tempdir().unwrap();
    save(&root.path().join("gpu-a"), &valid("GPU A", 3.0, true));
    let evil = save(&root.path().join("evil"), &hostile());
    let env = [("ATTNBENCH_RESULTS_DIR", root.path().to_str().unwrap())];
    let plot = ["plot", "--readme", readme.to_str().unwrap()];
    let split = |text: &str| -> (String, String, String) {
        assert_eq!(text.matches(README_BEGIN).count(), 1, "{text}");
        assert_eq!(text.matches(README_END).count(), 1, "{text}");
        let begin = text.find(README_BEGIN).unwrap();
        let end = text.find(README_END).unwrap();
        let section = text[begin + README_BEGIN.len()..end].to_string();
        (text[..begin].into(), section, text[end..].into())
    };
    let (before, _, after) = split(&original);
    let out = run_within(&plot, &env, SECONDS);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let (b, section, a) = split(&std::fs::read_to_string(&readme).unwrap());
    assert_eq!(
        (b, a),
        (before.clone(), after.clone()),
        "only the section changes"
    );
    assert!(!section.contains("<!--") && !section.contains("-->"));
    assert_inert(&section, "README section");
    assert!(section.contains("GPU A") && section.contains("Evil"));
    assert!(!section.contains("](/"), "links relative to the README");
    // The hostile folder gone, its text is gone: the README is its own again.
    std::fs::remove_dir_all(&evil.dir).unwrap();
    let out = run_within(&plot, &env, SECONDS);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let text = std::fs::read_to_string(&readme).unwrap();
    let (b, section, a) = split(&text);
    assert_eq!((b, a), (before, after));
    assert!(!section.contains("Evil") && !text.contains("pwned"));
    // Markers that do not pair: refused, one line, nothing written.
    for broken in [
        text.replacen(README_END, &format!("{README_END}\n{README_END}"), 1),
        text.replacen(README_BEGIN, "", 1),
    ] {
        std::fs::write(&readme, &broken).unwrap();
        let out = run_within(&plot, &env, SECONDS);
        let lines = stderr_lines(&out);
        assert_eq!(out.status.code(), Some(2), "{lines:?}");
        assert!(
            lines.len() == 1 && lines[0].contains("README.md"),
            "{lines:?}"
        );
        assert_eq!(std::fs::read_to_string(&readme).unwrap(), broken);
    }
}

/// Class 6: only the run list said a run was unstable, and the summary's geometric mean
/// mixed runs silently. Now every cell that uses a row of an unstable run is marked, and a
/// geometric mean over rows of several runs of a device names them.
#[test]
fn compare_marks_every_cell_of_an_unstable_run_and_mixed_means() {
    let a = valid("GPU A", 3.0, true);
    let b = valid("GPU B", 4.0, false);
    let md = comparison_markdown(&[&a, &b]);
    assert!(md.contains("UNSTABLE"), "{md}");
    let points: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| prefill-d64 |") && l.contains("GFLOP/s"))
        .collect();
    assert_eq!(points.len(), 4, "{md}");
    for line in points {
        // GPU B's time and the ratio.
        assert_eq!(line.matches("unstable run").count(), 2, "{line}");
    }
    let summary = md.lines().find(|l| l.starts_with("| flash |")).unwrap();
    assert!(summary.contains("includes an unstable run"), "{summary}");
    // GPU A's rows from two runs: the mean says so.
    let mut mixed = valid("GPU A", 3.0, true);
    mixed.record_run(run("second-run", "GPU A", true));
    mixed.rows[3].run_id = Some("second-run".into());
    let md = comparison_markdown(&[&mixed, &a]);
    let summary = md.lines().find(|l| l.starts_with("| flash |")).unwrap();
    assert!(summary.contains("mixes runs (GPU A"), "{summary}");
    // The device README's figures carry the mark too.
    let ratios = key_ratios(&b, &headline_families(&b));
    assert!(ratios.contains("unstable run"), "{ratios}");
    assert!(summary_table(&b).contains("unstable run"));
}

/// A "95% interval" of three samples was their range, about 75% coverage. Now a row states
/// its interval's method and coverage: a range where the samples cannot support 95%.
#[test]
fn intervals_say_what_they_are() {
    let three = measured("flash", 128, 1.0, "r");
    let mut row = three.clone();
    let m = attnbench::run::Measurement::from_samples(
        vec![1.0, 1.1, 1.2],
        attnbench::gpu::TimingSource::GpuTimestamps,
    )
    .unwrap();
    row.record(&m);
    let text = median_with_interval(&row);
    assert!(text.contains("range of 3 (75% coverage)"), "{text}");
    let ten = median_with_interval(&three);
    assert!(ten.contains("97% CI"), "{ten}");
    let one = attnbench::run::Measurement::from_samples(
        vec![2.0],
        attnbench::gpu::TimingSource::GpuTimestamps,
    )
    .unwrap();
    row.record(&one);
    assert_eq!(median_with_interval(&row), "2.000");
}

/// Class 10: "decode runs different configurations: … WebGPU ;" named an empty
/// configuration for a device that never ran the kernel. Now only devices that ran it
/// are named.
#[test]
fn configuration_differences_name_only_devices_that_ran_the_kernel() {
    let a = valid("GPU A", 3.0, true);
    let mut b = valid("GPU B", 3.0, true);
    for row in b.rows.iter_mut().filter(|r| r.config.is_some()) {
        row.config = Some("tiles,64,1,32".into());
    }
    let mut c = valid("GPU C", 3.0, true);
    c.rows.retain(|r| r.kernel != "flash");
    let md = comparison_markdown(&[&a, &b, &c]);
    let line = md
        .lines()
        .find(|l| l.contains("runs different configurations"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(line.contains("GPU A") && line.contains("GPU B"), "{line}");
    assert!(!line.contains("GPU C") && !line.contains(" ;"), "{line}");
    let same = comparison_markdown(&[&a, &c]);
    assert!(!same.contains("runs different configurations"), "{same}");
}
