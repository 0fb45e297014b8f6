//! Planning: allocation, slice selection, plan files, worklists, nnU-Net exports, returned masks.

mod common;

use common::*;
use sliceplan::dataset::{Dataset, TargetLabels, demo, open_dataset};
use sliceplan::export::{
    ReturnedMasks, check_returned, export_nnunet, remaining_plan, worklist_rows, write_worklist,
};
use sliceplan::io::{self, VoxelData, read_nifti};
use sliceplan::jobs::Progress;
use sliceplan::plan::{
    BodyRule, Budget, Plan, PlanRequest, Rounding, SliceStrategy, VolumeStrategy, make_plan,
};

fn request(budget: usize) -> PlanRequest {
    PlanRequest {
        budget: Some(Budget::Slices(budget)),
        ..PlanRequest::default()
    }
}

fn plan(ds: &Dataset, req: &PlanRequest) -> Plan {
    make_plan(ds, req, &Progress::new()).unwrap()
}

#[test]
fn budgets_are_met_exactly_with_the_recommended_spread() {
    let ds = demo::dataset();
    for (budget, rounding, strategy) in [
        (24, Rounding::FixedK, SliceStrategy::Fixed),
        (37, Rounding::FixedK, SliceStrategy::Random),
        (100, Rounding::Density, SliceStrategy::Random),
        (7, Rounding::FixedK, SliceStrategy::Fixed),
    ] {
        let req = PlanRequest {
            rounding,
            slice_strategy: strategy,
            ..request(budget)
        };
        let p = plan(&ds, &req);
        assert_eq!(p.total_slices(), budget, "{rounding:?} {strategy:?}");
        // Recommended: as many volumes as the budget allows at one slice minimum.
        assert_eq!(p.volumes.len(), budget.min(24));
        assert!(!p.rationale.is_empty());
        for v in &p.volumes {
            assert!(v.slices.windows(2).all(|w| w[0] < w[1]), "sorted, distinct");
            assert!(v.slices.iter().all(|&s| s < v.slice_count));
        }
        assert_eq!(p.alternatives.last().unwrap().volumes, budget.min(24));
    }
    // Density rounding spreads slices in proportion to each volume's length.
    let req = PlanRequest {
        rounding: Rounding::Density,
        volumes: Some(24),
        ..request(120)
    };
    let p = plan(&ds, &req);
    let long = p.volumes.iter().max_by_key(|v| v.slice_count).unwrap();
    let short = p.volumes.iter().min_by_key(|v| v.slice_count).unwrap();
    assert!(long.slices.len() > short.slices.len());
}

#[test]
fn fixed_interval_plan_is_exactly_spaced_and_centred() {
    let ds = demo::dataset();
    let req = PlanRequest {
        volumes: Some(24),
        slice_strategy: SliceStrategy::Fixed,
        body_rule: BodyRule {
            threshold: None,
            min_fraction: 0.0,
        },
        ..request(24 * 4)
    };
    let p = plan(&ds, &req);
    for v in &p.volumes {
        // Four slices, one in the middle of each quarter of the volume.
        let d = v.slice_count;
        let expected: Vec<usize> = (0..4).map(|m| (2 * m + 1) * d / 8).collect();
        assert_eq!(v.slices, expected, "{} ({d} slices)", v.case_id);
        // Centred: as far from the first slice as from the last (within one slice).
        let (head, tail) = (v.slices[0], d - 1 - v.slices[3]);
        assert!(head.abs_diff(tail) <= 1, "{head} vs {tail}");
        let gaps: Vec<usize> = v.slices.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter().max().unwrap() - gaps.iter().min().unwrap() <= 1,
            "{gaps:?}"
        );
    }
}

