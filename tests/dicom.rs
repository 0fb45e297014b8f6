//! DICOM series in: the real TotalSegmentator series (JPEG 2000) matches its NIfTI conversion
//! voxel for voxel; a case folder holding a series plans and exports a worklist naming each
//! image's SOPInstanceUID; broken series (tilt, a missing slice, uneven gaps, mixed
//! orientations, several series, a codec this build lacks) are refused with the reason.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use sliceplan::dataset::{Layout, Source, open_dataset};
use sliceplan::export::worklist_rows;
use sliceplan::io::{read_dicom_series, read_nifti, scan_dicom_folder};
use sliceplan::jobs::Progress;
use sliceplan::plan::{Budget, PlanRequest, make_plan};

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const CT_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";

fn real_series() -> Option<PathBuf> {
    let p = real_data()?.join("totalseg-ct-dicom-abdomen");
    p.join("dicom").is_dir().then_some(p)
}

#[test]
fn the_real_series_matches_its_nifti_conversion() {
    let Some(case) = real_series() else { return };
    let from_dicom = read_dicom_series(case.join("dicom"), None).unwrap();
    let nifti = read_nifti(case.join("image.nii.gz")).unwrap();
    assert_eq!(from_dicom.shape, nifti.shape);
    assert_eq!(from_dicom.orientation(), nifti.orientation());
    assert_eq!(from_dicom.orientation(), "LPS");
    for a in 0..3 {
        assert!(
            (from_dicom.spacing_mm[a] - nifti.spacing_mm[a]).abs() < 1e-4,
            "{:?} vs {:?}",
            from_dicom.spacing_mm,
            nifti.spacing_mm
        );
        for b in 0..4 {
            assert!(
                (from_dicom.world_from_voxel[a][b] - nifti.world_from_voxel[a][b]).abs() < 1e-3,
                "affines differ: {:?} vs {:?}",
                from_dicom.world_from_voxel,
                nifti.world_from_voxel
            );
        }
    }
    assert_eq!(from_dicom.dtype_name(), "int16");
    let differing = (0..nifti.voxel_count())
        .filter(|&i| from_dicom.value(i) != nifti.value(i))
        .count();
    assert_eq!(differing, 0, "voxels differ after RescaleSlope/Intercept");
}

#[test]
fn a_case_folder_holding_a_series_plans_and_names_each_image_in_the_worklist() {
    let Some(real) = real_series() else { return };
    let dir = tempdir();
    let case = dir.path().join("abdomen");
    std::fs::create_dir(&case).unwrap();
    std::os::unix::fs::symlink(real.join("dicom"), case.join("dicom")).unwrap();
    std::os::unix::fs::symlink(real.join("labels.nii.gz"), case.join("labels.nii.gz")).unwrap();
    let ds = open_dataset(dir.path()).unwrap();
    assert_eq!(ds.layout, Layout::CaseFolders);
    assert!(matches!(ds.cases[0].image, Source::Dicom { .. }));
    assert_eq!(format!("{:?}", ds.cases[0].modality), "Ct");
    // The labels (NIfTI) lie on the series' grid.
    let loaded = ds.load(0).unwrap();
    assert_eq!(loaded.labels.as_ref().unwrap().shape, [512, 512, 20]);
    let request = PlanRequest {
        budget: Some(Budget::Slices(5)),
        ..PlanRequest::default()
    };
    let plan = make_plan(&ds, &request, &Progress::new()).unwrap();
    let rows = worklist_rows(&plan, &ds).unwrap();
    assert_eq!(rows.len(), 5);
    let scanned = scan_dicom_folder(case.join("dicom")).unwrap();
    for row in &rows {
        let image = scanned.series[0]
            .slices
            .iter()
            .find(|s| s.sop_instance_uid == row.sop_instance_uid)
            .unwrap_or_else(|| panic!("{} names no image", row.sop_instance_uid));
        // The image named is the one at the planned slice's position (LPS z = RAS z).
        let z = image.position_lps.unwrap()[2];
        assert!(
            (z - row.position_mm).abs() < 1e-3,
            "slice {}: image at z {z}, slice at {}",
            row.slice_index,
            row.position_mm
        );
    }
    // The sparse nnU-Net export writes the series as NIfTI with the planned slices labelled.
    let out = dir.path().join("Dataset501");
    let summary = sliceplan::export::export_nnunet(
        &ds,
        &plan,
        &out,
        &sliceplan::dataset::TargetLabels::all_foreground(),
        None,
        &Progress::new(),
    )
    .unwrap();
    assert_eq!((summary.cases, summary.annotated_slices), (1, 5));
    let image = read_nifti(out.join("imagesTr/abdomen_0000.nii.gz")).unwrap();
    assert_eq!(image.shape, [512, 512, 20]);
    assert_eq!(image.value(1000), loaded.image.value(1000));
}

