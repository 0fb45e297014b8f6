//! Datasets as users have them (nnU-Net v2 raw, Medical Segmentation Decathlon, folders of cases)
//! and the built-in demo cohort. Volumes are loaded on demand; opening a dataset reads headers only.

pub mod augment;
pub mod cache;
pub mod demo;
mod dicom_scans;
pub mod feature_cache;
pub mod info;
pub mod layout;
pub mod parallel;
pub mod slice_features;
pub mod synthetic;
pub mod target;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::io::geometry::affine_max_diff;
use crate::io::{
    Affine, Plane, Volume, read_nifti, read_nifti_info, read_scanned_series, scanned_geometry,
};
use feature_cache::FeatureCache;

pub use cache::CaseCache;
pub use dicom_scans::DicomScans;
pub use layout::{is_generated_spec, open_dataset, open_spec};
pub use target::TargetLabels;

/// How a dataset is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// nnU-Net v2 raw: `imagesTr/CASE_0000.nii.gz`, `labelsTr/CASE.nii.gz`, `dataset.json`.
    NnUnet,
    /// Medical Segmentation Decathlon: `dataset.json` with a `training` list.
    Msd,
    /// One folder per case holding `image.nii(.gz)` (or a `dicom/` series) and
    /// `labels.nii(.gz)` (+ `case.json`).
    CaseFolders,
    /// A folder of DICOM files: one case per series, unlabelled.
    Dicom,
    /// The built-in synthetic cohort.
    Demo,
    /// One NIfTI image file opened on its own (unlabelled).
    SingleFile,
}

/// Imaging modality, which decides intensity normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// CT: Hounsfield units, clipped to a fixed window for training.
    Ct,
    /// MR: z-scored inside the body for training.
    Mr,
    /// Anything else: treated as MR.
    Other,
}

impl Modality {
    /// From a free-text name such as "CT" or "MR (T1-weighted)".
    pub fn from_name(name: &str) -> Modality {
        let n = name.trim().to_ascii_uppercase();
        if n.starts_with("CT") {
            Modality::Ct
        } else if n.starts_with("MR")
            || n.starts_with("T1")
            || n.starts_with("T2")
            || n.contains("FLAIR")
        {
            Modality::Mr
        } else {
            Modality::Other
        }
    }
}

/// Hounsfield units below which a voxel is air or lung (water is 0, fat about -100).
const AIR_HU_BELOW: f64 = -500.0;
/// Below this, a value is no HU of tissue or air but padding outside the field of view
/// (scanners write -1024, -2048 or -3024 there).
const AIR_HU_ABOVE: f64 = -1100.0;
/// The share of voxels at air's HU that says CT: lungs, bowel gas or the air around the body
/// take far more in any CT; no MR, raw or normalised, has values this low.
const CT_AIR_FRACTION: f64 = 0.005;
/// Voxels looked at to infer the modality (evenly strided).
const INFER_SAMPLES: usize = 200_000;

impl Modality {
    /// The modality `image`'s values say when nothing else does: CT when a share of its
    /// voxels lies at air's Hounsfield units (-1100 to -500), else `Other` (MR intensities
    /// have no unit to recognise).
    pub fn infer(image: &Volume) -> Modality {
        let n = image.voxel_count();
        let stride = (n / INFER_SAMPLES).max(1);
        let (mut seen, mut air) = (0usize, 0usize);
        for i in (0..n).step_by(stride) {
            let v = image.value(i);
            seen += 1;
            if (AIR_HU_ABOVE..=AIR_HU_BELOW).contains(&v) {
                air += 1;
            }
        }
        if seen > 0 && air as f64 >= CT_AIR_FRACTION * seen as f64 {
            Modality::Ct
        } else {
            Modality::Other
        }
    }

    /// This modality, or where it is unknown (`Other`) the one `image` shows (`infer`), said in
    /// the log for case `id`.
    pub fn or_inferred(self, image: &Volume, id: &str) -> Modality {
        if self != Modality::Other {
            return self;
        }
        let inferred = Modality::infer(image);
        if inferred == Modality::Ct {
            tracing::info!(
                target: "sliceplan",
                "{id}: no modality given; its values are Hounsfield units (air at -1000), so it is windowed and normalised as CT"
            );
        }
        inferred
    }
}

