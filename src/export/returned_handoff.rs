//! A hand-off package read back: each annotator's saved templates against the plan and their
//! ticked worklist. A planned slice is done when it holds a label; absent when it holds only 0
//! (the template's answer "nothing here") and is ticked `target_absent` or `done`; missing
//! otherwise. Labels off the planned slices are reported; the template's ignore value is never
//! counted as background. Volumes given to two annotators are compared slice by slice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use super::agreement::Agreement;
use super::agreement::agreement;
use super::package::{Handoff, WORKLIST_FILE, case_folder, seg_template_path, template_path};
use super::returned::annotated_slices;
use super::returned_mask::{find_mask, read_mask_on_grid};
use super::worklist::{Tick, read_ticks};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::io::Volume;
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

/// The mask an annotator returned for `volume`: a file they saved beside the templates
/// (`CASE.nii.gz`, `.seg.nrrd`, `.dcm`, …), else whichever template they painted in place (the
/// NIfTI one in ITK-SNAP, the `.seg.nrrd` one in Slicer; the NIfTI one when neither holds a
/// label). Refused when both templates hold labels: which one is the answer is unclear.
fn returned_mask(
    dataset: &Dataset,
    dir: &Path,
    annotator: &str,
    volume: &PlannedVolume,
    ignore: u16,
) -> Result<(PathBuf, Volume)> {
    let case_id = &volume.case_id;
    let folder = case_folder(dir, annotator, case_id);
    if let Some(saved) = find_mask(&folder, case_id) {
        let mask = read_mask_on_grid(dataset, case_id, &saved, Some(ignore))?;
        return Ok((saved, mask));
    }
    let mut read = Vec::new();
    for path in [
        template_path(dir, annotator, case_id),
        seg_template_path(dir, annotator, case_id),
    ] {
        if path.is_file() {
            let mask = read_mask_on_grid(dataset, case_id, &path, Some(ignore))?;
            let painted = !annotated_slices(&mask, volume.axis, Some(ignore as i64)).is_empty();
            read.push((path, mask, painted));
        }
    }
    if read.iter().filter(|r| r.2).count() > 1 {
        return Err(Error::file(
            "both label templates (NIfTI and .seg.nrrd) hold labels; keep the one that is the answer and restore or delete the other",
            folder,
        ));
    }
    let pick = read.iter().position(|r| r.2).unwrap_or(0);
    if read.is_empty() {
        return Err(Error::file(
            format!("no returned mask or template for case '{case_id}'"),
            folder,
        ));
    }
    let (path, mask, _) = read.swap_remove(pick);
    Ok((path, mask))
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
    let labelled = annotated_slices(mask, volume.axis, Some(ignore as i64));
    let not_zero = mask.slices_where(volume.axis, |v| v != 0);
    case.off_plan = labelled
        .iter()
        .copied()
        .filter(|s| !volume.slices.contains(s))
        .collect();
    for &s in &volume.slices {
        let tick = ticks.get(&(volume.case_id.clone(), s));
        let answered_empty = tick.is_some_and(|t| t.target_absent || t.done);
        if labelled.contains(&s) {
            case.done.push(s);
        } else if !not_zero.contains(&s) && answered_empty {
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

/// The answer on `volume` of the first annotator holding it (on a shared case, the one it was
/// given to first), with their mask: what an export of the returned hand-off takes.
pub fn primary_answer(
    dataset: &Dataset,
    dir: &Path,
    handoff: &Handoff,
    volume: &PlannedVolume,
) -> Result<(AnsweredCase, Volume)> {
    let annotator = handoff
        .split
        .annotators
        .iter()
        .find(|a| a.cases.contains(&volume.case_id))
        .ok_or_else(|| {
            Error::file(
                format!("no annotator holds case '{}'", volume.case_id),
                dir.join(super::package::HANDOFF_FILE),
            )
        })?;
    let ticks = annotator_ticks(handoff, dir, &annotator.name)?;
    let ignore = handoff.ignore_value;
    let (path, mask) = returned_mask(dataset, dir, &annotator.name, volume, ignore)?;
    let answered = answer(volume, &annotator.name, &mask, &path, &ticks, ignore);
    Ok((answered, mask))
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
            let (path, mask) = returned_mask(dataset, dir, &a.name, volume, ignore)?;
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
