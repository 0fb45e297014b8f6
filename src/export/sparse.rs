//! Sparse label volumes: dense labels kept on the planned slices only, the rest marked "ignore".

use crate::dataset::TargetLabels;
use crate::io::Volume;

/// Maps source label values to consecutive output values (nnU-Net requires 0..K), ignore = K + 1.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMapping {
    /// (source value, output value, name), background excluded, sorted by output value.
    pub classes: Vec<(i64, u16, String)>,
    pub ignore: u16,
}

impl LabelMapping {
    /// The mapping for `target` (or, when it is "all foreground", for `present` values).
    pub fn new(
        target: &TargetLabels,
        present: &[i64],
        names: &std::collections::BTreeMap<i64, String>,
    ) -> Self {
        let values: Vec<i64> = if target.values.is_empty() {
            present.iter().copied().filter(|&v| v != 0).collect()
        } else {
            target.values.iter().copied().filter(|&v| v != 0).collect()
        };
        let classes: Vec<(i64, u16, String)> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (v, (i + 1) as u16, super::segments::label_name(names, v)))
            .collect();
        LabelMapping {
            ignore: classes.len() as u16 + 1,
            classes,
        }
    }

    /// Output value of source label `v` (0 for anything not a class).
    pub fn map(&self, v: i64) -> u16 {
        self.classes
            .iter()
            .find(|c| c.0 == v)
            .map(|c| c.1)
            .unwrap_or(0)
    }
}

/// Whether each voxel lies on one of `slices` along `axis`.
pub fn on_slices(shape: [usize; 3], axis: usize, slices: &[usize]) -> Vec<bool> {
    let mut keep = vec![false; shape[axis]];
    for &s in slices {
        if s < keep.len() {
            keep[s] = true;
        }
    }
    let [nx, ny, nz] = shape;
    let mut out = Vec::with_capacity(nx * ny * nz);
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                out.push(keep[[i, j, k][axis]]);
            }
        }
    }
    out
}

/// Sparse labels: `labels` mapped on the planned `slices`, `mapping.ignore` elsewhere.
pub fn sparse_labels(
    labels: &Volume,
    axis: usize,
    slices: &[usize],
    mapping: &LabelMapping,
) -> Vec<u16> {
    sparse_answer(labels, axis, slices, &[], None, mapping)
}

/// Sparse labels of a returned mask: `labels` mapped on the `answered` slices (where a voxel
/// holding the template's `not_planned` value stays ignored, never background); on the `kept`
/// slices off the plan, the labelled voxels only; `mapping.ignore` everywhere else.
pub fn sparse_answer(
    labels: &Volume,
    axis: usize,
    answered: &[usize],
    kept: &[usize],
    not_planned: Option<u16>,
    mapping: &LabelMapping,
) -> Vec<u16> {
    let on_answered = on_slices(labels.shape, axis, answered);
    let on_kept = on_slices(labels.shape, axis, kept);
    let not_planned = not_planned.map(i64::from);
    (0..labels.voxel_count())
        .map(|i| {
            let v = labels.value(i).round() as i64;
            let labelled = v != 0 && Some(v) != not_planned;
            if on_answered[i] && Some(v) != not_planned || on_kept[i] && labelled {
                mapping.map(v)
            } else {
                mapping.ignore
            }
        })
        .collect()
}
