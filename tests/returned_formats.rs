//! A hand-off returned in every form annotators' tools save: one annotator paints the NIfTI
//! template (ITK-SNAP), one the `.seg.nrrd` template (3D Slicer), one saves a DICOM SEG beside it
//! (OHIF). `status` counts each answer exactly, the agreement equals the Dice of the masks, and
//! the nnU-Net export of the returned hand-off equals the export of the truth on the answered
//! slices. Then the refusals: unknown segments, fractional SEGs, other encodings and grids.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::seg::{SegSpec, write_dicom_seg};
use common::*;
use sliceplan::dataset::{Dataset, TargetLabels, demo, open_dataset};
use sliceplan::export::package::{Handoff, WORKLIST_FILE, seg_template_path, template_path};
use sliceplan::export::returned_mask::read_mask_on_grid;
use sliceplan::export::{ReturnedMasks, check_handoff, export_nnunet, split, write_package};
use sliceplan::io::{Volume, VoxelData, read_nifti, read_nrrd, write_labels_like, write_nrrd};
use sliceplan::jobs::Progress;
use sliceplan::plan::{Budget, Plan, PlanRequest, PlannedVolume, make_plan};

/// How an annotator returns their masks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    Nifti,
    SegNrrd,
    DicomSeg,
}

/// (done, absent, missing, off the plan) slices of one answer.
type Expected = (Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>);

fn plan_of(ds: &Dataset, slices: usize, volumes: usize, target: i64) -> Plan {
    let request = PlanRequest {
        budget: Some(Budget::Slices(slices)),
        volumes: Some(volumes),
        target: TargetLabels {
            values: [target].into(),
        },
        ..PlanRequest::default()
    };
    make_plan(ds, &request, &Progress::new()).unwrap()
}

fn slice_of(shape: [usize; 3], axis: usize, i: usize) -> usize {
    [
        i % shape[0],
        (i / shape[0]) % shape[1],
        i / (shape[0] * shape[1]),
    ][axis]
}

/// The truth's `labels` on the planned slices (other labels 0), `ignore` off them.
fn painted(truth: &Volume, v: &PlannedVolume, labels: &[i64], ignore: u16) -> Vec<u16> {
    (0..truth.voxel_count())
        .map(|i| {
            if !v.slices.contains(&slice_of(truth.shape, v.axis, i)) {
                return ignore;
            }
            let t = truth.value(i) as i64;
            if labels.contains(&t) { t as u16 } else { 0 }
        })
        .collect()
}

/// What `status` should read from `values` with `ticked` slices ticked "target absent".
fn expected(
    values: &[u16],
    shape: [usize; 3],
    v: &PlannedVolume,
    ticked: &[usize],
    ignore: u16,
) -> Expected {
    let labelled = |s: usize| {
        (0..values.len())
            .any(|i| slice_of(shape, v.axis, i) == s && values[i] != 0 && values[i] != ignore)
    };
    let zero =
        |s: usize| (0..values.len()).all(|i| slice_of(shape, v.axis, i) != s || values[i] == 0);
    let (mut done, mut absent, mut missing) = (vec![], vec![], vec![]);
    for &s in &v.slices {
        if labelled(s) {
            done.push(s);
        } else if zero(s) && ticked.contains(&s) {
            absent.push(s);
        } else {
            missing.push(s);
        }
    }
    let off_plan = (0..shape[v.axis])
        .filter(|s| !v.slices.contains(s) && labelled(*s))
        .collect();
    (done, absent, missing, off_plan)
}

/// Where one answer goes: the package, the annotator's name, the case.
type Folder<'a> = (&'a Path, &'a str, &'a str);

