//! A hand-off package read back: each annotator's saved templates against the plan and their
//! ticked worklist. A planned slice is done when it holds a label; absent when it holds only 0
//! (the template's answer "nothing here") and is ticked `target_absent` or `done`; missing
//! otherwise. Labels off the planned slices are reported; the template's ignore value is never
//! counted as background. Volumes given to two annotators are compared slice by slice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::package::{Handoff, WORKLIST_FILE, case_folder, template_path};
use super::worklist::{Tick, read_ticks};
use crate::dataset::{Dataset, check_on_grid};
use crate::error::{Error, Result};
use crate::io::{Volume, read_nifti};
use crate::plan::PlannedVolume;

/// One annotator's answer on one case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnsweredCase {
    pub case_id: String,
    pub annotator: String,
    pub mask_path: String,
    pub done: Vec<usize>,
    pub absent: Vec<usize>,
    pub missing: Vec<usize>,
    pub off_plan: Vec<usize>,
}

/// Two annotators' agreement on a shared case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    pub case_id: String,
    pub annotators: [String; 2],
    /// Dice over every planned slice together (1 when neither labelled anything).
    pub dice: f64,
    /// (slice, Dice) per planned slice, worst first.
    pub slices: Vec<(usize, f64)>,
}

/// Where a hand-off stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandoffStatus {
    /// Planned slices over every assignment (a shared case counts once per annotator).
    pub planned_slices: usize,
    pub done_slices: usize,
    pub absent_slices: usize,
    pub missing_slices: usize,
    pub off_plan_slices: usize,
    pub cases: Vec<AnsweredCase>,
    pub agreement: Vec<Agreement>,
}

/// The mask an annotator saved for `case_id`: `CASE.nii.gz` beside the template if they saved
/// one, else the template itself (saved in place).
fn returned_mask(dir: &Path, annotator: &str, case_id: &str) -> PathBuf {
    let folder = case_folder(dir, annotator, case_id);
    ["nii.gz", "nii"]
        .iter()
        .map(|ext| folder.join(format!("{case_id}.{ext}")))
        .find(|p| p.is_file())
        .unwrap_or_else(|| template_path(dir, annotator, case_id))
}

/// Voxel values of slice `s` along `axis`.
fn slice_values(mask: &Volume, axis: usize, s: usize) -> Vec<f64> {
    mask.slice_f32(axis, s)
        .data
        .iter()
        .map(|&v| v as f64)
        .collect()
}

/// Whether a value is a label (neither background nor "not planned").
fn is_label(v: f64, ignore: u16) -> bool {
    v != 0.0 && v != ignore as f64
}

/// Reads one annotator's mask of `volume`, checked against the case's grid.
fn read_checked(dataset: &Dataset, volume: &PlannedVolume, path: &Path) -> Result<Volume> {
    let mask = read_nifti(path)?;
    let index = dataset.require_case(&volume.case_id)?;
    let g = dataset.geometry(index)?;
    check_on_grid(
        g.shape,
        &g.world_from_voxel,
        &mask,
        Path::new(&volume.image_path),
        path,
    )?;
    Ok(mask)
}

/// One annotator's answer on `volume` from `mask` and their `ticks`.
fn answer(
    volume: &PlannedVolume,
    annotator: &str,
    mask: &Volume,
    mask_path: &Path,
    ticks: &BTreeMap<(String, usize), Tick>,
    ignore: u16,
) -> AnsweredCase {
    let mut case = AnsweredCase {
        case_id: volume.case_id.clone(),
        annotator: annotator.to_string(),
        mask_path: mask_path.display().to_string(),
        done: Vec::new(),
        absent: Vec::new(),
        missing: Vec::new(),
        off_plan: Vec::new(),
    };
    for s in 0..mask.shape[volume.axis] {
        let values = slice_values(mask, volume.axis, s);
        let labelled = values.iter().any(|&v| is_label(v, ignore));
        if !volume.slices.contains(&s) {
            if labelled {
                case.off_plan.push(s);
            }
            continue;
        }
        let zero_only = values.iter().all(|&v| v == 0.0);
        let tick = ticks.get(&(volume.case_id.clone(), s));
        let answered_empty = tick.is_some_and(|t| t.target_absent || t.done);
        if labelled {
            case.done.push(s);
        } else if zero_only && answered_empty {
            case.absent.push(s);
        } else {
            case.missing.push(s);
        }
    }
    case
}

