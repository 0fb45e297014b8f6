//! The hand-off package on disk: `handoff.json` (the plan, its split and the template's ignore
//! value), and per annotator a folder with a worklist to tick, ITK-SNAP's label descriptions,
//! and per case a label template on the image's grid (the ignore value off the planned slices,
//! 0 on them) as NIfTI and as Slicer's `.seg.nrrd`, with a Slicer markups file and an ITK-SNAP
//! workspace that open it. Every file is
//! written atomically; a folder that is not empty is refused unless overwriting is asked for.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::handoff::{HANDOFF_FORMAT, Split};
use super::segments::seg_nrrd_key_values;
use super::worklist::{WorklistRow, worklist_csv_with, worklist_rows};
use crate::dataset::{CaseGeometry, Dataset};
use crate::error::{Error, Result};
use crate::io::{Volume, VoxelData, write_bytes_atomic, write_nifti, write_nrrd};
use crate::jobs::Progress;
use crate::plan::{Plan, PlannedVolume};

/// The package's description, `handoff.json` at its root.
pub const HANDOFF_FILE: &str = "handoff.json";
/// Each annotator's worklist, in their folder.
pub const WORKLIST_FILE: &str = "worklist.csv";

/// What a hand-off package holds (its `handoff.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    pub format: String,
    pub split: Split,
    /// The label templates' value off the planned slices ("not planned").
    pub ignore_value: u16,
    pub plan: Plan,
}

impl Handoff {
    /// Reads `handoff.json` from the package folder `dir`.
    pub fn load(dir: &Path) -> Result<Handoff> {
        let path = dir.join(HANDOFF_FILE);
        let text =
            std::fs::read_to_string(&path).map_err(|e| Error::io("cannot read", &path, e))?;
        let handoff: Handoff = serde_json::from_str(&text)
            .map_err(|e| Error::file(format!("not a sliceplan hand-off ({e})"), &path))?;
        if handoff.format != HANDOFF_FORMAT {
            return Err(Error::file(
                format!("unsupported hand-off format '{}'", handoff.format),
                &path,
            ));
        }
        Ok(handoff)
    }
}

/// Where each file of case `case_id` lies in annotator `name`'s folder.
pub fn case_folder(out: &Path, annotator: &str, case_id: &str) -> PathBuf {
    out.join(annotator).join(case_id)
}

/// The label template of `case_id` (the file annotators paint and save).
pub fn template_path(out: &Path, annotator: &str, case_id: &str) -> PathBuf {
    case_folder(out, annotator, case_id).join(format!("{case_id}_labels.nii.gz"))
}

/// The label template of `case_id` for 3D Slicer (`.seg.nrrd`: the same voxels, with the
/// dataset's label names and colours as segments, and "not planned" as one).
pub fn seg_template_path(out: &Path, annotator: &str, case_id: &str) -> PathBuf {
    case_folder(out, annotator, case_id).join(format!("{case_id}_labels.seg.nrrd"))
}

/// The value off the planned slices: above every label of the dataset.
pub fn ignore_value(dataset: &Dataset) -> u16 {
    match dataset.label_names.keys().max() {
        Some(&m) if m >= 255 => u16::MAX,
        _ => 255,
    }
}

/// The template of `volume` on grid `g`: `ignore` everywhere but the planned slices, 0 there.
fn template(g: &CaseGeometry, volume: &PlannedVolume, ignore: u16) -> Volume {
    let [nx, ny, nz] = g.shape;
    let strides = [1, nx, nx * ny];
    let mut labels = vec![ignore; nx * ny * nz];
    let (a, b) = Volume::in_plane_axes(volume.axis);
    for &s in &volume.slices {
        for j in 0..g.shape[b] {
            for i in 0..g.shape[a] {
                labels[i * strides[a] + j * strides[b] + s * strides[volume.axis]] = 0;
            }
        }
    }
    let data = if ignore <= 255 {
        VoxelData::U8(labels.into_iter().map(|v| v as u8).collect())
    } else {
        VoxelData::U16(labels)
    };
    Volume::new(g.shape, g.spacing_mm, g.world_from_voxel, data)
}

/// Refuses a folder that holds anything unless `force`.
fn check_empty(out: &Path, force: bool) -> Result<()> {
    let occupied = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some());
    if occupied && !force {
        return Err(Error::file(
            "the hand-off folder is not empty; choose an empty one (the command line overwrites with --force)",
            out,
        ));
    }
    Ok(())
}

