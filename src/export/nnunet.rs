//! Sparse nnU-Net v2 datasets: `imagesTr/`, `labelsTr/` where unannotated slices carry the ignore
//! label, and a `dataset.json` declaring `"ignore"`, ready for `nnUNetv2_plan_and_preprocess`.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use super::package::{HANDOFF_FILE, Handoff};
use super::returned::annotated_slices;
use super::returned_handoff::primary_answer;
use super::returned_mask::{find_mask, read_mask_on_grid};
use super::sparse::{LabelMapping, sparse_answer};
use crate::dataset::{Dataset, Source, TargetLabels};
use crate::error::{Error, Result};
use crate::io::{Volume, write_atomic, write_bytes_atomic, write_labels_like, write_nifti};
use crate::jobs::Progress;
use crate::plan::{Plan, PlannedVolume};

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub out: String,
    pub cases: usize,
    pub annotated_slices: usize,
    pub ignore_label: u16,
    pub labels: Vec<(String, u16)>,
    /// Where the labels came from.
    pub source: String,
}

/// Copies a `.nii.gz` image byte for byte; writes others (and demo cases) from the loaded case.
fn copy_image(source: &Source, image: &Volume, dest: &Path) -> Result<()> {
    match source {
        Source::File(path) if path.to_string_lossy().ends_with(".nii.gz") => {
            let mut file =
                std::fs::File::open(path).map_err(|e| Error::io("cannot open image", path, e))?;
            write_atomic(dest, |w| std::io::copy(&mut file, w).map(|_| ()))
        }
        _ => write_nifti(dest, image),
    }
}

/// Returned masks to export instead of the dataset's dense labels.
#[derive(Debug, Clone, Copy)]
pub struct ReturnedMasks<'a> {
    /// A folder of `CASE.*` masks, or a hand-off package (`handoff.json` at its root).
    pub dir: &'a Path,
    /// Keep labels painted off the planned slices (the rest of such a slice stays ignored).
    pub keep_off_plan: bool,
}

impl<'a> ReturnedMasks<'a> {
    /// The masks in `dir`, labels off the plan dropped.
    pub fn new(dir: &'a Path) -> Self {
        ReturnedMasks {
            dir,
            keep_off_plan: false,
        }
    }
}