/// Returns `values` for a case in `form` from an annotator's folder of the package.
fn give_back(
    (out, annotator, case_id): Folder,
    form: Form,
    grid: &Volume,
    values: &[u16],
    ds: &Dataset,
    ignore: u16,
) {
    match form {
        Form::Nifti => {
            write_labels_like(template_path(out, annotator, case_id), grid, values).unwrap()
        }
        Form::SegNrrd => {
            // As Slicer saves it: the template's header and segments, the painted voxels.
            let path = seg_template_path(out, annotator, case_id);
            let template = read_nrrd(&path).unwrap();
            let data = if ignore <= 255 {
                VoxelData::U8(values.iter().map(|&x| x as u8).collect())
            } else {
                VoxelData::U16(values.to_vec())
            };
            let painted = template.layers[0].derived(data);
            write_nrrd(&path, &painted, &template.key_values).unwrap();
        }
        Form::DicomSeg => {
            let segments: Vec<(u16, u16, String)> = ds
                .label_names
                .iter()
                .filter(|(v, _)| **v > 0 && values.contains(&(**v as u16)))
                .enumerate()
                .map(|(n, (v, name))| (n as u16 + 1, *v as u16, name.clone()))
                .collect();
            let named: Vec<(u16, u16, &str)> = segments
                .iter()
                .map(|(n, v, s)| (*n, *v, s.as_str()))
                .collect();
            let path = out
                .join(annotator)
                .join(case_id)
                .join(format!("{case_id}.dcm"));
            write_dicom_seg(
                &path,
                &SegSpec {
                    grid,
                    labels: values,
                    segments: &named,
                    axis: 2,
                    segmentation_type: "BINARY",
                },
            );
        }
    }
}

/// Every annotator returns their cases in `forms[n]`, painting `labels` of the truth on the
/// planned slices, except: the first planned slice of their first case stays untouched, a planned
/// slice of it without the target is ticked "target absent", and one label lies off the plan on
/// their last case. The second holder of a shared case misses a few voxels. Returns what status should read.
fn return_all(
    ds: &Dataset,
    plan: &Plan,
    out: &Path,
    forms: &[Form],
    labels: &[i64],
) -> BTreeMap<(String, String), Expected> {
    let handoff = Handoff::load(out).unwrap();
    let ignore = handoff.ignore_value;
    let mut want = BTreeMap::new();
    for (a, form) in handoff.split.annotators.iter().zip(forms.iter().cycle()) {
        let mut ticked_rows = Vec::new();
        for (n, case_id) in a.cases.iter().enumerate() {
            let v = plan.volume(case_id).unwrap();
            let case = ds.load(ds.case_index(case_id).unwrap()).unwrap();
            let truth = case.labels.as_ref().unwrap();
            let mut values = painted(truth, v, labels, ignore);
            let on = |s: usize| {
                (0..truth.voxel_count()).filter(move |&i| slice_of(truth.shape, v.axis, i) == s)
            };
            let mut ticked = vec![];
            if n == 0 {
                // Their first planned slice untouched; a planned slice without the target in
                // the truth ticked as such.
                let untouched: Vec<usize> = on(v.slices[0]).collect();
                for i in untouched {
                    values[i] = 0;
                }
                let empty = v.slices[1..]
                    .iter()
                    .copied()
                    .find(|&s| on(s).all(|i| values[i] == 0));
                if let Some(s) = empty {
                    ticked.push(s);
                    ticked_rows.push((case_id.clone(), s));
                }
            }
            if n + 1 == a.cases.len() {
                let off = (0..truth.shape[v.axis])
                    .find(|s| !v.slices.contains(s))
                    .unwrap();
                let i = on(off).nth(truth.shape[0] + 3).unwrap();
                values[i] = labels[0] as u16;
            }
            let second_holder = want.keys().any(|(_, c): &(String, String)| c == case_id);
            if second_holder {
                for x in values
                    .iter_mut()
                    .filter(|x| **x != 0 && **x != ignore)
                    .take(25)
                {
                    *x = 0;
                }
            }
            give_back((out, &a.name, case_id), *form, truth, &values, ds, ignore);
            want.insert(
                (a.name.clone(), case_id.clone()),
                expected(&values, truth.shape, v, &ticked, ignore),
            );
        }
        tick_absent(&out.join(&a.name).join(WORKLIST_FILE), &ticked_rows);
    }
    want
}

