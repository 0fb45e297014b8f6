//! Recognising and opening dataset folders.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Case, Dataset, DicomScans, Layout, Modality, Source};
use crate::error::{Error, Result};
use crate::io::{folder_has_dicom, scan_dicom_folder};

const NIFTI_ENDINGS: [&str; 2] = [".nii.gz", ".nii"];

fn strip_nifti_ending(name: &str) -> Option<&str> {
    NIFTI_ENDINGS.iter().find_map(|e| name.strip_suffix(e))
}

fn list_nifti(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot list folder", dir, e))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if !path.exists() && path.symlink_metadata().is_ok() {
            return Err(Error::file(
                "dangling link (its target does not exist)",
                &path,
            ));
        }
        if !path.is_file() {
            continue;
        }
        if let Some(stem) = strip_nifti_ending(&name) {
            out.push((stem.to_string(), path));
        }
    }
    out.sort();
    Ok(out)
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read file", path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::file(format!("invalid JSON ({e})"), path))
}

fn find_nifti(dir: &Path, stem: &str) -> Option<PathBuf> {
    NIFTI_ENDINGS
        .iter()
        .map(|e| dir.join(format!("{stem}{e}")))
        .find(|p| p.is_file())
}

/// The DICOM folder of a case folder without `image.nii(.gz)`: `case.json`'s `image_dicom`
/// (relative to the case folder), else a `dicom/` subfolder holding DICOM files.
fn case_dicom_folder(dir: &Path, case_json: Option<&Value>) -> Option<PathBuf> {
    if let Some(rel) = case_json
        .and_then(|j| j.get("image_dicom"))
        .and_then(Value::as_str)
    {
        return Some(dir.join(rel));
    }
    let sub = dir.join("dicom");
    folder_has_dicom(&sub).then_some(sub)
}

/// True when `dir` is a case folder: it holds `image.nii(.gz)` or a DICOM series.
fn is_case_folder(dir: &Path) -> bool {
    find_nifti(dir, "image").is_some()
        || dir.join("dicom").is_dir() && folder_has_dicom(&dir.join("dicom"))
        || dir.join("case.json").is_file()
            && read_json(&dir.join("case.json"))
                .map(|j| j.get("image_dicom").is_some())
                .unwrap_or(false)
}

/// The subfolders of `root` that are case folders, sorted.
fn case_folders(root: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| Error::io("cannot list folder", root, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && is_case_folder(p))
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// True when `open_dataset` reads `root` as a folder of DICOM files (one case per series):
/// it is no nnU-Net, MSD or case-folder dataset and holds DICOM files.
pub fn is_dicom_folder(root: &Path) -> bool {
    root.is_dir()
        && !root.join("imagesTr").is_dir()
        && !is_case_folder(root)
        && case_folders(root).map(|d| d.is_empty()).unwrap_or(false)
        && folder_has_dicom(root)
}

fn dataset_id(root: &Path) -> String {
    let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into())
}

/// Label names from a dataset.json `labels` object: nnU-Net's `{name: value}` or MSD's
/// `{"value": name}`.
fn label_names_from_json(labels: Option<&Value>) -> BTreeMap<i64, String> {
    let mut names = BTreeMap::new();
    if let Some(Value::Object(map)) = labels {
        for (k, v) in map {
            if let Ok(value) = k.parse::<i64>() {
                if let Some(name) = v.as_str() {
                    names.insert(value, name.to_string());
                }
            } else if let Some(value) = v.as_i64() {
                names.insert(value, k.clone());
            }
        }
    }
    names
}

fn modality_from_json(json: &Value) -> Modality {
    for key in ["channel_names", "modality"] {
        if let Some(Value::Object(map)) = json.get(key)
            && let Some(name) = map.get("0").and_then(Value::as_str)
        {
            return Modality::from_name(name);
        }
    }
    Modality::Other
}

/// True for the `--data` specs that name a generated cohort rather than a path: `demo`,
/// `synthetic-ct:N`.
pub fn is_generated_spec(spec: &str) -> bool {
    spec == "demo" || spec.starts_with(super::synthetic::SPEC_PREFIX)
}

