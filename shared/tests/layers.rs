//! The layers of `shared` (docs/architecture.md) hold: every module imports only from layers
//! below its own, so there is no import circle. Read from the source: each `crate::<module>` path
//! outside comments and test modules is one import.

use std::collections::BTreeSet;
use std::path::Path;

/// Top-level modules, lowest layer first; modules on one line share a layer and may not import
/// each other.
const LAYERS: &[&[&str]] = &[
    &["clock", "telemetry", "env"],
    &["domain"],
    &["ports"],
    &["auth"],
    &["services"],
    &["adapters", "error"],
    &["http"],
    &["config"],
    &["runtime"],
];

/// Names the crate root re-exports, and the module they come from.
const ROOT_REEXPORTS: &[(&str, &str)] =
    &[("Clock", "clock"), ("SystemClock", "clock"), ("ApiError", "error")];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The code of a file without its comments and its `#[cfg(test)]` module (tests may reach
/// anywhere).
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The top-level modules a file's code names through `crate::`.
fn imports(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .map(|(i, _)| {
            let name: String =
                code[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            ROOT_REEXPORTS.iter().find(|(n, _)| *n == name).map_or(name, |(_, m)| (*m).to_owned())
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_imports_only_from_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut checked = 0;
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.iter().next().unwrap().to_str().unwrap().trim_end_matches(".rs");
        if top == "lib" {
            continue;
        }
        let own = layer(top).unwrap_or_else(|| panic!("{top} is in no layer: add it to LAYERS"));
        for module in imports(&code(&std::fs::read_to_string(file).unwrap())) {
            if module == top {
                continue;
            }
            let theirs = layer(&module)
                .unwrap_or_else(|| panic!("{}: crate::{module} is in no layer", relative.display()));
            checked += 1;
            if theirs >= own {
                violations.push(format!("{} imports crate::{module}", relative.display()));
            }
        }
    }
    assert!(checked > 50, "the scan found too few imports to mean anything: {checked}");
    assert!(violations.is_empty(), "imports from the same or a higher layer:\n{}", violations.join("\n"));
}

#[test]
fn the_scan_sees_imports_and_skips_comments_and_tests() {
    let text = "use crate::ports::X;\n// crate::runtime in a comment\nfn f() { crate::Clock::now; }\n#[cfg(test)]\nmod tests {\n    use crate::http::Y;\n}\n";
    let found: Vec<String> = imports(&code(text)).into_iter().collect();
    assert_eq!(found, ["clock", "ports"]);
}
