//! Volumes, datasets and the demo cohort: real files, round trips and bad input.

mod common;

use std::collections::BTreeMap;

use common::*;
use sliceplan::dataset::{Layout, demo, info, open_dataset};
use sliceplan::io::{self, Plane, VoxelData, read_nifti, read_nifti_info};

#[test]
fn every_real_case_matches_its_case_json() {
    let Some(root) = real_data() else { return };
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let case_json = dir.join("case.json");
        if !case_json.is_file() {
            continue;
        }
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&case_json).unwrap()).unwrap();
        let image = read_nifti(dir.join(meta["image_file"].as_str().unwrap())).unwrap();
        let shape: Vec<usize> = meta["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(image.shape.to_vec(), shape, "{}", dir.display());
        for (a, b) in image
            .spacing_mm
            .iter()
            .zip(meta["spacing"].as_array().unwrap())
        {
            assert!(
                (a - b.as_f64().unwrap()).abs() < 1e-4,
                "{}: spacing {a} vs {b}",
                dir.display()
            );
        }
        assert_eq!(
            image.orientation(),
            meta["orientation"].as_str().unwrap(),
            "{}",
            dir.display()
        );
        assert_eq!(
            image.dtype_name(),
            meta["dtype"].as_str().unwrap(),
            "{}",
            dir.display()
        );
        if let Some(range) = meta["intensity_range"].as_array() {
            let (lo, hi) = (0..image.voxel_count())
                .map(|i| image.value(i))
                .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
            assert_eq!(
                (lo, hi),
                (range[0].as_f64().unwrap(), range[1].as_f64().unwrap()),
                "{}",
                dir.display()
            );
        }
        if let Some(labels_file) = meta["labels_file"].as_str() {
            let labels = read_nifti(dir.join(labels_file)).unwrap();
            let expected: BTreeMap<i64, u64> = meta["label_voxels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), v.as_u64().unwrap()))
                .collect();
            assert_eq!(labels.label_voxels(), expected, "{}", dir.display());
        }
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} real cases found");
}

#[test]
fn real_cases_open_as_a_dataset_and_slice_by_anatomy() {
    let Some(root) = real_data() else { return };
    let ds = open_dataset(&root).unwrap();
    assert_eq!(ds.layout, Layout::CaseFolders);
    assert!(ds.len() >= 9);
    // Label names come from the cases' case.json files (first case wins for a value).
    assert_eq!(
        ds.label_names.get(&0).map(String::as_str),
        Some("kmeans_class_0")
    );
    let unlabelled = ds
        .cases
        .iter()
        .find(|c| c.id == "nibabel-anatomical")
        .unwrap();
    assert!(unlabelled.labels.is_none());
    // PIR spine: axial slices run along the second voxel axis (superior→inferior).
    let spine = ds.load(ds.case_index("tptbox-spine-ct").unwrap()).unwrap();
    assert_eq!(spine.image.axis_for_plane(Plane::Axial), 1);
    assert_eq!(spine.image.axis_for_plane(Plane::Sagittal), 2);
    // LSA brain: the second file axis runs inferior→superior, so it is the axial one.
    let brain = ds.load(ds.case_index("itk-kmeans-brain").unwrap()).unwrap();
    assert_eq!(brain.image.orientation(), "LSA");
    assert_eq!(brain.image.axis_for_plane(Plane::Axial), 1);
    assert_eq!(brain.image.axis_for_plane(Plane::Coronal), 2);
    // The stale-affine crop still loads on its own grid.
    let small = ds
        .load(ds.case_index("totalseg-ct-small").unwrap())
        .unwrap();
    assert_eq!(small.image.shape, [122, 101, 30]);
}