#[test]
fn same_seed_same_plan_and_other_seeds_differ() {
    let ds = demo::dataset();
    let req = PlanRequest {
        slice_strategy: SliceStrategy::Random,
        ..request(30)
    };
    let a = plan(&ds, &req);
    let b = plan(&ds, &req);
    assert_eq!(a, b);
    let c = plan(
        &ds,
        &PlanRequest {
            seed: 9,
            ..req.clone()
        },
    );
    assert_ne!(a.volumes, c.volumes);
    let r1 = plan(
        &ds,
        &PlanRequest {
            volume_strategy: VolumeStrategy::Representative,
            ..request(6)
        },
    );
    let r2 = plan(
        &ds,
        &PlanRequest {
            volume_strategy: VolumeStrategy::Representative,
            ..request(6)
        },
    );
    assert_eq!(r1, r2);
    assert_eq!(r1.volumes.len(), 6);
}

/// One case whose slices come in `blocks` of distinct tissue patterns.
fn patterned_dataset(dir: &std::path::Path, blocks: &[usize]) -> Dataset {
    let (w, h) = (32, 32);
    let d: usize = blocks.iter().sum();
    let mut data = vec![0f32; w * h * d];
    let mut rng = sliceplan::rng::Rng::new(4);
    let mut k = 0;
    for (b, &len) in blocks.iter().enumerate() {
        for _ in 0..len {
            for y in 0..h {
                for x in 0..w {
                    let v = match b {
                        0 => 100.0,
                        1 => {
                            if (x / 4 + y / 4) % 2 == 0 {
                                400.0
                            } else {
                                0.0
                            }
                        }
                        2 => 12.0 * x as f32,
                        _ => {
                            if (x as f32 - 16.0).hypot(y as f32 - 16.0) < 10.0 {
                                380.0
                            } else {
                                20.0
                            }
                        }
                    };
                    data[x + w * (y + h * k)] = v + rng.normal() as f32 * 3.0;
                }
            }
            k += 1;
        }
    }
    let case = dir.join("patterns");
    std::fs::create_dir_all(&case).unwrap();
    io::write_nifti(
        case.join("image.nii.gz"),
        &volume([w, h, d], [1.0, 1.0, 2.0], VoxelData::F32(data)),
    )
    .unwrap();
    open_dataset(dir).unwrap()
}

#[test]
fn ual_and_coreset_pick_one_slice_per_tissue_pattern() {
    let dir = tempdir();
    let blocks = [12, 30, 4, 14];
    let ds = patterned_dataset(dir.path(), &blocks);
    let bounds: Vec<usize> = blocks
        .iter()
        .scan(0, |acc, &b| {
            *acc += b;
            Some(*acc)
        })
        .collect();
    let block_of = |s: usize| bounds.iter().position(|&e| s < e).unwrap();
    for strategy in [SliceStrategy::Ual, SliceStrategy::Coreset] {
        for seed in 0..3 {
            let req = PlanRequest {
                slice_strategy: strategy,
                seed,
                body_rule: BodyRule {
                    threshold: None,
                    min_fraction: 0.0,
                },
                ..request(4)
            };
            let p = plan(&ds, &req);
            let mut seen: Vec<usize> = p.volumes[0].slices.iter().map(|&s| block_of(s)).collect();
            seen.sort();
            assert_eq!(
                seen,
                vec![0, 1, 2, 3],
                "{strategy:?} seed {seed}: {:?}",
                p.volumes[0].slices
            );
        }
    }
    // Fixed-interval picks follow position, not content: it misses the short block here.
    let p = plan(
        &ds,
        &PlanRequest {
            body_rule: BodyRule {
                threshold: None,
                min_fraction: 0.0,
            },
            ..request(4)
        },
    );
    let mut seen: Vec<usize> = p.volumes[0].slices.iter().map(|&s| block_of(s)).collect();
    seen.dedup();
    assert_ne!(seen, vec![0, 1, 2, 3]);
}

