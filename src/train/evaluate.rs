//! Scoring a trained net on held-out, densely labelled volumes: per-volume Dice on the source
//! grid, optionally writing each prediction as NIfTI.

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::backend::{catch_device_panic, map_device_panic};
use super::data::prepare_case;
use super::eval::{dice, predict_2d, predict_3d, to_source_grid};
use super::trainer::TrainedNet;
use crate::dataset::{Dataset, LoadedCase, TargetLabels};
use crate::error::{Error, Result};
use crate::io::write_labels_like;
use crate::jobs::Progress;
use crate::jobs::panic_message;
use crate::plan::Plan;

/// Dice on one held-out volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseDice {
    pub case_id: String,
    pub dice: f64,
    pub truth_voxels: u64,
    pub predicted_voxels: u64,
}

/// How the held-out volumes are prepared and predicted (as in training).
pub(crate) struct Evaluation<'a> {
    pub dataset: &'a Dataset,
    pub plan: &'a Plan,
    pub target: &'a TargetLabels,
    /// In-plane downsampling factor used in training.
    pub factor: usize,
    /// What each spatial size must divide by (the net's total stride).
    pub divisor: &'a [usize],
    /// The 3D sliding-window patch.
    pub patch: &'a [usize],
    pub device: &'a Device,
    pub device_name: &'a str,
    /// A GPU: evaluate in fixed-size chunks (fewer kernel shapes to compile).
    pub is_gpu: bool,
    pub predict_out: Option<&'a Path>,
}

impl Evaluation<'_> {
    /// Dice of the 2D or 3D net on each of `test_ids`, and how many had no target voxel.
    pub fn run(
        &self,
        net: &TrainedNet,
        test_ids: &[String],
        progress: &Progress,
    ) -> Result<(Vec<CaseDice>, usize)> {
        let mut test = Vec::new();
        let mut empty_truth_cases = 0;
        for (n, id) in test_ids.iter().enumerate() {
            progress.check()?;
            progress.set(
                1.0,
                format!("evaluating {id} ({}/{})", n + 1, test_ids.len()),
            );
            let index = self.dataset.require_case(id)?;
            let case: LoadedCase = self.dataset.load(index)?;
            let axis = self
                .dataset
                .geometry(index)?
                .axis_for_plane(self.plan.request.plane);
            let prepared = prepare_case(&case, axis, self.target, None, None, self.factor)?;
            let (d, p) = (self.divisor, self.patch);
            let evaluated = catch_device_panic(|| match net {
                TrainedNet::TwoD(m) => predict_2d(
                    m,
                    &prepared,
                    [d[0], d[1]],
                    [p[0], p[1]],
                    16,
                    self.is_gpu,
                    self.device,
                ),
                TrainedNet::ThreeD(m) => predict_3d(m, &prepared, [p[0], p[1], p[2]], self.device),
            });
            let probs = evaluated
                .map_err(|e| map_device_panic(panic_message(e.as_ref()), self.device_name))?;
            let pred: Vec<u8> = probs.iter().map(|&p| (p > 0.5) as u8).collect();
            let pred_source = to_source_grid(&pred, &prepared);
            let labels = case
                .labels
                .as_ref()
                .ok_or_else(|| Error::invalid(format!("test case '{id}' has no labels")))?;
            let truth: Vec<u8> = (0..labels.voxel_count())
                .map(|i| self.target.is_foreground(labels.value(i).round() as i64) as u8)
                .collect();
            let truth_voxels = truth.iter().map(|&t| t as u64).sum::<u64>();
            if truth_voxels == 0 {
                empty_truth_cases += 1;
            }
            test.push(CaseDice {
                case_id: id.clone(),
                dice: dice(&pred_source, &truth),
                truth_voxels,
                predicted_voxels: pred_source.iter().map(|&p| p as u64).sum(),
            });
            if let Some(dir) = self.predict_out {
                let mask: Vec<u16> = pred_source.iter().map(|&p| p as u16).collect();
                write_labels_like(dir.join(format!("{id}.nii.gz")), &case.image, &mask)?;
            }
        }
        Ok((test, empty_truth_cases))
    }
}
