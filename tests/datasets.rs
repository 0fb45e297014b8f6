//! Whole datasets that are wrong in the ways real ones are: each is a clear refusal naming the
//! file (or a documented skip), never a crash or a silently wrong dataset.

mod common;

use std::path::Path;

use common::*;
use sliceplan::dataset::open_dataset;
use sliceplan::io::{VoxelData, write_nifti};

/// An nnU-Net raw dataset of `cases` (4×4×3 int16 images, uint8 labels).
fn nnunet(root: &Path, cases: &[&str]) {
    for id in cases {
        let image = volume([4, 4, 3], [1.0, 1.0, 2.0], VoxelData::I16(vec![100; 48]));
        let labels = volume(
            [4, 4, 3],
            [1.0, 1.0, 2.0],
            VoxelData::U8((0..48).map(|i| u8::from(i % 5 == 0)).collect()),
        );
        write_nifti(root.join(format!("imagesTr/{id}_0000.nii.gz")), &image).unwrap();
        write_nifti(root.join(format!("labelsTr/{id}.nii.gz")), &labels).unwrap();
    }
    std::fs::write(
        root.join("dataset.json"),
        r#"{"channel_names": {"0": "CT"}, "labels": {"background": 0, "organ": 1}}"#,
    )
    .unwrap();
}

fn load_all(root: &Path) -> Result<(), String> {
    let ds = open_dataset(root).map_err(|e| e.to_string())?;
    for i in 0..ds.len() {
        ds.load(i).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[test]
fn label_grids_that_differ_name_both_files_with_the_numbers() {
    let dir = tempdir();
    nnunet(dir.path(), &["a", "b"]);
    // b's labels are shifted by 2 mm.
    let mut shifted = volume([4, 4, 3], [1.0, 1.0, 2.0], VoxelData::U8(vec![0; 48]));
    shifted.world_from_voxel[0][3] += 2.0;
    shifted.header = sliceplan::io::header_for_geometry(
        shifted.shape,
        shifted.spacing_mm,
        &shifted.world_from_voxel,
    );
    let labels = dir.path().join("labelsTr/b.nii.gz");
    write_nifti(&labels, &shifted).unwrap();
    let e = load_all(dir.path()).unwrap_err();
    assert!(
        e.contains("grids differ (affines up to 2.000 mm apart)"),
        "{e}"
    );
    assert!(e.contains("imagesTr/b_0000.nii.gz"), "names the image: {e}");
    assert!(
        e.ends_with(&labels.display().to_string()),
        "names the labels last: {e}"
    );
    // A different shape.
    let small = volume([4, 4, 2], [1.0, 1.0, 2.0], VoxelData::U8(vec![0; 32]));
    write_nifti(&labels, &small).unwrap();
    let e = load_all(dir.path()).unwrap_err();
    assert!(
        e.contains("labels 4×4×2") && e.contains("image 4×4×3"),
        "{e}"
    );
}

#[test]
fn negative_or_fractional_label_values_are_refused() {
    let dir = tempdir();
    nnunet(dir.path(), &["a"]);
    let labels = dir.path().join("labelsTr/a.nii.gz");
    let mut v = vec![0i16; 48];
    v[7] = -3;
    write_nifti(
        &labels,
        &volume([4, 4, 3], [1.0, 1.0, 2.0], VoxelData::I16(v)),
    )
    .unwrap();
    let e = load_all(dir.path()).unwrap_err();
    assert!(
        e.contains("holds the value -3") && e.ends_with("a.nii.gz"),
        "{e}"
    );
    let mut v = vec![0f32; 48];
    v[9] = 0.5;
    write_nifti(
        &labels,
        &volume([4, 4, 3], [1.0, 1.0, 2.0], VoxelData::F32(v)),
    )
    .unwrap();
    let e = load_all(dir.path()).unwrap_err();
    assert!(e.contains("holds the value 0.5"), "{e}");
    // Whole numbers stored as floats are fine.
    let v: Vec<f32> = (0..48).map(|i| (i % 3) as f32).collect();
    write_nifti(
        &labels,
        &volume([4, 4, 3], [1.0, 1.0, 2.0], VoxelData::F32(v)),
    )
    .unwrap();
    load_all(dir.path()).unwrap();
}

#[test]
fn layout_problems_are_refused_and_junk_is_skipped() {
    // Junk beside the volumes is skipped (hidden files, other endings).
    let dir = tempdir();
    nnunet(dir.path(), &["a", "b"]);
    std::fs::write(dir.path().join("imagesTr/.DS_Store"), b"junk").unwrap();
    std::fs::write(dir.path().join("imagesTr/notes.txt"), b"junk").unwrap();
    std::fs::write(dir.path().join("labelsTr/readme.md"), b"junk").unwrap();
    assert_eq!(open_dataset(dir.path()).unwrap().len(), 2);
    // A dangling link is named.
    let link = dir.path().join("imagesTr/c_0000.nii.gz");
    std::os::unix::fs::symlink(dir.path().join("gone.nii.gz"), &link).unwrap();
    let e = open_dataset(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("dangling link") && e.ends_with("c_0000.nii.gz"),
        "{e}"
    );
    std::fs::remove_file(&link).unwrap();
    // Malformed dataset.json.
    std::fs::write(dir.path().join("dataset.json"), b"{\"labels\": ").unwrap();
    let e = open_dataset(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("invalid JSON") && e.ends_with("dataset.json"),
        "{e}"
    );
    // MSD: a case listed twice.
    std::fs::write(
        dir.path().join("dataset.json"),
        r#"{"training": [{"image": "./imagesTr/a_0000.nii.gz", "label": "./labelsTr/a.nii.gz"},
                         {"image": "./imagesTr/a_0000.nii.gz", "label": "./labelsTr/a.nii.gz"}]}"#,
    )
    .unwrap();
    let e = open_dataset(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("listed twice") && e.ends_with("dataset.json"),
        "{e}"
    );
    // A label map without its image.
    nnunet(dir.path(), &["a"]);
    std::fs::write(
        dir.path().join("dataset.json"),
        r#"{"channel_names": {"0": "CT"}, "labels": {"background": 0, "organ": 1}}"#,
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("imagesTr/b_0000.nii.gz")).unwrap();
    let e = open_dataset(dir.path()).unwrap_err().to_string();
    assert!(e.contains("has no image") && e.ends_with("b.nii.gz"), "{e}");
}

