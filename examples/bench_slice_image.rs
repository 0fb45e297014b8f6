//! Benchmark: building one slice's RGBA image for the viewer (window/level, labels at an
//! opacity, planned slices as lines), per plane, on a 512×512×300 int16 CT with a label map,
//! against NumPy doing the same in the same run (`examples/reference/slice_image.py`).
//! Goal (issue 10): ≤ 2 ms per 512×512 slice.
//!
//! `cargo run --release --example bench_slice_image [-- --repeats 200 --python PY]`

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use sliceplan::io::geometry::IDENTITY;
use sliceplan::io::{Plane, Volume, VoxelData};
use sliceplan::view::{DisplayFrame, LabelLayer, PlanMarks, RenderOptions, Window, render_slice};

fn main() {
    let args = common::BenchArgs::from_env();
    let repeats: usize = args.parsed("--repeats", 200);
    let python = args
        .value("--python")
        .or_else(|| std::env::var("PYTHON").ok())
        .unwrap_or_else(|| "python3".into());
    let shape = [512usize, 512, 300];
    let [nx, ny, nz] = shape;
    // A body-like ellipse of soft tissue with noise, and an ellipsoid "organ" labelled 1.
    let mut image = vec![-1000i16; nx * ny * nz];
    let mut labels = vec![0u8; nx * ny * nz];
    let mut seed = 1u32;
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let (x, y) = (i as f64 / nx as f64 - 0.5, j as f64 / ny as f64 - 0.5);
                let z = k as f64 / nz as f64 - 0.5;
                let idx = i + nx * (j + ny * k);
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                if (x / 0.45).powi(2) + (y / 0.35).powi(2) < 1.0 {
                    image[idx] = 40 + (seed >> 27) as i16 - 16;
                }
                if ((x - 0.1) / 0.15).powi(2) + (y / 0.12).powi(2) + (z / 0.3).powi(2) < 1.0 {
                    labels[idx] = 1;
                }
            }
        }
    }
    let volume = Volume::new(
        shape,
        [0.8, 0.8, 1.5],
        IDENTITY,
        VoxelData::I16(image.clone()),
    );
    let label_volume = volume.derived(VoxelData::U8(labels.clone()));
    let planned: Vec<usize> = (0..nz).step_by(10).collect();
    let window = Window {
        center: 40.0,
        width: 400.0,
    };
    let options = RenderOptions {
        window,
        label_opacity: 0.45,
        outline: false,
    };
    let marks = PlanMarks {
        axis: 2,
        slices: &planned,
        risky: &[],
    };
    let slice_of = |p: Plane| match p {
        Plane::Axial => nz / 2,
        Plane::Coronal => ny / 2,
        Plane::Sagittal => nx / 2 + 20,
    };
    println!(
        "bench_slice_image: {nx}×{ny}×{nz} int16 + uint8 labels, {repeats} repeats, median; load {}",
        common::load_average()
    );
    let mut ours = Vec::new();
    for plane in Plane::ALL {
        let frame = DisplayFrame::new(&volume.world_from_voxel, shape, volume.spacing_mm, plane);
        for outline in [false, true] {
            let options = RenderOptions { outline, ..options };
            let mut times = Vec::with_capacity(repeats);
            for _ in 0..repeats {
                let t = Instant::now();
                let img = render_slice(
                    &volume,
                    LabelLayer::Volume(&label_volume),
                    &frame,
                    slice_of(plane),
                    &options,
                    &marks,
                );
                std::hint::black_box(&img);
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            if !outline {
                ours.push((plane, median));
            }
            println!(
                "  sliceplan {:<8} {}×{} {:<7}: {median:.3} ms",
                plane.name(),
                frame.width(),
                frame.height(),
                if outline { "outline" } else { "filled" },
            );
        }
    }
    // The NumPy reference on the same voxels.
    let dir = std::env::temp_dir().join(format!("sliceplan-bench-slice-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let bytes: Vec<u8> = image.iter().flat_map(|v| v.to_le_bytes()).collect();
    let written = std::fs::write(dir.join("image.raw"), bytes)
        .and_then(|_| std::fs::write(dir.join("labels.raw"), &labels))
        .and_then(|_| {
            let meta = serde_json::json!({
                "shape": shape,
                "slice": {"axial": slice_of(Plane::Axial), "coronal": slice_of(Plane::Coronal), "sagittal": slice_of(Plane::Sagittal)},
                "planned_z": planned,
                "window_lo": window.lo(),
                "window_width": window.width,
                "opacity": 0.45,
            });
            std::fs::write(dir.join("meta.json"), meta.to_string())
        });
    let script = common::reference_script("examples/reference/slice_image.py");
    let reference = written.ok().and_then(|_| {
        let out = std::process::Command::new(&python)
            .arg(&script)
            .arg(repeats.to_string())
            .arg(&dir)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!("reference failed: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        serde_json::from_slice::<serde_json::Value>(&out.stdout).ok()
    });
    let _ = std::fs::remove_dir_all(&dir);
    println!("| plane | sliceplan (ms) | NumPy (ms) | NumPy / sliceplan |");
    println!("|---|---|---|---|");
    for (plane, ms) in ours {
        let np = reference
            .as_ref()
            .and_then(|r| r[plane.name()].as_f64())
            .unwrap_or(f64::NAN);
        println!("| {} | {ms:.3} | {np:.3} | {:.1}× |", plane.name(), np / ms);
    }
}
