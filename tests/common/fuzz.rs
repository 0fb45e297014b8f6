//! A mutation fuzzer over everything sliceplan reads from users, on stable Rust: NIfTI files
//! (.nii, .nii.gz, .hdr/.img; header fields, dims, datatypes, vox_offset, scaling, qform/sform,
//! byte order, truncation, corrupt and multi-member gzip, gzip bombs), dataset layouts
//! (dataset.json, case.json), plan files, study files, result stores, returned masks (NIfTI, `.seg.nrrd`, DICOM SEG) and DICOM
//! files. Seeds are generated in code and taken from `../shared/data/real` when present.
//!
//! Properties checked on every input: no panic; each input handled within `TIME_LIMIT`; a
//! refusal is one sentence naming the file (or folder) it is about. The driver
//! (`examples/fuzz.rs`) reports the counts and peak memory; `tests/fuzz.rs` runs a short round.
//! Shared by both through `#[path]`; each names the DICOM SEG writer (`common/seg.rs`) `crate::seg`.
#![allow(dead_code)]

use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::seg;
use sliceplan::dataset::open_dataset;
use sliceplan::io::{self, Volume, VoxelData, read_dicom_series, read_nifti, read_nifti_info};
use sliceplan::plan::Plan;
use sliceplan::rng::Rng;
use sliceplan::study::{ResultStore, Study};

/// Longest any single input may take.
pub const TIME_LIMIT: Duration = Duration::from_secs(2);

/// What a fuzzing round found.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub tried: u64,
    pub accepted: u64,
    pub refused: u64,
    pub panics: u64,
    pub timeouts: u64,
    /// Refusals that did not name their file, or ran over one line.
    pub unclear: u64,
    pub slowest: Duration,
    /// Inputs that broke a property, kept as (target, why, file).
    pub failures: Vec<(String, String, PathBuf)>,
}

/// One kind of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Nii,
    NiiGz,
    HdrImg,
    DatasetJson,
    CaseJson,
    PlanJson,
    StudyToml,
    Store,
    ReturnedMask,
    Dicom,
    ReturnedNrrd,
    ReturnedSeg,
}

pub const TARGETS: [Target; 12] = [
    Target::Nii,
    Target::NiiGz,
    Target::HdrImg,
    Target::DatasetJson,
    Target::CaseJson,
    Target::PlanJson,
    Target::StudyToml,
    Target::Store,
    Target::ReturnedMask,
    Target::Dicom,
    Target::ReturnedNrrd,
    Target::ReturnedSeg,
];

/// The seed corpus.
pub struct Seeds {
    /// Uncompressed single-file NIfTI images (header + voxels).
    pub nifti: Vec<Vec<u8>>,
    pub dataset_json: Vec<String>,
    pub case_json: Vec<String>,
    pub plan_json: Vec<String>,
    pub study_toml: Vec<String>,
    pub store_lines: Vec<String>,
    pub dicom: Vec<Vec<u8>>,
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(bytes), &mut out);
    out
}

fn small_volume(rng: &mut Rng, data: VoxelData, shape: [usize; 3]) -> Volume {
    let spacing = [
        rng.range_f64(0.3, 3.0),
        rng.range_f64(0.3, 3.0),
        rng.range_f64(0.5, 5.0),
    ];
    let affine = [
        [-spacing[0], 0.0, 0.0, 10.0],
        [0.0, spacing[1], 0.0, -5.0],
        [0.0, 0.0, spacing[2], 3.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    Volume {
        shape,
        spacing_mm: spacing,
        world_from_voxel: affine,
        header: io::header_for_geometry(shape, spacing, &affine),
        data,
        scaling: None,
        source_dtype: None,
    }
}

/// Uncompressed NIfTI bytes of `volume` (written through the library's writer).
fn nii_bytes(dir: &Path, volume: &Volume) -> Vec<u8> {
    let p = dir.join("seed.nii");
    io::write_nifti(&p, volume)
        .map(|_| std::fs::read(&p).unwrap_or_default())
        .unwrap_or_default()
}

/// A real file's header (sizes shrunk to a few voxels, voxels random), keeping its byte order,
/// datatype, qform/sform and scaling.
fn shrunk_real_header(bytes: &[u8], rng: &mut Rng) -> Option<Vec<u8>> {
    if bytes.len() < 352 {
        return None;
    }
    let big = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) == 348;
    let mut h = bytes[..352].to_vec();
    let dims = [3i16, 6, 5, 4, 1, 1, 1, 1];
    for (i, d) in dims.iter().enumerate() {
        put_i16(&mut h, 40 + 2 * i, *d, big);
    }
    put_f32(&mut h, 108, 352.0, big);
    let bitpix = get_i16(&h, 72, big).clamp(8, 128) as usize;
    let n = 6 * 5 * 4 * bitpix / 8;
    h.extend((0..n).map(|_| rng.below(256) as u8));
    Some(h)
}

fn get_i16(b: &[u8], at: usize, big: bool) -> i16 {
    let v = [b[at], b[at + 1]];
    if big {
        i16::from_be_bytes(v)
    } else {
        i16::from_le_bytes(v)
    }
}

fn put_i16(b: &mut [u8], at: usize, v: i16, big: bool) {
    let bytes = if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    };
    b[at..at + 2].copy_from_slice(&bytes);
}

