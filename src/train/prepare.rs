//! The training volumes of a run: loaded, interpolated when asked, prepared at one in-plane
//! resolution chosen from the first volume and the target's size.

use super::ModelKind;
use super::data::{TrainCase, auto_in_plane_factor, in_plane_factor, prepare_case, target_extent};
use super::trainer::TrainJob;
use crate::error::Result;
use crate::interp::{image_for, interpolate_guided};
use crate::jobs::Progress;

/// The training volumes prepared at one in-plane resolution.
pub struct Prepared {
    pub cases: Vec<TrainCase>,
    pub factor: usize,
    /// The target's typical in-plane size (px, source grid) on the annotated slices.
    pub target_extent_px: Option<f64>,
    pub geometry0: crate::dataset::CaseGeometry,
}

/// Loads and prepares the plan's volumes (interpolated masks when asked), choosing the in-plane
/// factor from the first volume and the target's size.
pub fn prepare_training(job: &TrainJob, progress: &Progress) -> Result<Prepared> {
    let (dataset, plan, config) = (job.dataset, job.plan, job.config);
    let first = dataset.require_case(&plan.volumes[0].case_id)?;
    let geometry0 = dataset.geometry(first)?;
    let axis0 = plan.volumes[0].axis;
    let mut cases = Vec::new();
    let mut factor = 1;
    let mut target_extent_px = None;
    for (n, v) in plan.volumes.iter().enumerate() {
        progress.check()?;
        progress.set(
            0.0,
            format!("preparing {} ({}/{})", v.case_id, n + 1, plan.volumes.len()),
        );
        let case = dataset.load(dataset.require_case(&v.case_id)?)?;
        if n == 0 {
            target_extent_px = target_extent(&case, v.axis, &v.slices, job.target);
            factor = match config.max_in_plane {
                Some(max) => in_plane_factor(geometry0.shape, axis0, max),
                None => auto_in_plane_factor(geometry0.shape, axis0, target_extent_px),
            };
        }
        let prepared = match config.interpolation {
            Some(method) if v.slices.len() >= 2 => {
                let truth = case.labels_u16()?;
                let image = image_for(&case, method);
                let interp = interpolate_guided(
                    &truth,
                    image.as_deref(),
                    case.image.shape,
                    case.image.spacing_mm,
                    v.axis,
                    &v.slices,
                    method,
                    false,
                )?;
                let covered: Vec<usize> = (0..interp.covered.len())
                    .filter(|&s| interp.covered[s])
                    .collect();
                prepare_case(
                    &case,
                    v.axis,
                    job.target,
                    Some(&covered),
                    Some(&interp.labels),
                    factor,
                )?
            }
            _ => prepare_case(&case, v.axis, job.target, Some(&v.slices), None, factor)?,
        };
        // A 2D net reads its supervised slices alone: the rest of the volume is dropped before
        // the next one is loaded, so a plan of hundreds of volumes holds only what it annotated
        // (a 3D net's patches span unannotated slices, and keep the volume).
        cases.push(match config.model {
            ModelKind::TwoD => prepared.supervised_only(),
            ModelKind::ThreeD => prepared,
        });
    }
    Ok(Prepared {
        cases,
        factor,
        target_extent_px,
        geometry0,
    })
}