#[test]
fn infeasible_requests_name_the_feasible_range() {
    let ds = demo::dataset();
    let all: usize = (0..24).map(|i| demo::geometry(i).shape[2]).sum();
    let err = make_plan(&ds, &request(all + 1), &Progress::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("1–{all}")), "{err}");
    let err = make_plan(
        &ds,
        &PlanRequest {
            volumes: Some(10),
            min_slices_per_volume: 2,
            ..request(12)
        },
        &Progress::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("with 10 volumes") && err.contains("20–"),
        "{err}"
    );
    let err = make_plan(
        &ds,
        &PlanRequest {
            volumes: Some(30),
            ..request(40)
        },
        &Progress::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("30 volumes requested"), "{err}");
    let err = make_plan(&ds, &PlanRequest::default(), &Progress::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("give a budget"), "{err}");
}

#[test]
fn density_or_volume_count_alone_is_a_plan_and_one_slice_volumes_work() {
    let ds = demo::dataset();
    let p = plan(
        &ds,
        &PlanRequest {
            density: Some(0.05),
            ..PlanRequest::default()
        },
    );
    assert_eq!(p.volumes.len(), 24);
    for v in &p.volumes {
        assert_eq!(
            v.slices.len(),
            ((0.05 * v.slice_count as f64).round() as usize).max(1)
        );
    }
    let p = plan(
        &ds,
        &PlanRequest {
            volumes: Some(5),
            ..PlanRequest::default()
        },
    );
    assert_eq!(p.volumes.len(), 5);
    // A one-slice volume.
    let dir = tempdir();
    let case = dir.path().join("flat");
    std::fs::create_dir_all(&case).unwrap();
    io::write_nifti(
        case.join("image.nii.gz"),
        &volume([8, 8, 1], [1.0; 3], VoxelData::I16(vec![100; 64])),
    )
    .unwrap();
    let ds = open_dataset(dir.path()).unwrap();
    let p = plan(&ds, &request(1));
    assert_eq!(p.volumes[0].slices, vec![0]);
    assert!(make_plan(&ds, &request(2), &Progress::new()).is_err());
}

#[test]
fn a_held_out_seed_keeps_the_test_volumes_while_the_plan_seed_moves() {
    let ds = demo::dataset();
    let with = |seed: u64, holdout_seed: Option<u64>| {
        plan(
            &ds,
            &PlanRequest {
                holdout: 4,
                volumes: Some(6),
                seed,
                holdout_seed,
                ..request(30)
            },
        )
    };
    let own: Vec<Plan> = (0..3).map(|seed| with(seed, None)).collect();
    assert!(own[0].test_cases != own[1].test_cases || own[1].test_cases != own[2].test_cases);
    let fixed: Vec<Plan> = (0..3).map(|seed| with(seed, Some(0))).collect();
    for p in &fixed {
        assert_eq!(p.test_cases, own[0].test_cases);
        assert!(p.volumes.iter().all(|v| !p.test_cases.contains(&v.case_id)));
    }
    // The plan's own seed still draws which volumes are annotated.
    let chosen = |p: &Plan| {
        p.volumes
            .iter()
            .map(|v| v.case_id.clone())
            .collect::<Vec<_>>()
    };
    assert!(chosen(&fixed[0]) != chosen(&fixed[1]) || chosen(&fixed[1]) != chosen(&fixed[2]));
    assert_eq!(
        fixed[0].volumes, own[0].volumes,
        "holding out with the plan's own seed is the default draw"
    );
}

#[test]
fn a_seeds_volume_draws_are_nested_across_volume_counts() {
    // Studies compare allocations seed by seed: with one seed, the 2 annotated volumes are among
    // its 5 and those among its 10, so a paired difference measures the allocation, not the draw.
    let ds = demo::dataset();
    for seed in 0..3 {
        let chosen = |volumes: usize| -> std::collections::BTreeSet<String> {
            let p = plan(
                &ds,
                &PlanRequest {
                    holdout: 4,
                    holdout_seed: Some(0),
                    volumes: Some(volumes),
                    seed,
                    ..request(60)
                },
            );
            p.volumes.iter().map(|v| v.case_id.clone()).collect()
        };
        let (two, five, ten) = (chosen(2), chosen(5), chosen(10));
        assert_eq!((two.len(), five.len(), ten.len()), (2, 5, 10));
        assert!(two.is_subset(&five) && five.is_subset(&ten), "seed {seed}");
    }
}