/// Where an export takes each case's labels from.
enum LabelSource<'a> {
    Dense,
    Masks(ReturnedMasks<'a>),
    Handoff(ReturnedMasks<'a>, Box<Handoff>),
}

/// One case's labels for the export: the label map, the planned slices answered in it, the
/// slices off the plan whose labels are kept, and the template's "not planned" value.
struct CaseLabels {
    labels: Volume,
    answered: Vec<usize>,
    kept: Vec<usize>,
    not_planned: Option<u16>,
}

impl CaseLabels {
    /// A case's dense labels on its planned slices.
    fn dense(labels: Option<Volume>, volume: &PlannedVolume) -> Result<CaseLabels> {
        Ok(CaseLabels {
            labels: labels.ok_or_else(|| no_labels(&volume.case_id))?,
            answered: volume.slices.clone(),
            kept: Vec::new(),
            not_planned: None,
        })
    }
}

impl<'a> LabelSource<'a> {
    fn new(masks: Option<ReturnedMasks<'a>>) -> Result<Self> {
        Ok(match masks {
            None => LabelSource::Dense,
            Some(m) if m.dir.join(HANDOFF_FILE).is_file() => {
                LabelSource::Handoff(m, Box::new(Handoff::load(m.dir)?))
            }
            Some(m) => LabelSource::Masks(m),
        })
    }

    /// What the summary says the labels came from.
    fn describe(&self) -> String {
        match self {
            LabelSource::Dense => "the dataset's dense labels".into(),
            LabelSource::Masks(m) => format!("returned masks in {}", m.dir.display()),
            LabelSource::Handoff(m, _) => format!(
                "the hand-off in {} (a shared case from its first annotator)",
                m.dir.display()
            ),
        }
    }

    /// Checks that every case has labels before anything is written.
    fn check(&self, dataset: &Dataset, volume: &PlannedVolume) -> Result<()> {
        match self {
            LabelSource::Dense => Ok(()),
            LabelSource::Masks(m) => returned_mask(m.dir, &volume.case_id).map(|_| ()),
            LabelSource::Handoff(..) => self.case(dataset, volume).map(|_| ()),
        }
    }

    /// The labels of `volume`'s case.
    fn case(&self, dataset: &Dataset, volume: &PlannedVolume) -> Result<CaseLabels> {
        let off_plan = |kept: Vec<usize>, keep: bool| if keep { kept } else { Vec::new() };
        match self {
            LabelSource::Dense => {
                let index = dataset.require_case(&volume.case_id)?;
                CaseLabels::dense(dataset.load_labels(index)?, volume)
            }
            LabelSource::Masks(m) => {
                let path = returned_mask(m.dir, &volume.case_id)?;
                let labels = read_mask_on_grid(dataset, &volume.case_id, &path, None)?;
                let outside: Vec<usize> = annotated_slices(&labels, volume.axis, None)
                    .into_iter()
                    .filter(|s| !volume.slices.contains(s))
                    .collect();
                Ok(CaseLabels {
                    labels,
                    answered: volume.slices.clone(),
                    kept: off_plan(outside, m.keep_off_plan),
                    not_planned: None,
                })
            }
            LabelSource::Handoff(m, handoff) => {
                let (answer, labels) = primary_answer(dataset, m.dir, handoff, volume)?;
                let mut answered = [answer.done, answer.absent].concat();
                answered.sort_unstable();
                Ok(CaseLabels {
                    labels,
                    answered,
                    kept: off_plan(answer.off_plan, m.keep_off_plan),
                    not_planned: Some(handoff.ignore_value),
                })
            }
        }
    }
}

fn returned_mask(dir: &Path, case_id: &str) -> Result<std::path::PathBuf> {
    find_mask(dir, case_id)
        .ok_or_else(|| Error::file(format!("no returned mask for case '{case_id}'"), dir))
}

fn no_labels(case_id: &str) -> Error {
    Error::invalid(format!(
        "case '{case_id}' has no labels: give the folder of the annotators' returned masks"
    ))
}

/// The label values present in the planned cases (for "all foreground"), every case's labels
/// checked to exist first.
fn present_labels(
    dataset: &Dataset,
    plan: &Plan,
    source: &LabelSource,
    all_foreground: bool,
    progress: &Progress,
) -> Result<Vec<i64>> {
    let mut present = BTreeSet::new();
    let n_volumes = plan.volumes.len();
    for (n, v) in plan.volumes.iter().enumerate() {
        progress.check()?;
        if !all_foreground {
            source.check(dataset, v)?;
            continue;
        }
        progress.set(
            0.3 * n as f32 / n_volumes as f32,
            format!("reading the labels of {}", v.case_id),
        );
        let case = source.case(dataset, v)?;
        let not_planned = case.not_planned.map(i64::from);
        present.extend(
            case.labels
                .label_voxels()
                .into_keys()
                .filter(|&l| Some(l) != not_planned),
        );
    }
    Ok(present.into_iter().collect())
}

/// Exports `plan` as a sparse nnU-Net v2 raw dataset in `out`. Labels come from the dataset's
/// dense labels (pilot / simulation) or, with `masks`, from the annotators' returned masks: a
/// folder of `CASE.*` masks (the planned slices exported), or a returned hand-off package (the
/// slices answered: labelled, or ticked as holding no target; a slice not yet answered stays
/// ignored). `target` picks the classes (all non-zero labels when empty), renumbered 1..K.
pub fn export_nnunet(
    dataset: &Dataset,
    plan: &Plan,
    out: &Path,
    target: &TargetLabels,
    masks: Option<ReturnedMasks>,
    progress: &Progress,
) -> Result<ExportSummary> {
    plan.check_dataset(dataset)?;
    let source = LabelSource::new(masks)?;
    // Volumes are streamed: one case in memory at a time. First pass: every case's labels
    // exist (and, for "all foreground", which label values they hold) before anything is written.
    let present = present_labels(dataset, plan, &source, target.values.is_empty(), progress)?;
    let mapping = LabelMapping::new(target, &present, &dataset.label_names);
    if mapping.classes.is_empty() {
        return Err(Error::invalid(
            "no foreground label in the planned cases: nothing to export",
        ));
    }
    // Second pass: each case loaded, checked, written and dropped.
    let mut annotated = 0;
    let n_volumes = plan.volumes.len();
    for (n, v) in plan.volumes.iter().enumerate() {
        progress.check()?;
        progress.set(
            0.3 + 0.7 * n as f32 / n_volumes as f32,
            format!("writing {}", v.case_id),
        );
        let index = dataset.require_case(&v.case_id)?;
        // Loading the case checks its image and dense labels lie on one grid.
        let loaded = dataset.load(index)?;
        let case = match source {
            LabelSource::Dense => CaseLabels::dense(loaded.labels, v)?,
            _ => source.case(dataset, v)?,
        };
        let image = loaded.image;
        let sparse = sparse_answer(
            &case.labels,
            v.axis,
            &case.answered,
            &case.kept,
            case.not_planned,
            &mapping,
        );
        copy_image(
            &dataset.cases[index].image,
            &image,
            &out.join("imagesTr")
                .join(format!("{}_0000.nii.gz", v.case_id)),
        )?;
        write_labels_like(
            out.join("labelsTr").join(format!("{}.nii.gz", v.case_id)),
            &image,
            &sparse,
        )?;
        annotated += case.answered.len();
    }
    let mut label_json = serde_json::Map::new();
    label_json.insert("background".into(), 0.into());
    for (_, value, name) in &mapping.classes {
        label_json.insert(name.clone(), (*value).into());
    }
    label_json.insert("ignore".into(), mapping.ignore.into());
    let modality = match dataset.cases.first().map(|c| c.modality) {
        Some(crate::dataset::Modality::Ct) => "CT",
        Some(crate::dataset::Modality::Mr) => "MRI",
        _ => "noNorm",
    };
    let json = serde_json::json!({
        "name": format!("{}-sparse", dataset.id),
        "description": format!("Sparse annotation plan of '{}' exported by sliceplan: {} slices in {} volumes ({} strategy); unannotated voxels carry the ignore label {}",
            dataset.id, annotated, plan.volumes.len(), plan.request.slice_strategy.name(), mapping.ignore),
        "channel_names": {"0": modality},
        "labels": label_json,
        "numTraining": plan.volumes.len(),
        "file_ending": ".nii.gz"
    });
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::invalid(e.to_string()))?;
    write_bytes_atomic(out.join("dataset.json"), text.as_bytes())?;
    progress.set(1.0, "export done");
    Ok(ExportSummary {
        out: out.display().to_string(),
        cases: plan.volumes.len(),
        annotated_slices: annotated,
        ignore_label: mapping.ignore,
        labels: mapping.classes.iter().map(|c| (c.2.clone(), c.1)).collect(),
        source: source.describe(),
    })
}