/// A small uncompressed CT series: `positions` (LPS mm) of each image, 4×3 pixels.
struct Series<'a> {
    dir: &'a Path,
    uid: &'a str,
    positions: Vec<[f64; 3]>,
    orientation: [f64; 6],
    transfer_syntax: &'a str,
}

impl Series<'_> {
    fn write(&self) {
        std::fs::create_dir_all(self.dir).unwrap();
        let ds = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x}"))
                .collect::<Vec<_>>()
                .join("\\")
        };
        for (k, p) in self.positions.iter().enumerate() {
            let sop = format!("{}.{}", self.uid, k + 1);
            let mut obj = InMemDicomObject::new_empty();
            let mut put = |tag, vr, value: PrimitiveValue| {
                obj.put(DataElement::new(tag, vr, value));
            };
            put(tags::SOP_CLASS_UID, VR::UI, CT_IMAGE_STORAGE.into());
            put(tags::SOP_INSTANCE_UID, VR::UI, sop.as_str().into());
            put(tags::MODALITY, VR::CS, "CT".into());
            put(tags::SERIES_INSTANCE_UID, VR::UI, self.uid.into());
            put(tags::SERIES_NUMBER, VR::IS, "3".into());
            put(
                tags::INSTANCE_NUMBER,
                VR::IS,
                format!("{}", k + 1).as_str().into(),
            );
            put(tags::IMAGE_POSITION_PATIENT, VR::DS, ds(p).as_str().into());
            put(
                tags::IMAGE_ORIENTATION_PATIENT,
                VR::DS,
                ds(&self.orientation).as_str().into(),
            );
            put(tags::PIXEL_SPACING, VR::DS, "0.5\\0.75".into());
            put(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16));
            put(
                tags::PHOTOMETRIC_INTERPRETATION,
                VR::CS,
                "MONOCHROME2".into(),
            );
            put(tags::ROWS, VR::US, PrimitiveValue::from(3u16));
            put(tags::COLUMNS, VR::US, PrimitiveValue::from(4u16));
            put(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16));
            put(tags::BITS_STORED, VR::US, PrimitiveValue::from(12u16));
            put(tags::HIGH_BIT, VR::US, PrimitiveValue::from(11u16));
            put(
                tags::PIXEL_REPRESENTATION,
                VR::US,
                PrimitiveValue::from(0u16),
            );
            put(tags::RESCALE_INTERCEPT, VR::DS, "-1024".into());
            put(tags::RESCALE_SLOPE, VR::DS, "1".into());
            if self.transfer_syntax == EXPLICIT_LE {
                let pixels: Vec<u16> = (0..12).map(|i| (100 * k + i) as u16).collect();
                put(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(pixels.into()));
            }
            let file = obj
                .with_meta(
                    FileMetaTableBuilder::new()
                        .transfer_syntax(self.transfer_syntax)
                        .media_storage_sop_class_uid(CT_IMAGE_STORAGE)
                        .media_storage_sop_instance_uid(sop.as_str()),
                )
                .unwrap();
            // File names in reverse order: sorting must follow the positions, not the names.
            let name = format!("IM{:04}", 100 - k);
            file.write_to_file(self.dir.join(name)).unwrap();
        }
    }
}

fn stack(n: usize, gap: f64) -> Vec<[f64; 3]> {
    (0..n)
        .map(|k| [-10.0, -20.0, 5.0 + gap * k as f64])
        .collect()
}

const AXIAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

fn refusal(dir: &Path) -> String {
    let e = read_dicom_series(dir, None).unwrap_err().to_string();
    assert!(
        e.contains(&dir.display().to_string()),
        "names the folder: {e}"
    );
    e
}

#[test]
fn a_clean_series_is_sorted_by_position_and_rescaled() {
    let tmp = tempdir();
    let dir = tmp.path().join("ok");
    Series {
        dir: &dir,
        uid: "1.2.3.4",
        positions: stack(5, 2.5),
        orientation: AXIAL,
        transfer_syntax: EXPLICIT_LE,
    }
    .write();
    let v = read_dicom_series(&dir, None).unwrap();
    assert_eq!(v.shape, [4, 3, 5]);
    assert_eq!(v.spacing_mm, [0.75, 0.5, 2.5]);
    assert_eq!(v.orientation(), "LPS");
    // Slice k holds the pixels of the k-th image along the normal, rescaled: 100k + i − 1024.
    assert_eq!(v.value(0), -1024.0);
    assert_eq!(v.value(12 * 3 + 5), (300 + 5 - 1024) as f64);
    // Voxel (0,0,0) lies at the first image's position, RAS = (−x, −y, z).
    assert_eq!(
        [
            v.world_from_voxel[0][3],
            v.world_from_voxel[1][3],
            v.world_from_voxel[2][3]
        ],
        [10.0, 20.0, 5.0]
    );
    // A dataset of the folder itself: one unlabelled case per series.
    let ds = open_dataset(&dir).unwrap();
    assert_eq!(ds.layout, Layout::Dicom);
    assert_eq!(ds.len(), 1);
    assert_eq!(ds.geometry(0).unwrap().shape, [4, 3, 5]);
}