/// Where a case's volumes come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A NIfTI file.
    File(PathBuf),
    /// A DICOM series: the folder holding its files, and its SeriesInstanceUID when the folder
    /// holds several.
    Dicom {
        folder: PathBuf,
        series_uid: Option<String>,
    },
    /// Case `index` of the demo cohort (generated in code).
    Demo(usize),
    /// Case `index` of the large synthetic CT cohort (`synthetic`, generated on load).
    Synthetic(usize),
}

impl Source {
    /// The file path, or a `demo:` pseudo-path.
    pub fn display_path(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Dicom {
                folder,
                series_uid: None,
            } => folder.display().to_string(),
            Source::Dicom {
                folder,
                series_uid: Some(uid),
            } => format!("{} (series {uid})", folder.display()),
            Source::Demo(i) => format!("demo:{}", demo::case_id(*i)),
            Source::Synthetic(i) => format!("synthetic-ct:{i}"),
        }
    }
}

/// One case: an image and, when annotated, its label map.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub image: Source,
    pub labels: Option<Source>,
    pub modality: Modality,
}

/// Header facts of a case, read without its voxels.
#[derive(Debug, Clone, Serialize)]
pub struct CaseGeometry {
    pub shape: [usize; 3],
    pub spacing_mm: [f64; 3],
    pub orientation: String,
    pub dtype: String,
    pub world_from_voxel: Affine,
}

impl CaseGeometry {
    /// The voxel axis for `plane`.
    pub fn axis_for_plane(&self, plane: Plane) -> usize {
        crate::io::geometry::voxel_axis_for_plane(&self.world_from_voxel, plane)
    }
}

/// A case's image and labels in memory, on the same grid.
#[derive(Debug, Clone)]
pub struct LoadedCase {
    pub id: String,
    pub image: Volume,
    pub labels: Option<Volume>,
    pub modality: Modality,
}

impl LoadedCase {
    /// The label map's values as `u16` (an error for a case without one, or for values outside
    /// 0..=65535).
    pub fn labels_u16(&self) -> Result<Vec<u16>> {
        let labels = self
            .labels
            .as_ref()
            .ok_or_else(|| Error::invalid(format!("case '{}' has no label map", self.id)))?;
        (0..labels.voxel_count())
            .map(|i| {
                let v = labels.value(i).round();
                if (0.0..=65535.0).contains(&v) {
                    Ok(v as u16)
                } else {
                    Err(Error::invalid(format!(
                        "case '{}' has label value {v}, outside 0–65535",
                        self.id
                    )))
                }
            })
            .collect()
    }
}

/// A dataset: its cases and label names.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// A stable identifier (the folder name, or "demo").
    pub id: String,
    /// The folder it was opened from.
    pub root: Option<PathBuf>,
    pub layout: Layout,
    /// Label value → name.
    pub label_names: BTreeMap<i64, String>,
    pub cases: Vec<Case>,
    /// Loaded cases kept across runs (disabled unless `with_case_cache` turned it on).
    pub cache: CaseCache,
    /// Slice features computed by earlier plans (shared by clones).
    pub features: FeatureCache,
    /// Each DICOM folder's scan, made once (shared by clones): a folder of many series is not
    /// rescanned for every case's geometry and load.
    pub dicom_scans: DicomScans,
}

impl Dataset {
    /// Number of cases.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// True when the dataset holds no case.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// The structure a plan targets when none is named: the demo's spleen (where plans differ),
    /// every labelled structure elsewhere.
    pub fn default_target(&self) -> TargetLabels {
        match self.layout {
            Layout::Demo => TargetLabels {
                values: [demo::DEFAULT_TARGET].into_iter().collect(),
            },
            _ => TargetLabels::all_foreground(),
        }
    }

