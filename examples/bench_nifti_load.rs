//! Benchmark: `.nii.gz` load time and peak memory, sliceplan vs nibabel, side by side in one run.
//!
//! `cargo run --release --example bench_nifti_load [FILE...]`
//! Without files it uses the real volumes in ../shared/data/real plus a generated 512×512×300
//! int16 CT-like volume. nibabel runs through examples/reference/nibabel_load.py (needs
//! `pip install nibabel numpy`). Each measurement runs in its own process so peak memory is its own.

mod common;
use common::{load_average, reference_script};
use std::path::{Path, PathBuf};

use sliceplan::io::{self, VoxelData, read_nifti};

const REPEATS: usize = 5;

/// Loads `path` REPEATS times in this process; prints best seconds, voxel bytes, peak bytes.
fn measure_one(path: &str) {
    common::print_best_load(REPEATS, || read_nifti(path).expect("load").data.byte_len());
}

fn synthetic_ct(dir: &Path) -> PathBuf {
    let (nx, ny, nz) = (512usize, 512usize, 300usize);
    let mut rng = sliceplan::rng::Rng::new(11);
    let mut data = vec![0i16; nx * ny * nz];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let (x, y) = (i as f64 - 256.0, j as f64 - 256.0);
                let body = (x / 230.0).powi(2) + (y / 170.0).powi(2) < 1.0;
                let base = if body {
                    40.0 + 30.0 * ((x * 0.03).sin() + (y * 0.02 + k as f64 * 0.05).cos())
                } else {
                    -1000.0
                };
                data[i + nx * (j + ny * k)] = (base + 12.0 * rng.normal()).round() as i16;
            }
        }
    }
    let affine = [
        [-0.7, 0.0, 0.0, 180.0],
        [0.0, -0.7, 0.0, 180.0],
        [0.0, 0.0, 1.0, -150.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let header = io::header_for_geometry([nx, ny, nz], [0.7, 0.7, 1.0], &affine);
    let v = io::Volume {
        shape: [nx, ny, nz],
        spacing_mm: [0.7, 0.7, 1.0],
        world_from_voxel: affine,
        data: VoxelData::I16(data),
        scaling: None,
        source_dtype: None,
        header,
    };
    let p = dir.join("synthetic-ct-512x512x300.nii.gz");
    io::write_nifti(&p, &v).expect("write synthetic CT");
    p
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        measure_one(&args[1]);
        return;
    }
    let tmp = std::env::temp_dir().join("sliceplan-bench-load");
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let mut files: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    if files.is_empty() {
        let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
        for case in [
            "totalseg-ct-chest",
            "totalseg-ct-dicom-abdomen",
            "totalseg-ct-abdomen",
            "itk-kmeans-brain",
        ] {
            let p = real.join(case).join("image.nii.gz");
            if p.is_file() {
                files.push(p);
            }
        }
        files.push(synthetic_ct(&tmp));
    }
    println!("load average before: {}", load_average());
    println!(
        "| file | voxel MB | sliceplan s | nibabel s | speed-up | sliceplan peak / voxel bytes | nibabel peak / voxel bytes |"
    );
    println!("|---|---|---|---|---|---|---|");
    for f in &files {
        let Some((ours, bytes, our_peak)) = common::in_child(f) else {
            continue;
        };
        let script = reference_script("examples/reference/nibabel_load.py");
        let (theirs, their_peak) = common::reference_load("python3", &script, REPEATS, f);
        println!(
            "| {} | {:.1} | {:.4} | {:.4} | {:.2}× | {:.2} | {:.2} |",
            f.iter()
                .rev()
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<PathBuf>()
                .display(),
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
