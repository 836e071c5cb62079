//! The house has no import circle: in every crate of the workspace, the graph of
//! which module names which (every `crate::…` and `super::…` path outside
//! comments and test modules, re-exports followed to the module that defines the
//! name) is acyclic. A new import that closes a loop fails here, with the loop.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates whose modules must form no circle.
const CRATES: &[&str] = &["domain", "http", "persistence", "server"];

/// One crate's modules: path (`a::b`) to source, with test modules cut off.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&path).unwrap();
                out.insert(parts.join("::"), without_tests_and_comments(&text));
            }
        }
    }
    out
}

/// The source without its `#[cfg(test)]` module and without comment lines.
fn without_tests_and_comments(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a module names, as segments from the crate root: `crate::a::b`,
/// `super::c` (relative to the module's parent), and the items of groups
/// (`crate::{a::X, b::Y}`).
fn named_paths(module: &str, code: &str) -> Vec<Vec<String>> {
    let parent: Vec<String> = module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .split_last()
        .map(|(_, p)| p.to_vec())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().last();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            for tail in expand(rest) {
                let mut path = base.clone();
                path.extend(tail);
                out.push(path);
            }
        }
    }
    out
}

/// The paths that start the text: `a::b::C` or a group `{a::X, b::{Y, Z}}`.
fn expand(text: &str) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            let mut items = Vec::new();
            let (mut depth, mut start) = (0, 0);
            let inner = &group[..end];
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&inner[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            items.push(&inner[start..]);
            return items
                .into_iter()
                .flat_map(|item| expand(item.trim()))
                .map(|tail| segments.iter().cloned().chain(tail).collect())
                .collect();
        }
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 {
            break;
        }
        segments.push(rest[..len].to_owned());
        match rest[len..].strip_prefix("::") {
            Some(next) => rest = next,
            None => break,
        }
    }
    vec![segments]
}

/// The module a path lands in: its longest prefix that is a module, a name a
/// module re-exports followed to where it comes from.
fn resolve(
    path: &[String],
    modules: &BTreeMap<String, String>,
    reexports: &BTreeMap<(String, String), String>,
) -> String {
    let mut module = String::new();
    for segment in path {
        let child = if module.is_empty() {
            segment.clone()
        } else {
            format!("{module}::{segment}")
        };
        if modules.contains_key(&child) {
            module = child;
        } else if let Some(from) = reexports.get(&(module.clone(), segment.clone())) {
            return from.clone();
        } else {
            break;
        }
    }
    module
}

/// Names that `pub use child::…::Name` hands on, by (module, name).
fn reexports(modules: &BTreeMap<String, String>) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for (module, code) in modules {
        for line in code.lines() {
            let Some(used) = line.trim().strip_prefix("pub use ") else {
                continue;
            };
            let used = used.trim_end_matches(';');
            let relative = used.strip_prefix("crate::").map_or_else(
                || {
                    if module.is_empty() {
                        used.to_owned()
                    } else {
                        format!("{module}::{used}")
                    }
                },
                str::to_owned,
            );
            for path in expand(&relative) {
                let Some(name) = path.last() else { continue };
                let from = resolve(&path[..path.len() - 1], modules, &BTreeMap::new());
                out.insert((module.clone(), name.clone()), from);
            }
        }
    }
    out
}

/// The first loop found in the graph, if any.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut done, &mut Vec::new()))
}

/// Which module names which, inside one crate.
fn import_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(src);
    let reexports = reexports(&modules);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &modules {
        let targets = edges.entry(module.clone()).or_default();
        for path in named_paths(module, code) {
            let target = resolve(&path, &modules, &reexports);
            if &target != module {
                targets.insert(target);
            }
        }
    }
    edges
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates")
        .join(name)
        .join("src")
}

#[test]
fn no_crate_has_an_import_circle() {
    for name in CRATES {
        let graph = import_graph(&crate_src(name));
        assert!(graph.len() > 5, "{name}: too few modules read: {graph:?}");
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "crates/{name}: import circle {}",
                cycle
                    .iter()
                    .map(|m| if m.is_empty() { "(root)" } else { m })
                    .collect::<Vec<_>>()
                    .join(" -> ")
            );
        }
    }
}

#[test]
fn the_graph_sees_imports_and_reexports() {
    let graph = import_graph(&crate_src("domain"));
    let of = |m: &str| graph.get(m).cloned().unwrap_or_default();
    assert!(
        of("patients").contains("ports::patients"),
        "{:?}",
        of("patients")
    );
    assert!(of("patients").contains("shared"), "{:?}", of("patients"));
    // `crate::DomainError` is the root's re-export of `error`.
    assert!(of("patients").contains("error"), "{:?}", of("patients"));
    assert!(!of("patients").contains(""), "{:?}", of("patients"));
    let mut looped = graph.clone();
    looped
        .entry("error".into())
        .or_default()
        .insert("patients".into());
    assert!(find_cycle(&looped).is_some());
}
