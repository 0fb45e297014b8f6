//! Benchmark: mask interpolation, sliceplan's `sdf` vs ITK's MorphologicalContourInterpolation
//! (2 threads) and a plain scipy SDF reference, same inputs, same run.
//!
//! `cargo run --release --example bench_interp`
//! Inputs: real label maps from ../shared/data/real (heart, liver) and a 512×512×181 brain mask
//! made from the ITK brain fixture (trilinear upsampling of its head mask), keeping every 2nd,
//! 4th and 8th axial slice; and every small structure of the real label maps (5–40 slices,
//! starting and ending inside the volume) keeping every 4th slice at each of the four phases.
//! ITK runs in its default mode and told which annotated slices are empty
//! (`UseCustomSlicePositions`). The references need `pip install nibabel scipy
//! itk-morphologicalcontourinterpolation`. sliceplan reads each case's image as the app does
//! (where a capped part ends, `interp::guide`; the references read labels only; the 512² mask
//! has none), `BENCH_NO_IMAGE=1` leaves it out. `BENCH_ONLY=text` keeps inputs whose name
//! holds it; `BENCH_SKIP_BRAIN=1` leaves out the 512² mask; `BENCH_DUMP=DIR` writes each output
//! (label values as bytes, in the volume's voxel order) to DIR for a closer look.

mod common;
use common::{load_average, reference_script};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sliceplan::interp::{Method, dice_where, interpolate_guided};
use sliceplan::io::{self, Plane, Volume, VoxelData, read_nifti};

struct Input {
    name: String,
    path: PathBuf,
    label: u16,
    /// The image the labels belong to (where there is one).
    image: Option<PathBuf>,
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
    label_names(case_json)
        .into_iter()
        .find(|(_, n)| n == name)
        .map(|(v, _)| v)
}