#[test]
fn big_endian_scaled_and_header_only_reads() {
    let Some(root) = real_data() else { return };
    // nibabel's big-endian int16 .nii: first slice equals a little-endian rewrite of it.
    let be = read_nifti(root.join("nibabel-anatomical/image.nii")).unwrap();
    assert_eq!(be.header.endianness, nifti::Endianness::Big);
    let dir = tempdir();
    io::write_nifti(dir.path().join("le.nii.gz"), &be).unwrap();
    let le = read_nifti(dir.path().join("le.nii.gz")).unwrap();
    assert_eq!(le.data, be.data);
    assert_eq!(le.world_from_voxel, be.world_from_voxel);
    let info = read_nifti_info(root.join("totalseg-ct-chest/image.nii.gz")).unwrap();
    assert_eq!(info.shape, [233, 167, 191]);
    assert_eq!(info.orientation(), "LPS");
}

#[test]
fn label_volume_round_trip_keeps_geometry_exactly() {
    let dir = tempdir();
    let mut made = volume(
        [7, 5, 3],
        [0.7, 0.9, 2.5],
        VoxelData::I16((0..105).map(|x| x as i16 - 50).collect()),
    );
    made.header.qform_code = 1;
    made.header.sform_code = 2;
    // The source as the app has it: read from a file.
    io::write_nifti(dir.path().join("image.nii"), &made).unwrap();
    let src = read_nifti(dir.path().join("image.nii")).unwrap();
    let labels: Vec<u16> = (0..105).map(|x| (x % 3) as u16).collect();
    let p = dir.path().join("labels.nii.gz");
    io::write_labels_like(&p, &src, &labels).unwrap();
    let back = read_nifti(&p).unwrap();
    assert_eq!(back.shape, src.shape);
    assert_eq!(back.world_from_voxel, src.world_from_voxel);
    assert_eq!(back.header.sform_code, 2);
    assert_eq!(back.header.qform_code, 1);
    assert_eq!(back.header.pixdim, src.header.pixdim);
    assert_eq!(
        back.data,
        VoxelData::U8(labels.iter().map(|&l| l as u8).collect())
    );
    // Labels above 255 are kept as uint16.
    let wide: Vec<u16> = (0..105).map(|x| x as u16 * 10).collect();
    io::write_labels_like(&p, &src, &wide).unwrap();
    assert_eq!(read_nifti(&p).unwrap().data, VoxelData::U16(wide));
}

#[test]
fn scaling_and_qform_only_headers_are_applied() {
    let dir = tempdir();
    let v = volume([4, 4, 2], [1.0, 2.0, 3.0], VoxelData::I16(vec![10; 32]));
    let mut bytes = nii_bytes(dir.path(), &v);
    bytes[112..116].copy_from_slice(&2.0f32.to_le_bytes()); // scl_slope
    bytes[116..120].copy_from_slice(&(-5.0f32).to_le_bytes()); // scl_inter
    bytes[254..256].copy_from_slice(&0i16.to_le_bytes()); // sform_code = 0: use the qform
    let p = dir.path().join("scaled.nii");
    std::fs::write(&p, &bytes).unwrap();
    let r = read_nifti(&p).unwrap();
    assert_eq!(r.value(0), 15.0);
    assert_eq!(r.slice_f32(2, 1).data[0], 15.0);
    assert_eq!(r.dtype_name(), "int16");
    for (a, b) in r
        .world_from_voxel
        .iter()
        .flatten()
        .zip(v.world_from_voxel.iter().flatten())
    {
        assert!(
            (a - b).abs() < 1e-5,
            "{:?} vs {:?}",
            r.world_from_voxel,
            v.world_from_voxel
        );
    }
}

fn expect_error(path: &std::path::Path, needle: &str) {
    let err = read_nifti(path).expect_err("bad file accepted").to_string();
    assert!(err.contains(needle), "error '{err}' lacks '{needle}'");
    assert!(
        err.ends_with(&path.display().to_string()),
        "error '{err}' should end with the path"
    );
}

