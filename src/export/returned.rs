//! Reading annotators' returned masks back against the plan: which planned slices are done,
//! which are missing, which were annotated outside the plan.

use std::path::Path;

use serde::Serialize;

pub use super::returned_mask::{find_mask, read_mask_on_grid};
use crate::dataset::Dataset;
use crate::error::Result;
use crate::io::Volume;
use crate::plan::Plan;

/// Progress of one case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseStatus {
    pub case_id: String,
    /// The mask file found, if any.
    pub mask_path: Option<String>,
    pub done: Vec<usize>,
    pub missing: Vec<usize>,
    pub outside_plan: Vec<usize>,
}

/// Progress of the whole plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReturnedStatus {
    pub planned_slices: usize,
    pub done_slices: usize,
    pub missing_slices: usize,
    pub outside_plan_slices: usize,
    pub cases: Vec<CaseStatus>,
}

/// Slices along `axis` holding any voxel other than 0 and `ignore`: the annotated ones.
pub fn annotated_slices(mask: &Volume, axis: usize, ignore: Option<i64>) -> Vec<usize> {
    mask.slices_where(axis, |v| v != 0 && Some(v) != ignore)
}

/// Compares returned masks in `dir` with `plan` on `dataset`. A planned slice is done when its
/// mask holds a label (an annotator who finds nothing on a planned slice should say so in the
/// worklist; an all-zero slice reads as not done). `ignore` is a value meaning "not annotated".
/// Masks are read in any form `find_mask` finds (NIfTI, NRRD, `.seg.nrrd`, DICOM SEG), each on
/// its case's grid: one flipped or permuted by the annotation tool would count the wrong slices,
/// and is refused.
pub fn check_returned(
    dataset: &Dataset,
    plan: &Plan,
    dir: &Path,
    ignore: Option<i64>,
) -> Result<ReturnedStatus> {
    let mut cases = Vec::new();
    for v in &plan.volumes {
        let (mask_path, annotated) = match find_mask(dir, &v.case_id) {
            Some(p) => {
                let not_planned = ignore.and_then(|i| u16::try_from(i).ok());
                let mask = read_mask_on_grid(dataset, &v.case_id, &p, not_planned)?;
                (
                    Some(p.display().to_string()),
                    annotated_slices(&mask, v.axis, ignore),
                )
            }
            None => (None, Vec::new()),
        };
        let done: Vec<usize> = v
            .slices
            .iter()
            .copied()
            .filter(|s| annotated.contains(s))
            .collect();
        let missing: Vec<usize> = v
            .slices
            .iter()
            .copied()
            .filter(|s| !annotated.contains(s))
            .collect();
        let outside_plan: Vec<usize> = annotated
            .iter()
            .copied()
            .filter(|s| !v.slices.contains(s))
            .collect();
        cases.push(CaseStatus {
            case_id: v.case_id.clone(),
            mask_path,
            done,
            missing,
            outside_plan,
        });
    }
    let sum = |f: fn(&CaseStatus) -> usize| cases.iter().map(f).sum::<usize>();
    Ok(ReturnedStatus {
        planned_slices: plan.total_slices(),
        done_slices: sum(|c| c.done.len()),
        missing_slices: sum(|c| c.missing.len()),
        outside_plan_slices: sum(|c| c.outside_plan.len()),
        cases,
    })
}

/// The plan restricted to what is still missing (to resume partial work).
pub fn remaining_plan(plan: &Plan, status: &ReturnedStatus) -> Plan {
    let mut rest = plan.clone();
    for v in &mut rest.volumes {
        if let Some(c) = status.cases.iter().find(|c| c.case_id == v.case_id) {
            v.slices = c.missing.clone();
        }
    }
    rest.volumes.retain(|v| !v.slices.is_empty());
    rest.accounting.planned_slices = rest.total_slices();
    rest.accounting.volumes = rest.volumes.len();
    rest
}