/// `status` reads exactly `want`; agreement on each shared case equals the Dice of the two
/// masks as read.
fn check_status(
    ds: &Dataset,
    plan: &Plan,
    out: &Path,
    want: &BTreeMap<(String, String), Expected>,
) {
    let status = check_handoff(ds, out).unwrap();
    assert_eq!(status.cases.len(), want.len());
    for c in &status.cases {
        let (done, absent, missing, off_plan) = &want[&(c.annotator.clone(), c.case_id.clone())];
        let who = format!("{} {} ({})", c.annotator, c.case_id, c.mask_path);
        assert_eq!(&c.done, done, "{who}");
        assert_eq!(&c.absent, absent, "{who}");
        assert_eq!(&c.missing, missing, "{who}");
        assert_eq!(&c.off_plan, off_plan, "{who}");
    }
    let ignore = Handoff::load(out).unwrap().ignore_value;
    let mut apart = false;
    assert!(!status.agreement.is_empty());
    for agreement in &status.agreement {
        let v = plan.volume(&agreement.case_id).unwrap();
        let masks: Vec<Volume> = agreement
            .annotators
            .iter()
            .map(|a| {
                let c = status
                    .cases
                    .iter()
                    .find(|c| &c.annotator == a && c.case_id == v.case_id)
                    .unwrap();
                read_mask_on_grid(ds, &v.case_id, Path::new(&c.mask_path), Some(ignore)).unwrap()
            })
            .collect();
        let label =
            |m: &Volume, i: usize| Some(m.value(i) as u16).filter(|&x| x != 0 && x != ignore);
        let (mut both, mut sum) = (0.0, 0.0);
        for i in 0..masks[0].voxel_count() {
            if v.slices.contains(&slice_of(masks[0].shape, v.axis, i)) {
                let (p, q) = (label(&masks[0], i), label(&masks[1], i));
                both += (p.is_some() && p == q) as u8 as f64;
                sum += p.is_some() as u8 as f64 + q.is_some() as u8 as f64;
            }
        }
        let dice = if sum == 0.0 { 1.0 } else { 2.0 * both / sum };
        assert!(
            (agreement.dice - dice).abs() < 1e-12,
            "{agreement:?} vs {dice}"
        );
        // Distances exist where both labelled a slice; the one who missed voxels drew a
        // smaller outline, so somewhere they are above 0.
        let both_labelled = agreement.slices.iter().any(|s| s.mean_surface_mm.is_some());
        assert_eq!(
            agreement.mean_surface_mm.is_some(),
            both_labelled,
            "{agreement:?}"
        );
        if let (Some(mean), Some(p95)) = (agreement.mean_surface_mm, agreement.surface_95_mm) {
            assert!(p95 >= 0.0 && mean >= 0.0, "{agreement:?}");
            apart |= mean > 0.0;
        }
        assert!(agreement.dice < 1.0, "{agreement:?}");
        assert!(agreement.slices[0].dice <= agreement.slices.last().unwrap().dice);
    }
    assert!(apart, "{:?}", status.agreement);
}

/// The export of the returned hand-off equals the export of the truth on the slices each case's
/// first annotator answered (labels off the plan dropped), voxel for voxel.
fn check_export(ds: &Dataset, plan: &Plan, out: &Path, target: i64, scratch: &Path) {
    let status = check_handoff(ds, out).unwrap();
    let handoff = Handoff::load(out).unwrap();
    let mut answered_plan = plan.clone();
    for v in &mut answered_plan.volumes {
        let first = handoff
            .split
            .annotators
            .iter()
            .find(|a| a.cases.contains(&v.case_id))
            .unwrap();
        let c = status
            .cases
            .iter()
            .find(|c| c.annotator == first.name && c.case_id == v.case_id)
            .unwrap();
        v.slices = [c.done.clone(), c.absent.clone()].concat();
        v.slices.sort_unstable();
    }
    let target = TargetLabels {
        values: [target].into(),
    };
    let returned = scratch.join("from-handoff");
    let truth = scratch.join("from-truth");
    let summary = export_nnunet(
        ds,
        plan,
        &returned,
        &target,
        Some(ReturnedMasks::new(out)),
        &Progress::new(),
    )
    .unwrap();
    assert!(summary.source.contains("hand-off"), "{}", summary.source);
    export_nnunet(ds, &answered_plan, &truth, &target, None, &Progress::new()).unwrap();
    for v in &plan.volumes {
        let name = format!("labelsTr/{}.nii.gz", v.case_id);
        let (a, b) = (
            read_nifti(returned.join(&name)).unwrap(),
            read_nifti(truth.join(&name)).unwrap(),
        );
        let differ: Vec<(usize, f64, f64)> = (0..a.voxel_count())
            .filter(|&i| a.value(i) != b.value(i))
            .map(|i| (slice_of(a.shape, v.axis, i), a.value(i), b.value(i)))
            .take(5)
            .collect();
        assert!(
            differ.is_empty(),
            "{}: (slice, returned, truth) {differ:?}",
            v.case_id
        );
        assert_eq!(a.world_from_voxel, b.world_from_voxel);
    }
    // Kept, a label off the plan is exported where it was painted, its slice otherwise ignored.
    let kept = scratch.join("kept");
    let keep = ReturnedMasks {
        dir: out,
        keep_off_plan: true,
    };
    let summary = export_nnunet(ds, plan, &kept, &target, Some(keep), &Progress::new()).unwrap();
    let c = status
        .cases
        .iter()
        .find(|c| {
            !c.off_plan.is_empty()
                && handoff
                    .split
                    .annotators
                    .iter()
                    .find(|a| a.cases.contains(&c.case_id))
                    .unwrap()
                    .name
                    == c.annotator
        })
        .unwrap();
    let v = plan.volume(&c.case_id).unwrap();
    let name = format!("labelsTr/{}.nii.gz", v.case_id);
    let with = read_nifti(kept.join(&name)).unwrap();
    let without = read_nifti(returned.join(&name)).unwrap();
    let changed: Vec<usize> = (0..with.voxel_count())
        .filter(|&i| with.value(i) != without.value(i))
        .collect();
    assert_eq!(changed.len(), 1, "{}", c.case_id);
    assert_eq!(slice_of(with.shape, v.axis, changed[0]), c.off_plan[0]);
    assert_eq!(
        (with.value(changed[0]), without.value(changed[0])),
        (1.0, summary.ignore_label as f64)
    );
}