    /// The target label to carry over from another dataset: `previous` (value, name) where this
    /// dataset has a label of that name at that value, else this dataset's default (the demo's
    /// spleen; None, every label, elsewhere). A bare value is not carried: "3" can be another
    /// structure here.
    pub fn carried_target(&self, previous: Option<(i64, String)>) -> Option<i64> {
        if let Some((v, name)) = previous
            && self.label_names.get(&v) == Some(&name)
        {
            return Some(v);
        }
        self.default_target().values.first().copied()
    }

    /// True when every case has a label map.
    pub fn is_labelled(&self) -> bool {
        !self.cases.is_empty() && self.cases.iter().all(|c| c.labels.is_some())
    }

    /// Index of the case named `id`.
    pub fn case_index(&self, id: &str) -> Option<usize> {
        self.cases.iter().position(|c| c.id == id)
    }

    /// Index of the case named `id`, or an error naming the case and this dataset.
    pub fn require_case(&self, id: &str) -> Result<usize> {
        self.case_index(id)
            .ok_or_else(|| Error::invalid(format!("case '{id}' is not in dataset '{}'", self.id)))
    }

    /// Header facts of case `index` (no voxels read).
    pub fn geometry(&self, index: usize) -> Result<CaseGeometry> {
        Ok(self.geometry_and_uids(index)?.0)
    }

    /// Header facts of case `index` and, for a DICOM case, the SOPInstanceUID of each slice k
    /// (so a worklist can name the exact image an annotator opens), from one header scan.
    pub fn geometry_and_uids(&self, index: usize) -> Result<(CaseGeometry, Option<Vec<String>>)> {
        if let Source::Dicom { folder, series_uid } = &self.cases[index].image {
            let scanned = self.dicom_scans.get_or_scan(folder)?;
            let g = scanned_geometry(&scanned, series_uid.as_deref())?;
            let geometry = CaseGeometry {
                shape: g.shape,
                spacing_mm: g.spacing_mm,
                orientation: g.orientation(),
                dtype: "dicom".into(),
                world_from_voxel: g.world_from_voxel,
            };
            return Ok((geometry, Some(g.sop_instance_uids())));
        }
        Ok((self.header_geometry(index)?, None))
    }

    /// Geometry of a NIfTI or generated case.
    fn header_geometry(&self, index: usize) -> Result<CaseGeometry> {
        let case = &self.cases[index];
        match &case.image {
            Source::Demo(i) => Ok(demo::geometry(*i)),
            Source::Synthetic(i) => Ok(synthetic::geometry(*i)),
            Source::File(path) => {
                let info = read_nifti_info(path)?;
                Ok(CaseGeometry {
                    shape: info.shape,
                    spacing_mm: info.spacing_mm,
                    orientation: info.orientation(),
                    dtype: info.dtype.to_string(),
                    world_from_voxel: info.world_from_voxel,
                })
            }
            Source::Dicom { .. } => self.geometry_and_uids(index).map(|(g, _)| g),
        }
    }

    /// Geometry of every case.
    pub fn geometries(&self) -> Result<Vec<CaseGeometry>> {
        (0..self.len()).map(|i| self.geometry(i)).collect()
    }

    /// The label map of case `index` alone (None for an unlabelled case), without the image.
    pub fn load_labels(&self, index: usize) -> Result<Option<Volume>> {
        let case = &self.cases[index];
        match (&case.image, &case.labels) {
            (Source::Demo(i), _) => Ok(Some(demo::generate(*i).1)),
            (_, Some(Source::Synthetic(i))) => Ok(Some(synthetic::generate_labels(*i))),
            (_, Some(Source::File(path))) => read_nifti(path).map(Some),
            _ => Ok(None),
        }
    }

    /// Loads case `index`: the image, its labels if any, with the grids checked to match and the
    /// image checked for NaN/Inf.
    pub fn load(&self, index: usize) -> Result<LoadedCase> {
        if !self.cache.is_enabled() {
            return self.load_uncached(index);
        }
        let stamps = self.case_stamps(index);
        if let Some(case) = self.cache.get(index, &stamps) {
            return Ok(case);
        }
        let loaded = self.load_uncached(index)?;
        self.cache.put(index, &loaded, stamps);
        Ok(loaded)
    }

