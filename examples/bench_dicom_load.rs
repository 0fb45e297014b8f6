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

use sliceplan::io::read_dicom_series;

const REPEATS: usize = 3;

/// Reads `folder` REPEATS times in this process; prints best seconds, voxel bytes, peak bytes.
fn measure_one(folder: &str) {
    common::print_best_load(REPEATS, || {
        read_dicom_series(folder, None)
            .expect("read series")
            .data
            .byte_len()
    });
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
    println!("load average before: {}", load_average());
    println!(
        "| series | voxel MB | sliceplan s | pydicom s | speed-up | sliceplan peak / voxel bytes | pydicom peak / voxel bytes |"
    );
    println!("|---|---|---|---|---|---|---|");
    for f in &folders {
        let Some((ours, bytes, our_peak)) = common::in_child(f) else {
            continue;
        };
        let (theirs, their_peak) = common::reference_load(&python(), &script, REPEATS, f);
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