fn put_i32(b: &mut [u8], at: usize, v: i32, big: bool) {
    let bytes = if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    };
    b[at..at + 4].copy_from_slice(&bytes);
}

fn put_f32(b: &mut [u8], at: usize, v: f32, big: bool) {
    let bytes = if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    };
    b[at..at + 4].copy_from_slice(&bytes);
}

impl Seeds {
    /// Generated seeds, plus headers and texts from `real` (../shared/data/real) when given.
    pub fn new(dir: &Path, real: Option<&Path>) -> Seeds {
        let mut rng = Rng::new(7);
        let shape = [6, 5, 4];
        let n: usize = 120;
        let mut nifti = vec![
            nii_bytes(
                dir,
                &small_volume(
                    &mut rng,
                    VoxelData::U8((0..n).map(|i| (i % 3) as u8).collect()),
                    shape,
                ),
            ),
            nii_bytes(
                dir,
                &small_volume(
                    &mut rng,
                    VoxelData::I16((0..n).map(|i| i as i16 * 7 - 300).collect()),
                    shape,
                ),
            ),
            nii_bytes(
                dir,
                &small_volume(
                    &mut rng,
                    VoxelData::F32((0..n).map(|i| i as f32 * 0.5).collect()),
                    shape,
                ),
            ),
            nii_bytes(
                dir,
                &small_volume(
                    &mut rng,
                    VoxelData::F64((0..n).map(|i| i as f64).collect()),
                    shape,
                ),
            ),
            nii_bytes(
                dir,
                &small_volume(
                    &mut rng,
                    VoxelData::U16((0..n).map(|i| i as u16).collect()),
                    shape,
                ),
            ),
            nii_bytes(
                dir,
                &small_volume(
                    &mut rng,
                    VoxelData::I32((0..n).map(|i| i as i32 - 5).collect()),
                    shape,
                ),
            ),
        ];
        let mut dicom = Vec::new();
        let mut text_seeds: Vec<String> = Vec::new();
        if let Some(real) = real {
            let mut files: Vec<PathBuf> = Vec::new();
            for case in std::fs::read_dir(real).into_iter().flatten().flatten() {
                for f in std::fs::read_dir(case.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    files.push(f.path());
                }
            }
            files.sort();
            for f in &files {
                let name = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if name.ends_with(".nii.gz") || name.ends_with(".nii") {
                    // Only the header is needed: read the start of the stream.
                    let raw = std::fs::read(f).unwrap_or_default();
                    let head = if name.ends_with(".gz") {
                        gunzip_prefix(&raw, 4096)
                    } else {
                        raw
                    };
                    if let Some(h) = shrunk_real_header(&head, &mut rng) {
                        nifti.push(h);
                    }
                } else if name == "case.json" {
                    text_seeds.push(std::fs::read_to_string(f).unwrap_or_default());
                } else if name == "dicom" {
                    let mut images: Vec<PathBuf> = std::fs::read_dir(f)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|e| e.path())
                        .collect();
                    images.sort();
                    if let Some(first) = images.first() {
                        dicom.push(std::fs::read(first).unwrap_or_default());
                    }
                }
            }
        }
        let case_json = if text_seeds.is_empty() {
            vec![r#"{"modality": "CT", "labels": {"0": "background", "1": "liver"}}"#.to_string()]
        } else {
            text_seeds
        };
        Seeds {
            nifti,
            dataset_json: vec![
                r#"{"name": "fuzz", "channel_names": {"0": "CT"}, "labels": {"background": 0, "organ": 1}, "numTraining": 2, "file_ending": ".nii.gz"}"#.into(),
                r#"{"name": "msd", "modality": {"0": "CT"}, "labels": {"0": "background", "1": "organ"}, "training": [{"image": "./imagesTr/a_0000.nii.gz", "label": "./labelsTr/a.nii.gz"}, {"image": "./imagesTr/b_0000.nii.gz", "label": "./labelsTr/b.nii.gz"}]}"#.into(),
            ],
            case_json,
            plan_json: Vec::new(),
            study_toml: vec![
                "name = \"fuzz\"\nbudgets_slices = [8, 12]\nallocations = [\"spread\", \"volumes:2\"]\nstrategies = [\"fixed\", \"random\"]\ninterpolation = [\"none\"]\nmodels = [\"2d\"]\nseeds = [0, 1]\npreset = \"tiny\"\nholdout = 1\n".into(),
                "budgets_hours = [0.5]\nseconds_per_slice = 60\nseconds_per_volume = 30\nallocations = [\"density:0.2\"]\npreset = \"quick\"\nsteps = 5\n".into(),
            ],
            store_lines: Vec::new(),
            dicom,
        }
    }
}

