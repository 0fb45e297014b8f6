//! The annotators' worklist: one CSV row per planned slice.

use std::fmt::Write as _;
use std::path::Path;

use crate::dataset::Dataset;
use crate::error::Result;
use crate::io::geometry::voxel_to_world;
use crate::io::write_bytes_atomic;
use crate::plan::Plan;

/// One row of the worklist.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorklistRow {
    pub order: usize,
    pub case_id: String,
    pub image_path: String,
    pub plane: String,
    pub axis: usize,
    pub slice_index: usize,
    /// World coordinate (mm) of the slice centre along the plane's normal (x for sagittal,
    /// y for coronal, z for axial; RAS+ as in NIfTI).
    pub position_mm: f64,
    /// For a DICOM case sliced along its images: the SOPInstanceUID of the image to annotate, so
    /// an annotator can open exactly that image in their viewer (empty otherwise).
    pub sop_instance_uid: String,
}

/// The worklist rows of `plan`, ordered by case then slice (so annotators open each volume once).
pub fn worklist_rows(plan: &Plan, dataset: &Dataset) -> Result<Vec<WorklistRow>> {
    let world_axis = plan.request.plane.world_axis();
    let mut rows = Vec::with_capacity(plan.total_slices());
    for v in &plan.volumes {
        let (geometry, uids) = match dataset.case_index(&v.case_id) {
            Some(i) => {
                let (g, uids) = dataset.geometry_and_uids(i)?;
                (Some(g), uids)
            }
            None => (None, None),
        };
        // DICOM images are the k slices; only a plan cut along k names one image per slice.
        let uids = uids.filter(|_| v.axis == 2);
        for &s in &v.slices {
            let position_mm = match &geometry {
                Some(g) => {
                    let mut ijk = [
                        (g.shape[0] as f64 - 1.0) / 2.0,
                        (g.shape[1] as f64 - 1.0) / 2.0,
                        (g.shape[2] as f64 - 1.0) / 2.0,
                    ];
                    ijk[v.axis] = s as f64;
                    voxel_to_world(&g.world_from_voxel, ijk)[world_axis]
                }
                None => f64::NAN,
            };
            rows.push(WorklistRow {
                order: rows.len() + 1,
                case_id: v.case_id.clone(),
                image_path: v.image_path.clone(),
                plane: plan.request.plane.name().to_string(),
                axis: v.axis,
                slice_index: s,
                position_mm,
                sop_instance_uid: uids
                    .as_ref()
                    .and_then(|u| u.get(s).cloned())
                    .unwrap_or_default(),
            });
        }
    }
    Ok(rows)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Renders rows as CSV text.
pub fn worklist_csv(rows: &[WorklistRow]) -> String {
    let mut out = String::from(
        "order,case_id,image_path,plane,axis,slice_index,position_mm,sop_instance_uid\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{:.3},{}",
            r.order,
            csv_field(&r.case_id),
            csv_field(&r.image_path),
            r.plane,
            r.axis,
            r.slice_index,
            r.position_mm,
            r.sop_instance_uid
        );
    }
    out
}

/// Writes the worklist CSV of `plan` atomically.
pub fn write_worklist(plan: &Plan, dataset: &Dataset, path: impl AsRef<Path>) -> Result<usize> {
    let rows = worklist_rows(plan, dataset)?;
    write_bytes_atomic(path, worklist_csv(&rows).as_bytes())?;
    Ok(rows.len())
}
