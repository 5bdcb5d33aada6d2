//! The source tree's shape, read from the `use crate::` lines of `src/` (outside `#[cfg(test)]`
//! code): every module imports only from its own layer or lower ones (the table in `src/lib.rs`), no
//! two modules import each other in a circle, and no code outside tests turns values back into argv
//! to parse them with clap.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module's layer; the crate root (`lib.rs`) is above them all.
const LAYERS: [(&str, u8); 10] = [
    ("cli", 0),
    ("config", 1),
    ("dataset", 2),
    ("measure", 3),
    ("analyze", 4),
    ("output", 5),
    ("sim", 5),
    ("process", 6),
    ("pipeline", 7),
    ("commands", 8),
];
const ROOT_LAYER: u8 = 9;

fn layer(module: &str) -> u8 {
    let top = module.split("::").next().unwrap_or_default();
    LAYERS
        .iter()
        .find(|(name, _)| *name == top)
        .map_or(ROOT_LAYER, |(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/measure/client.rs` -> `measure::client`; `src/sim/mod.rs` -> `sim`; `src/lib.rs` -> ``; a
/// file of tests (`src/config_tests.rs`, included with `#[path]`) -> the module it tests.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches("_tests").to_string())
        .filter(|p| p != "mod" && p != "lib" && p != "main")
        .collect();
    parts.join("::")
}

/// The code of a file without its comments (doc comments name modules too).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The longest known module that `path` (after `crate::`) starts with.
fn resolve(path: &str, modules: &BTreeSet<String>) -> String {
    let segs: Vec<&str> = path.split("::").collect();
    (1..=segs.len())
        .rev()
        .map(|n| segs[..n].join("::"))
        .find(|m| modules.contains(m))
        .unwrap_or_default()
}

/// The paths a use-tree names, from the text right after `crate::` or `super::`: `a::b` gives
/// `a::b`; `a::{b, c::d, self}` gives `a::b`, `a::c::d` and `a`; `a::*` gives `a`.
fn use_paths(rest: &str) -> Vec<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let end = rest.find(|c: char| !ident(c)).unwrap_or(rest.len());
    let head = rest[..end].trim_end_matches(':').to_string();
    let tail = rest[end..].trim_start();
    if !rest[..end].ends_with("::") {
        return vec![head];
    }
    if let Some(group) = tail.strip_prefix('{') {
        // The group up to its matching brace, split at the commas outside inner braces.
        let (mut depth, mut close) = (0, group.len());
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    close = i;
                    break;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        let mut items = Vec::new();
        let (mut depth, mut from) = (0, 0);
        let body = &group[..close];
        for (i, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&body[from..i]);
                    from = i + 1;
                }
                _ => {}
            }
        }
        items.push(&body[from..]);
        return items
            .into_iter()
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .flat_map(|item| {
                let item = item.split(" as ").next().unwrap_or_default().trim();
                if item == "self" || item == "*" {
                    vec![head.clone()]
                } else {
                    use_paths(item)
                        .into_iter()
                        .map(|p| format!("{head}::{p}"))
                        .collect()
                }
            })
            .collect();
    }
    vec![head]
}

/// Every module a file refers to: `crate::a::b...` and `super::...` paths, use-trees expanded, each
/// resolved to the longest module it names (an item of `a` resolves to `a`).
fn imports(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        if text[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `redline_crate::` or similar
        }
        for path in use_paths(&text[i + "crate::".len()..]) {
            out.insert(resolve(&path, modules));
        }
    }
    let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
    for (i, _) in text.match_indices("super::") {
        if text[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue; // `super::super::` is read from its first `super::`
        }
        for path in use_paths(&text[i + "super::".len()..]) {
            let full = if parent.is_empty() {
                path
            } else {
                format!("{parent}::{path}")
            };
            let m = resolve(&full, modules);
            // An item of the crate root (`super::` of a top-level module) resolves to "".
            out.insert(if m.is_empty() { parent.to_string() } else { m });
        }
    }
    out.remove(module);
    out
}

struct Tree {
    /// Module -> the modules it imports.
    graph: BTreeMap<String, BTreeSet<String>>,
    /// File -> its code.
    code: BTreeMap<String, String>,
}

