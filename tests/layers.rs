//! The library forms one-way layers, between its top-level modules and between its files,
//! and no crate of the repository (the command line, the browser edition, its build tool,
//! the shared schema) has files that use each other in a circle: no file uses, directly
//! or through others, a name of a file that uses one of its own.
//! Checked on the source text: `use` declarations and `crate::`/`super::`/`self::` paths
//! outside comments and test modules are resolved to the file that defines each name
//! (following re-exports), and the graphs of files and of top-level modules must have no
//! cycle. `mod` declarations are not uses: a folder's `mod.rs` may declare its files, and
//! its files may use what it defines, as long as it uses nothing of theirs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside the crate: `["kernels", "flash", "plan"]`.
type ModulePath = Vec<String>;

/// One library source file.
struct SourceFile {
    path: PathBuf,
    module: ModulePath,
    /// Code without comments and without its `#[cfg(test)]` module.
    code: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its `#[cfg(test)]` module.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One crate of the repository: the folder of its sources and which of them are its own.
#[derive(Clone, Copy)]
struct CrateRoot {
    /// Its source folder, relative to the repository.
    dir: &'static str,
    /// Whether a file (its path under `dir`) belongs to it.
    owns: fn(&Path) -> bool,
}

/// The library: `src/` without the binary's `main.rs` and `cli/`.
const LIBRARY: CrateRoot = CrateRoot {
    dir: "src",
    owns: |rel| !(rel.starts_with("main.rs") || rel.starts_with("cli")),
};

/// Every crate whose files must not import each other in a circle: the library, the
/// command line, the browser edition, its build tool and the shared schema.
const CRATES: [CrateRoot; 5] = [
    LIBRARY,
    CrateRoot {
        dir: "src",
        owns: |rel| rel.starts_with("main.rs") || rel.starts_with("cli"),
    },
    CrateRoot {
        dir: "web/src",
        owns: |_| true,
    },
    CrateRoot {
        dir: "xtask/src",
        owns: |_| true,
    },
    CrateRoot {
        dir: "schema/src",
        owns: |_| true,
    },
];

/// The files of `root`, each with its module path in the crate.
fn crate_files(root: CrateRoot) -> Vec<SourceFile> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(root.dir);
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let rel = path.strip_prefix(&src).unwrap();
        if !(root.owns)(rel) {
            continue;
        }
        let mut module: ModulePath = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .collect();
        if module
            .last()
            .is_some_and(|m| m == "mod" || m == "lib" || m == "main")
        {
            module.pop();
        }
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        files.push(SourceFile { path, module, code });
    }
    files
}

/// The names a file defines at its top level (items, macros), and the names it imports
/// with `use` (local name → absolute path).
struct Names {
    defined: BTreeSet<String>,
    imported: BTreeMap<String, ModulePath>,
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn defined_names(code: &str) -> BTreeSet<String> {
    const KINDS: &[&str] = &[
        "struct ", "enum ", "fn ", "trait ", "const ", "static ", "type ", "mod ", "union ",
    ];
    let mut out = BTreeSet::new();
    for line in code.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            continue;
        }
        let mut rest = line.trim_start_matches("pub").trim_start();
        if rest.starts_with('(') {
            rest = rest.split_once(')').map_or("", |(_, r)| r).trim_start();
        }
        if let Some(name) = rest.strip_prefix("macro_rules! ") {
            out.insert(identifier(name));
            continue;
        }
        let rest = rest
            .trim_start_matches("unsafe ")
            .trim_start_matches("async ");
        if let Some(kind) = KINDS.iter().find(|k| rest.starts_with(*k)) {
            out.insert(identifier(&rest[kind.len()..]));
        }
    }
    out
}

