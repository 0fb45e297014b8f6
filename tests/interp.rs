//! Mask interpolation: known shapes, empty annotated slices, multi-label, risk flags, real masks.

mod common;

use common::*;
use sliceplan::interp::{FlagKind, FlagRules, Method, case_flags, dice_where, interpolate};
use sliceplan::io::read_nifti;

/// A sphere of radius `r` mm centred in a 64×64×`d` grid of spacing (1, 1, `sz`).
fn sphere(d: usize, sz: f64, r: f64) -> Vec<u16> {
    let mut out = vec![0u16; 64 * 64 * d];
    for k in 0..d {
        for j in 0..64 {
            for i in 0..64 {
                let (x, y, z) = (
                    i as f64 - 31.5,
                    j as f64 - 31.5,
                    (k as f64 - (d as f64 - 1.0) / 2.0) * sz,
                );
                if x * x + y * y + z * z < r * r {
                    out[i + 64 * (j + 64 * k)] = 1;
                }
            }
        }
    }
    out
}

fn dice_off_annotated(pred: &[u16], truth: &[u16], annotated: &[usize], covered: &[bool]) -> f64 {
    dice_where(pred, truth, 1, |i| {
        let k = i / (64 * 64);
        covered[k] && !annotated.contains(&k)
    })
}

#[test]
fn sdf_recovers_a_sphere_better_than_the_baselines() {
    let truth = sphere(40, 2.0, 28.0);
    let shape = [64, 64, 40];
    let annotated: Vec<usize> = (2..40).step_by(6).collect();
    let mut scores = Vec::new();
    for method in [Method::Sdf, Method::Linear, Method::Nearest] {
        let r = interpolate(&truth, shape, [1.0, 1.0, 2.0], 2, &annotated, method, false).unwrap();
        // Annotated slices are kept as they are.
        for &k in &annotated {
            assert_eq!(
                &r.labels[k * 4096..(k + 1) * 4096],
                &truth[k * 4096..(k + 1) * 4096]
            );
        }
        // Nothing beyond the first/last annotated slice without extrapolation.
        assert!(!r.covered[0] && !r.covered[39] && r.covered[10]);
        assert!(r.labels[..4096].iter().all(|&v| v == 0));
        scores.push(dice_off_annotated(
            &r.labels, &truth, &annotated, &r.covered,
        ));
    }
    assert!(scores[0] > 0.95, "sdf Dice {scores:?}");
    assert!(scores[0] > scores[1] && scores[0] > scores[2], "{scores:?}");
    // With extrapolation the ends copy the nearest annotated slice.
    let r = interpolate(
        &truth,
        shape,
        [1.0, 1.0, 2.0],
        2,
        &annotated,
        Method::Sdf,
        true,
    )
    .unwrap();
    assert!(r.covered.iter().all(|&c| c));
    assert_eq!(&r.labels[..4096], &truth[2 * 4096..3 * 4096]);
}

#[test]
fn works_along_any_axis() {
    // The same sphere sliced along the first voxel axis.
    let truth = sphere(64, 1.0, 25.0);
    let annotated: Vec<usize> = (0..64).step_by(4).collect();
    let r = interpolate(
        &truth,
        [64, 64, 64],
        [1.0; 3],
        0,
        &annotated,
        Method::Sdf,
        false,
    )
    .unwrap();
    let score = dice_where(&r.labels, &truth, 1, |i| {
        let s = i % 64;
        r.covered[s] && !annotated.contains(&s)
    });
    assert!(score > 0.95, "{score}");
}

