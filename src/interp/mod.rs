//! Mask interpolation between annotated slices, its quality against dense truth, and risk flags.

mod area;
mod boxes;
mod caps;
pub mod edt;
pub mod flags;
mod group;
mod guide;
pub mod interpolate;
pub mod parts;
mod sdf;
pub mod slices;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

pub use flags::{FlagKind, FlagRules, RiskFlag};
pub use interpolate::{Interpolation, Method, interpolate, interpolate_guided};
pub use parts::{GapReport, GapRule, rules_summary};

use crate::dataset::{Dataset, LoadedCase, TargetLabels};
use crate::error::Result;
use crate::io::write_labels_like;
use crate::jobs::Progress;
use crate::plan::{Plan, PlannedVolume};
use slices::{in_plane_spacing, slice_dims};

/// Dice of `pred` against `truth` for `label` over the voxels where `mask` holds. Both empty → 1,
/// truth empty but prediction not (or the reverse) → 0.
pub fn dice_where(pred: &[u16], truth: &[u16], label: u16, mask: impl Fn(usize) -> bool) -> f64 {
    let (mut inter, mut p, mut t) = (0u64, 0u64, 0u64);
    for i in 0..pred.len() {
        if !mask(i) {
            continue;
        }
        let (a, b) = (pred[i] == label, truth[i] == label);
        inter += (a && b) as u64;
        p += a as u64;
        t += b as u64;
    }
    dice_from_counts(inter, p, t)
}

/// Dice from the overlap and the two sizes, with the empty rule used throughout sliceplan:
/// both empty → 1, one empty → 0.
pub fn dice_from_counts(intersection: u64, predicted: u64, truth: u64) -> f64 {
    if predicted + truth == 0 {
        1.0
    } else {
        2.0 * intersection as f64 / (predicted + truth) as f64
    }
}

/// What interpolation gave for one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseInterp {
    pub case_id: String,
    /// The method that filled the gaps (`sdf` read the image where the case has one).
    pub method: Method,
    pub annotated_slices: Vec<usize>,
    pub interpolated_slices: usize,
    /// Dice vs truth on the interpolated (unannotated, covered) slices, per label.
    pub dice: BTreeMap<String, f64>,
    pub flags: Vec<RiskFlag>,
    /// `sdf`: the rule used for each group of parts in each gap.
    pub gap_rules: Vec<GapReport>,
    pub output: Option<String>,
    pub milliseconds: f64,
    /// Label values in the case that are outside the target labels: not interpolated, not in
    /// the output.
    pub ignored_labels: Vec<u16>,
}

/// Interpolation over a plan's cases.
#[derive(Debug, Clone, Serialize)]
pub struct InterpReport {
    pub method: Method,
    pub cases: Vec<CaseInterp>,
    /// Cases skipped, with the reason (e.g. fewer than two annotated slices).
    pub skipped: Vec<(String, String)>,
    pub mean_dice: Option<f64>,
}

/// Risk flags for every gap of a case.
pub fn case_flags(
    case_id: &str,
    labels: &[u16],
    shape: [usize; 3],
    spacing_mm: [f64; 3],
    axis: usize,
    annotated: &[usize],
    rules: &FlagRules,
) -> Vec<RiskFlag> {
    let (w, h) = slice_dims(shape, axis);
    let (sx, sy) = in_plane_spacing(spacing_mm, axis);
    let known = slices::slice_views(labels, shape, axis, annotated);
    let values = interpolate::present_labels(&known);
    let mut out = Vec::new();
    for g in 0..annotated.len().saturating_sub(1) {
        if annotated[g + 1] - annotated[g] < 2 {
            continue;
        }
        for &l in &values {
            let ma: Vec<bool> = known[g].iter().map(|&x| x == l).collect();
            let mb: Vec<bool> = known[g + 1].iter().map(|&x| x == l).collect();
            out.extend(flags::flag_gap(
                case_id,
                l as i64,
                (annotated[g], &ma),
                (annotated[g + 1], &mb),
                w,
                h,
                (sx * sy) as f64,
                spacing_mm[axis],
                rules,
            ));
        }
    }
    out
}

/// The case's image values for `method`, as `interpolate_guided` reads them: `sdf` reads where
/// objects end inside gaps (and what its area rule takes in) from the image; the other methods
/// (`sdf-labels` included) do not, so nothing is converted for them.
pub fn image_for(case: &LoadedCase, method: Method) -> Option<Vec<f32>> {
    method.reads_image().then(|| case.image.to_f32())
}