/// Writes one case's files into annotator `name`'s folder.
fn write_case(
    dataset: &Dataset,
    out: &Path,
    name: &str,
    volume: &PlannedVolume,
    ignore: u16,
) -> Result<()> {
    let index = dataset.require_case(&volume.case_id)?;
    let g = dataset.geometry(index)?;
    let folder = case_folder(out, name, &volume.case_id);
    std::fs::create_dir_all(&folder).map_err(|e| Error::io("cannot create", &folder, e))?;
    let template_file = template_path(out, name, &volume.case_id);
    let labels = template(&g, volume, ignore);
    write_nifti(&template_file, &labels)?;
    write_nrrd(
        seg_template_path(out, name, &volume.case_id),
        &labels,
        &seg_nrrd_key_values(&dataset.label_names, ignore, g.shape),
    )?;
    let markups = super::slicer::slice_markups(&g, volume);
    let text = serde_json::to_string_pretty(&markups).map_err(|e| Error::invalid(e.to_string()))?;
    write_bytes_atomic(
        folder.join(format!("{}.mrk.json", volume.case_id)),
        text.as_bytes(),
    )?;
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let workspace = super::itksnap::workspace(
        &absolute(&folder),
        &absolute(Path::new(&volume.image_path)),
        &absolute(&template_file),
    );
    write_bytes_atomic(
        folder.join(format!("{}.itksnap", volume.case_id)),
        workspace.as_bytes(),
    )
}

/// What `write_package` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PackageSummary {
    pub out: PathBuf,
    /// (annotator, cases, hours).
    pub annotators: Vec<(String, usize, f64)>,
    pub shared: Vec<String>,
    pub ignore_value: u16,
}

/// Writes the hand-off of `plan` split as `split` into `out` (refused when `out` holds
/// anything, unless `force`). `handoff.json` is written last: a package without it is
/// unfinished.
pub fn write_package(
    dataset: &Dataset,
    plan: &Plan,
    split: &Split,
    out: &Path,
    force: bool,
    progress: &Progress,
) -> Result<PackageSummary> {
    plan.check_dataset(dataset)?;
    check_empty(out, force)?;
    let ignore = ignore_value(dataset);
    let rows = worklist_rows(plan, dataset)?;
    let total: usize = split.annotators.iter().map(|a| a.cases.len()).sum();
    let mut done = 0;
    for a in &split.annotators {
        let folder = out.join(&a.name);
        std::fs::create_dir_all(&folder).map_err(|e| Error::io("cannot create", &folder, e))?;
        let mine: Vec<WorklistRow> = rows
            .iter()
            .filter(|r| a.cases.contains(&r.case_id))
            .enumerate()
            .map(|(i, r)| WorklistRow {
                order: i + 1,
                ..r.clone()
            })
            .collect();
        write_bytes_atomic(
            folder.join(WORKLIST_FILE),
            worklist_csv_with(&mine, true)?.as_bytes(),
        )?;
        write_bytes_atomic(
            folder.join("labels.txt"),
            super::itksnap::label_descriptions(&dataset.label_names, ignore).as_bytes(),
        )?;
        for case in &a.cases {
            progress.check()?;
            progress.set(
                done as f32 / total.max(1) as f32,
                format!("{}: {case}", a.name),
            );
            let volume = plan
                .volume(case)
                .ok_or_else(|| Error::invalid(format!("case '{case}' is not in the plan")))?;
            write_case(dataset, out, &a.name, volume, ignore)?;
            done += 1;
        }
    }
    let handoff = Handoff {
        format: HANDOFF_FORMAT.into(),
        split: split.clone(),
        ignore_value: ignore,
        plan: plan.clone(),
    };
    let text = serde_json::to_string_pretty(&handoff).map_err(|e| Error::invalid(e.to_string()))?;
    write_bytes_atomic(out.join(HANDOFF_FILE), text.as_bytes())?;
    Ok(PackageSummary {
        out: out.to_path_buf(),
        annotators: split
            .annotators
            .iter()
            .map(|a| (a.name.clone(), a.cases.len(), a.hours))
            .collect(),
        shared: split.shared.clone(),
        ignore_value: ignore,
    })
}