#[test]
fn an_annotated_empty_slice_is_information_not_a_gap() {
    // Object on slices 0..=10 only; annotated at 4, 10 (object) and 16 (empty).
    let mut truth = vec![0u16; 64 * 64 * 20];
    for k in 0..=10 {
        for j in 20..40 {
            for i in 20..40 {
                truth[i + 64 * (j + 64 * k)] = 1;
            }
        }
    }
    let annotated = [4, 10, 16];
    let r = interpolate(
        &truth,
        [64, 64, 20],
        [1.0; 3],
        2,
        &annotated,
        Method::Sdf,
        false,
    )
    .unwrap();
    let area = |k: usize| {
        r.labels[k * 4096..(k + 1) * 4096]
            .iter()
            .filter(|&&v| v == 1)
            .count()
    };
    // Between 10 (object) and 16 (annotated empty) the object shrinks and is gone past the middle.
    assert!(
        area(11) > 0 && area(11) < area(10),
        "{} {}",
        area(11),
        area(10)
    );
    assert_eq!(area(14), 0);
    assert_eq!(area(15), 0);
    let flags = case_flags(
        "c",
        &truth,
        [64, 64, 20],
        [1.0; 3],
        2,
        &annotated,
        &FlagRules::default(),
    );
    assert!(flags.iter().any(|f| f.kind == FlagKind::AppearsOrDisappears
        && f.from_slice == 10
        && f.to_slice == 16));
}

#[test]
fn labels_do_not_overlap_and_flags_name_risky_gaps() {
    // Two labels side by side; label 2 splits into two parts on the last annotated slice and
    // moves so far that its masks do not overlap.
    let mut truth = vec![0u16; 64 * 64 * 9];
    let mut paint = |k: usize, x0: usize, x1: usize, y0: usize, y1: usize, l: u16| {
        for j in y0..y1 {
            for i in x0..x1 {
                truth[i + 64 * (j + 64 * k)] = l;
            }
        }
    };
    paint(0, 10, 30, 10, 30, 1);
    paint(8, 10, 30, 10, 30, 1);
    paint(0, 30, 40, 10, 30, 2);
    paint(8, 44, 50, 10, 18, 2);
    paint(8, 44, 50, 22, 30, 2);
    let annotated = [0, 8];
    let r = interpolate(
        &truth,
        [64, 64, 9],
        [1.0; 3],
        2,
        &annotated,
        Method::Sdf,
        false,
    )
    .unwrap();
    let mid = &r.labels[4 * 4096..5 * 4096];
    assert!(mid.iter().filter(|&&v| v == 1).count() > 300);
    let flags = case_flags(
        "case7",
        &truth,
        [64, 64, 9],
        [1.0; 3],
        2,
        &annotated,
        &FlagRules::default(),
    );
    let kinds: Vec<(i64, FlagKind)> = flags.iter().map(|f| (f.label, f.kind)).collect();
    assert!(
        kinds.contains(&(2, FlagKind::ComponentCountChanges)),
        "{kinds:?}"
    );
    assert!(kinds.contains(&(2, FlagKind::NoOverlap)), "{kinds:?}");
    assert!(kinds.contains(&(2, FlagKind::AreaRatio)), "{kinds:?}");
    assert!(
        !kinds.iter().any(|k| k.0 == 1),
        "label 1 is the same on both sides: {kinds:?}"
    );
    assert!(flags.iter().all(|f| f.case_id == "case7"));
    // A gap wider than a small object.
    let mut small = vec![0u16; 64 * 64 * 30];
    for k in [0usize, 29] {
        small[32 + 64 * (32 + 64 * k)] = 1;
    }
    let flags = case_flags(
        "s",
        &small,
        [64, 64, 30],
        [1.0; 3],
        2,
        &[0, 29],
        &FlagRules::default(),
    );
    assert!(flags.iter().any(|f| f.kind == FlagKind::GapWiderThanObject));
}

