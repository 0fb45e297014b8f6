//! No module of the library imports from a layer above its own: the order is the `layers:` line
//! of `src/lib.rs`'s documentation, and every `crate::MODULE` path outside test modules is
//! checked against it. A lower layer importing a higher one (a cycle in the making) fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The crate's top-level modules, from lib.rs's `mod` lines.
fn modules() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("src/lib.rs");
    lib.lines()
        .filter_map(|l| {
            let l = l.trim().trim_start_matches("pub ");
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect()
}

/// Each module's layer index, from lib.rs's `layers:` line.
fn layers() -> BTreeMap<String, usize> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("src/lib.rs");
    let line = lib
        .lines()
        .find_map(|l| l.trim_start_matches("//!").trim().strip_prefix("layers:"))
        .expect("a `//! layers: a, b < c < …` line in src/lib.rs");
    line.split('<')
        .enumerate()
        .flat_map(|(layer, group)| {
            group
                .split(',')
                .map(move |module| (module.trim().to_string(), layer))
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules that `code` names as `crate::MODULE`, outside `#[cfg(test)]` modules
/// (everything from the first one on is taken as test code) and comments.
fn imports(code: &str) -> Vec<String> {
    let code = code.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = Vec::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let name: String = rest[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
            rest = &rest[at + 7..];
        }
    }
    found
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let layers = layers();
    let modules = modules();
    let mut problems: Vec<String> = modules
        .iter()
        .filter(|m| !layers.contains_key(*m))
        .map(|m| format!("lib.rs: module '{m}' has no layer"))
        .collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for file in &files {
        let relative = file.strip_prefix(src()).expect("under src");
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|c| c.trim_end_matches(".rs").to_string())
            .unwrap_or_default();
        // The crate roots and the binary's command line sit above every layer; a module
        // without a layer is reported above.
        let Some(&own) = layers.get(&top) else {
            continue;
        };
        let code = std::fs::read_to_string(file).expect("readable source");
        // Names at the crate root that are not modules (re-exports, exported macros) are not
        // layers.
        for module in imports(&code).into_iter().filter(|m| modules.contains(m)) {
            if layers[&module] >= own && module != top {
                problems.push(format!(
                    "{}: {top} (layer {own}) imports crate::{module} (layer {})",
                    relative.display(),
                    layers[&module]
                ));
            }
        }
    }
    assert!(files.len() > 50, "only {} source files found", files.len());
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_layer_check_sees_imports_and_skips_tests_and_comments() {
    let code = "use crate::io::Volume;\nlet x = crate::plan::make_plan(); // crate::app\n\
                #[cfg(test)]\nmod tests { use crate::app::X; }";
    assert_eq!(imports(code), vec!["io".to_string(), "plan".to_string()]);
    let layers = layers();
    assert!(layers["error"] < layers["io"] && layers["train"] < layers["study"]);
    assert!(modules().contains(&"dataset".to_string()));
}