/// Every `use` declaration of `code` (a line that starts with `use` or `pub … use`),
/// flattened to (local name, path as written).
fn use_trees(code: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let mut rest = line.trim_start();
        if let Some(after) = rest.strip_prefix("pub") {
            rest = after.trim_start();
            if rest.starts_with('(') {
                rest = rest.split_once(')').map_or("", |(_, r)| r).trim_start();
            }
        }
        let Some(body) = rest.strip_prefix("use ") else {
            continue;
        };
        let mut text = body.to_string();
        while !text.contains(';') {
            match lines.next() {
                Some(next) => text.push_str(next),
                None => break,
            }
        }
        let tree: String = text
            .split(';')
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        flatten(&tree, &mut Vec::new(), &mut out);
    }
    out
}

/// `a::{b, c::{d as e}}` → (b, [a, b]), (e, [a, c, d]).
fn flatten(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let body = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut depth = 0;
        let mut start = 0;
        let mut parts = Vec::new();
        for (i, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&body[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&body[start..]);
        let len = prefix.len();
        prefix.extend(head);
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            flatten(part, prefix, out);
        }
        prefix.truncate(len);
        return;
    }
    let (path, alias) = match tree.split_once("as") {
        Some((p, a)) if !p.ends_with(':') && !a.is_empty() => (p, Some(a)),
        _ => (tree, None),
    };
    let mut full = prefix.clone();
    full.extend(path.split("::").filter(|s| !s.is_empty()).map(String::from));
    let Some(last) = full.last().cloned() else {
        return;
    };
    let local = match alias {
        Some(a) => a.to_string(),
        None if last == "self" => {
            full.pop();
            full.last().cloned().unwrap_or_default()
        }
        None => last,
    };
    if local != "*" && local != "_" {
        out.push((local, full));
    }
}

/// `path` as written in the file of `module`, made absolute within the crate (a path that
/// names an extern crate becomes one that resolves to nothing).
fn absolute(path: &[String], module: &ModulePath) -> Option<ModulePath> {
    let mut out = module.clone();
    let mut segments = path.iter().peekable();
    match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            out.clear();
            segments.next();
        }
        Some("super") => {
            while segments.peek().is_some_and(|s| *s == "super") {
                out.pop()?;
                segments.next();
            }
        }
        Some("self") => {
            segments.next();
        }
        // Relative to the module: its child modules and items (an extern crate's path
        // then resolves to nothing).
        Some(_) => {}
        None => return None,
    }
    out.extend(segments.cloned());
    Some(out)
}

struct Crate {
    files: Vec<SourceFile>,
    names: Vec<Names>,
    by_module: BTreeMap<ModulePath, usize>,
}

impl Crate {
    fn read(root: CrateRoot) -> Crate {
        let files = crate_files(root);
        let by_module = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.module.clone(), i))
            .collect();
        let names = files
            .iter()
            .map(|f| Names {
                defined: defined_names(&f.code),
                imported: use_trees(&f.code)
                    .into_iter()
                    .filter_map(|(local, path)| Some((local, absolute(&path, &f.module)?)))
                    .collect(),
            })
            .collect();
        Crate {
            files,
            names,
            by_module,
        }
    }

    /// The file that defines what the absolute `path` names (following re-exports), or
    /// the file of the module it names.
    fn resolve(&self, path: &ModulePath, depth: u32) -> Option<usize> {
        if depth > 16 {
            return None;
        }
        if let Some(&file) = self.by_module.get(path) {
            return Some(file);
        }
        let (name, module) = path.split_last()?;
        let &file = self.by_module.get(module)?;
        if self.names[file].defined.contains(name) {
            return Some(file);
        }
        let target = self.names[file].imported.get(name)?;
        self.resolve(target, depth + 1)
    }

    /// The file graph: file → the files whose names it uses.
    fn graph(&self) -> BTreeMap<usize, BTreeSet<usize>> {
        let mut graph: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for (i, file) in self.files.iter().enumerate() {
            let edges = graph.entry(i).or_default();
            let mut paths: Vec<ModulePath> = self.names[i].imported.values().cloned().collect();
            paths.extend(inline_paths(&file.code, &file.module));
            for path in paths {
                if let Some(target) = self.resolve(&path, 0)
                    && target != i
                {
                    edges.insert(target);
                }
            }
        }
        graph
    }

    fn name(&self, file: usize) -> String {
        let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
        self.files[file]
            .path
            .strip_prefix(repository)
            .unwrap()
            .display()
            .to_string()
    }
}