/// Interpolates one planned case with dense truth (`sdf` guided by the case's image); returns
/// the interpolation and its report.
/// Only `target`'s labels are interpolated (all non-zero ones for "all foreground"); the others
/// are reported in `ignored_labels` and left out of the output.
pub fn interpolate_case(
    case: &LoadedCase,
    planned: &PlannedVolume,
    target: &TargetLabels,
    method: Method,
    extrapolate: bool,
    rules: &FlagRules,
) -> Result<(Interpolation, CaseInterp)> {
    let mut truth = case.labels_u16()?;
    let (values, ignored_labels): (Vec<u16>, Vec<u16>) =
        interpolate::present_labels(std::slice::from_ref(&truth))
            .into_iter()
            .partition(|&v| target.is_foreground(v as i64));
    if !ignored_labels.is_empty() {
        truth
            .iter_mut()
            .filter(|v| !target.is_foreground(**v as i64))
            .for_each(|v| *v = 0);
    }
    let shape = case.image.shape;
    let image = image_for(case, method);
    let start = std::time::Instant::now();
    let result = interpolate_guided(
        &truth,
        image.as_deref(),
        shape,
        case.image.spacing_mm,
        planned.axis,
        &planned.slices,
        method,
        extrapolate,
    )?;
    let milliseconds = start.elapsed().as_secs_f64() * 1e3;
    let flags = case_flags(
        &case.id,
        &truth,
        shape,
        case.image.spacing_mm,
        planned.axis,
        &result.annotated,
        rules,
    );
    // Quality on covered slices that were not annotated.
    let depth = shape[planned.axis];
    let scored: Vec<bool> = (0..depth)
        .map(|s| result.covered[s] && !result.annotated.contains(&s))
        .collect();
    let [nx, ny, _] = shape;
    let axis = planned.axis;
    let on_scored = |i: usize| scored[[i % nx, (i / nx) % ny, i / (nx * ny)][axis]];
    let dice = values
        .iter()
        .map(|&l| {
            (
                l.to_string(),
                dice_where(&result.labels, &truth, l, on_scored),
            )
        })
        .collect();
    let report = CaseInterp {
        case_id: case.id.clone(),
        method,
        annotated_slices: result.annotated.clone(),
        interpolated_slices: scored.iter().filter(|&&s| s).count(),
        dice,
        flags,
        gap_rules: result.gaps.clone(),
        output: None,
        milliseconds,
        ignored_labels,
    };
    Ok((result, report))
}

/// Interpolates every planned case of `dataset` (the `target` labels only), optionally writing
/// `OUT/CASE.nii.gz`.
pub fn run_interp(
    dataset: &Dataset,
    plan: &Plan,
    target: &TargetLabels,
    method: Method,
    extrapolate: bool,
    out: Option<&Path>,
    progress: &Progress,
) -> Result<InterpReport> {
    plan.check_dataset(dataset)?;
    let rules = FlagRules::default();
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    for (n, planned) in plan.volumes.iter().enumerate() {
        progress.check()?;
        progress.set(
            n as f32 / plan.volumes.len() as f32,
            format!("interpolating {}", planned.case_id),
        );
        if planned.slices.len() < 2 {
            skipped.push((
                planned.case_id.clone(),
                format!(
                    "{} annotated slice(s): nothing can be interpolated",
                    planned.slices.len()
                ),
            ));
            continue;
        }
        let case = dataset.load(dataset.require_case(&planned.case_id)?)?;
        let (result, mut report) =
            interpolate_case(&case, planned, target, method, extrapolate, &rules)?;
        if let Some(dir) = out {
            let path = dir.join(format!("{}.nii.gz", planned.case_id));
            write_labels_like(&path, &case.image, &result.labels)?;
            report.output = Some(path.display().to_string());
        }
        cases.push(report);
    }
    let all: Vec<f64> = cases
        .iter()
        .flat_map(|c| c.dice.values().copied())
        .collect();
    let mean_dice = (!all.is_empty()).then(|| all.iter().sum::<f64>() / all.len() as f64);
    progress.set(1.0, "interpolation done");
    Ok(InterpReport {
        method,
        cases,
        skipped,
        mean_dice,
    })
}
