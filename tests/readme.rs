//! The README states no measurement that a file does not back: its results section is
//! exactly what `attnbench plot --readme README.md` generates from the committed device
//! folders, every results file it links exists, and no measured time or rate is typed
//! into the prose around it.

use attnbench::report::{README_BEGIN, README_END, current_section, readme_section};
use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

#[test]
fn the_results_section_is_what_the_committed_results_generate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = readme();
    let section = current_section(&text).expect("README has its results markers");
    let generated = readme_section(&root.join("README.md"), &root.join("results")).unwrap();
    assert!(
        section.trim_end() == generated.trim_end(),
        "README's results section differs from the committed results: run \
         `attnbench plot --readme README.md`"
    );
    assert!(generated.contains("]("), "the section links no chart");
}

#[test]
fn every_results_file_the_readme_links_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = readme();
    let mut linked = 0;
    for (i, _) in text.match_indices("](results/") {
        let target = &text[i + 2..];
        let end = target.find(')').unwrap();
        let path = target[..end].split('#').next().unwrap();
        assert!(
            root.join(path).exists(),
            "README links {path}, which is missing"
        );
        linked += 1;
    }
    assert!(linked > 0);
}

#[test]
fn no_measured_time_or_rate_is_typed_outside_the_generated_section() {
    let text = readme();
    let begin = text.find(README_BEGIN).unwrap();
    let end = text.find(README_END).unwrap();
    let prose = format!("{}{}", &text[..begin], &text[end..]);
    let words: Vec<&str> = prose.split_whitespace().collect();
    let number = |w: &str| {
        let w = w.trim_start_matches(['(', '~', '≈']);
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
            && w.chars().next().is_some_and(|c| c.is_ascii_digit())
    };
    let units = [
        "ms", "ms,", "ms)", "ms;", "ms.", "GFLOP/s", "GFLOP/s,", "GFLOP/s)",
    ];
    let typed: Vec<String> = words
        .windows(2)
        .filter(|w| number(w[0]) && units.contains(&w[1]))
        .map(|w| w.join(" "))
        .collect();
    assert!(
        typed.is_empty(),
        "measured figures typed into the README (they belong in the generated section): {typed:?}"
    );
}