#[test]
fn fewer_than_two_annotated_slices_cannot_be_interpolated() {
    let truth = sphere(10, 1.0, 5.0);
    let err = interpolate(&truth, [64, 64, 10], [1.0; 3], 2, &[4], Method::Sdf, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least two"), "{err}");
}

#[test]
fn real_heart_mask_every_fourth_slice() {
    let Some(root) = real_data() else { return };
    let labels = read_nifti(root.join("totalseg-ct-chest/labels.nii.gz")).unwrap();
    let truth: Vec<u16> = (0..labels.voxel_count())
        .map(|i| labels.value(i) as u16)
        .collect();
    let axis = labels.axis_for_plane(sliceplan::io::Plane::Axial);
    let annotated: Vec<usize> = (0..labels.shape[axis]).step_by(4).collect();
    let r = interpolate(
        &truth,
        labels.shape,
        labels.spacing_mm,
        axis,
        &annotated,
        Method::Sdf,
        false,
    )
    .unwrap();
    let [nx, ny, _] = labels.shape;
    let score = dice_where(&r.labels, &truth, 1, |i| {
        let k = [i % nx, (i / nx) % ny, i / (nx * ny)][axis];
        r.covered[k] && !annotated.contains(&k)
    });
    assert!(score > 0.95, "heart Dice {score}");
}

#[test]
fn cli_interp_writes_masks_on_the_source_grid() {
    let dir = tempdir();
    let plan = dir.path().join("plan.json");
    let (code, _, err) = cli(&[
        "plan",
        "--data",
        "demo",
        "--budget-slices",
        "12",
        "--volumes",
        "2",
        "--out",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let out = dir.path().join("interp");
    let (code, stdout, err) = cli(&[
        "interp",
        "--data",
        "demo",
        "--plan",
        plan.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["cases"].as_array().unwrap().len(), 2);
    // The organ interpolates well; small lesions between sparse slices are missed (and flagged).
    assert!(
        report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["dice"]["1"].as_f64().unwrap() > 0.7),
        "{report}"
    );
    assert!(!report["cases"][0]["flags"].as_array().unwrap().is_empty());
    let id = report["cases"][0]["case_id"].as_str().unwrap();
    let written = read_nifti(out.join(format!("{id}.nii.gz"))).unwrap();
    let index = sliceplan::dataset::demo::dataset().case_index(id).unwrap();
    assert_eq!(
        written.world_from_voxel,
        sliceplan::dataset::demo::geometry(index).world_from_voxel
    );
    // A plan of one slice per volume has nothing to interpolate.
    let (code, _, _) = cli(&[
        "plan",
        "--data",
        "demo",
        "--budget-slices",
        "3",
        "--volumes",
        "3",
        "--out",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let (code, stdout, _) = cli(&["interp", "--data", "demo", "--plan", plan.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("nothing can be interpolated"), "{stdout}");
}

#[test]
fn contiguous_and_strided_slices_give_the_same_interpolation() {
    // Two labels in a 40×30×24 grid, interpolated along the last axis (slices read in place) and,
    // after moving that axis first, along the first axis (slices copied): the same volumes.
    let (nx, ny, nz) = (40usize, 30usize, 24usize);
    let mut labels = vec![0u16; nx * ny * nz];
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let (fx, fy, fz) = (x as f64, y as f64, z as f64);
                let a = ((fx - 12.0) / 8.0).powi(2) + ((fy - 14.0) / 6.0).powi(2);
                let b = ((fx - 27.0 - fz / 6.0) / 6.0).powi(2) + ((fy - 15.0) / 9.0).powi(2);
                let r = 1.0 - ((fz - 12.0) / 14.0).powi(2);
                labels[x + nx * (y + ny * z)] = if a < r {
                    1
                } else if b < r * 0.8 {
                    2
                } else {
                    0
                };
            }
        }
    }
    let annotated: Vec<usize> = (0..nz).step_by(3).collect();
    let spacing = [0.8, 1.1, 2.5];
    let along_z = interpolate(
        &labels,
        [nx, ny, nz],
        spacing,
        2,
        &annotated,
        Method::Sdf,
        false,
    )
    .unwrap();
    let mut moved = vec![0u16; labels.len()];
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                moved[z + nz * (x + nx * y)] = labels[x + nx * (y + ny * z)];
            }
        }
    }
    let along_first = interpolate(
        &moved,
        [nz, nx, ny],
        [spacing[2], spacing[0], spacing[1]],
        0,
        &annotated,
        Method::Sdf,
        false,
    )
    .unwrap();
    assert_eq!(along_z.covered, along_first.covered);
    let mut differing = 0;
    let mut interpolated = [0usize; 3];
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let v = along_z.labels[x + nx * (y + ny * z)];
                differing += (v != along_first.labels[z + nz * (x + nx * y)]) as usize;
                if !annotated.contains(&z) && along_z.covered[z] {
                    interpolated[v as usize] += 1;
                }
            }
        }
    }
    assert_eq!(differing, 0);
    assert!(
        interpolated[1] > 500 && interpolated[2] > 300,
        "{interpolated:?}"
    );
}

