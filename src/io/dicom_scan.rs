//! DICOM files in a folder: find them, read their headers (not their pixels), group them into
//! series by SeriesInstanceUID.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, OpenFileOptions, Tag};

use crate::error::{Error, Result};

/// Scans made of each folder in this process (`scans_of`).
fn scan_counts() -> &'static std::sync::Mutex<std::collections::HashMap<PathBuf, usize>> {
    static COUNTS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<PathBuf, usize>>,
    > = std::sync::OnceLock::new();
    COUNTS.get_or_init(Default::default)
}

fn count_scan(folder: &Path) {
    if let Ok(mut counts) = scan_counts().lock() {
        *counts.entry(folder.to_path_buf()).or_default() += 1;
    }
}

/// How many times `folder` was scanned in this process (each scan reads every file's header:
/// a dataset keeps its scans, so planning a folder of many series scans it once).
pub fn scans_of(folder: &Path) -> usize {
    scan_counts()
        .lock()
        .map_or(0, |counts| counts.get(folder).copied().unwrap_or(0))
}

/// Folders deeper than this under the given one are not searched (this also ends symlink loops).
const MAX_DEPTH: usize = 4;

/// The header facts of one DICOM image that a volume needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DicomSlice {
    pub path: PathBuf,
    pub sop_instance_uid: String,
    pub instance_number: Option<i64>,
    /// ImagePositionPatient: the centre of the first transmitted pixel, LPS mm.
    pub position_lps: Option<[f64; 3]>,
    /// ImageOrientationPatient: row direction then column direction cosines, LPS.
    pub orientation_lps: Option<[f64; 6]>,
    /// PixelSpacing: between rows, between columns (mm).
    pub pixel_spacing_mm: Option<[f64; 2]>,
    pub rows: usize,
    pub columns: usize,
    pub frames: usize,
    pub samples_per_pixel: usize,
    /// BitsAllocated, BitsStored, PixelRepresentation (1: signed).
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub signed: bool,
    /// RescaleSlope, RescaleIntercept (1, 0 when absent).
    pub rescale: (f64, f64),
    /// SliceThickness, SpacingBetweenSlices (used only for a single-image series).
    pub thickness_mm: Option<f64>,
    pub spacing_between_mm: Option<f64>,
    pub transfer_syntax_uid: String,
}

/// The images of one series, in the order their files were found.
#[derive(Debug, Clone, PartialEq)]
pub struct DicomSeries {
    pub series_uid: String,
    pub description: String,
    pub modality: String,
    pub series_number: Option<i64>,
    pub slices: Vec<DicomSlice>,
}

/// What a folder holds: its image series, and how many files were skipped (not DICOM, or DICOM
/// without pixels such as DICOMDIR, structured reports and presentation states).
#[derive(Debug, Clone, PartialEq)]
pub struct DicomFolder {
    pub folder: PathBuf,
    pub series: Vec<DicomSeries>,
    pub skipped_files: usize,
}

impl DicomFolder {
    /// The series with this SeriesInstanceUID, or the only one when `uid` is None; otherwise an
    /// error listing the series to choose from.
    pub fn pick(&self, uid: Option<&str>) -> Result<&DicomSeries> {
        match uid {
            Some(uid) => self
                .series
                .iter()
                .find(|s| s.series_uid == uid)
                .ok_or_else(|| {
                    Error::file(
                        format!(
                            "no DICOM series with SeriesInstanceUID {uid} (there are: {})",
                            self.series_list()
                        ),
                        &self.folder,
                    )
                }),
            None if self.series.len() == 1 => Ok(&self.series[0]),
            None => Err(Error::file(
                format!(
                    "the folder holds {} DICOM series; choose one by SeriesInstanceUID: {}",
                    self.series.len(),
                    self.series_list()
                ),
                &self.folder,
            )),
        }
    }

    fn series_list(&self) -> String {
        let items: Vec<String> = self
            .series
            .iter()
            .map(|s| {
                format!(
                    "{} ({} {}, {} images)",
                    s.series_uid,
                    s.modality,
                    s.description,
                    s.slices.len()
                )
            })
            .collect();
        items.join("; ")
    }
}

/// True when the file starts with a DICOM preamble ("DICM" at byte 128).
pub fn is_dicom_file(path: &Path) -> bool {
    let mut head = [0u8; 132];
    match std::fs::File::open(path) {
        Ok(mut f) => f.read_exact(&mut head).is_ok() && &head[128..132] == b"DICM",
        Err(_) => false,
    }
}

/// True when `folder` or its subfolders (up to four levels) hold a DICOM file; the first 64
/// files of each folder are looked at.
pub fn folder_has_dicom(folder: &Path) -> bool {
    has_dicom_within(folder, 0)
}

fn has_dicom_within(folder: &Path, depth: usize) -> bool {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return false;
    };
    let mut subfolders = Vec::new();
    for path in entries.flatten().map(|e| e.path()).take(64) {
        if path.is_dir() {
            subfolders.push(path);
        } else if is_dicom_file(&path) {
            return true;
        }
    }
    depth < MAX_DEPTH && subfolders.iter().any(|d| has_dicom_within(d, depth + 1))
}

