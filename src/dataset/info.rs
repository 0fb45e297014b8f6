//! Summaries of files and datasets (`sliceplan info`, the GUI's dataset panel).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::parallel::read_cases;
use super::{Dataset, Layout};
use crate::error::Result;
use crate::io::{Volume, read_nifti};

/// What `info` reports for one NIfTI file.
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    pub path: String,
    pub shape: [usize; 3],
    pub spacing_mm: [f64; 3],
    pub orientation: String,
    pub dtype: String,
    /// Voxels per label value, for label maps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_voxels: Option<BTreeMap<String, u64>>,
    /// Minimum and maximum intensity, for images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intensity_range: Option<[f64; 2]>,
    /// NaN/Inf voxels, when there are any.
    #[serde(skip_serializing_if = "is_zero")]
    pub non_finite_voxels: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn counts_to_json(counts: BTreeMap<i64, u64>) -> BTreeMap<String, u64> {
    counts
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// True when a volume looks like a label map: integer values only, and few of them (≤ 64, or
/// ≤ 65 536 when the file name says label/seg/mask).
pub fn looks_like_label_map(volume: &Volume, path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let named = ["label", "seg", "mask"].iter().any(|w| name.contains(w));
    let limit = if named { 65_536 } else { 64 };
    let mut distinct = std::collections::BTreeSet::new();
    for i in 0..volume.voxel_count() {
        let v = volume.value(i);
        if v.fract() != 0.0 || !v.is_finite() {
            return false;
        }
        distinct.insert(v as i64);
        if distinct.len() > limit {
            return false;
        }
    }
    true
}

fn intensity_range(volume: &Volume) -> [f64; 2] {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for i in 0..volume.voxel_count() {
        let v = volume.value(i);
        if v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    [lo, hi]
}

/// Summary of a loaded volume. `as_labels` forces the label-map view (None: guess).
pub fn volume_info(volume: &Volume, path: &Path, as_labels: Option<bool>) -> FileInfo {
    let is_labels = as_labels.unwrap_or_else(|| looks_like_label_map(volume, path));
    FileInfo {
        path: path.display().to_string(),
        shape: volume.shape,
        spacing_mm: volume.spacing_mm,
        orientation: volume.orientation(),
        dtype: volume.dtype_name(),
        label_voxels: is_labels.then(|| counts_to_json(volume.label_voxels())),
        intensity_range: (!is_labels).then(|| intensity_range(volume)),
        non_finite_voxels: volume.data.non_finite_count(),
    }
}

/// Summary of a NIfTI file.
pub fn file_info(path: &Path) -> Result<FileInfo> {
    let volume = read_nifti(path)?;
    Ok(volume_info(&volume, path, None))
}

/// One case of a dataset summary.
#[derive(Debug, Clone, Serialize)]
pub struct CaseInfo {
    pub id: String,
    pub image: FileInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<FileInfo>,
}

/// What `info` reports for a dataset folder.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetInfo {
    pub path: String,
    pub id: String,
    pub layout: Layout,
    pub label_names: BTreeMap<String, String>,
    pub cases: Vec<CaseInfo>,
}

/// Summary of every case in a dataset (loads each case, checking grids and values).
pub fn dataset_info(dataset: &Dataset) -> Result<DatasetInfo> {
    dataset_info_with_progress(dataset, &crate::jobs::Progress::new())
}

/// `dataset_info` reporting the cases read on `progress` (and stopping when it is cancelled);
/// cases are read on every core (`parallel::read_cases`), listed in the dataset's order.
pub fn dataset_info_with_progress(
    dataset: &Dataset,
    progress: &crate::jobs::Progress,
) -> Result<DatasetInfo> {
    let geometries = dataset.geometries()?;
    let all: Vec<usize> = (0..dataset.len()).collect();
    let cases = read_cases(
        dataset,
        &all,
        (&geometries, 2),
        progress,
        (0.0, 1.0, "read"),
        |i| {
            let case = &dataset.cases[i];
            let loaded = dataset.load(i)?;
            let image_path = case.image.display_path();
            let labels = match (&loaded.labels, &case.labels) {
                (Some(l), Some(src)) => {
                    Some(volume_info(l, Path::new(&src.display_path()), Some(true)))
                }
                _ => None,
            };
            Ok(CaseInfo {
                id: case.id.clone(),
                image: volume_info(&loaded.image, Path::new(&image_path), Some(false)),
                labels,
            })
        },
    )?;
    Ok(DatasetInfo {
        path: dataset
            .root
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "demo".into()),
        id: dataset.id.clone(),
        layout: dataset.layout,
        label_names: dataset
            .label_names
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        cases,
    })
}

/// One series of a DICOM folder, as `info` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DicomSeriesInfo {
    pub series_instance_uid: String,
    pub series_number: Option<i64>,
    pub modality: String,
    pub description: String,
    pub images: usize,
    pub transfer_syntax: String,
    /// Shape, spacing and orientation when the series forms a volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<[usize; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spacing_mm: Option<[f64; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orientation: Option<String>,
    /// Why it cannot be read as a volume (tilt, missing slices, a codec this build lacks, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// What `info` reports for a folder of DICOM files: every series, headers only.
#[derive(Debug, Clone, Serialize)]
pub struct DicomFolderInfo {
    pub path: String,
    pub series: Vec<DicomSeriesInfo>,
    pub skipped_files: usize,
}

/// Lists the series of a DICOM folder with their geometry or the reason they cannot be used.
pub fn dicom_folder_info(folder: &Path) -> Result<DicomFolderInfo> {
    let scanned = crate::io::scan_dicom_folder(folder)?;
    let series = scanned
        .series
        .iter()
        .map(|s| {
            let geometry = crate::io::series_geometry(s, folder);
            let transfer_syntax = s
                .slices
                .first()
                .map(|x| crate::io::dicom_series::transfer_syntax_support(&x.transfer_syntax_uid).0)
                .unwrap_or_default();
            let (shape, spacing_mm, orientation, problem) = match geometry {
                Ok(g) => (
                    Some(g.shape),
                    Some(g.spacing_mm),
                    Some(g.orientation()),
                    None,
                ),
                Err(e) => (None, None, None, Some(e.to_string())),
            };
            DicomSeriesInfo {
                series_instance_uid: s.series_uid.clone(),
                series_number: s.series_number,
                modality: s.modality.clone(),
                description: s.description.clone(),
                images: s.slices.len(),
                transfer_syntax,
                shape,
                spacing_mm,
                orientation,
                problem,
            }
        })
        .collect();
    Ok(DicomFolderInfo {
        path: folder.display().to_string(),
        series,
        skipped_files: scanned.skipped_files,
    })
}