fn tree() -> Tree {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.retain(|f| !f.ends_with("main.rs"));
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = BTreeMap::new();
    let mut texts = BTreeMap::new();
    for f in &files {
        let m = module_of(&src, f);
        let text = code(&std::fs::read_to_string(f).unwrap());
        // Tests may build their fixtures with anything; the shipped code is what is layered.
        let name = f.to_string_lossy();
        let shipped = if name.ends_with("_tests.rs") || name.ends_with("/tests.rs") {
            ""
        } else {
            text.split("#[cfg(test)]").next().unwrap_or_default()
        };
        let deps = imports(&m, shipped, &modules);
        graph
            .entry(m.clone())
            .or_insert_with(BTreeSet::new)
            .extend(deps);
        texts.insert(f.display().to_string(), text);
    }
    Tree { graph, code: texts }
}

#[test]
fn crate_imports_are_one_per_path() {
    for (m, text) in &tree().code {
        assert!(
            !text.contains("crate::{"),
            "{m}: import each crate module by its own path (`use crate::a::b;`), so this check can read it"
        );
    }
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let t = tree();
    let mut wrong = Vec::new();
    for (m, deps) in &t.graph {
        for d in deps {
            let (lm, ld) = (layer(m), layer(d));
            let top = |x: &str| x.split("::").next().unwrap_or_default().to_string();
            if ld > lm || (ld == lm && top(m) != top(d)) {
                wrong.push(format!("{m} (layer {lm}) imports {d} (layer {ld})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_module_imports_its_parent() {
    // A parent (`mod.rs`) declares its children and may use them; a child that used its parent's
    // own items would make the two import each other. Shared types live in leaf files.
    let t = tree();
    let mut wrong = Vec::new();
    for (m, deps) in &t.graph {
        let Some((parent, _)) = m.rsplit_once("::") else {
            continue;
        };
        if deps.contains(parent) {
            wrong.push(format!("{m} imports its parent {parent}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_import_circles() {
    let t = tree();
    // Depth-first search; a module met again while on the stack closes a circle.
    fn visit(
        m: &str,
        t: &Tree,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == m) {
            let mut circle = stack[i..].to_vec();
            circle.push(m.to_string());
            return Some(circle);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.to_string());
        for d in t.graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, t, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in t.graph.keys() {
        if let Some(circle) = visit(m, &t, &mut Vec::new(), &mut done) {
            panic!("import circle: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn no_argv_is_rebuilt_outside_tests() {
    for (m, text) in &tree().code {
        // The sweep's run flags are the user's own argv, a template whose placeholders are filled
        // in per configuration: parsing them is parsing a command line, not rebuilding one.
        if m.ends_with("_tests.rs") || m.ends_with("/tests.rs") || m.ends_with("cli/sweep.rs") {
            continue;
        }
        let before_tests = text.split("#[cfg(test)]").next().unwrap_or_default();
        assert!(
            !before_tests.contains("parse_from("),
            "{m}: build typed values (e.g. `BenchArgs::new`) instead of parsing argv"
        );
    }
}

/// Each function of a file as (name, first line, lines): read by indentation, which `cargo fmt`
/// keeps exact (a body ends at the first `}` line indented like its `fn`).
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        let indent = line.len() - code.len();
        let rest = ["pub(crate) ", "pub(super) ", "pub ", "async ", "const "]
            .iter()
            .fold(code, |c, p| c.strip_prefix(p).unwrap_or(c));
        let rest = rest.strip_prefix("async ").unwrap_or(rest);
        let Some(sig) = rest.strip_prefix("fn ") else {
            continue;
        };
        let name: String = sig
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if code.ends_with(';') {
            continue; // a declaration without a body
        }
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(n) = lines[i..].iter().position(|l| l.trim_end() == close) {
            out.push((name, i + 1, n + 1));
        }
    }
    out
}

#[test]
fn no_pipeline_function_is_longer_than_a_screen() {
    // The pipeline is read top to bottom by whoever changes it: each stage a named function.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pipeline");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut long = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let shipped = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (name, line, len) in functions(shipped) {
            if len > 80 {
                long.push(format!("{}:{line} {name}: {len} lines", f.display()));
            }
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn only_the_results_folder_names_its_files() {
    // output/folder.rs owns the names of a results folder's files; everything else asks it.
    for (m, text) in &tree().code {
        if m.ends_with("output/folder.rs") {
            continue;
        }
        let shipped = text.split("#[cfg(test)]").next().unwrap_or_default();
        for name in [
            "\"metadata.json\"",
            "\"requests.jsonl\"",
            "\"server_metrics.jsonl\"",
        ] {
            assert!(
                !shipped.contains(name),
                "{m} names {name}: ask output::folder::RunFolder instead"
            );
        }
    }
}