#[test]
fn bad_files_get_clear_errors() {
    let dir = tempdir();
    let d = dir.path();
    let mut rng = sliceplan::rng::Rng::new(9);
    let v = volume(
        [16, 16, 8],
        [1.0; 3],
        VoxelData::I16((0..2048).map(|_| rng.next_u64() as i16).collect()),
    );
    let good = nii_bytes(d, &v);
    // Truncated .nii.gz.
    let gz = gzip(&good);
    let p = d.join("truncated.nii.gz");
    std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
    expect_error(&p, "truncated voxel data");
    // Truncated .nii.
    let p = d.join("short.nii");
    std::fs::write(&p, &good[..400]).unwrap();
    expect_error(&p, "truncated voxel data");
    // Wrong magic.
    let mut bad = good.clone();
    bad[344..348].copy_from_slice(b"xyz\0");
    let p = d.join("magic.nii");
    std::fs::write(&p, &bad).unwrap();
    expect_error(&p, "wrong NIfTI magic");
    // NIfTI-2.
    let mut n2 = vec![0u8; 600];
    n2[0..4].copy_from_slice(&540i32.to_le_bytes());
    let p = d.join("two.nii");
    std::fs::write(&p, &n2).unwrap();
    expect_error(&p, "NIfTI-2 files are not supported yet");
    // Not NIfTI at all.
    let p = d.join("text.nii");
    std::fs::write(
        &p,
        b"hello, this is not an image at all, not at all; more bytes needed here..",
    )
    .unwrap();
    expect_error(&p, "not a NIfTI-1 file");
    // Zero and negative dims.
    for (value, name) in [(0i16, "zero.nii"), (-3, "negative.nii")] {
        let mut b = good.clone();
        b[44..46].copy_from_slice(&value.to_le_bytes()); // dim[2]
        let p = d.join(name);
        std::fs::write(&p, &b).unwrap();
        expect_error(&p, "must be positive");
    }
    // Huge dims: refused before allocating.
    let mut b = good.clone();
    for i in 0..3 {
        b[42 + 2 * i..44 + 2 * i].copy_from_slice(&32000i16.to_le_bytes());
    }
    b[70..72].copy_from_slice(&64i16.to_le_bytes()); // float64: 262 TB
    let p = d.join("huge.nii");
    std::fs::write(&p, &b).unwrap();
    expect_error(&p, "memory available");
    // Unknown datatype.
    let mut b = good.clone();
    b[70..72].copy_from_slice(&999i16.to_le_bytes());
    let p = d.join("dtype.nii");
    std::fs::write(&p, &b).unwrap();
    expect_error(&p, "unknown NIfTI datatype code 999");
    // 4D with several volumes.
    let mut b = good.clone();
    b[40..42].copy_from_slice(&4i16.to_le_bytes());
    b[48..50].copy_from_slice(&3i16.to_le_bytes());
    let p = d.join("four.nii");
    std::fs::write(&p, &b).unwrap();
    expect_error(&p, "needs a 3D volume");
    // A missing file.
    expect_error(&d.join("absent.nii.gz"), "cannot open file");
}

fn write_case(
    dir: &std::path::Path,
    image: &sliceplan::io::Volume,
    labels: Option<&sliceplan::io::Volume>,
) {
    io::write_nifti(dir.join("image.nii.gz"), image).unwrap();
    if let Some(l) = labels {
        io::write_nifti(dir.join("labels.nii.gz"), l).unwrap();
    }
}