#[test]
fn plan_files_round_trip_and_refuse_other_datasets() {
    let ds = demo::dataset();
    let p = plan(
        &ds,
        &PlanRequest {
            holdout: 4,
            ..request(40)
        },
    );
    assert_eq!(p.test_cases.len(), 4);
    assert!(p.volumes.iter().all(|v| !p.test_cases.contains(&v.case_id)));
    let dir = tempdir();
    let path = dir.path().join("plan.json");
    p.save(&path).unwrap();
    let loaded = Plan::load(&path).unwrap();
    assert_eq!(loaded.source.as_deref(), Some(path.as_path()));
    assert_eq!(
        Plan {
            source: None,
            ..loaded.clone()
        },
        p
    );
    // Another dataset: refused, naming the plan file.
    let other = patterned_dataset(&dir.path().join("other"), &[3, 3]);
    let err = loaded.check_dataset(&other).unwrap_err().to_string();
    assert!(err.contains("made for dataset 'demo'"), "{err}");
    assert!(err.ends_with(&path.display().to_string()), "{err}");
    // Slices out of range, on a bad axis, or listed twice.
    let ds = demo::dataset();
    let mut bad = loaded.clone();
    let depth = bad.volumes[0].slice_count;
    bad.volumes[0].slices.push(depth);
    let err = bad.check_dataset(&ds).unwrap_err().to_string();
    assert!(
        err.contains(&format!("plans slice {depth}, beyond")),
        "{err}"
    );
    let mut bad = loaded.clone();
    bad.volumes[0].axis = 7;
    assert!(
        bad.check_dataset(&ds)
            .unwrap_err()
            .to_string()
            .contains("axis 7")
    );
    let mut bad = loaded.clone();
    let first = bad.volumes[0].slices[0];
    bad.volumes[0].slices.insert(0, first);
    assert!(
        bad.check_dataset(&ds)
            .unwrap_err()
            .to_string()
            .contains("twice")
    );
    std::fs::write(&path, "{\"format\": 3}").unwrap();
    assert!(
        Plan::load(&path)
            .unwrap_err()
            .to_string()
            .contains("not a valid sliceplan plan")
    );
}

#[test]
fn worklist_lists_every_planned_slice_with_world_position() {
    let ds = demo::dataset();
    let p = plan(&ds, &request(30));
    let rows = worklist_rows(&p, &ds).unwrap();
    assert_eq!(rows.len(), 30);
    let g = demo::geometry(ds.case_index(&rows[0].case_id).unwrap());
    let expected_z =
        g.world_from_voxel[2][2] * rows[0].slice_index as f64 + g.world_from_voxel[2][3];
    assert!((rows[0].position_mm - expected_z).abs() < 1e-9);
    let dir = tempdir();
    let csv = dir.path().join("w.csv");
    assert_eq!(write_worklist(&p, &ds, &csv).unwrap(), 30);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with(
        "order,case_id,image_path,plane,axis,slice_index,position_mm,sop_instance_uid\n"
    ));
    assert_eq!(text.lines().count(), 31);
}