    /// Size and modification time of the files case `index` is read from (none for generated
    /// cases; a DICOM series by its folder).
    fn case_stamps(&self, index: usize) -> cache::FileStamps {
        let case = &self.cases[index];
        let files = [&case.image, case.labels.as_ref().unwrap_or(&case.image)]
            .into_iter()
            .filter_map(|s| match s {
                Source::File(p) => Some(p.clone()),
                Source::Dicom { folder, .. } => Some(folder.clone()),
                _ => None,
            })
            .collect::<Vec<PathBuf>>();
        cache::stamps_of(&files)
    }

    /// The image of case `index` alone, checked for NaN/Inf, without reading its labels (from the
    /// case cache, which a study fills with whole cases, when that is enabled).
    pub fn load_image(&self, index: usize) -> Result<Volume> {
        if self.cache.is_enabled() {
            return self.load(index).map(|case| case.image);
        }
        self.read_image(index)
    }

    /// Reads (or generates) case `index`'s image, checked for NaN/Inf; no cache.
    fn read_image(&self, index: usize) -> Result<Volume> {
        match &self.cases[index].image {
            Source::Demo(i) => Ok(demo::generate(*i).0),
            Source::Synthetic(i) => Ok(synthetic::generate(*i)),
            Source::File(path) => {
                let image = read_nifti(path)?;
                check_finite(&image, path)?;
                Ok(image)
            }
            Source::Dicom { folder, series_uid } => {
                let scanned = self.dicom_scans.get_or_scan(folder)?;
                let image = read_scanned_series(&scanned, series_uid.as_deref())?;
                check_finite(&image, folder)?;
                Ok(image)
            }
        }
    }

    /// Where the dataset was opened from (absolute where it can be resolved): its folder, or
    /// the file of a single-file dataset; None for cohorts generated in code.
    pub fn location(&self) -> Option<PathBuf> {
        let place = match (
            &self.root,
            self.layout,
            self.cases.first().map(|c| &c.image),
        ) {
            (Some(root), _, _) => root.clone(),
            (None, Layout::SingleFile, Some(Source::File(file))) => file.clone(),
            _ => return None,
        };
        Some(std::fs::canonicalize(&place).unwrap_or(place))
    }

    /// The same dataset keeping up to `max_bytes` of loaded cases in a cache of its own, shared
    /// by its clones: a study reads each volume once, not once per run.
    pub fn with_case_cache(mut self, max_bytes: usize) -> Self {
        self.cache = CaseCache::with_capacity(max_bytes);
        self
    }

    /// The same dataset keeping its loaded cases in the process's one cache
    /// (`CaseCache::shared`), known there by where it was opened (or its id when generated).
    pub fn with_shared_case_cache(mut self) -> Self {
        let scope = match self.location() {
            Some(place) => format!("{}@{}", self.id, place.display()),
            None => self.id.clone(),
        };
        self.cache = CaseCache::shared(&scope);
        self
    }

    fn load_uncached(&self, index: usize) -> Result<LoadedCase> {
        let case = &self.cases[index];
        let (image, labels) = match (&case.image, &case.labels) {
            (Source::Demo(i), _) => {
                let (image, labels) = demo::generate(*i);
                (image, Some(labels))
            }
            (Source::Synthetic(i), labels) => (
                self.read_image(index)?,
                labels.is_some().then(|| synthetic::generate_labels(*i)),
            ),
            (Source::File(image_path), labels)
            | (
                Source::Dicom {
                    folder: image_path, ..
                },
                labels,
            ) => {
                let image = self.read_image(index)?;
                let labels = load_case_labels(image_path, &image, labels)?;
                (image, labels)
            }
        };
        let modality = case.modality.or_inferred(&image, &case.id);
        Ok(LoadedCase {
            id: case.id.clone(),
            image,
            labels,
            modality,
        })
    }
}

