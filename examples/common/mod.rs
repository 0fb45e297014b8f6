//! Helpers shared by the benchmark examples.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Command-line arguments after the program name.
pub struct BenchArgs(Vec<String>);

impl BenchArgs {
    pub fn from_env() -> Self {
        BenchArgs(std::env::args().skip(1).collect())
    }

    /// The value after `name`, if given.
    pub fn value(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .cloned()
    }

    /// The value after `name` parsed as `T`, or `default` when absent or unparsable.
    pub fn parsed<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.value(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// Whether the flag `name` is given.
    pub fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
}

/// `/proc/loadavg`, trimmed (empty where it does not exist).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A reference script: relative to the working directory when it exists there (a copied
/// checkout on another machine), else in this crate's source tree.
pub fn reference_script(relative: &str) -> PathBuf {
    let local = PathBuf::from(relative);
    if local.is_file() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
    }
}

/// A `kB` field of `/proc/PID/status` (`pid`: a number or "self"), e.g. "VmHWM:" (peak
/// resident memory) or "VmRSS:"; 0 where it cannot be read.
pub fn proc_status_kb(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
