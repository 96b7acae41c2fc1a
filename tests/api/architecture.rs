//! The layering the code promises (see docs/architecture.md), checked on the source itself:
//! only `src/store/` knows the database is SQLite, the top-level modules depend on each other
//! without cycles, and mail and webhooks get what they use instead of the whole `AppState`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The file's lines of code, without comments (doc links do not make a dependency).
fn code_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| match line.find("//") {
            Some(i) => line[..i].to_owned(),
            None => line.to_owned(),
        })
        .collect()
}

/// The top-level module a file belongs to (`src/mail/smtp/mod.rs` → `mail`).
fn top_module(path: &Path) -> String {
    let rel = path.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

#[test]
fn no_file_outside_the_store_names_rusqlite() {
    let store = src().join("store");
    let offenders: Vec<String> = sources(&src())
        .into_iter()
        .filter(|p| !p.starts_with(&store))
        .filter(|p| code_lines(p).iter().any(|l| l.contains("rusqlite")))
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "only src/store/ may use rusqlite: {offenders:?}"
    );
    // The check finds it where it is.
    assert!(
        sources(&store)
            .iter()
            .any(|p| code_lines(p).iter().any(|l| l.contains("rusqlite")))
    );
}

/// The top-level modules a `crate::` path starting at the beginning of `rest` names: one for
/// `crate::mail::…`, each group member's for `crate::{mail, store::Tx}`.
fn named_modules(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = rest.strip_prefix('{') else {
        return vec![ident(rest)];
    };
    // The members at the group's top level, up to its closing brace.
    let (mut depth, mut members, mut start) = (0, Vec::new(), 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                members.push(ident(&group[start..i]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                members.push(ident(&group[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    members
}

/// `crate::<module>` paths named in each top-level module's code, grouped imports included.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in sources(&src()) {
        let from = top_module(&path);
        if from == "lib" || from == "main" {
            continue;
        }
        let deps = graph.entry(from.clone()).or_default();
        let code = code_lines(&path).join("\n");
        for (i, _) in code.match_indices("crate::") {
            for to in named_modules(&code[i + "crate::".len()..]) {
                if !to.is_empty() && to != from {
                    deps.insert(to);
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_owned());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn top_level_modules_depend_on_each_other_without_cycles() {
    let graph = module_graph();
    assert!(
        graph["mail"].contains("store"),
        "the graph was read: {graph:?}"
    );
    let cycles: Vec<Vec<String>> = graph.keys().filter_map(|m| cycle_from(&graph, m)).collect();
    assert!(cycles.is_empty(), "import cycles: {cycles:?}");
    // The store and the domain types sit at the bottom.
    assert_eq!(graph["store"], BTreeSet::from(["domain".to_owned()]));
    assert!(graph["domain"].is_empty(), "{:?}", graph["domain"]);
}

#[test]
fn services_get_what_they_use_not_the_whole_state() {
    let graph = module_graph();
    for module in [
        "mail",
        "events",
        "webhooks",
        "runner",
        "store",
        "custom_domains",
        "drafts",
        "limits",
    ] {
        assert!(
            !graph[module].contains("state") && !graph[module].contains("http"),
            "{module} depends on {:?}",
            graph[module]
        );
    }
}

#[test]
fn grouped_imports_count() {
    assert_eq!(named_modules("mail::ingest::Ingest;"), ["mail"]);
    assert_eq!(
        named_modules("{http, jobs::{self, x}, webhooks};"),
        ["http", "jobs", "webhooks"]
    );
    assert!(module_graph()["app"].contains("http"));
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(
        cycle_from(&graph, "a"),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(cycle_from(&graph, "d"), None);
}