#[test]
fn a_hand_off_returned_as_nifti_seg_nrrd_and_dicom_seg_reads_and_exports_exactly() {
    let ds = demo::dataset();
    let target = demo::DEFAULT_TARGET;
    let plan = plan_of(&ds, 40, 10, target);
    let dir = tempdir();
    let out = dir.path().join("handoff");
    let split = split(&plan, 3, 0.2).unwrap();
    assert_eq!(split.shared.len(), 2);
    write_package(&ds, &plan, &split, &out, false, &Progress::new()).unwrap();
    let want = return_all(
        &ds,
        &plan,
        &out,
        &[Form::Nifti, Form::SegNrrd, Form::DicomSeg],
        &[target],
    );
    assert!(
        want.values().any(|w| !w.1.is_empty()),
        "no slice answered absent"
    );
    check_status(&ds, &plan, &out, &want);
    check_export(&ds, &plan, &out, target, dir.path());
}

/// The same round trip on a real CT (the PIR-oriented lumbar spine) with three vertebrae as
/// segments, returned as `.seg.nrrd` and as DICOM SEG by two annotators sharing the case.
#[test]
fn a_real_ct_hand_off_round_trips_through_slicer_and_dicom_seg() {
    let Some(real) = real_data() else { return };
    let dir = tempdir();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::os::unix::fs::symlink(real.join("tptbox-spine-ct"), data.join("tptbox-spine-ct")).unwrap();
    let ds = open_dataset(&data).unwrap();
    assert_eq!(ds.label_names.get(&22).map(String::as_str), Some("L3"));
    let plan = plan_of(&ds, 6, 1, 22);
    let out = dir.path().join("handoff");
    let split = split(&plan, 2, 0.9).unwrap();
    assert_eq!(split.shared.len(), 1);
    write_package(&ds, &plan, &split, &out, false, &Progress::new()).unwrap();
    let want = return_all(
        &ds,
        &plan,
        &out,
        &[Form::SegNrrd, Form::DicomSeg],
        &[22, 21, 23],
    );
    check_status(&ds, &plan, &out, &want);
    check_export(&ds, &plan, &out, 22, dir.path());
}

/// A planned demo case with its package written for one annotator: (dataset, plan, package,
/// case folder, the case's truth).
fn one_case_package(dir: &Path) -> (Dataset, Plan, std::path::PathBuf, String, Volume) {
    let ds = demo::dataset();
    let plan = plan_of(&ds, 8, 2, demo::DEFAULT_TARGET);
    let out = dir.join("handoff");
    let split = split(&plan, 1, 0.0).unwrap();
    write_package(&ds, &plan, &split, &out, false, &Progress::new()).unwrap();
    let case_id = plan.volumes[0].case_id.clone();
    let truth = ds
        .load(ds.case_index(&case_id).unwrap())
        .unwrap()
        .labels
        .unwrap();
    (ds, plan, out, case_id, truth)
}