#[test]
fn dataset_grid_mismatch_nan_and_missing_files_are_reported() {
    let dir = tempdir();
    let img = volume([6, 6, 4], [1.0; 3], VoxelData::F32(vec![1.0; 144]));
    // Grid mismatch: labels of another shape.
    let a = dir.path().join("mismatch/case_a");
    std::fs::create_dir_all(&a).unwrap();
    let small = volume([6, 6, 3], [1.0; 3], VoxelData::U8(vec![0; 108]));
    write_case(&a, &img, Some(&small));
    let ds = open_dataset(dir.path().join("mismatch")).unwrap();
    let err = ds.load(0).unwrap_err().to_string();
    assert!(
        err.contains("grids differ") && err.contains("6×6×4") && err.contains("6×6×3"),
        "{err}"
    );
    assert!(err.ends_with("labels.nii.gz"), "{err}");
    // NaN intensities.
    let b = dir.path().join("nan/case_b");
    std::fs::create_dir_all(&b).unwrap();
    let mut values = vec![1.0f32; 144];
    values[5] = f32::NAN;
    values[7] = f32::INFINITY;
    let nan_img = volume([6, 6, 4], [1.0; 3], VoxelData::F32(values));
    write_case(
        &b,
        &nan_img,
        Some(&volume([6, 6, 4], [1.0; 3], VoxelData::U8(vec![0; 144]))),
    );
    let err = open_dataset(dir.path().join("nan"))
        .unwrap()
        .load(0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 NaN or infinite voxels"), "{err}");
    // Image without labels next to a labelled case.
    let c = dir.path().join("mixed");
    for (name, labelled) in [("x", true), ("y", false)] {
        let d = c.join(name);
        std::fs::create_dir_all(&d).unwrap();
        write_case(
            &d,
            &img,
            labelled
                .then(|| volume([6, 6, 4], [1.0; 3], VoxelData::U8(vec![0; 144])))
                .as_ref(),
        );
    }
    let err = open_dataset(&c).unwrap_err().to_string();
    assert!(err.contains("image but no label map (y)"), "{err}");
    // nnU-Net label without image.
    let n = dir.path().join("nnunet");
    io::write_nifti(n.join("imagesTr/a_0000.nii.gz"), &img).unwrap();
    io::write_nifti(n.join("labelsTr/a.nii.gz"), &small).unwrap();
    io::write_nifti(n.join("labelsTr/b.nii.gz"), &small).unwrap();
    let err = open_dataset(&n).unwrap_err().to_string();
    assert!(err.contains("label map for case 'b' has no image"), "{err}");
    // An empty folder.
    let e = dir.path().join("empty");
    std::fs::create_dir_all(&e).unwrap();
    assert!(
        open_dataset(&e)
            .unwrap_err()
            .to_string()
            .contains("no dataset found")
    );
}

#[test]
fn demo_cohort_is_deterministic_varied_and_round_trips_as_nnunet() {
    let ds = demo::dataset();
    assert_eq!(ds.len(), 24);
    let (a1, l1) = demo::generate(3);
    let (a2, l2) = demo::generate(3);
    assert_eq!(a1.data, a2.data);
    assert_eq!(l1.data, l2.data);
    let depths: Vec<usize> = (0..24).map(|i| demo::geometry(i).shape[2]).collect();
    assert!(depths.iter().all(|&d| (40..=120).contains(&d)));
    assert!(
        depths.iter().max().unwrap() - depths.iter().min().unwrap() > 30,
        "{depths:?}"
    );
    let counts = l1.label_voxels();
    assert!(counts[&1] > 1000, "{counts:?}");
    assert_eq!(a1.orientation(), "LPS");
    assert!(a1.spacing_mm[2] > a1.spacing_mm[0]);
    // Some slices hold no organ, some do.
    let with_organ = (0..l1.shape[2])
        .filter(|&k| l1.slice_f32(2, k).data.iter().any(|&v| v > 0.0))
        .count();
    assert!(with_organ > 5 && with_organ < l1.shape[2], "{with_organ}");
    // Written as nnU-Net raw and opened back.
    let dir = tempdir();
    let (code, _, err) = cli(&["demo", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let back = open_dataset(dir.path()).unwrap();
    assert_eq!(back.layout, Layout::NnUnet);
    assert_eq!(back.len(), 24);
    assert_eq!(back.label_names.get(&1).map(String::as_str), Some("organ"));
    assert_eq!(back.label_names.get(&3).map(String::as_str), Some("spleen"));
    assert!(
        back.default_target().values.is_empty(),
        "every label outside the demo"
    );
    let case = back.load(3).unwrap();
    assert_eq!(case.image.data, a1.data);
    assert_eq!(case.labels.unwrap().data, l1.data);
}

#[test]
fn demo_spleen_is_the_default_target_and_differs_between_patients() {
    let ds = demo::dataset();
    assert_eq!(ds.label_names[&3], "spleen");
    assert_eq!(
        ds.default_target().values.into_iter().collect::<Vec<_>>(),
        vec![demo::DEFAULT_TARGET]
    );
    let mut brightness = Vec::new();
    for i in 0..demo::DEMO_CASES {
        let (image, labels) = demo::generate(i);
        let (img, lab) = (image.to_f32(), labels.to_f32());
        let spleen: Vec<f32> = img
            .iter()
            .zip(&lab)
            .filter(|(_, l)| **l == 3.0)
            .map(|(v, _)| *v)
            .collect();
        assert!(
            spleen.len() > 500,
            "case {i}: {} spleen voxels",
            spleen.len()
        );
        // On some slices only, as a plan must find it.
        let slices = (0..labels.shape[2])
            .filter(|&k| labels.slice_f32(2, k).data.contains(&3.0))
            .count();
        assert!(
            slices >= 5 && slices < labels.shape[2] / 2,
            "case {i}: {slices} slices"
        );
        brightness.push(spleen.iter().sum::<f32>() / spleen.len() as f32);
    }
    // Patients differ: from barely above soft tissue (35 HU) to as bright as the kidneys.
    let (lo, hi) = brightness
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert!(
        lo < 75.0 && hi > 150.0,
        "spleen brightness {lo:.0}–{hi:.0} HU"
    );
    // Planned without a label: the spleen; a folder written from the demo: every label.
    let dir = tempdir();
    let out = dir.path().join("plan.json");
    let (code, _, err) = cli(&[
        "plan",
        "--data",
        "demo",
        "--budget-slices",
        "24",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let plan = std::fs::read_to_string(&out).unwrap();
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(
        plan["request"]["target"]["values"],
        serde_json::json!([3]),
        "{plan}"
    );
}

#[test]
fn msd_layout_opens_with_label_names() {
    let dir = tempdir();
    let img = volume([5, 5, 3], [1.0; 3], VoxelData::I16(vec![0; 75]));
    let lab = volume([5, 5, 3], [1.0; 3], VoxelData::U8(vec![1; 75]));
    io::write_nifti(dir.path().join("imagesTr/liver_0.nii.gz"), &img).unwrap();
    io::write_nifti(dir.path().join("labelsTr/liver_0.nii.gz"), &lab).unwrap();
    let json = r#"{"modality": {"0": "CT"}, "labels": {"0": "background", "1": "liver"},
        "training": [{"image": "./imagesTr/liver_0.nii.gz", "label": "./labelsTr/liver_0.nii.gz"}]}"#;
    std::fs::write(dir.path().join("dataset.json"), json).unwrap();
    let ds = open_dataset(dir.path()).unwrap();
    assert_eq!(ds.layout, Layout::Msd);
    assert_eq!(ds.cases[0].id, "liver_0");
    assert_eq!(ds.label_names[&1], "liver");
    let summary = info::dataset_info(&ds).unwrap();
    assert_eq!(
        summary.cases[0]
            .labels
            .as_ref()
            .unwrap()
            .label_voxels
            .as_ref()
            .unwrap()["1"],
        75
    );
}

#[test]
fn cli_info_reports_json_and_errors_with_exit_code_2() {
    let Some(root) = real_data() else { return };
    let p = root.join("tptbox-spine-ct/labels.nii.gz");
    let (code, out, err) = cli(&["info", p.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["shape"], serde_json::json!([73, 47, 73]));
    assert_eq!(v["orientation"], "PIR");
    assert_eq!(v["dtype"], "uint8");
    assert_eq!(v["label_voxels"]["22"], 17698);
    let dir = tempdir();
    let bad = dir.path().join("bad.nii.gz");
    std::fs::write(&bad, b"\x1f\x8bnot really gzip").unwrap();
    let (code, out, err) = cli(&["info", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bad.nii.gz"), "{err}");
    let (code, out, _) = cli(&[
        "info",
        root.join("itk-kmeans-brain").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cases"][0]["image"]["orientation"], "LSA");
    assert_eq!(v["label_names"]["0"], "kmeans_class_0");
}

#[test]
fn cli_command_help_prints_the_usage() {
    let (code, out, err) = cli(&["train", "--help"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Usage: sliceplan train [OPTIONS] --data <DIR>"),
        "{out}"
    );
    let (code, _, err) = cli(&["train"]);
    assert_eq!(code, 2);
    assert!(err.contains("--data"), "{err}");
}