/// The dataset a `--data` spec names (CLI and GUI alike): the demo cohort, the synthetic scale
/// cohort, or a folder (`open_dataset`).
pub fn open_spec(spec: &str) -> Result<Dataset> {
    if spec == "demo" {
        return Ok(super::demo::dataset());
    }
    if let Some(ds) = super::synthetic::from_spec(spec) {
        return ds;
    }
    open_dataset(spec)
}

/// A single NIfTI image file as a one-case, unlabelled dataset (to look at and plan one volume).
fn open_single_file(path: &Path) -> Result<Dataset> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(stem) = NIFTI_ENDINGS
        .iter()
        .chain([".hdr"].iter())
        .find_map(|e| name.strip_suffix(e))
    else {
        return Err(Error::file(
            "expected a dataset folder or a NIfTI file (.nii, .nii.gz, .hdr), found another file",
            path,
        ));
    };
    let dataset = Dataset {
        id: stem.to_string(),
        root: None,
        layout: Layout::SingleFile,
        label_names: BTreeMap::new(),
        cases: vec![Case {
            id: stem.to_string(),
            image: Source::File(path.to_path_buf()),
            labels: None,
            modality: Modality::Other,
        }],
        cache: Default::default(),
        features: Default::default(),
        dicom_scans: Default::default(),
    };
    // The header is read now, so a file that is not NIfTI is refused at open, not at view.
    dataset.geometry(0)?;
    Ok(dataset)
}

/// Opens a dataset folder: nnU-Net v2 raw, MSD, a folder of case folders, or a single case
/// folder; or a single NIfTI file as a one-case dataset.
pub fn open_dataset(path: impl AsRef<Path>) -> Result<Dataset> {
    let root = path.as_ref();
    if !root.exists() {
        return Err(Error::file("no such file or folder", root));
    }
    if !root.is_dir() {
        return open_single_file(root);
    }
    let dataset_json = root.join("dataset.json");
    let images_tr = root.join("imagesTr");
    let dataset = if images_tr.is_dir() {
        let json = if dataset_json.is_file() {
            read_json(&dataset_json)?
        } else {
            Value::Null
        };
        if json.get("training").map(Value::is_array).unwrap_or(false) {
            open_msd(root, &json)?
        } else {
            open_nnunet(root, &json)?
        }
    } else if is_case_folder(root) {
        open_case_folders(root, &[root.to_path_buf()], true)?
    } else {
        let dirs = case_folders(root)?;
        if !dirs.is_empty() {
            open_case_folders(root, &dirs, false)?
        } else if folder_has_dicom(root) {
            open_dicom_folder(root)?
        } else {
            return Err(Error::file(
                "no dataset found: expected imagesTr/ (nnU-Net or MSD layout), case folders holding image.nii.gz or a dicom/ series, or DICOM files",
                root,
            ));
        }
    };
    if dataset.cases.is_empty() {
        return Err(Error::file("the dataset has no cases", root));
    }
    tracing::info!(
        target: "sliceplan",
        "opened dataset '{}' ({:?}, {} cases) from {}",
        dataset.id,
        dataset.layout,
        dataset.len(),
        root.display()
    );
    Ok(dataset)
}

