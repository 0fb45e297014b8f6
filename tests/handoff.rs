//! From plan to annotators and back: a hand-off for three annotators with an overlap, masks
//! "returned" by painting the truth on planned slices of the templates (some left untouched,
//! some ticked as holding no target, one label off the plan), then `status` counts each answer
//! exactly and the agreement on shared cases equals the Dice computed directly.

mod common;

use std::collections::BTreeMap;

use common::*;
use sliceplan::dataset::{Dataset, TargetLabels, demo};
use sliceplan::export::package::{Handoff, WORKLIST_FILE, template_path};
use sliceplan::export::{check_handoff, split, write_package};
use sliceplan::io::{Volume, read_nifti, write_labels_like};
use sliceplan::jobs::Progress;
use sliceplan::plan::{Budget, Plan, PlanRequest, make_plan};

/// The planned slices an annotator's case should read as (done, absent, missing, off the plan).
type Expected = (Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>);

fn demo_plan(ds: &Dataset, slices: usize) -> Plan {
    let request = PlanRequest {
        budget: Some(Budget::Slices(slices)),
        volumes: Some(10),
        target: TargetLabels {
            values: [demo::DEFAULT_TARGET].into(),
        },
        ..PlanRequest::default()
    };
    make_plan(ds, &request, &Progress::new()).unwrap()
}

/// The truth of the target on `slices` along `axis` of `truth`, `ignore` elsewhere.
fn painted(truth: &Volume, axis: usize, slices: &[usize], target: i64, ignore: u16) -> Vec<u16> {
    let [nx, ny, _] = truth.shape;
    (0..truth.voxel_count())
        .map(|i| {
            let ijk = [i % nx, (i / nx) % ny, i / (nx * ny)];
            if slices.contains(&ijk[axis]) {
                (truth.value(i) as i64 == target) as u16
            } else {
                ignore
            }
        })
        .collect()
}

#[test]
fn a_hand_off_round_trip_counts_every_answer_and_agreement() {
    let ds = demo::dataset();
    let plan = demo_plan(&ds, 40);
    let dir = tempdir();
    let out = dir.path().join("handoff");
    let split = split(&plan, 3, 0.1).unwrap();
    assert_eq!(split.shared.len(), 1);
    let summary = write_package(&ds, &plan, &split, &out, false, &Progress::new()).unwrap();
    assert_eq!(summary.annotators.len(), 3);
    // Nothing is overwritten without --force.
    let again = write_package(&ds, &plan, &split, &out, false, &Progress::new()).unwrap_err();
    assert!(again.to_string().contains("--force"), "{again}");
    let handoff = Handoff::load(&out).unwrap();
    let ignore = handoff.ignore_value;
    // Every annotator paints the truth on their planned slices, except: the first planned slice
    // of their first case stays untouched (missing); the second of it is left at 0 and ticked
    // "target absent" (absent); and one label is painted off the plan on their last case.
    let mut expected: BTreeMap<(String, String), Expected> = BTreeMap::new();
    let shared = &split.shared[0];
    for a in &split.annotators {
        let mut absent_rows = Vec::new();
        for (n, case_id) in a.cases.iter().enumerate() {
            let v = plan.volume(case_id).unwrap();
            let case = ds.load(ds.case_index(case_id).unwrap()).unwrap();
            let truth = case.labels.as_ref().unwrap();
            let mut values = painted(truth, v.axis, &v.slices, demo::DEFAULT_TARGET, ignore);
            let [nx, ny, _] = truth.shape;
            let slice_voxels = |s: usize| -> Vec<usize> {
                (0..truth.voxel_count())
                    .filter(|i| [i % nx, (i / nx) % ny, i / (nx * ny)][v.axis] == s)
                    .collect()
            };
            let (mut missing, mut absent, mut off_plan) = (vec![], vec![], vec![]);
            if n == 0 && v.slices.len() >= 2 {
                for i in slice_voxels(v.slices[0]) {
                    values[i] = 0;
                }
                missing.push(v.slices[0]);
                for i in slice_voxels(v.slices[1]) {
                    values[i] = 0;
                }
                absent.push(v.slices[1]);
                absent_rows.push((case_id.clone(), v.slices[1]));
            }
            if n + 1 == a.cases.len() {
                let off = (0..truth.shape[v.axis])
                    .find(|s| !v.slices.contains(s))
                    .unwrap();
                values[slice_voxels(off)[0]] = 1;
                off_plan.push(off);
            }
            // The second holder of the shared case misses a few of its voxels.
            if case_id == shared && expected.keys().any(|(_, c)| c == shared) {
                let mut removed = 0;
                for x in values.iter_mut().filter(|x| **x == 1) {
                    if removed < 25 {
                        *x = 0;
                        removed += 1;
                    }
                }
            }
            // A planned slice with no target in the truth and no tick stays missing.
            let mut done = vec![];
            for &s in &v.slices {
                if missing.contains(&s) || absent.contains(&s) {
                    continue;
                }
                let labelled = slice_voxels(s).iter().any(|&i| values[i] == 1);
                if labelled {
                    done.push(s);
                } else {
                    missing.push(s);
                }
            }
            missing.sort();
            write_labels_like(template_path(&out, &a.name, case_id), truth, &values).unwrap();
            expected.insert(
                (a.name.clone(), case_id.clone()),
                (done, absent, missing, off_plan),
            );
        }
        tick_absent(&out.join(&a.name).join(WORKLIST_FILE), &absent_rows);
    }
    let status = check_handoff(&ds, &out).unwrap();
    assert_eq!(status.cases.len(), expected.len());
    for c in &status.cases {
        let (done, absent, missing, off_plan) =
            &expected[&(c.annotator.clone(), c.case_id.clone())];
        assert_eq!(&c.done, done, "{} {}", c.annotator, c.case_id);
        assert_eq!(&c.absent, absent, "{} {}", c.annotator, c.case_id);
        assert_eq!(&c.missing, missing, "{} {}", c.annotator, c.case_id);
        assert_eq!(&c.off_plan, off_plan, "{} {}", c.annotator, c.case_id);
    }
    let total = |f: fn(&Expected) -> usize| expected.values().map(f).sum::<usize>();
    assert_eq!(status.done_slices, total(|e| e.0.len()));
    assert_eq!(status.absent_slices, total(|e| e.1.len()));
    assert_eq!(status.missing_slices, total(|e| e.2.len()));
    assert_eq!(status.off_plan_slices, total(|e| e.3.len()));
    // Agreement on the shared case equals the Dice of the two saved masks, computed here.
    assert_eq!(status.agreement.len(), 1);
    let agreement = &status.agreement[0];
    let v = plan.volume(shared).unwrap();
    let masks: Vec<Volume> = agreement
        .annotators
        .iter()
        .map(|a| read_nifti(template_path(&out, a, shared)).unwrap())
        .collect();
    let label = |m: &Volume, i: usize| {
        let x = m.value(i);
        x != 0.0 && x != ignore as f64
    };
    let [nx, ny, _] = masks[0].shape;
    let (mut both, mut sum) = (0.0, 0.0);
    for i in 0..masks[0].voxel_count() {
        if !v
            .slices
            .contains(&[i % nx, (i / nx) % ny, i / (nx * ny)][v.axis])
        {
            continue;
        }
        let (p, q) = (label(&masks[0], i), label(&masks[1], i));
        both += (p && q) as u8 as f64;
        sum += p as u8 as f64 + q as u8 as f64;
    }
    assert!(
        (agreement.dice - 2.0 * both / sum).abs() < 1e-12,
        "{agreement:?}"
    );
    assert!(agreement.dice < 1.0, "the second annotator missed voxels");
    // A worklist naming a slice the plan does not hold is refused, naming the file.
    let worklist = out.join(&split.annotators[0].name).join(WORKLIST_FILE);
    let mut text = std::fs::read_to_string(&worklist).unwrap();
    text.push_str("999,nonexistent,x,axial,2,3,0.0,,,x\r\n");
    std::fs::write(&worklist, text).unwrap();
    let e = check_handoff(&ds, &out).unwrap_err().to_string();
    assert!(
        e.contains("nonexistent") && e.ends_with(&worklist.display().to_string()),
        "{e}"
    );
}