#[test]
fn only_the_target_labels_are_interpolated_and_the_rest_are_reported() {
    use sliceplan::dataset::{TargetLabels, demo};
    use sliceplan::interp::interpolate_case;
    use sliceplan::plan::PlannedVolume;
    let ds = demo::dataset();
    // A demo case holding both the organ (1) and a lesion (2).
    let (case, axis) = (0..ds.cases.len())
        .map(|i| ds.load(i).unwrap())
        .find_map(|c| {
            let labels = c.labels.as_ref()?;
            let has = |v: f64| (0..labels.voxel_count()).any(|i| labels.value(i) == v);
            (has(1.0) && has(2.0)).then(|| {
                let axis = c.image.axis_for_plane(sliceplan::io::Plane::Axial);
                (c, axis)
            })
        })
        .expect("a demo case with a lesion");
    let depth = case.image.shape[axis];
    let planned = PlannedVolume {
        case_id: case.id.clone(),
        image_path: String::new(),
        axis,
        slice_count: depth,
        slices: (0..depth).step_by(4).collect(),
    };
    let rules = FlagRules::default();
    let organ = TargetLabels::parse("1", &ds.label_names).unwrap();
    let (only, report) =
        interpolate_case(&case, &planned, &organ, Method::Sdf, false, &rules).unwrap();
    assert_eq!(report.ignored_labels, vec![2]);
    assert!(!only.labels.contains(&2));
    assert!(only.labels.contains(&1));
    assert_eq!(report.dice.keys().collect::<Vec<_>>(), vec!["1"]);
    let every = TargetLabels::all_foreground();
    let (both, report) =
        interpolate_case(&case, &planned, &every, Method::Sdf, false, &rules).unwrap();
    assert!(report.ignored_labels.is_empty());
    assert!(both.labels.contains(&2));
    assert_eq!(report.dice.len(), 2);
}

/// A label's signed distances on one slice (None: not on it).
type Field = Option<Vec<f64>>;

/// Shape-based interpolation the slow, obvious way: brute-force signed distances over whole
/// slices (f64), blended per gap, most negative label wins. Also marks the voxels where the
/// decision is a tie (a blended distance within 1e-6 mm of 0 or of another label's), which
/// rounding may settle either way.
fn brute_force_sdf(
    labels: &[u16],
    [nx, ny, _]: [usize; 3],
    (sx, sy): (f64, f64),
    annotated: &[usize],
) -> (Vec<u16>, Vec<bool>) {
    let n = nx * ny;
    let slice = |k: usize| &labels[k * n..(k + 1) * n];
    let present: std::collections::BTreeSet<u16> = annotated
        .iter()
        .flat_map(|&k| slice(k).iter().copied())
        .filter(|&v| v != 0)
        .collect();
    let phi = |k: usize, l: u16| -> Option<Vec<f64>> {
        let s = slice(k);
        s.contains(&l).then(|| {
            (0..n)
                .map(|i| {
                    let inside = s[i] == l;
                    let (x, y) = ((i % nx) as f64, (i / nx) as f64);
                    let d = (0..n)
                        .filter(|&j| (s[j] == l) != inside)
                        .map(|j| {
                            let (u, v) = ((j % nx) as f64, (j / nx) as f64);
                            (((x - u) * sx).powi(2) + ((y - v) * sy).powi(2)).sqrt()
                        })
                        .fold(f64::INFINITY, f64::min);
                    if inside { -d } else { d }
                })
                .collect()
        })
    };
    let mut out = vec![0u16; labels.len()];
    let mut tie = vec![false; labels.len()];
    for &k in annotated {
        out[k * n..(k + 1) * n].copy_from_slice(slice(k));
    }
    for g in 0..annotated.len() - 1 {
        let (a, b) = (annotated[g], annotated[g + 1]);
        let fields: Vec<(u16, Field, Field)> =
            present.iter().map(|&l| (l, phi(a, l), phi(b, l))).collect();
        for s in a + 1..b {
            let t = (s - a) as f64 / (b - a) as f64;
            for i in 0..n {
                let mut best = (0.0, 0u16);
                let mut values = Vec::new();
                for (l, pa, pb) in &fields {
                    let deepest = |p: &Vec<f64>| p.iter().fold(0f64, |m, &x| m.max(-x));
                    let (fa, fb) = match (pa, pb) {
                        (None, None) => continue,
                        (None, Some(q)) => (deepest(q), q[i]),
                        (Some(p), None) => (p[i], deepest(p)),
                        (Some(p), Some(q)) => (p[i], q[i]),
                    };
                    let value = (1.0 - t) * fa + t * fb;
                    values.push(value);
                    if value < best.0 {
                        best = (value, *l);
                    }
                }
                out[s * n + i] = best.1;
                tie[s * n + i] = values.iter().any(|&v| v.abs() < 1e-6)
                    || values
                        .iter()
                        .filter(|&&v| v < 0.0 && (v - best.0).abs() < 1e-6)
                        .count()
                        > 1;
            }
        }
    }
    (out, tie)
}