fn check_label_presence(cases: &[Case], root: &Path) -> Result<()> {
    let with: Vec<&str> = cases
        .iter()
        .filter(|c| c.labels.is_some())
        .map(|c| c.id.as_str())
        .collect();
    let without: Vec<&str> = cases
        .iter()
        .filter(|c| c.labels.is_none())
        .map(|c| c.id.as_str())
        .collect();
    if !with.is_empty() && !without.is_empty() {
        return Err(Error::file(
            format!(
                "{} case(s) have an image but no label map ({}); label every case or none",
                without.len(),
                without
                    .iter()
                    .take(5)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            root,
        ));
    }
    Ok(())
}

fn open_nnunet(root: &Path, json: &Value) -> Result<Dataset> {
    let images_dir = root.join("imagesTr");
    let labels_dir = root.join("labelsTr");
    let modality = modality_from_json(json);
    let mut cases = BTreeMap::new();
    for (stem, path) in list_nifti(&images_dir)? {
        // CASE_0000 is channel 0; other channels are not used.
        match stem.rsplit_once('_') {
            Some((case, "0000")) => {
                cases.insert(case.to_string(), path);
            }
            Some((_, ch)) if ch.len() == 4 && ch.chars().all(|c| c.is_ascii_digit()) => {}
            _ => {
                return Err(Error::file(
                    "image file name lacks the nnU-Net channel suffix _0000 (expected CASE_0000.nii.gz)",
                    &path,
                ));
            }
        }
    }
    let label_files: BTreeMap<String, PathBuf> = if labels_dir.is_dir() {
        list_nifti(&labels_dir)?.into_iter().collect()
    } else {
        BTreeMap::new()
    };
    for (stem, path) in &label_files {
        if !cases.contains_key(stem) {
            return Err(Error::file(
                format!("label map for case '{stem}' has no image imagesTr/{stem}_0000.nii.gz"),
                path,
            ));
        }
    }
    let cases: Vec<Case> = cases
        .into_iter()
        .map(|(id, image)| Case {
            labels: label_files.get(&id).cloned().map(Source::File),
            id,
            image: Source::File(image),
            modality,
        })
        .collect();
    check_label_presence(&cases, root)?;
    Ok(Dataset {
        id: dataset_id(root),
        root: Some(root.to_path_buf()),
        layout: Layout::NnUnet,
        label_names: label_names_from_json(json.get("labels")),
        cases,
        cache: Default::default(),
        features: Default::default(),
        dicom_scans: Default::default(),
    })
}

/// A path listed in dataset.json, resolved inside the dataset folder; an absolute path or one
/// climbing out with `..` is refused, naming dataset.json.
fn inside_root(root: &Path, listed: &str) -> Result<PathBuf> {
    let relative = Path::new(listed.trim_start_matches("./"));
    let escapes = relative.components().any(|c| {
        !matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    });
    if escapes || listed.is_empty() {
        return Err(Error::file(
            format!("the path '{listed}' in 'training' must lie inside the dataset folder"),
            root.join("dataset.json"),
        ));
    }
    Ok(root.join(relative))
}

fn open_msd(root: &Path, json: &Value) -> Result<Dataset> {
    let modality = modality_from_json(json);
    let mut cases = Vec::new();
    let mut seen = BTreeSet::new();
    for entry in json["training"].as_array().into_iter().flatten() {
        let image = entry.get("image").and_then(Value::as_str);
        let label = entry.get("label").and_then(Value::as_str);
        let Some(image) = image else {
            return Err(Error::file(
                "a 'training' entry has no 'image'",
                root.join("dataset.json"),
            ));
        };
        let image_path = inside_root(root, image)?;
        let file_name = image_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = strip_nifti_ending(&file_name)
            .unwrap_or(&file_name)
            .to_string();
        if !image_path.is_file() {
            return Err(Error::file(
                format!("image of case '{id}' listed in dataset.json is missing"),
                &image_path,
            ));
        }
        let labels = match label {
            Some(l) => {
                let p = inside_root(root, l)?;
                if !p.is_file() {
                    return Err(Error::file(
                        format!("label map of case '{id}' listed in dataset.json is missing"),
                        &p,
                    ));
                }
                Some(Source::File(p))
            }
            None => None,
        };
        if !seen.insert(id.clone()) {
            return Err(Error::file(
                format!("case '{id}' is listed twice in 'training'"),
                root.join("dataset.json"),
            ));
        }
        cases.push(Case {
            id,
            image: Source::File(image_path),
            labels,
            modality,
        });
    }
    check_label_presence(&cases, root)?;
    Ok(Dataset {
        id: dataset_id(root),
        root: Some(root.to_path_buf()),
        layout: Layout::Msd,
        label_names: label_names_from_json(json.get("labels")),
        cases,
        cache: Default::default(),
        features: Default::default(),
        dicom_scans: Default::default(),
    })
}

fn open_case_folders(root: &Path, dirs: &[PathBuf], single: bool) -> Result<Dataset> {
    let mut cases = Vec::new();
    let dicom_scans = DicomScans::default();
    // Cases whose case.json says `"labels_file": null` are unlabelled on purpose.
    let mut declared_unlabelled = BTreeSet::new();
    let mut label_names = BTreeMap::new();
    for dir in dirs {
        let id = dir
            .canonicalize()
            .unwrap_or_else(|_| dir.clone())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "case".into());
        let case_json = dir.join("case.json");
        let json = if case_json.is_file() {
            Some(read_json(&case_json)?)
        } else {
            None
        };
        let image = match find_nifti(dir, "image") {
            Some(p) => Source::File(p),
            None => match case_dicom_folder(dir, json.as_ref()) {
                Some(folder) => Source::Dicom {
                    folder,
                    series_uid: json
                        .as_ref()
                        .and_then(|j| j.get("series_instance_uid"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                },
                None => continue,
            },
        };
        let labels = find_nifti(dir, "labels").or_else(|| find_nifti(dir, "label"));
        let mut modality = Modality::Other;
        if let Some(json) = &json {
            if json.get("labels_file") == Some(&Value::Null) {
                declared_unlabelled.insert(id.clone());
            }
            if let Some(m) = json.get("modality").and_then(Value::as_str) {
                modality = Modality::from_name(m);
            }
            for (v, n) in label_names_from_json(json.get("labels")) {
                label_names.entry(v).or_insert(n);
            }
        }
        if modality == Modality::Other
            && let Source::Dicom { folder, series_uid } = &image
        {
            let scanned = dicom_scans.get_or_scan(folder)?;
            modality = Modality::from_name(&scanned.pick(series_uid.as_deref())?.modality);
        }
        cases.push(Case {
            id,
            image,
            labels: labels.map(Source::File),
            modality,
        });
    }
    if !single {
        // Folders with labels but no image.
        for entry in std::fs::read_dir(root)
            .map_err(|e| Error::io("cannot list folder", root, e))?
            .flatten()
        {
            let p = entry.path();
            if p.is_dir() && !is_case_folder(&p) && find_nifti(&p, "labels").is_some() {
                return Err(Error::file(
                    "case folder has labels but no image.nii.gz nor dicom/ series",
                    &p,
                ));
            }
        }
    }
    let checked: Vec<Case> = cases
        .iter()
        .filter(|c| !declared_unlabelled.contains(&c.id))
        .cloned()
        .collect();
    check_label_presence(&checked, root)?;
    Ok(Dataset {
        id: dataset_id(root),
        root: Some(root.to_path_buf()),
        layout: Layout::CaseFolders,
        label_names,
        cases,
        cache: Default::default(),
        features: Default::default(),
        dicom_scans,
    })
}

/// A folder of DICOM files as a dataset: one unlabelled case per series, named by its series
/// number (or UID).
fn open_dicom_folder(root: &Path) -> Result<Dataset> {
    let dicom_scans = DicomScans::default();
    let scanned = dicom_scans.keep(scan_dicom_folder(root)?);
    let several = scanned.series.len() > 1;
    let mut seen = BTreeSet::new();
    let mut cases = Vec::new();
    for s in &scanned.series {
        let mut id = match (s.series_number, s.series_uid.as_str()) {
            (Some(n), _) => format!("series{n}"),
            (None, "") => "series".to_string(),
            (None, uid) => format!("series-{uid}"),
        };
        if !seen.insert(id.clone()) {
            id = format!("series-{}", s.series_uid);
            seen.insert(id.clone());
        }
        cases.push(Case {
            id,
            image: Source::Dicom {
                folder: root.to_path_buf(),
                series_uid: several.then(|| s.series_uid.clone()),
            },
            labels: None,
            modality: Modality::from_name(&s.modality),
        });
    }
    Ok(Dataset {
        id: dataset_id(root),
        root: Some(root.to_path_buf()),
        layout: Layout::Dicom,
        label_names: BTreeMap::new(),
        cases,
        cache: Default::default(),
        features: Default::default(),
        dicom_scans,
    })
}