#[test]
fn nnunet_export_marks_only_off_plan_voxels_ignore_and_returned_masks_are_tracked() {
    let dir = tempdir();
    let raw = dir.path().join("raw");
    demo::write_nnunet(&raw).unwrap();
    let ds = open_dataset(&raw).unwrap();
    let p = plan(
        &ds,
        &PlanRequest {
            volumes: Some(3),
            ..request(9)
        },
    );
    let out = dir.path().join("sparse");
    let summary = export_nnunet(
        &ds,
        &p,
        &out,
        &TargetLabels::all_foreground(),
        None,
        &Progress::new(),
    )
    .unwrap();
    // Background, organ, lesion and spleen: the ignore label is the next value.
    assert_eq!(summary.ignore_label, 4);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("dataset.json")).unwrap()).unwrap();
    assert_eq!(json["labels"]["ignore"], 4);
    assert_eq!(json["labels"]["organ"], 1);
    assert_eq!(json["labels"]["spleen"], 3);
    assert_eq!(json["numTraining"], 3);
    for v in &p.volumes {
        let dense = ds.load(ds.case_index(&v.case_id).unwrap()).unwrap();
        let sparse =
            read_nifti(out.join("labelsTr").join(format!("{}.nii.gz", v.case_id))).unwrap();
        assert_eq!(sparse.world_from_voxel, dense.image.world_from_voxel);
        let truth = dense.labels.unwrap();
        let [nx, ny, _] = sparse.shape;
        for i in 0..sparse.voxel_count() {
            let k = i / (nx * ny);
            if v.slices.contains(&k) {
                assert_eq!(sparse.value(i), truth.value(i), "planned voxel changed");
            } else {
                assert_eq!(sparse.value(i), 4.0, "off-plan voxel not ignore");
            }
        }
        let image = std::fs::read(
            out.join("imagesTr")
                .join(format!("{}_0000.nii.gz", v.case_id)),
        )
        .unwrap();
        assert_eq!(
            image,
            std::fs::read(
                raw.join("imagesTr")
                    .join(format!("{}_0000.nii.gz", v.case_id))
            )
            .unwrap()
        );
    }
    // Annotators return masks for two of three cases: one planned slice left out, one extra.
    let masks = dir.path().join("returned");
    let first = &p.volumes[0];
    let dense = ds.load(ds.case_index(&first.case_id).unwrap()).unwrap();
    let [nx, ny, nz] = dense.image.shape;
    let mut m = vec![0u16; nx * ny * nz];
    let done: Vec<usize> = first.slices[1..].to_vec();
    let extra = (0..nz).find(|s| !first.slices.contains(s)).unwrap();
    for &k in done.iter().chain([extra].iter()) {
        m[k * nx * ny + 5] = 1;
    }
    io::write_labels_like(
        masks.join(format!("{}.nii.gz", first.case_id)),
        &dense.image,
        &m,
    )
    .unwrap();
    let status = check_returned(&ds, &p, &masks, None).unwrap();
    assert_eq!(status.done_slices, done.len());
    assert_eq!(status.missing_slices, 9 - done.len());
    assert_eq!(status.outside_plan_slices, 1);
    assert_eq!(status.cases[0].missing, vec![first.slices[0]]);
    assert_eq!(status.cases[0].outside_plan, vec![extra]);
    let rest = remaining_plan(&p, &status);
    assert_eq!(rest.total_slices(), 9 - done.len());
    // Exporting from returned masks needs a mask for every case.
    let err = export_nnunet(
        &ds,
        &p,
        &dir.path().join("x"),
        &TargetLabels::all_foreground(),
        Some(ReturnedMasks::new(&masks)),
        &Progress::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no returned mask"), "{err}");
    assert!(!dir.path().join("x").join("dataset.json").exists());
    // A mask the annotation tool flipped left-right has as many slices but another grid: its
    // slices would be miscounted, so it is refused, naming the file.
    let flipped_dir = dir.path().join("flipped");
    let mut flipped = dense.image.clone();
    for row in &mut flipped.world_from_voxel[..3] {
        row[0] = -row[0];
    }
    flipped.header =
        io::header_for_geometry(flipped.shape, flipped.spacing_mm, &flipped.world_from_voxel);
    let flipped_path = flipped_dir.join(format!("{}.nii.gz", first.case_id));
    std::fs::create_dir_all(&flipped_dir).unwrap();
    io::write_labels_like(&flipped_path, &flipped, &m).unwrap();
    let err = check_returned(&ds, &p, &flipped_dir, None).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("grids differ") && text.ends_with(&flipped_path.display().to_string()),
        "{text}"
    );
}