#[test]
fn sdf_matches_a_brute_force_reference_on_random_multi_label_volumes() {
    let (nx, ny, nz) = (26usize, 21usize, 30usize);
    let mut rng = sliceplan::rng::Rng::new(77);
    for trial in 0..6 {
        // Up to three drifting, growing and vanishing blobs, labels 1–3; some touch the border.
        let blobs: Vec<[f64; 6]> = (0..1 + rng.below(3))
            .map(|_| {
                [
                    rng.range_f64(0.0, nx as f64),
                    rng.range_f64(0.0, ny as f64),
                    rng.range_f64(-0.4, 0.4),
                    rng.range_f64(2.0, 7.0),
                    rng.range_f64(0.0, nz as f64),
                    rng.range_f64(6.0, 20.0),
                ]
            })
            .collect();
        let mut labels = vec![0u16; nx * ny * nz];
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    for (b, &[cx, cy, drift, r, cz, half]) in blobs.iter().enumerate() {
                        let dz = (z as f64 - cz) / half;
                        let rr = r * (1.0 - dz * dz).max(0.0).sqrt();
                        let (dx, dy) = (x as f64 - cx - drift * z as f64, y as f64 - cy);
                        if dx * dx + dy * dy < rr * rr {
                            labels[x + nx * (y + ny * z)] = b as u16 + 1;
                        }
                    }
                }
            }
        }
        let mut annotated: Vec<usize> = (0..nz).filter(|_| rng.uniform() < 0.3).collect();
        if annotated.len() < 2 {
            annotated = vec![0, nz - 1];
        }
        let spacing = [0.9, 1.3, 3.0];
        let fast = interpolate(
            &labels,
            [nx, ny, nz],
            spacing,
            2,
            &annotated,
            Method::Sdf,
            false,
        )
        .unwrap();
        let (slow, tie) = brute_force_sdf(&labels, [nx, ny, nz], (0.9, 1.3), &annotated);
        let (first, last) = (annotated[0], annotated[annotated.len() - 1]);
        let range = first * nx * ny..(last + 1) * nx * ny;
        let differing: Vec<usize> = range
            .clone()
            .filter(|&i| !tie[i] && fast.labels[i] != slow[i])
            .collect();
        let labelled = range.clone().filter(|&i| slow[i] != 0).count();
        let ties = range.filter(|&i| tie[i]).count();
        assert!(
            differing.is_empty(),
            "trial {trial}: {} voxels differ (first at {}), {ties} ties, {labelled} labelled",
            differing.len(),
            differing[0]
        );
        assert!(
            labelled > 100,
            "trial {trial}: only {labelled} labelled voxels"
        );
        assert!(ties * 20 < labelled, "trial {trial}: {ties} ties");
        // Outside the annotated range nothing is filled (no extrapolation by default).
        assert!(fast.labels[..first * nx * ny].iter().all(|&v| v == 0));
    }
}
