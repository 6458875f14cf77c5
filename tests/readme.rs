//! The README and the docs state nothing a file does not back: the README's results
//! section is exactly what `attnbench plot --readme README.md` generates from the committed
//! device folders, and no measured time or rate is typed into the prose around it; every
//! relative link in README.md and docs/*.md leads to a file or folder that exists, and so
//! does every path written in a code span ([`is_path`] and [`exists`] give the rule).

use attnbench::report::{README_BEGIN, README_END, current_section, readme_section};
use std::path::{Path, PathBuf};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(repository().join("README.md")).unwrap()
}

/// README.md and every Markdown file in docs/, with their text.
fn documents() -> Vec<(PathBuf, String)> {
    let mut paths = vec![repository().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repository().join("docs"))
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

#[test]
fn the_results_section_is_what_the_committed_results_generate() {
    let root = repository();
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

/// The targets of the Markdown links and images in `text` (`[text](target)`), without
/// their `#anchor`; web addresses and anchors within the page left out.
fn relative_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("](") {
        let rest = &text[i + 2..];
        let Some(end) = rest.find(')') else { continue };
        let target = rest[..end].split('#').next().unwrap_or("");
        if !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
            out.push(target.to_string());
        }
    }
    out
}

#[test]
fn every_relative_link_in_the_readme_and_the_docs_exists() {
    let mut linked = 0;
    let mut missing = Vec::new();
    for (path, text) in documents() {
        let folder = path.parent().unwrap();
        for target in relative_links(&text) {
            linked += 1;
            if !folder.join(&target).exists() {
                missing.push(format!("{} links {target}", path.display()));
            }
        }
    }
    assert!(linked > 10, "{linked} links read");
    assert!(missing.is_empty(), "missing:\n{}", missing.join("\n"));
    assert!(
        relative_links(&readme())
            .iter()
            .any(|l| l.starts_with("results/")),
        "the README links no results"
    );
}

/// The extensions that make a code span without a `/` a file name (`Cargo.toml`,
/// `results.json`); other spans without one are words, values or commands.
const EXTENSIONS: [&str; 10] = [
    "rs", "wgsl", "md", "toml", "json", "csv", "py", "png", "svg", "sh",
];

/// Folders that hold build outputs: paths under them exist only after a build.
const BUILD_OUTPUTS: [&str; 2] = ["target/", "web/dist/"];

/// The code spans of Markdown `text` (inline code, outside fenced blocks), as written.
fn code_spans(text: &str) -> Vec<String> {
    let mut prose = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    let mut spans = Vec::new();
    let mut rest = prose.as_str();
    while let Some(open) = rest.find('`') {
        let ticks = rest[open..].chars().take_while(|&c| c == '`').count();
        let fence = "`".repeat(ticks);
        let body = &rest[open + ticks..];
        // A span closes at the next run of exactly as many backticks.
        let mut search = 0;
        let close = loop {
            let Some(at) = body[search..].find(&fence) else {
                break None;
            };
            let at = search + at;
            let run = body[at..].chars().take_while(|&c| c == '`').count();
            if run == ticks {
                break Some(at);
            }
            search = at + run;
        };
        let Some(close) = close else {
            rest = body;
            continue;
        };
        spans.push(body[..close].trim().to_string());
        rest = &body[close + ticks..];
    }
    spans
}

/// Whether a code span names a repository path, and which (its `#anchor` dropped): no
/// whitespace, not a web address, not an absolute or home path (`/tmp/…`, `~/.cache/…`),
/// not a flag, not under a build output; and either its first segment is a top-level
/// folder of the repository (`src/kernels/`, `shaders/<family>/`, `.ci/run`) or it ends
/// in one of [`EXTENSIONS`] (`Cargo.toml`, `src/nothing.rs`). So `K/V` or a schema name
/// like `attnbench-results/2` is not a path, and a misspelt folder is caught by the file's
/// extension.
fn is_path<'a>(span: &'a str, top_level: &[String]) -> Option<&'a str> {
    let span = span.split('#').next().unwrap_or("");
    let word = !span.is_empty() && !span.chars().any(char::is_whitespace);
    let elsewhere = span.contains("://") || span.starts_with(['/', '~', '-']);
    if !word || elsewhere || BUILD_OUTPUTS.iter().any(|b| span.starts_with(b)) {
        return None;
    }
    let in_folder = span
        .split_once('/')
        .is_some_and(|(first, _)| top_level.iter().any(|t| t == &format!("{first}/")));
    let named_file = span.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && !stem.ends_with('/') && EXTENSIONS.contains(&ext)
    });
    (in_folder || named_file).then_some(span)
}

/// The repository's top-level folders among `entries`, as `name/`.
fn top_level(entries: &[String]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.ends_with('/') && e.matches('/').count() == 1)
        .cloned()
        .collect()
}