fn label_names(case_json: &Path) -> Vec<(u16, String)> {
    let Some(v) = std::fs::read_to_string(case_json)
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
    else {
        return Vec::new();
    };
    v["labels"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, n)| Some((k.parse().ok()?, n.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Small structures of the real label maps: every label that starts and ends inside the volume
/// along the axial axis, spans 5–40 slices and has fewer than 60 000 voxels.
fn small_structures(real: &Path) -> Vec<Input> {
    let mut out = Vec::new();
    for case in [
        "totalseg-ct-abdomen",
        "totalseg-mr-abdomen",
        "totalseg-ct-dicom-abdomen",
        "tptbox-spine-ct",
        "tptbox-spine-mr",
        "itk-kmeans-brain",
    ] {
        let path = real.join(case).join("labels.nii.gz");
        let Ok(labels) = read_nifti(&path) else {
            continue;
        };
        let axis = labels.axis_for_plane(Plane::Axial);
        let depth = labels.shape[axis];
        let [nx, ny, _] = labels.shape;
        let mut extent: std::collections::BTreeMap<u16, (usize, usize, usize)> = Default::default();
        for i in 0..labels.voxel_count() {
            let v = labels.value(i) as u16;
            if v == 0 {
                continue;
            }
            let k = [i % nx, (i / nx) % ny, i / (nx * ny)][axis];
            let e = extent.entry(v).or_insert((usize::MAX, 0, 0));
            *e = (e.0.min(k), e.1.max(k), e.2 + 1);
        }
        let names = label_names(&real.join(case).join("case.json"));
        for (v, (lo, hi, count)) in extent {
            if lo == 0 || hi + 1 == depth || hi - lo + 1 < 5 || hi - lo + 1 > 40 || count >= 60_000
            {
                continue;
            }
            let name = names
                .iter()
                .find(|n| n.0 == v)
                .map_or(v.to_string(), |n| n.1.clone());
            out.push(Input {
                name: format!("{case} {name} ({} slices)", hi - lo + 1),
                path: path.clone(),
                label: v,
                image: Some(real.join(case).join("image.nii.gz")),
            });
        }
    }
    out
}

struct Row {
    name: String,
    input: usize,
    step: usize,
    seconds: f64,
    dice: f64,
}

fn main() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
    let tmp = std::env::temp_dir().join("sliceplan-bench-interp");
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let mut inputs = vec![Input {
        name: "heart 233×167×191".into(),
        path: real.join("totalseg-ct-chest/labels.nii.gz"),
        label: 1,
        image: Some(real.join("totalseg-ct-chest/image.nii.gz")),
    }];
    if let Some(liver) = label_value(&real.join("totalseg-ct-abdomen/case.json"), "liver") {
        inputs.push(Input {
            name: "liver 122×101×112".into(),
            path: real.join("totalseg-ct-abdomen/labels.nii.gz"),
            label: liver,
            image: Some(real.join("totalseg-ct-abdomen/image.nii.gz")),
        });
    }
    if let Some(p) = std::env::var("BENCH_SKIP_BRAIN")
        .is_err()
        .then(|| brain_512(&real, &tmp))
        .flatten()
    {
        inputs.push(Input {
            name: "brain 512×512×181".into(),
            path: p,
            label: 1,
            image: None,
        });
    }
    let mut large = inputs.len();
    inputs.extend(small_structures(&real));
    println!("load average before: {}", load_average());
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        // The large masks come first; count those kept.
        large = inputs[..large]
            .iter()
            .filter(|i| i.name.contains(&only))
            .count();
        inputs.retain(|i| i.name.contains(&only));
    }
    let mut cases = Vec::new();
    let mut ours: Vec<Row> = Vec::new();
    for (n, input) in inputs.iter().enumerate() {
        let labels = read_nifti(&input.path).expect("labels");
        let axis = labels.axis_for_plane(Plane::Axial);
        let truth: Vec<u16> = (0..labels.voxel_count())
            .map(|i| (labels.value(i) as u16 == input.label) as u16)
            .collect();
        let image: Option<Vec<f32>> = input
            .image
            .as_ref()
            .filter(|_| std::env::var("BENCH_NO_IMAGE").is_err())
            .map(|p| read_nifti(p).expect("image").to_f32());
        // Large masks: every 2nd, 4th, 8th slice from the first; small structures: every 4th
        // at each of its four phases (where an object starts and ends relative to the grid).
        let grid: Vec<(usize, usize)> = if n < large {
            vec![(2, 0), (4, 0), (8, 0)]
        } else {
            (0..4).map(|p| (4, p)).collect()
        };
        for (step, phase) in grid {
            let kept: Vec<usize> = (phase..labels.shape[axis]).step_by(step).collect();
            let mut best = f64::INFINITY;
            let mut result = None;
            for _ in 0..5 {
                let t = Instant::now();
                let r = interpolate_guided(
                    &truth,
                    image.as_deref(),
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
            let name = format!("{} every {step} phase {phase}", input.name);
            if let Ok(dir) = std::env::var("BENCH_DUMP") {
                let bytes: Vec<u8> = r.labels.iter().map(|&x| x as u8).collect();
                let file = name.replace(['/', ' ', '(', ')'], "_");
                std::fs::write(Path::new(&dir).join(file + ".raw"), bytes).ok();
            }
            if let Some(rules) = sliceplan::interp::rules_summary(&r.gaps) {
                eprintln!("{name}: {rules}");
            }
            ours.push(Row {
                name: name.clone(),
                input: n,
                step,
                seconds: best,
                dice: d,
            });
            cases.push(serde_json::json!({"name": name, "labels": input.path, "axis": axis, "step": step, "phase": phase, "label": input.label, "scipy": n < large}));
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
        "| input | sliceplan sdf s (Dice) | scipy SDF s (Dice) | ITK MCI s (Dice) | ITK MCI known-empty s (Dice) | vs scipy | vs ITK |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in ours.iter().filter(|r| r.input < large) {
        let (ss, sd) = find(&row.name, "scipy-sdf");
        let (is, id) = find(&row.name, "itk-mci");
        let (ks, kd) = find(&row.name, "itk-mci-known");
        println!(
            "| {} | {:.4} ({:.4}) | {ss:.4} ({sd:.4}) | {is:.3} ({id:.4}) | {ks:.3} ({kd:.4}) | {:.1}× | {:.0}× |",
            inputs[row.input].name.clone() + &format!(" every {}", row.step),
            row.seconds,
            row.dice,
            ss / row.seconds,
            is / row.seconds
        );
    }
    // Small structures: one line each over its four phases.
    println!();
    println!(
        "| small structure (every 4th slice) | sliceplan Dice mean (min) | ITK MCI | ITK MCI known-empty | phases sliceplan ≥ both | sliceplan ms (max) |"
    );
    println!("|---|---|---|---|---|---|");
    let (mut all, mut wins, mut sums) = (0, 0, [0.0f64; 3]);
    for (n, input) in inputs.iter().enumerate().skip(large) {
        let rows: Vec<&Row> = ours.iter().filter(|r| r.input == n).collect();
        if rows.is_empty() {
            continue;
        }
        let k = rows.len() as f64;
        let ref_mean = |m: &str| rows.iter().map(|r| find(&r.name, m).1).sum::<f64>() / k;
        let mean = rows.iter().map(|r| r.dice).sum::<f64>() / k;
        let min = rows.iter().map(|r| r.dice).fold(f64::INFINITY, f64::min);
        let won = rows
            .iter()
            .filter(|r| {
                r.dice + 1e-9 >= find(&r.name, "itk-mci").1
                    && r.dice + 1e-9 >= find(&r.name, "itk-mci-known").1
            })
            .count();
        let ms = rows.iter().map(|r| r.seconds).fold(0.0, f64::max) * 1e3;
        let (mci, known) = (ref_mean("itk-mci"), ref_mean("itk-mci-known"));
        println!(
            "| {} | {mean:.3} ({min:.3}) | {mci:.3} | {known:.3} | {won} of {} | {ms:.2} |",
            input.name,
            rows.len()
        );
        all += rows.len();
        wins += won;
        sums[0] += mean * k;
        sums[1] += mci * k;
        sums[2] += known * k;
    }
    if all > 0 {
        let a = all as f64;
        println!(
            "| all ({all} structure × phase inputs) | {:.4} | {:.4} | {:.4} | {wins} of {all} | |",
            sums[0] / a,
            sums[1] / a,
            sums[2] / a
        );
    }
    println!("load average after: {}", load_average());
}