/// The refusal `read_mask_on_grid` gives for the file at `path`, which must name it.
fn refusal(ds: &Dataset, case_id: &str, path: &Path) -> String {
    let e = read_mask_on_grid(ds, case_id, path, Some(255))
        .unwrap_err()
        .to_string();
    assert!(e.ends_with(&path.display().to_string()), "{e}");
    e
}

#[test]
fn returned_masks_that_do_not_fit_are_refused_by_name() {
    let dir = tempdir();
    let (ds, plan, out, case_id, truth) = one_case_package(dir.path());
    let v = plan.volume(&case_id).unwrap();
    let annotator = &Handoff::load(&out).unwrap().split.annotators[0].name;
    let seg_path = seg_template_path(&out, annotator, &case_id);
    let template = read_nrrd(&seg_path).unwrap();
    let values = painted(&truth, v, &[demo::DEFAULT_TARGET], 255);
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    // A segment renamed to something the dataset does not know.
    let renamed: Vec<(String, String)> = template
        .key_values
        .iter()
        .map(|(k, val)| {
            (
                k.clone(),
                if val == "spleen" {
                    "Spleen (copy)".into()
                } else {
                    val.clone()
                },
            )
        })
        .collect();
    let p = bad.join("renamed.seg.nrrd");
    write_nrrd(&p, &template.layers[0], &renamed).unwrap();
    let e = refusal(&ds, &case_id, &p);
    assert!(
        e.contains("segment 'Spleen (copy)' is not a label") && e.contains("3 spleen"),
        "{e}"
    );
    // A segment's name is matched whatever its case.
    let upper: Vec<(String, String)> = template
        .key_values
        .iter()
        .map(|(k, val)| {
            (
                k.clone(),
                if val == "spleen" {
                    "SPLEEN".into()
                } else {
                    val.clone()
                },
            )
        })
        .collect();
    let p = bad.join("upper.seg.nrrd");
    let painted_template =
        template.layers[0].derived(VoxelData::U8(values.iter().map(|&x| x as u8).collect()));
    write_nrrd(&p, &painted_template, &upper).unwrap();
    let read = read_mask_on_grid(&ds, &case_id, &p, Some(255)).unwrap();
    assert_eq!(
        read.to_f32(),
        values.iter().map(|&x| x as f32).collect::<Vec<_>>()
    );
    // Slicer's crop to the segments' extent: a block of the grid placed by its origin.
    let [nx, ny, nz] = truth.shape;
    let (x0, y0, z0) = (3, 5, 2);
    let block_shape = [nx - x0 - 4, ny - y0 - 1, nz - z0];
    let block: Vec<u16> = (0..block_shape.iter().product::<usize>())
        .map(|n| {
            let (i, j, k) = (
                n % block_shape[0],
                (n / block_shape[0]) % block_shape[1],
                n / (block_shape[0] * block_shape[1]),
            );
            values[truth.index(i + x0, j + y0, k + z0)]
        })
        .collect();
    let mut block_affine = truth.world_from_voxel;
    let corner = sliceplan::io::geometry::voxel_to_world(
        &truth.world_from_voxel,
        [x0 as f64, y0 as f64, z0 as f64],
    );
    for r in 0..3 {
        block_affine[r][3] = corner[r];
    }
    let cropped = Volume::new(
        block_shape,
        truth.spacing_mm,
        block_affine,
        VoxelData::U16(block),
    );
    let p = bad.join("cropped.seg.nrrd");
    write_nrrd(&p, &cropped, &template.key_values).unwrap();
    let read = read_mask_on_grid(&ds, &case_id, &p, Some(255)).unwrap();
    assert_eq!(read.shape, truth.shape);
    for i in (0..truth.voxel_count()).step_by(7) {
        let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny));
        let inside =
            x >= x0 && x < x0 + block_shape[0] && y >= y0 && y < y0 + block_shape[1] && z >= z0;
        assert_eq!(read.value(i), if inside { values[i] as f64 } else { 0.0 });
    }
    // Flipped left-right by a tool: the same shape on another grid.
    let mut flipped = template.layers[0].clone();
    for row in &mut flipped.world_from_voxel[..3] {
        row[0] = -row[0];
    }
    let p = bad.join("flipped.seg.nrrd");
    write_nrrd(&p, &flipped, &template.key_values).unwrap();
    assert!(refusal(&ds, &case_id, &p).contains("grids differ"));
    // An encoding this does not read, and a file cut short.
    let bytes = std::fs::read(&seg_path).unwrap();
    let text = String::from_utf8_lossy(&bytes).replace("encoding: gzip", "encoding: bzip2");
    let p = bad.join("bzip2.seg.nrrd");
    std::fs::write(&p, text.as_bytes()).unwrap();
    assert!(refusal(&ds, &case_id, &p).contains("encoding 'bzip2'"));
    let raw_header = "NRRD0004\ntype: uint8\ndimension: 3\nspace: left-posterior-superior\nsizes: 4 4 4\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nencoding: raw\nspace origin: (0,0,0)\n\n";
    let p = bad.join("short.nrrd");
    std::fs::write(&p, [raw_header.as_bytes(), &[0u8; 20]].concat()).unwrap();
    assert!(refusal(&ds, &case_id, &p).contains("truncated"));
    // DICOM SEG: fractional refused by name; an unknown segment; frames off the case's grid.
    let seg = |name: &str, kind: &str, grid: &Volume| {
        let p = bad.join(format!("{name}.dcm"));
        write_dicom_seg(
            &p,
            &SegSpec {
                grid,
                labels: &values,
                segments: &[(1, demo::DEFAULT_TARGET as u16, "spleen")],
                axis: 2,
                segmentation_type: kind,
            },
        );
        p
    };
    assert!(
        refusal(&ds, &case_id, &seg("fractional", "FRACTIONAL", &truth))
            .contains("fractional DICOM SEG")
    );
    let p = bad.join("liver.dcm");
    write_dicom_seg(
        &p,
        &SegSpec {
            grid: &truth,
            labels: &values,
            segments: &[(1, demo::DEFAULT_TARGET as u16, "liver")],
            axis: 2,
            segmentation_type: "BINARY",
        },
    );
    assert!(refusal(&ds, &case_id, &p).contains("segment 'liver'"));
    let mut shifted = truth.clone();
    shifted.world_from_voxel[0][3] += 0.5 * truth.spacing_mm[0];
    assert!(
        refusal(&ds, &case_id, &seg("shifted", "BINARY", &shifted))
            .contains("between the case's voxels")
    );
    let read = read_mask_on_grid(&ds, &case_id, &seg("good", "BINARY", &truth), Some(255)).unwrap();
    let labelled = |x: u16| if x == 255 { 0.0 } else { x as f32 };
    assert_eq!(
        read.to_f32(),
        values.iter().map(|&x| labelled(x)).collect::<Vec<_>>()
    );
    // Both templates painted: which is the answer is unclear, and it is said.
    write_labels_like(template_path(&out, annotator, &case_id), &truth, &values).unwrap();
    write_nrrd(&seg_path, &painted_template, &template.key_values).unwrap();
    let e = check_handoff(&ds, &out).unwrap_err().to_string();
    assert!(e.contains("both label templates"), "{e}");
}

