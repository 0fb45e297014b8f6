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