#[test]
fn the_package_opens_in_slicer_and_itk_snap() {
    let ds = demo::dataset();
    let plan = demo_plan(&ds, 20);
    let dir = tempdir();
    let out = dir.path().join("handoff");
    let split = split(&plan, 2, 0.0).unwrap();
    write_package(&ds, &plan, &split, &out, false, &Progress::new()).unwrap();
    let a = &split.annotators[0];
    let case_id = &a.cases[0];
    let v = plan.volume(case_id).unwrap();
    let folder = out.join(&a.name).join(case_id);
    // The template: the image's grid, 0 on the planned slices, the ignore value elsewhere.
    let template = read_nifti(template_path(&out, &a.name, case_id)).unwrap();
    let case = ds.load(ds.case_index(case_id).unwrap()).unwrap();
    assert_eq!(template.shape, case.image.shape);
    assert_eq!(template.world_from_voxel, case.image.world_from_voxel);
    let [nx, ny, _] = template.shape;
    for i in (0..template.voxel_count()).step_by(97) {
        let s = [i % nx, (i / nx) % ny, i / (nx * ny)][v.axis];
        let want = if v.slices.contains(&s) { 0.0 } else { 255.0 };
        assert_eq!(template.value(i), want);
    }
    // Slicer: one plane per planned slice, named by its order, through the slice's centre.
    let markups: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(folder.join(format!("{case_id}.mrk.json"))).unwrap(),
    )
    .unwrap();
    assert!(
        markups["@schema"]
            .as_str()
            .unwrap()
            .contains("markups-schema")
    );
    let planes = markups["markups"].as_array().unwrap();
    assert_eq!(planes.len(), v.slices.len());
    for (k, (plane, &s)) in planes.iter().zip(&v.slices).enumerate() {
        assert_eq!(plane["type"], "Plane");
        assert!(plane["name"].as_str().unwrap().contains(&format!(
            "slice {} of {}",
            k + 1,
            v.slices.len()
        )));
        let mut ijk = case.image.shape.map(|n| (n as f64 - 1.0) / 2.0);
        ijk[v.axis] = s as f64;
        let centre = sliceplan::io::geometry::voxel_to_world(&case.image.world_from_voxel, ijk);
        for (got, want) in plane["center"].as_array().unwrap().iter().zip(centre) {
            assert!((got.as_f64().unwrap() - want).abs() < 1e-9);
        }
    }
    // ITK-SNAP: the workspace names the image and the template; the labels file names the
    // target label and the ignore value.
    let workspace = std::fs::read_to_string(folder.join(format!("{case_id}.itksnap"))).unwrap();
    assert!(workspace.contains("SegmentationRole") && workspace.contains("MainRole"));
    assert!(workspace.contains(&format!("{case_id}_labels.nii.gz")));
    let labels = std::fs::read_to_string(out.join(&a.name).join("labels.txt")).unwrap();
    assert!(
        labels.contains("\"spleen\"") && labels.contains("\"not planned\""),
        "{labels}"
    );
}