/// Finds the DICOM images under `folder` (subfolders up to four levels) and groups them by
/// series, without reading pixel data. Fails when there is none, naming the folder.
pub fn scan_dicom_folder(folder: impl AsRef<Path>) -> Result<DicomFolder> {
    let folder = folder.as_ref();
    count_scan(folder);
    if !folder.is_dir() {
        return Err(Error::file("not a folder of DICOM files", folder));
    }
    let mut files = Vec::new();
    collect_files(folder, 0, &mut files)?;
    files.sort();
    let mut series: BTreeMap<String, DicomSeries> = BTreeMap::new();
    let mut skipped = 0;
    for path in files {
        if !is_dicom_file(&path) {
            skipped += 1;
            continue;
        }
        super::dicom_check::check_dicom_lengths(&path)?;
        let obj = OpenFileOptions::new()
            .read_until(tags::PIXEL_DATA)
            .open_file(&path)
            .map_err(|e| Error::file(format!("unreadable DICOM file ({e})"), &path))?;
        let Some(slice) = slice_header(&obj, &path)? else {
            skipped += 1;
            continue;
        };
        let uid = text(&obj, tags::SERIES_INSTANCE_UID).unwrap_or_default();
        let entry = series.entry(uid.clone()).or_insert_with(|| DicomSeries {
            series_uid: uid,
            description: text(&obj, tags::SERIES_DESCRIPTION).unwrap_or_default(),
            modality: text(&obj, tags::MODALITY).unwrap_or_default(),
            series_number: int(&obj, tags::SERIES_NUMBER),
            slices: Vec::new(),
        });
        entry.slices.push(slice);
    }
    if series.is_empty() {
        return Err(Error::file(
            format!("no DICOM image found ({skipped} other files)"),
            folder,
        ));
    }
    let mut series: Vec<DicomSeries> = series.into_values().collect();
    series.sort_by(|a, b| (a.series_number, &a.series_uid).cmp(&(b.series_number, &b.series_uid)));
    Ok(DicomFolder {
        folder: folder.to_path_buf(),
        series,
        skipped_files: skipped,
    })
}

fn collect_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot list folder", dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if depth < MAX_DEPTH {
                collect_files(&path, depth + 1, out)?;
            }
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// A text element, trimmed; None when absent or empty (anonymised files often keep tags empty).
fn text(obj: &DefaultDicomObject, tag: Tag) -> Option<String> {
    let e = obj.element_opt(tag).ok()??;
    let s = e.to_str().ok()?;
    let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!s.is_empty()).then(|| s.to_string())
}

fn int(obj: &DefaultDicomObject, tag: Tag) -> Option<i64> {
    obj.element_opt(tag).ok()??.to_int::<i64>().ok()
}

fn floats(obj: &DefaultDicomObject, tag: Tag) -> Option<Vec<f64>> {
    obj.element_opt(tag).ok()??.to_multi_float64().ok()
}

fn float(obj: &DefaultDicomObject, tag: Tag) -> Option<f64> {
    floats(obj, tag)?.first().copied()
}

/// The header of one image; None for a DICOM object without pixels.
fn slice_header(obj: &DefaultDicomObject, path: &Path) -> Result<Option<DicomSlice>> {
    let (Some(rows), Some(columns)) = (int(obj, tags::ROWS), int(obj, tags::COLUMNS)) else {
        return Ok(None);
    };
    if rows <= 0 || columns <= 0 {
        return Err(Error::file(
            format!("image of {rows}×{columns} pixels"),
            path,
        ));
    }
    let fixed = |tag: Tag, n: usize, what: &str| -> Result<Option<Vec<f64>>> {
        match floats(obj, tag) {
            None => Ok(None),
            Some(v) if v.len() == n && v.iter().all(|x| x.is_finite()) => Ok(Some(v)),
            Some(v) => Err(Error::file(
                format!(
                    "{what} holds {} values, expected {n} finite numbers",
                    v.len()
                ),
                path,
            )),
        }
    };
    let position_lps =
        fixed(tags::IMAGE_POSITION_PATIENT, 3, "ImagePositionPatient")?.map(|v| [v[0], v[1], v[2]]);
    let orientation_lps = fixed(
        tags::IMAGE_ORIENTATION_PATIENT,
        6,
        "ImageOrientationPatient",
    )?
    .map(|v| [v[0], v[1], v[2], v[3], v[4], v[5]]);
    let pixel_spacing_mm = fixed(tags::PIXEL_SPACING, 2, "PixelSpacing")?.map(|v| [v[0], v[1]]);
    let slope = float(obj, tags::RESCALE_SLOPE).unwrap_or(1.0);
    let intercept = float(obj, tags::RESCALE_INTERCEPT).unwrap_or(0.0);
    if !slope.is_finite() || !intercept.is_finite() || slope == 0.0 {
        return Err(Error::file(
            format!("RescaleSlope {slope} / RescaleIntercept {intercept} cannot be applied"),
            path,
        ));
    }
    Ok(Some(DicomSlice {
        path: path.to_path_buf(),
        // The file meta's copy when the data set's is empty (as in anonymised exports).
        sop_instance_uid: text(obj, tags::SOP_INSTANCE_UID).unwrap_or_else(|| {
            obj.meta()
                .media_storage_sop_instance_uid()
                .trim_end_matches('\0')
                .to_string()
        }),
        instance_number: int(obj, tags::INSTANCE_NUMBER),
        position_lps,
        orientation_lps,
        pixel_spacing_mm,
        rows: rows as usize,
        columns: columns as usize,
        frames: int(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as usize,
        samples_per_pixel: int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1).max(1) as usize,
        bits_allocated: int(obj, tags::BITS_ALLOCATED).unwrap_or(16).clamp(1, 64) as u16,
        bits_stored: int(obj, tags::BITS_STORED)
            .or_else(|| int(obj, tags::BITS_ALLOCATED))
            .unwrap_or(16)
            .clamp(1, 64) as u16,
        signed: int(obj, tags::PIXEL_REPRESENTATION) == Some(1),
        rescale: (slope, intercept),
        thickness_mm: float(obj, tags::SLICE_THICKNESS),
        spacing_between_mm: float(obj, tags::SPACING_BETWEEN_SLICES),
        transfer_syntax_uid: obj
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string(),
    }))
}