#[test]
fn case_folders_with_a_symlink_loop_open_without_hanging() {
    let dir = tempdir();
    for id in ["p1", "p2"] {
        let case = dir.path().join(id);
        write_nifti(
            case.join("image.nii.gz"),
            &volume([4, 4, 3], [1.0, 1.0, 2.0], VoxelData::I16(vec![5; 48])),
        )
        .unwrap();
    }
    // A loop: p1/back → the dataset root.
    std::os::unix::fs::symlink(dir.path(), dir.path().join("p1/back")).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
    let ds = open_dataset(dir.path()).unwrap();
    assert_eq!(ds.len(), 2, "{:?}", ds.cases);
}

#[test]
fn dataset_json_paths_outside_the_folder_are_refused() {
    let dir = tempdir();
    nnunet(dir.path(), &["a"]);
    for listed in ["/etc/passwd", "../a_0000.nii.gz", "imagesTr/../../x.nii.gz"] {
        std::fs::write(
            dir.path().join("dataset.json"),
            format!(r#"{{"training": [{{"image": "{listed}", "label": "./labelsTr/a.nii.gz"}}]}}"#),
        )
        .unwrap();
        let e = open_dataset(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("must lie inside the dataset folder") && e.ends_with("dataset.json"),
            "{listed}: {e}"
        );
    }
}

#[test]
fn refusals_stay_one_line_whatever_the_file_holds() {
    let e = sliceplan::Error::file("bad value 'a\nb'", "/tmp/x").to_string();
    assert_eq!(e.lines().count(), 1, "{e}");
}

/// A cohort made from the real abdominal CT opens as a dataset: every case holds both kidneys
/// under their names, on its own window of the source's slices, with the geometry of the source.
#[test]
fn a_cohort_augmented_from_a_real_ct_opens_as_a_dataset() {
    let Some(real) = real_data() else { return };
    let dir = tempdir();
    let source = real.join("totalseg-ct-abdomen");
    let draws =
        sliceplan::dataset::augment::write_augmented_cohort(&source, &[2, 3], 3, 1, dir.path())
            .unwrap();
    let ds = open_dataset(dir.path()).unwrap();
    assert_eq!(ds.len(), 3);
    assert_eq!(
        ds.label_names.get(&2).map(String::as_str),
        Some("kidney_right")
    );
    assert_eq!(
        ds.label_names.get(&3).map(String::as_str),
        Some("kidney_left")
    );
    for (i, d) in draws.iter().enumerate() {
        let case = ds.load(i).unwrap();
        assert_eq!(case.image.shape, [122, 101, d.source_slices.len()]);
        assert_eq!(case.image.spacing_mm, [3.0, 3.0, 3.0]);
        let labels = case.labels.as_ref().unwrap().to_f32();
        for kidney in [2.0, 3.0] {
            let n = labels.iter().filter(|&&l| l == kidney).count();
            assert!(n > 500, "case {i}: {n} voxels of label {kidney}");
        }
    }
    let e = sliceplan::dataset::augment::write_augmented_cohort(&source, &[250], 1, 1, dir.path())
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("no voxel holds the target labels [250]"),
        "{e}"
    );
    assert!(e.to_string().ends_with("labels.nii.gz"), "{e}");
}

/// A single file says no modality: a CT is told by its Hounsfield units (air at -1000) and
/// windowed and normalised as CT; an MR stays unknown (percentile window, MR body rule).
#[test]
fn a_single_file_is_taken_for_ct_by_its_values() {
    use sliceplan::dataset::Modality;
    let Some(root) = real_data() else { return };
    for (case, expected) in [
        ("totalseg-ct-small", Modality::Ct),
        ("totalseg-ct-chest", Modality::Ct),
        ("totalseg-mr-abdomen", Modality::Other),
        ("tptbox-spine-mr", Modality::Other),
    ] {
        let ds = open_dataset(root.join(case).join("image.nii.gz")).unwrap();
        assert_eq!(
            ds.cases[0].modality,
            Modality::Other,
            "nothing said at open"
        );
        let loaded = ds.load(0).unwrap();
        assert_eq!(loaded.modality, expected, "{case}");
    }
    // Made-up values: a body in HU with air around it, and the same shifted above 0.
    let dir = tempdir();
    let mut hu = vec![-1000i16; 8 * 8 * 4];
    for v in hu.iter_mut().skip(20).step_by(3) {
        *v = 40;
    }
    let mr: Vec<i16> = hu.iter().map(|v| v + 1100).collect();
    for (name, values, expected) in [("hu", hu, Modality::Ct), ("mr", mr, Modality::Other)] {
        let path = dir.path().join(format!("{name}.nii.gz"));
        write_nifti(&path, &volume([8, 8, 4], [1.0; 3], VoxelData::I16(values))).unwrap();
        let loaded = open_dataset(&path).unwrap().load(0).unwrap();
        assert_eq!(loaded.modality, expected, "{name}");
    }
}