/// The labels of a case whose image is loaded (and checked), checked against the image's grid.
fn load_case_labels(
    image_path: &std::path::Path,
    image: &Volume,
    labels: &Option<Source>,
) -> Result<Option<Volume>> {
    let Some(Source::File(label_path)) = labels else {
        return Ok(None);
    };
    let labels = read_nifti(label_path)?;
    check_same_grid(image, &labels, image_path, label_path)?;
    if labels.data.non_finite_count() > 0 {
        return Err(Error::file(
            "label map has NaN or infinite voxels",
            label_path,
        ));
    }
    if let Some(bad) = first_invalid_label(&labels) {
        return Err(Error::file(
            format!(
                "label map holds the value {bad}; labels must be non-negative whole numbers (is this an image?)"
            ),
            label_path,
        ));
    }
    Ok(Some(labels))
}

/// Refuses an image holding NaN or infinite voxels, naming its file.
fn check_finite(image: &Volume, image_path: &std::path::Path) -> Result<()> {
    let non_finite = image.data.non_finite_count();
    if non_finite > 0 {
        return Err(Error::file(
            format!(
                "image has {non_finite} NaN or infinite voxels; replace them before planning or training"
            ),
            image_path,
        ));
    }
    Ok(())
}

/// The first voxel value (after scaling) that is negative or not a whole number.
fn first_invalid_label(labels: &Volume) -> Option<f64> {
    use crate::io::VoxelData;
    fn negative<T: Copy + PartialOrd + Default + Into<f64>>(v: &[T]) -> Option<f64> {
        v.iter().find(|x| **x < T::default()).map(|&x| x.into())
    }
    if labels.scaling.is_none() {
        match &labels.data {
            VoxelData::U8(_) | VoxelData::U16(_) | VoxelData::U32(_) | VoxelData::U64(_) => {
                return None;
            }
            VoxelData::I8(v) => return negative(v),
            VoxelData::I16(v) => return negative(v),
            VoxelData::I32(v) => return negative(v),
            _ => {}
        }
    }
    (0..labels.voxel_count())
        .map(|i| labels.value(i))
        .find(|&v| v < 0.0 || v.fract() != 0.0)
}

fn fmt_shape(s: [usize; 3]) -> String {
    format!("{}×{}×{}", s[0], s[1], s[2])
}

fn fmt_affine(a: &Affine) -> String {
    let rows: Vec<String> = a[..3]
        .iter()
        .map(|r| format!("[{:.3}, {:.3}, {:.3}, {:.3}]", r[0], r[1], r[2], r[3]))
        .collect();
    format!("[{}]", rows.join(", "))
}

/// Checks that a label map lies on the image's grid (same shape, affines equal within 1e-3 mm);
/// the refusal names both files (the image's in the sentence, the label map's last) and the
/// largest affine difference.
pub fn check_same_grid(
    image: &Volume,
    labels: &Volume,
    image_path: &std::path::Path,
    label_path: &std::path::Path,
) -> Result<()> {
    check_on_grid(
        image.shape,
        &image.world_from_voxel,
        labels,
        image_path,
        label_path,
    )
}

/// Checks that `labels` lie on the grid of an image of `shape` and `world_from_voxel` (read
/// from its header alone), as `check_same_grid` does: a mask flipped, permuted or resampled
/// by an annotation tool is refused, naming both files and the difference.
pub fn check_on_grid(
    shape: [usize; 3],
    world_from_voxel: &Affine,
    labels: &Volume,
    image_path: &std::path::Path,
    label_path: &std::path::Path,
) -> Result<()> {
    let scale = world_from_voxel[..3]
        .iter()
        .flat_map(|r| r.iter())
        .fold(1.0f64, |m, v| m.max(v.abs()));
    let diff = affine_max_diff(world_from_voxel, &labels.world_from_voxel);
    if shape != labels.shape || diff > 1e-3 * scale.max(1.0) {
        return Err(Error::file(
            format!(
                "image and label grids differ (affines up to {diff:.3} mm apart): image {} with affine {} ({}), labels {} with affine {}",
                fmt_shape(shape),
                fmt_affine(world_from_voxel),
                image_path.display(),
                fmt_shape(labels.shape),
                fmt_affine(&labels.world_from_voxel)
            ),
            label_path,
        ));
    }
    Ok(())
}
