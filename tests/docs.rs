//! The documents hold together: every relative link and image in README.md, CHANGELOG.md,
//! BENCHMARKS.md and the user guide (docs/src) names a file that exists and, where it names a
//! heading (`file.md#heading`), a heading that file has; the guide's SUMMARY.md lists every
//! chapter and only chapters that exist; every `{{#include}}` names a file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files the checks cover.
fn documents() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "CHANGELOG.md", "BENCHMARKS.md"]
        .iter()
        .map(|f| root().join(f))
        .collect();
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(root().join("docs/src"))
        .expect("docs/src")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    chapters.sort();
    files.extend(chapters);
    files
}

/// The text outside fenced code blocks and inline code spans.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            // Drop inline code: every other backtick-delimited piece.
            let kept: String = line
                .split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 0)
                .map(|(_, piece)| piece)
                .collect::<Vec<_>>()
                .join(" ");
            out.push_str(&kept);
            out.push('\n');
        }
    }
    out
}

/// The targets of `[text](target)` and `![alt](target)` links.
fn link_targets(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut targets = Vec::new();
    let mut rest = prose.as_str();
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            targets.push(rest[..end].trim().to_string());
            rest = &rest[end..];
        }
    }
    targets
}

/// A heading's anchor as GitHub and mdBook make it: lower case, punctuation dropped, spaces as
/// hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(file: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    prose_headings(&text).iter().map(|h| slug(h)).collect()
}

fn prose_headings(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut headings = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            headings.push(line.trim_start_matches('#').replace('`', ""));
        }
    }
    headings
}

/// What is wrong with `target` linked from `from`, if anything.
fn broken(from: &Path, target: &str) -> Option<String> {
    let external = ["http://", "https://", "mailto:"];
    if external.iter().any(|p| target.starts_with(p)) {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        from.to_path_buf()
    } else {
        from.parent().expect("a folder").join(path)
    };
    if !file.exists() {
        return Some(format!("{target}: no file {}", file.display()));
    }
    match anchor {
        Some(anchor) if file.extension().is_some_and(|e| e == "md") => {
            (!anchors(&file).contains(anchor)).then(|| format!("{target}: no heading #{anchor}"))
        }
        _ => None,
    }
}

#[test]
fn every_relative_link_in_the_documents_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("readable document");
        for target in link_targets(&text) {
            checked += 1;
            if let Some(problem) = broken(&doc, &target) {
                problems.push(format!("{}: {problem}", doc.display()));
            }
        }
        for line in text.lines() {
            if let Some(include) = line
                .trim()
                .strip_prefix("{{#include ")
                .and_then(|l| l.strip_suffix("}}"))
            {
                let file = doc.parent().expect("a folder").join(include.trim());
                if !file.is_file() {
                    problems.push(format!("{}: includes missing {include}", doc.display()));
                }
            }
        }
    }
    assert!(
        checked >= 20,
        "only {checked} links found: is the parser broken?"
    );
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_guide_lists_every_chapter_once() {
    let src = root().join("docs/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).expect("SUMMARY.md");
    let listed: Vec<String> = link_targets(&summary);
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "a chapter listed twice: {listed:?}"
    );
    let on_disk: BTreeSet<String> = std::fs::read_dir(&src)
        .expect("docs/src")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md") && name != "SUMMARY.md")
        .collect();
    let listed: BTreeSet<String> = listed.into_iter().collect();
    assert_eq!(
        listed, on_disk,
        "SUMMARY.md against the chapters in docs/src"
    );
}

#[test]
fn the_link_checker_finds_what_is_broken() {
    let dir = std::env::temp_dir().join(format!("sliceplan-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    let page = dir.join("page.md");
    std::fs::write(&page, "# A heading, with `code`\n\n## Second one\n").expect("write");
    assert_eq!(broken(&page, "page.md#a-heading-with-code"), None);
    assert_eq!(broken(&page, "#second-one"), None);
    assert!(broken(&page, "#third").is_some());
    assert!(broken(&page, "missing.md").is_some());
    assert_eq!(broken(&page, "https://example.org/x"), None);
    let links = link_targets("[a](x.md) `[b](y.md)` ![c](img.png)\n```\n[d](z.md)\n```\n");
    assert_eq!(links, vec!["x.md".to_string(), "img.png".to_string()]);
    let _ = std::fs::remove_dir_all(&dir);
}