/// `crate::a::B`, `super::c::D` paths written inline in code (not in `use`).
fn inline_paths(code: &str, module: &ModulePath) -> Vec<ModulePath> {
    let mut out = Vec::new();
    for root in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(root) {
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let text: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if text.ends_with("::") {
                continue; // a `use` group, read with the `use` declarations
            }
            let segments: Vec<String> = text
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if let Some(path) = absolute(&segments, module) {
                out.push(path);
            }
        }
    }
    out
}

/// A cycle through `start`, if any (depth-first search).
fn cycle_from<T: Ord + Clone>(graph: &BTreeMap<T, BTreeSet<T>>, start: &T) -> Option<Vec<T>> {
    fn walk<T: Ord + Clone>(
        graph: &BTreeMap<T, BTreeSet<T>>,
        node: &T,
        start: &T,
        path: &mut Vec<T>,
        seen: &mut BTreeSet<T>,
    ) -> bool {
        for next in graph.get(node).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.clone()];
    let mut seen = BTreeSet::new();
    walk(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn no_file_uses_a_file_that_uses_it() {
    for root in CRATES {
        let krate = Crate::read(root);
        let graph = krate.graph();
        let edges: usize = graph.values().map(BTreeSet::len).sum();
        if root.dir == "src" && krate.files.len() > 50 {
            assert!(edges > 100, "the checker sees the imports: {edges} edges");
        }
        for &file in graph.keys() {
            if let Some(cycle) = cycle_from(&graph, &file) {
                let names: Vec<String> = cycle.iter().map(|&f| krate.name(f)).collect();
                panic!("import cycle between files: {}", names.join(" → "));
            }
        }
    }
}

#[test]
fn the_top_level_modules_form_layers() {
    let krate = Crate::read(LIBRARY);
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, targets) in krate.graph() {
        let top = |f: usize| krate.files[f].module.first().cloned().unwrap_or_default();
        let from = top(file);
        if from.is_empty() {
            continue;
        }
        let edges = modules.entry(from.clone()).or_default();
        edges.extend(
            targets
                .into_iter()
                .map(top)
                .filter(|to| !to.is_empty() && *to != from),
        );
    }
    assert!(modules.contains_key("kernels") && modules.contains_key("results"));
    for module in modules.keys() {
        if let Some(cycle) = cycle_from(&modules, module) {
            panic!("import cycle between modules: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_checker_finds_cycles_and_resolves_re_exports() {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    graph.entry("a").or_default().insert("b");
    graph.entry("b").or_default().insert("c");
    graph.entry("c").or_default().insert("a");
    assert_eq!(cycle_from(&graph, &"a").unwrap(), ["a", "b", "c", "a"]);
    assert!(code_of("use crate::x; // crate::y").contains("crate::x"));
    assert!(!code_of("use crate::x; // crate::y").contains("crate::y"));
    let trees = use_trees("use super::{a::B, c::{D as E, self}};\npub use crate::f::G;");
    let names: Vec<&str> = trees.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["B", "E", "c", "G"]);
    let module: ModulePath = vec!["kernels".into(), "flash".into()];
    assert_eq!(
        absolute(&["super".into(), "Kernel".into()], &module).unwrap(),
        ["kernels", "Kernel"]
    );
    // A name flash's files import from the registry resolves to the file defining it.
    let krate = Crate::read(LIBRARY);
    let traits = krate
        .resolve(&vec!["kernels".into(), "Kernel".into()], 0)
        .map(|f| krate.name(f));
    assert_eq!(traits.as_deref(), Some("src/kernels/traits.rs"));
}