#[test]
fn broken_series_are_refused_with_the_reason_and_the_images_named() {
    let tmp = tempdir();
    let write = |name: &str, positions: Vec<[f64; 3]>, orientation: [f64; 6]| {
        let dir = tmp.path().join(name);
        Series {
            dir: &dir,
            uid: "1.2.3.5",
            positions,
            orientation,
            transfer_syntax: EXPLICIT_LE,
        }
        .write();
        dir
    };
    // A missing slice: positions 0, 2, 4, 8, 10 mm.
    let mut p = stack(6, 2.0);
    p.remove(3);
    let e = refusal(&write("missing", p, AXIAL));
    assert!(e.contains("1 slice(s) missing between"), "{e}");
    // Uneven gaps.
    let mut p = stack(5, 2.0);
    p[4][2] += 0.7;
    let e = refusal(&write("uneven", p, AXIAL));
    assert!(
        e.contains("non-uniform slice spacing") && e.contains("slices 3 and 4"),
        "{e}"
    );
    // Gantry tilt: each image shifts 0.5 mm along y.
    let p: Vec<[f64; 3]> = stack(5, 2.0)
        .into_iter()
        .enumerate()
        .map(|(k, q)| [q[0], q[1] + 0.5 * k as f64, q[2]])
        .collect();
    let e = refusal(&write("tilt", p, AXIAL));
    assert!(e.contains("gantry tilt"), "{e}");
    // Two images at one position (a second echo or phase).
    let mut p = stack(4, 2.0);
    p[2] = p[1];
    let e = refusal(&write("duplicate", p, AXIAL));
    assert!(e.contains("same position"), "{e}");
    // Mixed orientations: the folder holds an axial and a rotated image of one series.
    let dir = write("mixed", stack(3, 2.0), AXIAL);
    Series {
        dir: &dir.join("more"),
        uid: "1.2.3.5",
        positions: vec![[-10.0, -20.0, 20.0]],
        orientation: [0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
        transfer_syntax: EXPLICIT_LE,
    }
    .write();
    let e = refusal(&dir);
    assert!(e.contains("mixed orientations"), "{e}");
}

#[test]
fn several_series_are_listed_and_chosen_by_uid() {
    let tmp = tempdir();
    let dir = tmp.path().join("two");
    for (uid, n) in [("1.2.3.10", 4), ("1.2.3.11", 6)] {
        Series {
            dir: &dir.join(uid),
            uid,
            positions: stack(n, 1.0),
            orientation: AXIAL,
            transfer_syntax: EXPLICIT_LE,
        }
        .write();
    }
    let e = refusal(&dir);
    assert!(
        e.contains("holds 2 DICOM series") && e.contains("1.2.3.10") && e.contains("1.2.3.11"),
        "{e}"
    );
    assert_eq!(
        read_dicom_series(&dir, Some("1.2.3.11")).unwrap().shape[2],
        6
    );
    // The folder as a dataset has a case per series; `info` lists both.
    let (code, out, err) = cli(&["info", dir.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let series = json["series"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[1]["shape"], serde_json::json!([4, 3, 6]));
}

#[test]
fn a_codec_this_build_lacks_is_named() {
    let tmp = tempdir();
    let dir = tmp.path().join("jpegls");
    Series {
        dir: &dir,
        uid: "1.2.3.6",
        positions: stack(3, 1.0),
        orientation: AXIAL,
        // JPEG-LS Lossless: no pure-Rust decoder in this build.
        transfer_syntax: "1.2.840.10008.1.2.4.80",
    }
    .write();
    let e = refusal(&dir);
    assert!(e.contains("JPEG-LS") && e.contains("cannot decode"), "{e}");
    let (code, _, err) = cli(&["info", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_folder_of_many_series_is_scanned_once_however_often_it_is_planned() {
    let tmp = tempdir();
    let dir = tmp.path().join("hundred");
    for n in 0..100 {
        let uid = format!("1.2.3.{}", 100 + n);
        Series {
            dir: &dir.join(&uid),
            uid: &uid,
            positions: stack(3, 1.0),
            orientation: AXIAL,
            transfer_syntax: EXPLICIT_LE,
        }
        .write();
    }
    let ds = sliceplan::dataset::open_dataset(&dir).unwrap();
    assert_eq!(ds.len(), 100);
    let request = sliceplan::plan::PlanRequest {
        budget: Some(sliceplan::plan::Budget::Slices(100)),
        ..Default::default()
    };
    for _ in 0..2 {
        let plan = sliceplan::plan::make_plan(&ds, &request, &Progress::new()).unwrap();
        assert_eq!(plan.volumes.len(), 100);
    }
    // Every case's geometry and image came from the scan made when the folder was opened.
    assert_eq!(sliceplan::io::scans_of(&dir), 1);
}
