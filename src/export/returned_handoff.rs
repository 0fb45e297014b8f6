//! A hand-off package read back: each annotator's saved templates against the plan and their
//! ticked worklist. A planned slice is done when it holds a label; absent when it holds only 0
//! (the template's answer "nothing here") and is ticked `target_absent` or `done`; missing
//! otherwise. Labels off the planned slices are reported; the template's ignore value is never
//! counted as background. Volumes given to two annotators are compared slice by slice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::package::{Handoff, WORKLIST_FILE, case_folder, template_path};
use super::returned::{annotated_slices, read_mask_on_grid};
use super::worklist::{Tick, read_ticks};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::interp::dice_from_counts;
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

/// (both, first, second): voxels labelled in both masks, in the first, in the second, on slice
/// `s` along `axis` (the ignore value is no label).
fn overlap(masks: [&Volume; 2], axis: usize, s: usize, ignore: u16) -> (u64, u64, u64) {
    let is_label = |v: f32| v != 0.0 && v != ignore as f32;
    let (a, b) = (masks[0].slice_f32(axis, s), masks[1].slice_f32(axis, s));
    a.data
        .iter()
        .zip(&b.data)
        .fold((0, 0, 0), |(both, p, q), (&x, &y)| {
            let (x, y) = (is_label(x), is_label(y));
            (both + (x && y) as u64, p + x as u64, q + y as u64)
        })
}

/// The agreement of two annotators' masks on the planned slices of `volume`.
fn agreement(
    volume: &PlannedVolume,
    annotators: [String; 2],
    masks: [&Volume; 2],
    ignore: u16,
) -> Agreement {
    let counts: Vec<(usize, (u64, u64, u64))> = volume
        .slices
        .iter()
        .map(|&s| (s, overlap(masks, volume.axis, s, ignore)))
        .collect();
    let total = counts
        .iter()
        .fold((0, 0, 0), |t, (_, c)| (t.0 + c.0, t.1 + c.1, t.2 + c.2));
    let mut slices: Vec<(usize, f64)> = counts
        .iter()
        .map(|&(s, (both, p, q))| (s, dice_from_counts(both, p, q)))
        .collect();
    slices.sort_by(|p, q| p.1.total_cmp(&q.1).then(p.0.cmp(&q.0)));
    Agreement {
        case_id: volume.case_id.clone(),
        annotators,
        dice: dice_from_counts(total.0, total.1, total.2),
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
            let mask = read_mask_on_grid(dataset, case_id, &path)?;
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
