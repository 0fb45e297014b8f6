//! Sparse nnU-Net v2 datasets: `imagesTr/`, `labelsTr/` where unannotated slices carry the ignore
//! label, and a `dataset.json` declaring `"ignore"`, ready for `nnUNetv2_plan_and_preprocess`.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use super::returned::find_mask;
use super::sparse::{LabelMapping, sparse_labels};
use crate::dataset::{Dataset, Source, TargetLabels, check_same_grid};
use crate::error::{Error, Result};
use crate::io::{
    Volume, read_nifti, write_atomic, write_bytes_atomic, write_labels_like, write_nifti,
};
use crate::jobs::Progress;
use crate::plan::Plan;

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub out: String,
    pub cases: usize,
    pub annotated_slices: usize,
    pub ignore_label: u16,
    pub labels: Vec<(String, u16)>,
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

fn returned_mask(dir: &Path, case_id: &str) -> Result<std::path::PathBuf> {
    find_mask(dir, case_id)
        .ok_or_else(|| Error::file(format!("no returned mask for case '{case_id}'"), dir))
}

fn no_labels(case_id: &str) -> Error {
    Error::invalid(format!(
        "case '{case_id}' has no labels: give the folder of the annotators' returned masks"
    ))
}

/// Exports `plan` as a sparse nnU-Net v2 raw dataset in `out`. Labels come from the dataset's
/// dense labels (pilot / simulation) or, with `masks`, from the annotators' returned masks.
/// `target` picks the classes (all non-zero labels when empty), renumbered 1..K.
pub fn export_nnunet(
    dataset: &Dataset,
    plan: &Plan,
    out: &Path,
    target: &TargetLabels,
    masks: Option<&Path>,
    progress: &Progress,
) -> Result<ExportSummary> {
    plan.check_dataset(dataset)?;
    // Volumes are streamed: one case in memory at a time. First pass, only for "all
    // foreground": which label values exist, reading the label maps alone. Either way every
    // returned mask must exist before anything is written.
    let mut present = BTreeSet::new();
    let n_volumes = plan.volumes.len();
    for (n, v) in plan.volumes.iter().enumerate() {
        progress.check()?;
        let mask = masks
            .map(|dir| returned_mask(dir, &v.case_id))
            .transpose()?;
        if !target.values.is_empty() {
            continue;
        }
        progress.set(
            0.3 * n as f32 / n_volumes as f32,
            format!("reading the labels of {}", v.case_id),
        );
        let labels = match mask {
            Some(path) => read_nifti(path)?,
            None => dataset
                .load_labels(dataset.require_case(&v.case_id)?)?
                .ok_or_else(|| no_labels(&v.case_id))?,
        };
        present.extend(labels.label_voxels().keys().copied());
    }
    let present: Vec<i64> = present.into_iter().collect();
    let mapping = LabelMapping::new(target, &present, &dataset.label_names);
    if mapping.classes.is_empty() {
        return Err(Error::invalid(
            "no foreground label in the planned cases: nothing to export",
        ));
    }
    // Second pass: each case loaded, checked, written and dropped.
    let mut annotated = 0;
    for (n, v) in plan.volumes.iter().enumerate() {
        progress.check()?;
        progress.set(
            0.3 + 0.7 * n as f32 / n_volumes as f32,
            format!("writing {}", v.case_id),
        );
        let index = dataset.require_case(&v.case_id)?;
        let case = dataset.load(index)?;
        let labels = match masks {
            Some(dir) => {
                let p = returned_mask(dir, &v.case_id)?;
                let m = read_nifti(&p)?;
                check_same_grid(
                    &case.image,
                    &m,
                    Path::new(&dataset.cases[index].image.display_path()),
                    &p,
                )?;
                m
            }
            None => case.labels.clone().ok_or_else(|| no_labels(&v.case_id))?,
        };
        let sparse = sparse_labels(&labels, v.axis, &v.slices, &mapping);
        copy_image(
            &dataset.cases[index].image,
            &case.image,
            &out.join("imagesTr")
                .join(format!("{}_0000.nii.gz", v.case_id)),
        )?;
        write_labels_like(
            out.join("labelsTr").join(format!("{}.nii.gz", v.case_id)),
            &case.image,
            &sparse,
        )?;
        annotated += v.slices.len();
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
    })
}