/// Every file and folder of the repository (build outputs and `.git` left out), relative,
/// with `/` between segments and after folders.
fn repository_entries() -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            if entry.path().is_dir() {
                let rel = format!("{rel}/");
                if name == ".git" || name == "target" || BUILD_OUTPUTS.contains(&rel.as_str()) {
                    continue;
                }
                out.push(rel.clone());
                walk(&entry.path(), &rel, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(repository(), "", &mut out);
    out
}

/// Whether `text` matches the segment pattern `pattern`, where `*` stands for any text.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i))
                .any(|i| glob(tail, &rest[i..]))
        }
    }
}

/// Whether repository entry `entry` matches `pattern`: segment by segment, a `<…>`
/// placeholder or a `*` standing for any text within one segment; a pattern ending in `/`
/// matches only folders.
fn matches(pattern: &str, entry: &str) -> bool {
    let split = |p: &str| -> Vec<String> {
        p.trim_end_matches('/')
            .split('/')
            .map(str::to_string)
            .collect()
    };
    if pattern.ends_with('/') != entry.ends_with('/') {
        return false;
    }
    let placeholder = |segment: &str| {
        let mut out = String::new();
        let mut inside = false;
        for c in segment.chars() {
            match c {
                '<' => {
                    inside = true;
                    out.push('*');
                }
                '>' if inside => inside = false,
                _ if inside => {}
                c => out.push(c),
            }
        }
        out
    };
    let (p, e) = (split(pattern), split(entry));
    p.len() == e.len() && p.iter().zip(&e).all(|(p, e)| glob(&placeholder(p), e))
}

/// Whether the path a code span names exists:
/// - a path with a `/` is relative to the repository root and must match an entry
///   ([`matches`]: `<…>` and `*` stand for any text within one segment; a trailing `/`
///   asks for a folder);
/// - a bare file name (`Cargo.toml`, `results.json`) must be the name of a file anywhere in
///   the repository;
/// - a file attnbench writes that the repository need not hold (`suite.md`: its name a
///   string literal in `src/`) exists where its folder does.
fn exists(path: &str, entries: &[String], sources: &str) -> bool {
    let found = |pattern: &str| {
        if pattern.contains('/') {
            entries.iter().any(|e| matches(pattern, e))
        } else {
            entries
                .iter()
                .any(|e| e.rsplit('/').next() == Some(pattern))
        }
    };
    if found(path) {
        return true;
    }
    let (folder, name) = match path.rsplit_once('/') {
        Some((folder, name)) => (Some(format!("{folder}/")), name),
        None => (None, path),
    };
    let written = !name.is_empty() && sources.contains(&format!("\"{name}\""));
    written && folder.is_none_or(|f| found(&f))
}

/// The text of every Rust file under `src/`.
fn sources() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = String::new();
    walk(&repository().join("src"), &mut out);
    out
}

/// The paths in code spans of `text` that do not exist.
fn missing_paths(text: &str, entries: &[String], sources: &str) -> Vec<String> {
    let top = top_level(entries);
    code_spans(text)
        .iter()
        .filter_map(|span| is_path(span, &top))
        .filter(|path| !exists(path, entries, sources))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_path_in_a_code_span_exists() {
    let (entries, sources) = (repository_entries(), sources());
    let top = top_level(&entries);
    let mut checked = 0;
    let mut missing = Vec::new();
    for (path, text) in documents() {
        checked += code_spans(&text)
            .iter()
            .filter_map(|s| is_path(s, &top))
            .count();
        for gone in missing_paths(&text, &entries, &sources) {
            missing.push(format!("{}: `{gone}`", path.display()));
        }
    }
    assert!(checked > 30, "{checked} paths read");
    assert!(
        missing.is_empty(),
        "paths in code spans that do not exist:\n{}",
        missing.join("\n")
    );
}

/// The rule itself: what counts as a path, and that a wrong one is caught.
#[test]
fn the_path_rule_catches_a_wrong_path_and_leaves_words_alone() {
    let (entries, sources) = (repository_entries(), sources());
    let text = "Edit `src/kernels/naive.rs`, `shaders/<family>/`, `shaders/flash/tiles.wgsl`, \
                `results/<device>/probe.json`, `results/<device>/suite.md`, `flash_backward.rs` \
                and `shaders/*/nothing.wgsl`; run `cargo bench -- flash` with \
                `ATTNBENCH_FLASH_TILES=tiles,64,8,32` (see `https://wgpu.rs/x`, `/tmp/x/y`, \
                `target/release/attnbench`, ``a `tick` `` and `docs/ladder.md#cold-start`).\n\
                ```sh\nls src/nothing/\n```\n";
    assert_eq!(
        missing_paths(text, &entries, &sources),
        [
            "src/kernels/naive.rs",
            "flash_backward.rs",
            "shaders/*/nothing.wgsl"
        ]
    );
    let top = top_level(&entries);
    for word in [
        "K and V",
        "K/V",
        "tiles,64,8,32",
        "attnbench-results/2",
        ".svg",
    ] {
        assert_eq!(is_path(word, &top), None, "{word}");
    }
    for path in ["Cargo.toml", ".ci/run", "src/kernels/", "flash/backward.rs"] {
        assert_eq!(is_path(path, &top), Some(path));
    }
    assert!(!exists("flash/backward.rs", &entries, &sources));
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
