//! Benchmark: mask interpolation, sliceplan's `sdf` vs ITK's MorphologicalContourInterpolation
//! (2 threads) and a plain scipy SDF reference, same inputs, same run.
//!
//! `cargo run --release --example bench_interp`
//! Inputs: real label maps from ../shared/data/real (heart, liver) and a 512×512×181 brain mask
//! made from the ITK brain fixture (trilinear upsampling of its head mask), keeping every 2nd,
//! 4th and 8th axial slice. The references need `pip install nibabel scipy
//! itk-morphologicalcontourinterpolation`.

mod common;
use common::{load_average, reference_script};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sliceplan::interp::{Method, dice_where, interpolate};
use sliceplan::io::{self, Plane, Volume, VoxelData, read_nifti};

struct Input {
    name: String,
    path: PathBuf,
    label: u16,
}

fn brain_512(real: &Path, out: &Path) -> Option<PathBuf> {
    let labels = read_nifti(real.join("itk-kmeans-brain/labels.nii.gz")).ok()?;
    let [nx, ny, nz] = labels.shape; // L, S, A
    let head = |i: usize, j: usize, k: usize| {
        if labels.value(labels.index(i, j, k)) as i64 != 1 {
            1.0f32
        } else {
            0.0
        }
    };
    let (ox, oy, oz) = (512usize, 512usize, 181usize); // x ← L, y ← A, z ← S
    let mut data = vec![0u8; ox * oy * oz];
    for z in 0..oz {
        let s = (z as f32 + 0.5) * ny as f32 / oz as f32 - 0.5;
        for y in 0..oy {
            let a = (y as f32 + 0.5) * nz as f32 / oy as f32 - 0.5;
            for x in 0..ox {
                let l = (x as f32 + 0.5) * nx as f32 / ox as f32 - 0.5;
                let (l0, s0, a0) = (
                    l.floor().max(0.0) as usize,
                    s.floor().max(0.0) as usize,
                    a.floor().max(0.0) as usize,
                );
                let (l1, s1, a1) = (
                    (l0 + 1).min(nx - 1),
                    (s0 + 1).min(ny - 1),
                    (a0 + 1).min(nz - 1),
                );
                let (fl, fs, fa) = (
                    (l - l0 as f32).clamp(0.0, 1.0),
                    (s - s0 as f32).clamp(0.0, 1.0),
                    (a - a0 as f32).clamp(0.0, 1.0),
                );
                let mut v = 0.0;
                for (i, wi) in [(l0, 1.0 - fl), (l1, fl)] {
                    for (j, wj) in [(s0, 1.0 - fs), (s1, fs)] {
                        for (k, wk) in [(a0, 1.0 - fa), (a1, fa)] {
                            v += wi * wj * wk * head(i, j, k);
                        }
                    }
                }
                data[x + ox * (y + oy * z)] = (v >= 0.5) as u8;
            }
        }
    }
    let spacing = [256.0 / 512.0, 186.0 / 512.0, 256.0 / 181.0];
    let affine = [
        [spacing[0], 0.0, 0.0, 0.0],
        [0.0, spacing[1], 0.0, 0.0],
        [0.0, 0.0, spacing[2], 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let v = Volume {
        shape: [ox, oy, oz],
        spacing_mm: spacing,
        world_from_voxel: affine,
        data: VoxelData::U8(data),
        scaling: None,
        source_dtype: None,
        header: io::header_for_geometry([ox, oy, oz], spacing, &affine),
    };
    let p = out.join("brain-512x512x181.nii.gz");
    io::write_nifti(&p, &v).ok()?;
    Some(p)
}

fn label_value(case_json: &Path, name: &str) -> Option<u16> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case_json).ok()?).ok()?;
    v["labels"]
        .as_object()?
        .iter()
        .find(|(_, n)| n.as_str() == Some(name))
        .and_then(|(k, _)| k.parse().ok())
}

fn main() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
    let tmp = std::env::temp_dir().join("sliceplan-bench-interp");
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let mut inputs = vec![Input {
        name: "heart 233×167×191".into(),
        path: real.join("totalseg-ct-chest/labels.nii.gz"),
        label: 1,
    }];
    if let Some(liver) = label_value(&real.join("totalseg-ct-abdomen/case.json"), "liver") {
        inputs.push(Input {
            name: "liver 122×101×112".into(),
            path: real.join("totalseg-ct-abdomen/labels.nii.gz"),
            label: liver,
        });
    }
    if let Some(p) = brain_512(&real, &tmp) {
        inputs.push(Input {
            name: "brain 512×512×181".into(),
            path: p,
            label: 1,
        });
    }
    println!("load average before: {}", load_average());
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        inputs.retain(|i| i.name.contains(&only));
    }
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for input in &inputs {
        let labels = read_nifti(&input.path).expect("labels");
        let axis = labels.axis_for_plane(Plane::Axial);
        let truth: Vec<u16> = (0..labels.voxel_count())
            .map(|i| (labels.value(i) as u16 == input.label) as u16)
            .collect();
        for step in [2usize, 4, 8] {
            let kept: Vec<usize> = (0..labels.shape[axis]).step_by(step).collect();
            let mut best = f64::INFINITY;
            let mut result = None;
            for _ in 0..5 {
                let t = Instant::now();
                let r = interpolate(
                    &truth,
                    labels.shape,
                    labels.spacing_mm,
                    axis,
                    &kept,
                    Method::Sdf,
                    false,
                )
                .expect("interpolate");
                best = best.min(t.elapsed().as_secs_f64());
                result = Some(r);
            }
            let r = result.expect("ran");
            let [nx, ny, _] = labels.shape;
            let d = dice_where(&r.labels, &truth, 1, |i| {
                let k = [i % nx, (i / nx) % ny, i / (nx * ny)][axis];
                r.covered[k] && !kept.contains(&k)
            });
            let name = format!("{} every {step}", input.name);
            ours.push((name.clone(), best, d));
            cases.push(serde_json::json!({"name": name, "labels": input.path, "axis": axis, "step": step, "label": input.label}));
        }
    }
    let cases_path = tmp.join("cases.json");
    std::fs::write(
        &cases_path,
        serde_json::to_string(&cases).unwrap_or_default(),
    )
    .expect("cases");
    let script = reference_script("examples/reference/interp_reference.py");
    let refs: Vec<serde_json::Value> = match Command::new("python3")
        .arg(script)
        .arg(&cases_path)
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
        Ok(o) => {
            eprintln!("reference failed: {}", String::from_utf8_lossy(&o.stderr));
            Vec::new()
        }
        Err(e) => {
            eprintln!("cannot run python3: {e}");
            Vec::new()
        }
    };
    let find = |name: &str, method: &str| {
        refs.iter()
            .find(|r| r["name"] == name && r["method"] == method)
            .map(|r| {
                (
                    r["seconds"].as_f64().unwrap_or(f64::NAN),
                    r["dice"].as_f64().unwrap_or(f64::NAN),
                )
            })
            .unwrap_or((f64::NAN, f64::NAN))
    };
    println!(
        "| input | sliceplan sdf s (Dice) | scipy SDF s (Dice) | ITK MCI s (Dice) | vs scipy | vs ITK |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, secs, d) in &ours {
        let (ss, sd) = find(name, "scipy-sdf");
        let (is, id) = find(name, "itk-mci");
        println!(
            "| {name} | {:.4} ({d:.4}) | {ss:.4} ({sd:.4}) | {is:.3} ({id:.4}) | {:.1}× | {:.0}× |",
            secs,
            ss / secs,
            is / secs
        );
    }
    println!("load average after: {}", load_average());
}