#[test]
fn cli_plan_writes_plan_and_worklist() {
    let dir = tempdir();
    let plan_path = dir.path().join("plan.json");
    let csv = dir.path().join("worklist.csv");
    let (code, out, err) = cli(&[
        "plan",
        "--data",
        "demo",
        "--budget-hours",
        "2",
        "--seconds-per-slice",
        "60",
        "--seconds-per-volume",
        "120",
        "--strategy",
        "random",
        "--seed",
        "3",
        "--out",
        plan_path.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // 2 h = 7200 s: 40 volumes × 180 s would be too much; 24 volumes × 120 s leave 4320 s = 72 slices.
    assert_eq!(v["accounting"]["volumes"], 24);
    assert_eq!(v["accounting"]["planned_slices"], 72);
    assert!(v["accounting"]["estimated_seconds"].as_f64().unwrap() <= 7200.0);
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 73);
    let (code, _, err) = cli(&["plan", "--data", "demo", "--budget-slices", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("feasible range"), "{err}");
}

#[test]
fn replanning_reuses_slice_features_and_plans_what_a_fresh_dataset_plans() {
    let ds = demo::dataset();
    assert!(ds.features.is_empty());
    for strategy in [SliceStrategy::Fixed, SliceStrategy::Ual] {
        let first = plan(
            &ds,
            &PlanRequest {
                slice_strategy: strategy,
                ..request(40)
            },
        );
        let kept = ds.features.len();
        assert!(kept >= first.volumes.len(), "{kept} cases' features kept");
        // Another budget and seed on the same dataset (features reused) plans exactly what a
        // fresh copy of the dataset (features computed) plans.
        let req = PlanRequest {
            slice_strategy: strategy,
            seed: 3,
            ..request(70)
        };
        let reused = plan(&ds, &req);
        let fresh = plan(&demo::dataset(), &req);
        assert_eq!(reused.volumes, fresh.volumes, "{strategy:?}");
    }
}

/// Eight CT-like case folders of 24×24×(10 + i) int16 voxels with label maps.
fn small_ct_cases(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut rng = sliceplan::rng::Rng::new(9);
    (0..8)
        .map(|i| {
            let shape = [24, 24, 10 + i];
            let n: usize = shape.iter().product();
            let image: Vec<i16> = (0..n)
                .map(|v| {
                    let (x, y) = ((v % 24) as f64 - 12.0, ((v / 24) % 24) as f64 - 12.0);
                    let body = if x.hypot(y) < 9.0 { 40.0 } else { -1000.0 };
                    (body + 20.0 * rng.normal()) as i16
                })
                .collect();
            let labels: Vec<u8> = (0..n).map(|v| (v % 7 == 0) as u8).collect();
            let case = dir.join(format!("case_{i}"));
            std::fs::create_dir_all(&case).unwrap();
            io::write_nifti(
                case.join("image.nii.gz"),
                &volume(shape, [1.0, 1.0, 2.0], VoxelData::I16(image)),
            )
            .unwrap();
            io::write_nifti(
                case.join("labels.nii.gz"),
                &volume(shape, [1.0, 1.0, 2.0], VoxelData::U8(labels)),
            )
            .unwrap();
            case
        })
        .collect()
}

#[test]
fn the_first_plan_reads_volumes_on_every_core_and_names_an_unreadable_image() {
    let dir = tempdir();
    let cases = small_ct_cases(dir.path());
    let req = PlanRequest {
        slice_strategy: SliceStrategy::Ual,
        seed: 2,
        ..request(16)
    };
    // Features computed one volume at a time beforehand plan what the parallel first plan plans.
    let one_at_a_time = open_dataset(dir.path()).unwrap();
    let geometries = one_at_a_time.geometries().unwrap();
    for (i, g) in geometries.iter().enumerate() {
        let axis = g.axis_for_plane(req.plane);
        sliceplan::plan::case_features::case_features(&one_at_a_time, i, axis, &req.body_rule)
            .unwrap();
    }
    let parallel = open_dataset(dir.path()).unwrap();
    let p = plan(&parallel, &req);
    assert_eq!(p.volumes.len(), 8);
    assert_eq!(
        parallel.features.len(),
        8,
        "every planned volume's features kept"
    );
    assert_eq!(p.volumes, plan(&one_at_a_time, &req).volumes);
    // `info` reads cases on every core too and lists them in the dataset's order.
    let summary = sliceplan::dataset::info::dataset_info(&parallel).unwrap();
    let listed: Vec<(String, usize)> = summary
        .cases
        .iter()
        .map(|c| (c.id.clone(), c.image.shape[2]))
        .collect();
    let expected: Vec<(String, usize)> = (0..8).map(|i| (format!("case_{i}"), 10 + i)).collect();
    assert_eq!(listed, expected);

    // Planning reads images only: a damaged label map does not stop a plan (simulation, which
    // reads it, still refuses it, naming the file).
    let label_path = cases[5].join("labels.nii.gz");
    let label_bytes = std::fs::read(&label_path).unwrap();
    std::fs::write(&label_path, &label_bytes[..label_bytes.len() / 2]).unwrap();
    let ds = open_dataset(dir.path()).unwrap();
    assert_eq!(plan(&ds, &req).volumes, p.volumes);
    let err = ds.load(5).unwrap_err().to_string();
    assert!(err.contains(&label_path.display().to_string()), "{err}");
    let err = sliceplan::dataset::info::dataset_info(&ds)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&label_path.display().to_string()), "{err}");

    // A truncated image among them is named, whichever reader met it.
    let image_path = cases[3].join("image.nii.gz");
    let image_bytes = std::fs::read(&image_path).unwrap();
    std::fs::write(&image_path, &image_bytes[..image_bytes.len() / 2]).unwrap();
    let ds = open_dataset(dir.path()).unwrap();
    let err = make_plan(&ds, &req, &Progress::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&image_path.display().to_string()),
        "the error names the image: {err}"
    );

    // A cancelled plan stops before reading anything.
    let ds = open_dataset(dir.path()).unwrap();
    let progress = Progress::new();
    progress.cancel();
    assert!(matches!(
        make_plan(&ds, &req, &progress),
        Err(sliceplan::Error::Cancelled)
    ));
    assert!(ds.features.is_empty());
}

