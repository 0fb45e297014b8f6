//! Benchmark: DICOM series load time and peak memory, sliceplan (dicom-rs) vs pydicom + numpy
//! stacking, side by side in one run.
//!
//! `cargo run --release --example bench_dicom_load [FOLDER...]`
//! Without folders it reads the real TotalSegmentator series (20 JPEG 2000 images) and an
//! uncompressed 512×512×300 series that examples/reference/pydicom_load.py writes from it. The
//! reference needs `pip install pydicom numpy pylibjpeg pylibjpeg-openjpeg`. Each measurement
//! runs in its own process so peak memory is its own.

mod common;
use common::{load_average, reference_script};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sliceplan::io::read_dicom_series;

const REPEATS: usize = 3;

/// Reads `folder` REPEATS times in this process; prints best seconds, voxel bytes, peak bytes.
fn measure_one(folder: &str) {
    let base = common::proc_status_kb("self", "VmRSS:") * 1024;
    let mut best = f64::INFINITY;
    let mut bytes = 0;
    for _ in 0..REPEATS {
        let t = Instant::now();
        let v = read_dicom_series(folder, None).expect("read series");
        best = best.min(t.elapsed().as_secs_f64());
        bytes = v.data.byte_len();
    }
    let peak = common::proc_status_kb("self", "VmHWM:") * 1024;
    println!("{best} {bytes} {}", peak.saturating_sub(base));
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        measure_one(&args[1]);
        return;
    }
    let script = reference_script("examples/reference/pydicom_load.py");
    let mut folders: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    if folders.is_empty() {
        let real = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/real/totalseg-ct-dicom-abdomen/dicom");
        if real.is_dir() {
            folders.push(real.clone());
            let big = std::env::temp_dir().join("sliceplan-bench-dicom-300");
            if !big.is_dir() {
                let ok = Command::new(python())
                    .arg(&script)
                    .args(["--uncompressed"])
                    .arg(&real)
                    .arg(&big)
                    .arg("15")
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                if !ok {
                    eprintln!("could not write the uncompressed series (pydicom missing?)");
                }
            }
            if big.is_dir() {
                folders.push(big);
            }
        }
    }
    let me = std::env::current_exe().expect("exe");
    println!("load average before: {}", load_average());
    println!(
        "| series | voxel MB | sliceplan s | pydicom s | speed-up | sliceplan peak / voxel bytes | pydicom peak / voxel bytes |"
    );
    println!("|---|---|---|---|---|---|---|");
    for f in &folders {
        let out = Command::new(&me)
            .args(["--one", f.to_str().unwrap_or_default()])
            .output()
            .expect("run self");
        let text = String::from_utf8_lossy(&out.stdout);
        let nums: Vec<f64> = text
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if nums.len() < 3 {
            eprintln!("{}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
            continue;
        }
        let (ours, bytes, our_peak) = (nums[0], nums[1], nums[2]);
        let py = Command::new(python())
            .arg(&script)
            .arg(REPEATS.to_string())
            .arg(f)
            .output();
        let (theirs, their_peak) = match py {
            Ok(o) if o.status.success() => {
                let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
                (
                    v["seconds"].as_f64().unwrap_or(f64::NAN),
                    v["peak_bytes"].as_f64().unwrap_or(f64::NAN),
                )
            }
            _ => (f64::NAN, f64::NAN),
        };
        let files = std::fs::read_dir(f).map(|d| d.count()).unwrap_or(0);
        println!(
            "| {} ({files} files) | {:.1} | {:.3} | {:.3} | {:.2}× | {:.2} | {:.2} |",
            f.file_name().unwrap_or_default().to_string_lossy(),
            bytes / 1e6,
            ours,
            theirs,
            theirs / ours,
            our_peak / bytes,
            their_peak / bytes
        );
    }
    println!("load average after: {}", load_average());
}
