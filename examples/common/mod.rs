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

/// The Python that runs a PyTorch reference: `--python PATH`, else `SLICEPLAN_PYTHON`, else
/// `python3` on the PATH.
pub fn reference_python(args: &BenchArgs) -> String {
    args.value("--python")
        .or_else(|| std::env::var("SLICEPLAN_PYTHON").ok())
        .unwrap_or_else(|| "python3".into())
}

/// The backends a benchmark compares: `--backend a,b` (comma-separated), else `cpu`, with
/// `tch` beside it in a `--features torch` build.
pub fn bench_backends(args: &BenchArgs) -> Vec<sliceplan::train::BackendChoice> {
    use sliceplan::train::BackendChoice;
    let default = if cfg!(feature = "torch") {
        "cpu,tch"
    } else {
        "cpu"
    };
    let list = args.value("--backend").unwrap_or_else(|| default.into());
    list.split(',')
        .map(|name| match BackendChoice::parse(name.trim()) {
            Ok(choice) => choice,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        })
        .collect()
}

/// Gives the backends `threads` threads: flex's pool and libtorch read `RAYON_NUM_THREADS` on
/// first use. Call it first in `main`, before any other thread starts.
pub fn use_threads(threads: usize) {
    // SAFETY: called before any other thread of the process exists.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
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

/// Runs `load` `repeats` times in this process and prints, for `in_child` to read: the best
/// seconds, the bytes `load` returned (the voxels) and the peak resident bytes it added.
pub fn print_best_load(repeats: usize, mut load: impl FnMut() -> usize) {
    let base = proc_status_kb("self", "VmRSS:") * 1024;
    let mut best = f64::INFINITY;
    let mut bytes = 0;
    for _ in 0..repeats {
        let t = std::time::Instant::now();
        bytes = load();
        best = best.min(t.elapsed().as_secs_f64());
    }
    let peak = proc_status_kb("self", "VmHWM:") * 1024;
    println!("{best} {bytes} {}", peak.saturating_sub(base));
}

/// Runs this benchmark again as `--one ITEM` (so peak memory is the item's own) and reads what
/// `print_best_load` printed: (seconds, voxel bytes, peak bytes); None when it failed.
pub fn in_child(item: &Path) -> Option<(f64, f64, f64)> {
    let me = std::env::current_exe().ok()?;
    let out = std::process::Command::new(me)
        .arg("--one")
        .arg(item)
        .output()
        .ok()?;
    let nums: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if nums.len() < 3 {
        eprintln!(
            "{}: {}",
            item.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some((nums[0], nums[1], nums[2]))
}

/// Runs a Python reference (`python script repeats item`) that prints JSON with `seconds` and
/// `peak_bytes`; NaN where it is missing or failed.
pub fn reference_load(python: &str, script: &Path, repeats: usize, item: &Path) -> (f64, f64) {
    match std::process::Command::new(python)
        .arg(script)
        .arg(repeats.to_string())
        .arg(item)
        .output()
    {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
            (
                v["seconds"].as_f64().unwrap_or(f64::NAN),
                v["peak_bytes"].as_f64().unwrap_or(f64::NAN),
            )
        }
        _ => (f64::NAN, f64::NAN),
    }
}

/// Runs `exe args` (output discarded) and returns its wall seconds and peak resident MB (the
/// child's VmHWM, polled every 10 ms from /proc; Linux). Panics when it fails.
pub fn measure_process(exe: &Path, args: &[&str]) -> (f64, f64) {
    use std::process::{Command, Stdio};
    let started = std::time::Instant::now();
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the measured program");
    let pid = child.id().to_string();
    let mut peak_kb = 0f64;
    loop {
        peak_kb = peak_kb.max(proc_status_kb(&pid, "VmHWM:") as f64);
        if let Ok(Some(status)) = child.try_wait() {
            assert!(status.success(), "{} {args:?} failed", exe.display());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (started.elapsed().as_secs_f64(), peak_kb / 1024.0)
}

/// The `sliceplan` binary built beside this example (target/release/sliceplan).
pub fn sliceplan_exe() -> PathBuf {
    std::env::current_exe()
        .expect("exe")
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("sliceplan"))
        .expect("target folder")
}