/// The names a plan, a study file, the command line and the result store use for a strategy,
/// a model or an interpolation method are one list: each enum's `name()` parses back to it
/// (through clap's `ValueEnum`) and is its serde name, so stored runs keep their keys.
#[test]
fn every_name_parses_back_and_is_its_stored_name() {
    use sliceplan::interp::Method;
    use sliceplan::plan::SliceStrategy;
    use sliceplan::train::ModelKind;
    let stored = |v: serde_json::Value| v.as_str().unwrap().to_string();
    for s in SliceStrategy::ALL {
        assert_eq!(SliceStrategy::parse(s.name()).unwrap(), s);
        assert_eq!(stored(serde_json::to_value(s).unwrap()), s.name());
    }
    for m in [ModelKind::TwoD, ModelKind::ThreeD] {
        assert_eq!(ModelKind::parse(m.name()).unwrap(), m);
        assert_eq!(ModelKind::parse(&m.name().to_uppercase()).unwrap(), m);
        assert_eq!(stored(serde_json::to_value(m).unwrap()), m.name());
    }
    for m in [
        Method::Sdf,
        Method::SdfLabels,
        Method::Linear,
        Method::Nearest,
    ] {
        assert_eq!(Method::parse(m.name()).unwrap(), m);
        assert_eq!(stored(serde_json::to_value(m).unwrap()), m.name());
    }
    assert!(
        SliceStrategy::parse("smart")
            .unwrap_err()
            .to_string()
            .contains("choose random")
    );
}