/// An annotator's ticks by (case, slice), every row checked against the plan.
fn annotator_ticks(
    handoff: &Handoff,
    dir: &Path,
    annotator: &str,
) -> Result<BTreeMap<(String, usize), Tick>> {
    let path = dir.join(annotator).join(WORKLIST_FILE);
    if !path.is_file() {
        return Ok(BTreeMap::new());
    }
    let mut ticks = BTreeMap::new();
    for t in read_ticks(&path)? {
        let planned = handoff
            .plan
            .volume(&t.case_id)
            .is_some_and(|v| v.slices.contains(&t.slice_index));
        if !planned {
            return Err(Error::file(
                format!(
                    "the worklist names case '{}' slice {}, which the plan does not hold",
                    t.case_id, t.slice_index
                ),
                &path,
            ));
        }
        ticks.insert((t.case_id.clone(), t.slice_index), t);
    }
    Ok(ticks)
}

/// Dice of the label voxels of two slices (1 when both are empty).
fn dice(a: &[f64], b: &[f64], ignore: u16) -> f64 {
    let (mut both, mut total) = (0usize, 0usize);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (is_label(x, ignore), is_label(y, ignore));
        both += (x && y) as usize;
        total += x as usize + y as usize;
    }
    if total == 0 {
        1.0
    } else {
        2.0 * both as f64 / total as f64
    }
}

/// The agreement of two annotators' masks on the planned slices of `volume`.
fn agreement(
    volume: &PlannedVolume,
    names: [String; 2],
    masks: [&Volume; 2],
    ignore: u16,
) -> Agreement {
    let (mut both, mut total) = (0usize, 0usize);
    let mut slices = Vec::new();
    for &s in &volume.slices {
        let (a, b) = (
            slice_values(masks[0], volume.axis, s),
            slice_values(masks[1], volume.axis, s),
        );
        for (&x, &y) in a.iter().zip(&b) {
            let (x, y) = (is_label(x, ignore), is_label(y, ignore));
            both += (x && y) as usize;
            total += x as usize + y as usize;
        }
        slices.push((s, dice(&a, &b, ignore)));
    }
    slices.sort_by(|p, q| p.1.total_cmp(&q.1).then(p.0.cmp(&q.0)));
    Agreement {
        case_id: volume.case_id.clone(),
        annotators: names,
        dice: if total == 0 {
            1.0
        } else {
            2.0 * both as f64 / total as f64
        },
        slices,
    }
}

/// Reads the hand-off package in `dir` back: every annotator's answers and, on shared cases,
/// their agreement.
pub fn check_handoff(dataset: &Dataset, dir: &Path) -> Result<HandoffStatus> {
    let handoff = Handoff::load(dir)?;
    handoff.plan.check_dataset(dataset)?;
    let ignore = handoff.ignore_value;
    let mut cases = Vec::new();
    let mut shared: BTreeMap<String, Vec<(String, Volume)>> = BTreeMap::new();
    for a in &handoff.split.annotators {
        let ticks = annotator_ticks(&handoff, dir, &a.name)?;
        for case_id in &a.cases {
            let volume = handoff.plan.volume(case_id).ok_or_else(|| {
                Error::file(
                    format!("case '{case_id}' is not in the hand-off's plan"),
                    dir.join(super::package::HANDOFF_FILE),
                )
            })?;
            let path = returned_mask(dir, &a.name, case_id);
            let mask = read_checked(dataset, volume, &path)?;
            cases.push(answer(volume, &a.name, &mask, &path, &ticks, ignore));
            if handoff.split.shared.contains(case_id) {
                shared
                    .entry(case_id.clone())
                    .or_default()
                    .push((a.name.clone(), mask));
            }
        }
    }
    let agreement = shared
        .iter()
        .filter(|(_, m)| m.len() == 2)
        .filter_map(|(case_id, m)| {
            let volume = handoff.plan.volume(case_id)?;
            Some(agreement(
                volume,
                [m[0].0.clone(), m[1].0.clone()],
                [&m[0].1, &m[1].1],
                ignore,
            ))
        })
        .collect();
    let sum = |f: fn(&AnsweredCase) -> usize| cases.iter().map(f).sum::<usize>();
    Ok(HandoffStatus {
        planned_slices: sum(|c| c.done.len() + c.absent.len() + c.missing.len()),
        done_slices: sum(|c| c.done.len()),
        absent_slices: sum(|c| c.absent.len()),
        missing_slices: sum(|c| c.missing.len()),
        off_plan_slices: sum(|c| c.off_plan.len()),
        cases,
        agreement,
    })
}