/// Case "a"'s labels returned as a `.seg.nrrd` (raw, and gzip as Slicer saves it) and as a
/// binary DICOM SEG: the seeds of the returned-mask readers.
fn returned_seeds(dir: &Path, dataset_dir: &Path) -> (Vec<Vec<u8>>, Vec<u8>) {
    let Ok(labels) = io::read_nifti(dataset_dir.join("labelsTr/a.nii.gz")) else {
        return (Vec::new(), Vec::new());
    };
    let names: std::collections::BTreeMap<i64, String> =
        [(0, "background".to_string()), (1, "organ".to_string())].into();
    let key_values = sliceplan::export::segments::seg_nrrd_key_values(&names, 255, labels.shape);
    let gz = dir.join("seed.seg.nrrd");
    let _ = io::write_nrrd(&gz, &labels, &key_values);
    let gz = std::fs::read(&gz).unwrap_or_default();
    let header_end = gz.windows(2).position(|w| w == b"\n\n").unwrap_or(0) + 2;
    let header =
        String::from_utf8_lossy(&gz[..header_end]).replace("encoding: gzip", "encoding: raw");
    let raw: Vec<u8> = (0..labels.voxel_count())
        .map(|i| labels.value(i) as u8)
        .collect();
    let values: Vec<u16> = (0..labels.voxel_count())
        .map(|i| labels.value(i) as u16)
        .collect();
    let seg_path = dir.join("seed.dcm");
    seg::write_dicom_seg(
        &seg_path,
        &seg::SegSpec {
            grid: &labels,
            labels: &values,
            segments: &[(1, 1, "organ")],
            axis: 2,
            segmentation_type: "BINARY",
        },
    );
    let dicom_seg = std::fs::read(&seg_path).unwrap_or_default();
    (vec![gz, [header.as_bytes(), &raw].concat()], dicom_seg)
}