/// The python that has the independent readers (`SLICEPLAN_PYTHON`, else `python3`), or why not.
fn python_with_readers() -> Result<String, String> {
    let python = std::env::var("SLICEPLAN_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = std::process::Command::new(&python)
        .args(["-c", "import nibabel, nrrd, highdicom"])
        .output()
        .map_err(|e| format!("no {python} ({e})"))?;
    if probe.status.success() {
        Ok(python)
    } else {
        Err(format!(
            "{python} lacks nibabel, pynrrd or highdicom: {}",
            String::from_utf8_lossy(&probe.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ))
    }
}

/// Reads the package's files with nibabel, pynrrd and highdicom and prints what they found.
const READERS: &str = r#"
import json, sys
import nibabel, nrrd, highdicom, numpy as np
nii, segnrrd, dcm = sys.argv[1:4]
img = nibabel.load(nii)
data, header = nrrd.read(segnrrd)
names = [header[k] for k in sorted(header) if k.startswith("Segment") and k.endswith("_Name")]
seg = highdicom.seg.segread(dcm)
print(json.dumps({
    "nii_shape": list(img.shape), "nii_affine": img.affine.tolist(),
    "nii_values": sorted(int(v) for v in np.unique(np.asarray(img.dataobj))),
    "nrrd_shape": list(data.shape), "nrrd_space": header["space"],
    "nrrd_directions": np.asarray(header["space directions"]).tolist(),
    "nrrd_origin": np.asarray(header["space origin"]).tolist(),
    "nrrd_equals_nii": bool((np.asarray(img.dataobj) == data).all()),
    "nrrd_segments": names,
    "seg_segments": [seg.get_segment_description(n).segment_label for n in seg.segment_numbers],
    "seg_frames": int(seg.NumberOfFrames),
    "seg_set_pixels": int(np.asarray(seg.pixel_array).sum()),
}))
"#;

#[test]
fn the_package_and_a_returned_seg_parse_in_independent_readers() {
    let python = match python_with_readers() {
        Ok(p) => p,
        Err(why) => {
            let required =
                std::env::var("SLICEPLAN_REQUIRE_READERS").is_ok_and(|v| !v.is_empty() && v != "0");
            assert!(!required, "SLICEPLAN_REQUIRE_READERS is set but {why}");
            eprintln!(
                "SKIPPED: {why}; the independent-reader check did not run (install them with `pip install nibabel pynrrd highdicom`, then set SLICEPLAN_PYTHON)"
            );
            return;
        }
    };
    let dir = tempdir();
    let (ds, plan, out, case_id, truth) = one_case_package(dir.path());
    let v = plan.volume(&case_id).unwrap();
    let annotator = &Handoff::load(&out).unwrap().split.annotators[0].name;
    let values = painted(&truth, v, &[demo::DEFAULT_TARGET], 255);
    let dcm = dir.path().join("returned.dcm");
    write_dicom_seg(
        &dcm,
        &SegSpec {
            grid: &truth,
            labels: &values,
            segments: &[(1, demo::DEFAULT_TARGET as u16, "spleen")],
            axis: 2,
            segmentation_type: "BINARY",
        },
    );
    let output = std::process::Command::new(&python)
        .args(["-c", READERS])
        .arg(template_path(&out, annotator, &case_id))
        .arg(seg_template_path(&out, annotator, &case_id))
        .arg(&dcm)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let found: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let shape: Vec<usize> = truth.shape.to_vec();
    assert_eq!(found["nii_shape"], serde_json::json!(shape));
    assert_eq!(found["nrrd_shape"], serde_json::json!(shape));
    for r in 0..3 {
        for c in 0..4 {
            let got = found["nii_affine"][r][c].as_f64().unwrap();
            assert!(
                (got - truth.world_from_voxel[r][c]).abs() < 1e-4,
                "nibabel's affine {found}"
            );
        }
    }
    assert_eq!(found["nii_values"], serde_json::json!([0, 255]));
    assert_eq!(found["nrrd_equals_nii"], true);
    // pynrrd's space directions are LPS: RAS with x and y negated.
    assert_eq!(found["nrrd_space"], "left-posterior-superior");
    let lps = [-1.0, -1.0, 1.0];
    for axis in 0..3 {
        for r in 0..3 {
            let got = found["nrrd_directions"][axis][r].as_f64().unwrap();
            assert!(
                (got - lps[r] * truth.world_from_voxel[r][axis]).abs() < 1e-9,
                "{found}"
            );
        }
        let origin = found["nrrd_origin"][axis].as_f64().unwrap();
        assert!((origin - lps[axis] * truth.world_from_voxel[axis][3]).abs() < 1e-9);
    }
    let names = found["nrrd_segments"].as_array().unwrap();
    for want in ["organ", "lesion", "spleen", "not planned"] {
        assert!(names.iter().any(|n| n == want), "{names:?}");
    }
    assert_eq!(found["seg_segments"], serde_json::json!(["spleen"]));
    let planned_target = values
        .iter()
        .filter(|&&x| x == demo::DEFAULT_TARGET as u16)
        .count();
    assert_eq!(
        found["seg_set_pixels"].as_u64().unwrap() as usize,
        planned_target
    );
    let _ = ds;
}