/// The decompressed first `limit` bytes of a gzip stream.
fn gunzip_prefix(bytes: &[u8], limit: usize) -> Vec<u8> {
    let mut out = vec![0u8; limit];
    let mut dec = flate2::read::MultiGzDecoder::new(bytes);
    let mut got = 0;
    while got < limit {
        match std::io::Read::read(&mut dec, &mut out[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    out.truncate(got);
    out
}

const INTERESTING_I16: [i16; 10] = [0, -1, 1, 2, 3, 7, 255, i16::MAX, i16::MIN, 4096];
const INTERESTING_F32: [f32; 10] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    1e30,
    -1e-30,
    352.0,
];

/// One NIfTI-header-aware mutation of an uncompressed NIfTI file.
fn mutate_nifti(bytes: &mut Vec<u8>, rng: &mut Rng) {
    let big =
        bytes.len() >= 4 && i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) == 348;
    let rounds = 1 + rng.below(3);
    for _ in 0..rounds {
        if bytes.len() < 352 {
            flip_bytes(bytes, rng);
            continue;
        }
        match rng.below(10) {
            // dim[0..8]: rank, sizes (zero, negative, huge: a bomb claiming gigabytes).
            0 | 1 => {
                let i = rng.below(8);
                let v = if rng.below(3) == 0 {
                    (rng.next_u64() & 0xffff) as i16
                } else {
                    INTERESTING_I16[rng.below(10)]
                };
                put_i16(bytes, 40 + 2 * i, v, big);
            }
            // datatype and bitpix, valid or not.
            2 => {
                let codes = [
                    0i16, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048,
                    2304, 3, 9999,
                ];
                put_i16(bytes, 70, codes[rng.below(codes.len())], big);
                if rng.below(2) == 0 {
                    put_i16(
                        bytes,
                        72,
                        [0i16, 1, 8, 16, 24, 32, 64, 128, 7][rng.below(9)],
                        big,
                    );
                }
            }
            // vox_offset, scl_slope, scl_inter, pixdim, quatern/srow.
            3 => {
                let at = [
                    108usize, 112, 116, 76, 80, 84, 88, 256, 260, 264, 268, 272, 276, 280, 284,
                    296, 312,
                ][rng.below(17)];
                put_f32(bytes, at, INTERESTING_F32[rng.below(10)], big);
            }
            // qform_code / sform_code.
            4 => {
                let at = if rng.below(2) == 0 { 252 } else { 254 };
                put_i16(bytes, at, [0i16, 1, 2, 3, 4, 5, -1, 99][rng.below(8)], big);
            }
            // sizeof_hdr (NIfTI-2's 540, the other byte order, junk) and magic.
            5 => {
                let v = [348i32, 540, 0, -1, 0x5c01_0000][rng.below(5)];
                put_i32(bytes, 0, v, big);
                if rng.below(2) == 0 {
                    let magic: &[u8] =
                        [b"n+1\0".as_slice(), b"ni1\0", b"n+2\0", b"xxxx"][rng.below(4)];
                    bytes[344..348].copy_from_slice(magic);
                }
            }
            // Truncation anywhere (inside the header too), or junk appended.
            6 => {
                let at = rng.below(bytes.len() + 1);
                bytes.truncate(at);
            }
            7 => {
                let n = rng.below(64);
                bytes.extend((0..n).map(|_| rng.below(256) as u8));
            }
            _ => flip_bytes(bytes, rng),
        }
    }
}

fn flip_bytes(bytes: &mut [u8], rng: &mut Rng) {
    if bytes.is_empty() {
        return;
    }
    for _ in 0..1 + rng.below(8) {
        let i = rng.below(bytes.len());
        bytes[i] = match rng.below(3) {
            0 => bytes[i] ^ (1 << rng.below(8)),
            1 => rng.below(256) as u8,
            _ => [0u8, 0xff, 0x7f, 0x80][rng.below(4)],
        };
    }
}

/// Gzip damage: a flipped or truncated stream, a second member, a wrong size trailer.
fn mutate_gzip(gz: &mut Vec<u8>, rng: &mut Rng) {
    match rng.below(6) {
        0 => flip_bytes(gz, rng),
        1 => {
            let at = rng.below(gz.len() + 1);
            gz.truncate(at);
        }
        2 => {
            let second = gz.clone();
            gz.extend(second);
        }
        3 if gz.len() >= 4 => {
            let n = gz.len();
            gz[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        }
        _ => {}
    }
}

/// One text mutation: bytes changed, a slice removed or duplicated, numbers and strings swapped
/// for extremes.
fn mutate_text(text: &str, rng: &mut Rng) -> String {
    let mut s = text.to_string();
    for _ in 0..1 + rng.below(3) {
        match rng.below(6) {
            0 => {
                let tokens = [
                    "-1",
                    "0",
                    "1e309",
                    "18446744073709551616",
                    "null",
                    "\"\"",
                    "[]",
                    "{}",
                    "\"../../x\"",
                    "true",
                    "NaN",
                    "\"\\u0000\"",
                ];
                let t = tokens[rng.below(tokens.len())];
                // Replace a number or a string literal.
                let starts: Vec<usize> = s
                    .char_indices()
                    .filter(|(_, c)| c.is_ascii_digit() || *c == '"')
                    .map(|(i, _)| i)
                    .collect();
                if let Some(&at) = starts.get(rng.below(starts.len().max(1))) {
                    let end = s[at + 1..]
                        .find(|c: char| {
                            !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
                        })
                        .map(|e| at + 1 + e + usize::from(s.as_bytes()[at] == b'"'))
                        .unwrap_or(s.len())
                        .min(s.len());
                    if s.is_char_boundary(at) && s.is_char_boundary(end) {
                        s.replace_range(at..end, t);
                    }
                }
            }
            1 => {
                let a = rng.below(s.len() + 1);
                let b = (a + rng.below(16)).min(s.len());
                if s.is_char_boundary(a) && s.is_char_boundary(b) {
                    s.replace_range(a..b, "");
                }
            }
            2 => {
                let a = rng.below(s.len() + 1);
                let b = (a + rng.below(32)).min(s.len());
                if s.is_char_boundary(a) && s.is_char_boundary(b) {
                    let piece = s[a..b].to_string();
                    s.insert_str(b, &piece);
                }
            }
            _ => {
                let mut bytes = s.into_bytes();
                flip_bytes(&mut bytes, rng);
                s = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
    }
    s
}

/// How one input ended.
pub enum Outcome {
    Accepted,
    Refused(String),
}

/// Checks a refusal: one line, naming `about` (a file or folder path).
fn clear_refusal(message: &str, about: &[&Path]) -> bool {
    !message.contains('\n')
        && about
            .iter()
            .any(|p| message.contains(&p.display().to_string()))
}

/// A small labelled nnU-Net dataset (2 cases) to mutate, written once.
fn write_dataset(dir: &Path, rng: &mut Rng) {
    for (id, k) in [("a", 4usize), ("b", 5)] {
        let n = 6 * 5 * k;
        let image = small_volume(
            rng,
            VoxelData::I16((0..n).map(|i| (i as i16) * 3 - 100).collect()),
            [6, 5, k],
        );
        let mut labels = image.clone();
        labels.data = VoxelData::U8((0..n).map(|i| u8::from(i % 4 == 0)).collect());
        let _ = io::write_nifti(dir.join(format!("imagesTr/{id}_0000.nii.gz")), &image);
        let _ = io::write_nifti(dir.join(format!("labelsTr/{id}.nii.gz")), &labels);
    }
}

/// The fuzzer: a seed corpus, a scratch folder, a seeded random stream.
pub struct Fuzzer {
    pub seeds: Seeds,
    pub dir: PathBuf,
    rng: Rng,
    dataset_dir: PathBuf,
    plan_seed: String,
    /// Returned masks of case "a" as `.seg.nrrd` (raw and gzip) and as a DICOM SEG.
    seg_nrrd: Vec<Vec<u8>>,
    dicom_seg: Vec<u8>,
}

impl Fuzzer {
    pub fn new(dir: &Path, real: Option<&Path>, seed: u64) -> Fuzzer {
        let _ = std::fs::create_dir_all(dir);
        let mut rng = Rng::new(seed);
        let mut seeds = Seeds::new(dir, real);
        let dataset_dir = dir.join("dataset");
        write_dataset(&dataset_dir, &mut rng);
        let _ = std::fs::write(dataset_dir.join("dataset.json"), &seeds.dataset_json[0]);
        // A real plan of that dataset, and a real store line, as text seeds.
        let mut plan_seed = String::new();
        if let Ok(ds) = open_dataset(&dataset_dir) {
            let request = sliceplan::plan::PlanRequest {
                budget: Some(sliceplan::plan::Budget::Slices(3)),
                ..Default::default()
            };
            if let Ok(plan) =
                sliceplan::plan::make_plan(&ds, &request, &sliceplan::jobs::Progress::new())
            {
                plan_seed = serde_json::to_string_pretty(&plan).unwrap_or_default();
            }
        }
        seeds.plan_json.push(plan_seed.clone());
        seeds
            .store_lines
            .push(r#"{"key":"abc","version":"0.3.0","dice":0.5,"spec":{}}"#.to_string());
        let (seg_nrrd, dicom_seg) = returned_seeds(dir, &dataset_dir);
        Fuzzer {
            seeds,
            dir: dir.to_path_buf(),
            rng,
            dataset_dir,
            plan_seed,
            seg_nrrd,
            dicom_seg,
        }
    }

    fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
        &items[rng.below(items.len())]
    }

    /// A mutated NIfTI image (uncompressed bytes).
    fn nifti_input(&mut self) -> Vec<u8> {
        let mut bytes = Self::pick(&mut self.rng, &self.seeds.nifti).clone();
        mutate_nifti(&mut bytes, &mut self.rng);
        bytes
    }

    /// Runs one input of `target`; returns its outcome, or Err(message) when a property broke.
    pub fn one(&mut self, target: Target) -> (Outcome, Vec<PathBuf>) {
        let dir = self.dir.join("input");
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        match target {
            Target::Nii | Target::NiiGz => {
                let mut bytes = self.nifti_input();
                let path = if target == Target::Nii {
                    dir.join("x.nii")
                } else {
                    bytes = if self.rng.below(50) == 0 {
                        gzip_bomb(&mut self.rng)
                    } else {
                        gzip(&bytes)
                    };
                    if self.rng.below(2) == 0 {
                        mutate_gzip(&mut bytes, &mut self.rng);
                    }
                    dir.join("x.nii.gz")
                };
                let _ = std::fs::write(&path, &bytes);
                let r = if self.rng.below(4) == 0 {
                    read_nifti_info(&path).map(|_| ())
                } else {
                    read_nifti(&path).map(|v| {
                        // What later steps do with a volume: slices and values.
                        let _ = v.orientation();
                        if v.voxel_count() > 0 {
                            let _ = v.value(v.voxel_count() - 1);
                        }
                    })
                };
                (outcome(r), vec![path])
            }
            Target::HdrImg => {
                let mut bytes = self.nifti_input();
                let hdr = dir.join("x.hdr");
                let img = dir.join("x.img");
                let split = bytes.len().min(348);
                let data = bytes.split_off(split);
                if bytes.len() >= 348 {
                    bytes[344..348].copy_from_slice(b"ni1\0");
                }
                let _ = std::fs::write(&hdr, &bytes);
                let skip = data.len().min(4);
                if self.rng.below(10) > 0 {
                    let _ = std::fs::write(&img, &data[skip..]);
                }
                (outcome(read_nifti(&hdr).map(|_| ())), vec![hdr, img])
            }
            Target::DatasetJson | Target::CaseJson => {
                let root = dir.join("ds");
                let r = if target == Target::DatasetJson {
                    let _ = copy_dir(&self.dataset_dir, &root);
                    let text = mutate_text(
                        Self::pick::<String>(&mut self.rng, &self.seeds.dataset_json),
                        &mut self.rng,
                    );
                    let _ = std::fs::write(root.join("dataset.json"), text);
                    if self.rng.below(4) == 0 {
                        // A damaged or missing volume as well.
                        let victim = root.join(
                            ["imagesTr/a_0000.nii.gz", "labelsTr/b.nii.gz"][self.rng.below(2)],
                        );
                        let mut b = std::fs::read(&victim).unwrap_or_default();
                        mutate_gzip(&mut b, &mut self.rng);
                        let _ = std::fs::write(&victim, b);
                    }
                    open_and_load(&root)
                } else {
                    let case = root.join("case1");
                    let _ = std::fs::create_dir_all(&case);
                    let _ = std::fs::copy(
                        self.dataset_dir.join("imagesTr/a_0000.nii.gz"),
                        case.join("image.nii.gz"),
                    );
                    if self.rng.below(3) > 0 {
                        let _ = std::fs::copy(
                            self.dataset_dir.join("labelsTr/a.nii.gz"),
                            case.join("labels.nii.gz"),
                        );
                    }
                    let text = mutate_text(
                        Self::pick::<String>(&mut self.rng, &self.seeds.case_json),
                        &mut self.rng,
                    );
                    let _ = std::fs::write(case.join("case.json"), text);
                    open_and_load(&root)
                };
                (outcome(r), vec![root])
            }
            Target::PlanJson => {
                let path = dir.join("plan.json");
                let text = mutate_text(&self.plan_seed, &mut self.rng);
                let _ = std::fs::write(&path, text);
                let r = Plan::load(&path).and_then(|plan| {
                    let ds = open_dataset(&self.dataset_dir)?;
                    plan.check_dataset(&ds)?;
                    let rows = sliceplan::export::worklist_rows(&plan, &ds)?;
                    let _ = sliceplan::export::remaining_plan(
                        &plan,
                        &sliceplan::export::check_returned(&ds, &plan, &dir, None)?,
                    );
                    let _ = rows;
                    Ok(())
                });
                (outcome(r), vec![path, dir.clone()])
            }
            Target::StudyToml => {
                let path = dir.join("study.toml");
                let text = mutate_text(
                    Self::pick::<String>(&mut self.rng, &self.seeds.study_toml),
                    &mut self.rng,
                );
                let _ = std::fs::write(&path, text);
                let r = Study::load(&path).and_then(|study| {
                    let ds = open_dataset(&self.dataset_dir)?;
                    let fp = sliceplan::study::dataset_fingerprint(&ds)?;
                    study.runs(&ds, &fp, &path).map(|_| ())
                });
                (outcome(r), vec![path])
            }
            Target::Store => {
                let store_dir = dir.join("store");
                let r = ResultStore::open(&store_dir, "fuzz", "fp").and_then(|store| {
                    let results = std::fs::read_dir(&store_dir)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|e| e.path())
                        .find(|p| p.extension().is_some_and(|e| e == "jsonl"));
                    if let Some(results) = results {
                        let mut text = std::fs::read_to_string(&results).unwrap_or_default();
                        for _ in 0..1 + self.rng.below(3) {
                            text.push_str(&mutate_text(
                                Self::pick::<String>(&mut self.rng, &self.seeds.store_lines),
                                &mut self.rng,
                            ));
                            text.push('\n');
                        }
                        let _ = std::fs::write(&results, text);
                    }
                    store.load().map(|_| ())
                });
                (outcome(r), vec![store_dir])
            }
            Target::ReturnedMask => {
                let masks = dir.join("masks");
                let _ = std::fs::create_dir_all(&masks);
                let mut bytes = self.nifti_input();
                if self.rng.below(2) == 0 {
                    bytes = gzip(&bytes);
                }
                let case = ["a", "b"][self.rng.below(2)];
                let path = masks.join(format!("{case}.nii.gz"));
                let _ = std::fs::write(&path, &bytes);
                let plan_path = dir.join("plan.json");
                let _ = std::fs::write(&plan_path, &self.plan_seed);
                let r = Plan::load(&plan_path).and_then(|plan| {
                    let ds = open_dataset(&self.dataset_dir)?;
                    sliceplan::export::check_returned(&ds, &plan, &masks, None).map(|_| ())
                });
                (outcome(r), vec![path, masks])
            }
            Target::ReturnedNrrd => {
                let mut bytes = Self::pick(&mut self.rng, &self.seg_nrrd).clone();
                let header_end = bytes.windows(2).position(|w| w == b"\n\n").unwrap_or(0);
                if self.rng.below(2) == 0 {
                    let header = String::from_utf8_lossy(&bytes[..header_end]).into_owned();
                    let mutated = mutate_text(&header, &mut self.rng);
                    bytes = [mutated.as_bytes(), &bytes[header_end..]].concat();
                } else if self.rng.below(2) == 0 {
                    let at = self.rng.below(bytes.len() + 1);
                    bytes.truncate(at);
                } else {
                    flip_bytes(&mut bytes[header_end..], &mut self.rng);
                }
                self.returned("a.seg.nrrd", &bytes)
            }
            Target::ReturnedSeg => {
                let mut bytes = self.dicom_seg.clone();
                for _ in 0..1 + self.rng.below(3) {
                    if self.rng.below(3) == 0 {
                        let at = self.rng.below(bytes.len() + 1);
                        bytes.truncate(at);
                    } else {
                        flip_bytes(&mut bytes, &mut self.rng);
                    }
                }
                self.returned("a.dcm", &bytes)
            }
            Target::Dicom => {
                let Some(seed) = self.seeds.dicom.first().cloned() else {
                    return (Outcome::Accepted, vec![]);
                };
                let mut bytes = seed;
                let rounds = 1 + self.rng.below(3);
                for _ in 0..rounds {
                    match self.rng.below(3) {
                        0 => {
                            let at = self.rng.below(bytes.len() + 1);
                            bytes.truncate(at);
                        }
                        _ => {
                            // Mostly the header, where the structure is.
                            let end = bytes.len().min(2048);
                            flip_bytes(&mut bytes[..end], &mut self.rng);
                        }
                    }
                }
                let series = dir.join("series");
                let _ = std::fs::create_dir_all(&series);
                let _ = std::fs::write(series.join("IM0001"), &bytes);
                (
                    outcome(read_dicom_series(&series, None).map(|_| ())),
                    vec![series],
                )
            }
        }
    }

    /// Checks the plan's returned masks with `bytes` saved as `name` among them.
    fn returned(&mut self, name: &str, bytes: &[u8]) -> (Outcome, Vec<PathBuf>) {
        let dir = self.dir.join("input");
        let masks = dir.join("masks");
        let _ = std::fs::create_dir_all(&masks);
        let path = masks.join(name);
        let _ = std::fs::write(&path, bytes);
        let plan_path = dir.join("plan.json");
        let _ = std::fs::write(&plan_path, &self.plan_seed);
        let r = Plan::load(&plan_path).and_then(|plan| {
            let ds = open_dataset(&self.dataset_dir)?;
            sliceplan::export::check_returned(&ds, &plan, &masks, Some(255)).map(|_| ())
        });
        (outcome(r), vec![path, masks])
    }

    /// Runs `n` inputs round-robin over the targets, checking the properties.
    pub fn run(&mut self, n: u64, mut on_progress: impl FnMut(&Counts)) -> Counts {
        let mut counts = Counts::default();
        for i in 0..n {
            let target = TARGETS[(i % TARGETS.len() as u64) as usize];
            let started = Instant::now();
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| self.one(target)));
            let took = started.elapsed();
            counts.tried += 1;
            counts.slowest = counts.slowest.max(took);
            let keep = |counts: &mut Counts, why: &str, dir: &Path| {
                let kept = dir.join(format!("failure-{}", counts.failures.len()));
                let _ = copy_dir(&dir.join("input"), &kept);
                counts
                    .failures
                    .push((format!("{target:?}"), why.to_string(), kept));
            };
            match result {
                Err(_) => {
                    counts.panics += 1;
                    keep(&mut counts, "panic", &self.dir.clone());
                }
                Ok((outcome, about)) => {
                    if took > TIME_LIMIT {
                        counts.timeouts += 1;
                        keep(&mut counts, &format!("took {took:?}"), &self.dir.clone());
                    }
                    match outcome {
                        Outcome::Accepted => counts.accepted += 1,
                        Outcome::Refused(message) => {
                            counts.refused += 1;
                            let about: Vec<&Path> = about.iter().map(PathBuf::as_path).collect();
                            if !clear_refusal(&message, &about) {
                                counts.unclear += 1;
                                keep(
                                    &mut counts,
                                    &format!("unclear refusal: {message}"),
                                    &self.dir.clone(),
                                );
                            }
                        }
                    }
                }
            }
            if i % 1000 == 999 {
                on_progress(&counts);
            }
        }
        counts
    }
}

fn outcome(r: sliceplan::Result<()>) -> Outcome {
    match r {
        Ok(()) => Outcome::Accepted,
        Err(e) => Outcome::Refused(e.to_string()),
    }
}

fn open_and_load(root: &Path) -> sliceplan::Result<()> {
    let ds = open_dataset(root)?;
    for i in 0..ds.len() {
        ds.load(i)?;
    }
    Ok(())
}

/// A gzip stream whose header claims a 4096×4096×1000 int16 volume (32 GB) over a few bytes.
fn gzip_bomb(rng: &mut Rng) -> Vec<u8> {
    let mut h = vec![0u8; 352];
    put_i32(&mut h, 0, 348, false);
    for (i, d) in [3i16, 4096, 4096, 1000, 1, 1, 1, 1].iter().enumerate() {
        put_i16(&mut h, 40 + 2 * i, *d, false);
    }
    put_i16(&mut h, 70, 4, false);
    put_i16(&mut h, 72, 16, false);
    for i in 0..4 {
        put_f32(&mut h, 76 + 4 * i, 1.0, false);
    }
    put_f32(&mut h, 108, 352.0, false);
    h[344..348].copy_from_slice(b"n+1\0");
    let n = rng.below(1 << 16);
    h.extend(std::iter::repeat_n(0u8, n));
    gzip(&h)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}
