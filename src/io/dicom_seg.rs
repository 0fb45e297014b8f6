//! DICOM Segmentation objects (SEG, as OHIF and highdicom write them): binary segments, one
//! frame per segment and plane, each frame placed in the patient by its own
//! ImagePositionPatient. [`DicomSeg::labels_on_grid`] puts the frames on a volume's voxel grid by
//! their world positions, so a SEG whose frames run in another order or direction than the
//! image's voxels still lands on the right voxels; a frame between or outside the grid's voxels is
//! refused. Fractional and label-map SEGs are refused by name.

use std::path::{Path, PathBuf};

use dicom_dictionary_std::{tags, uids};
use dicom_object::{InMemDicomObject, OpenFileOptions};

use super::geometry::{Affine, voxel_from_world};
use crate::error::{Error, Result};

/// A frame is on the grid when its pixels lie this close to voxel centres (in voxels).
const ON_GRID_TOLERANCE: f64 = 0.05;

/// One segment: its number in the file and its label (the name a user gave it).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub number: u16,
    pub label: String,
}

/// One frame: which segment, where its first pixel lies (LPS, mm), and its pixels.
#[derive(Debug, Clone)]
struct Frame {
    segment: u16,
    position_lps: [f64; 3],
    /// Direction of a row (increasing column) and of a column (increasing row), LPS.
    orientation_lps: [f64; 6],
    /// Spacing between rows, between columns (mm).
    pixel_spacing_mm: [f64; 2],
    pixels: Vec<bool>,
}

/// A binary DICOM SEG read.
#[derive(Debug, Clone)]
pub struct DicomSeg {
    pub path: PathBuf,
    pub segments: Vec<Segment>,
    rows: usize,
    columns: usize,
    frames: Vec<Frame>,
}

type Item = InMemDicomObject;

fn text(obj: &Item, tag: dicom_core::Tag) -> Option<String> {
    let s = obj.element_opt(tag).ok()??.to_str().ok()?.to_string();
    let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!s.is_empty()).then(|| s.to_string())
}

fn int(obj: &Item, tag: dicom_core::Tag) -> Option<i64> {
    obj.element_opt(tag).ok()??.to_int::<i64>().ok()
}

fn floats(obj: &Item, tag: dicom_core::Tag) -> Option<Vec<f64>> {
    obj.element_opt(tag).ok()??.to_multi_float64().ok()
}

fn items(obj: &Item, tag: dicom_core::Tag) -> &[Item] {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.items())
        .unwrap_or(&[])
}

/// `tag` inside the first item of sequence `seq` of the frame's own groups, else the shared ones.
fn in_groups(
    frame: Option<&Item>,
    shared: Option<&Item>,
    seq: dicom_core::Tag,
    tag: dicom_core::Tag,
) -> Option<Vec<f64>> {
    [frame, shared]
        .into_iter()
        .flatten()
        .find_map(|g| items(g, seq).first().and_then(|i| floats(i, tag)))
}

/// Checks the object is a binary SEG this reader takes.
fn check_kind(obj: &Item, path: &Path) -> Result<()> {
    let class = text(obj, tags::SOP_CLASS_UID).unwrap_or_default();
    if class == uids::LABEL_MAP_SEGMENTATION_STORAGE {
        return Err(Error::file(
            "a label-map DICOM SEG is not read (binary SEGs are)",
            path,
        ));
    }
    if class != uids::SEGMENTATION_STORAGE {
        return Err(Error::file(
            format!("not a DICOM Segmentation (SOP class '{class}')"),
            path,
        ));
    }
    match text(obj, tags::SEGMENTATION_TYPE).as_deref() {
        Some("BINARY") => {}
        Some("FRACTIONAL") => {
            return Err(Error::file(
                "a fractional DICOM SEG is not read (binary SEGs are); export the segments as binary",
                path,
            ));
        }
        other => {
            return Err(Error::file(
                format!(
                    "DICOM SEG type '{}' is not read (binary SEGs are)",
                    other.unwrap_or("none")
                ),
                path,
            ));
        }
    }
    if int(obj, tags::BITS_ALLOCATED) != Some(1) {
        return Err(Error::file(
            "a binary DICOM SEG must have 1 bit per pixel",
            path,
        ));
    }
    Ok(())
}

/// Pixel `i` of the bit-packed frames (frames follow each other without padding, first pixel in
/// each byte's lowest bit).
fn bit(bytes: &[u8], i: usize) -> bool {
    bytes.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1)
}

/// Reads the binary DICOM SEG at `path`.
pub fn read_dicom_seg(path: impl AsRef<Path>) -> Result<DicomSeg> {
    let path = path.as_ref();
    super::dicom_check::check_dicom_lengths(path)?;
    let file = OpenFileOptions::new()
        .open_file(path)
        .map_err(|e| Error::file(format!("unreadable DICOM file ({e})"), path))?;
    let obj: &Item = &file;
    check_kind(obj, path)?;
    let fail = |msg: String| Error::file(msg, path);
    let rows = int(obj, tags::ROWS).unwrap_or(0).max(0) as usize;
    let columns = int(obj, tags::COLUMNS).unwrap_or(0).max(0) as usize;
    let n_frames = int(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(0) as usize;
    let segments: Vec<Segment> = items(obj, tags::SEGMENT_SEQUENCE)
        .iter()
        .map(|s| Segment {
            number: int(s, tags::SEGMENT_NUMBER).unwrap_or(0) as u16,
            label: text(s, tags::SEGMENT_LABEL).unwrap_or_default(),
        })
        .collect();
    let pixel_data = obj
        .element_opt(tags::PIXEL_DATA)
        .ok()
        .flatten()
        .ok_or_else(|| fail("the DICOM SEG has no pixel data".into()))?;
    if pixel_data.fragments().is_some() {
        return Err(fail(
            "an encapsulated (compressed) DICOM SEG is not read; save it uncompressed".into(),
        ));
    }
    let bytes = pixel_data
        .to_bytes()
        .map_err(|e| fail(format!("unreadable pixel data ({e})")))?;
    let per_frame = rows * columns;
    let bits = per_frame.checked_mul(n_frames).ok_or_else(|| {
        fail(format!(
            "{n_frames} frames of {columns}×{rows} are too many"
        ))
    })?;
    if bytes.len() * 8 < bits {
        return Err(fail(format!(
            "the DICOM SEG's pixel data holds {} bits, {n_frames} frames of {columns}×{rows} need {}",
            bytes.len() * 8,
            bits
        )));
    }
    let shared = items(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE).first();
    let groups = items(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
    let frames = (0..n_frames)
        .map(|f| {
            let own = groups.get(f);
            let missing = |what: &str| fail(format!("frame {} has no {what}", f + 1));
            let segment = own
                .and_then(|g| items(g, tags::SEGMENT_IDENTIFICATION_SEQUENCE).first())
                .and_then(|i| int(i, tags::REFERENCED_SEGMENT_NUMBER))
                .ok_or_else(|| missing("ReferencedSegmentNumber"))?;
            let position = in_groups(
                own,
                shared,
                tags::PLANE_POSITION_SEQUENCE,
                tags::IMAGE_POSITION_PATIENT,
            )
            .filter(|v| v.len() == 3)
            .ok_or_else(|| missing("ImagePositionPatient"))?;
            let orientation = in_groups(
                own,
                shared,
                tags::PLANE_ORIENTATION_SEQUENCE,
                tags::IMAGE_ORIENTATION_PATIENT,
            )
            .filter(|v| v.len() == 6)
            .ok_or_else(|| missing("ImageOrientationPatient"))?;
            let spacing = in_groups(
                own,
                shared,
                tags::PIXEL_MEASURES_SEQUENCE,
                tags::PIXEL_SPACING,
            )
            .filter(|v| v.len() == 2)
            .ok_or_else(|| missing("PixelSpacing"))?;
            Ok(Frame {
                segment: segment as u16,
                position_lps: [position[0], position[1], position[2]],
                orientation_lps: std::array::from_fn(|i| orientation[i]),
                pixel_spacing_mm: [spacing[0], spacing[1]],
                pixels: (0..per_frame)
                    .map(|i| bit(&bytes, f * per_frame + i))
                    .collect(),
            })
        })
        .collect::<Result<Vec<Frame>>>()?;
    Ok(DicomSeg {
        path: path.to_path_buf(),
        segments,
        rows,
        columns,
        frames,
    })
}

impl DicomSeg {
    /// The segments as values on the grid of `shape` and `world_from_voxel` (RAS+): each set
    /// pixel of a frame of segment n sets its voxel to `value_of(n)`. Refused when a frame lies
    /// off the grid's voxel centres or outside it, or when two segments claim one voxel.
    pub fn labels_on_grid(
        &self,
        shape: [usize; 3],
        world_from_voxel: &Affine,
        value_of: impl Fn(u16) -> u16,
    ) -> Result<Vec<u16>> {
        let inv = voxel_from_world(world_from_voxel)
            .ok_or_else(|| Error::file("the case's affine is singular", &self.path))?;
        let to_voxel = |lps: [f64; 3]| {
            let ras = [-lps[0], -lps[1], lps[2]];
            [0, 1, 2].map(|r| (0..3).map(|c| inv[r][c] * ras[c]).sum::<f64>() + inv[r][3])
        };
        let mut out = vec![0u16; shape[0] * shape[1] * shape[2]];
        for (f, frame) in self.frames.iter().enumerate() {
            let o = frame.orientation_lps;
            let [dr, dc] = frame.pixel_spacing_mm;
            let step = |d: [f64; 3], mm: f64| {
                let v = to_voxel([d[0] * mm, d[1] * mm, d[2] * mm]);
                let zero = to_voxel([0.0; 3]);
                [0, 1, 2].map(|i| v[i] - zero[i])
            };
            let along_row = step([o[0], o[1], o[2]], dc);
            let along_column = step([o[3], o[4], o[5]], dr);
            let origin = to_voxel(frame.position_lps);
            let value = value_of(frame.segment);
            for r in 0..self.rows {
                for c in 0..self.columns {
                    if !frame.pixels[r * self.columns + c] {
                        continue;
                    }
                    let ijk = [0, 1, 2]
                        .map(|i| origin[i] + c as f64 * along_row[i] + r as f64 * along_column[i]);
                    let index = self.voxel_index(ijk, shape, f)?;
                    if out[index] != 0 && out[index] != value {
                        return Err(Error::file(
                            format!(
                                "segments overlap (frame {} of segment {} on a voxel already labelled); the plan's labels are exclusive",
                                f + 1,
                                frame.segment
                            ),
                            &self.path,
                        ));
                    }
                    out[index] = value;
                }
            }
        }
        Ok(out)
    }

    /// The index of voxel `ijk` (fractional, from frame `f`), refused off the grid.
    fn voxel_index(&self, ijk: [f64; 3], shape: [usize; 3], f: usize) -> Result<usize> {
        let off = ijk
            .iter()
            .map(|x| (x - x.round()).abs())
            .fold(0.0, f64::max);
        if off > ON_GRID_TOLERANCE {
            return Err(Error::file(
                format!(
                    "frame {} lies between the case's voxels ({off:.2} voxel off its grid): the SEG was made on another image",
                    f + 1
                ),
                &self.path,
            ));
        }
        let [i, j, k] = ijk.map(|x| x.round());
        let inside = [i, j, k]
            .iter()
            .zip(shape)
            .all(|(&x, n)| x >= 0.0 && x < n as f64);
        if !inside {
            return Err(Error::file(
                format!(
                    "frame {} reaches outside the case's grid (voxel {i}, {j}, {k} of {}×{}×{}): the SEG was made on another image",
                    f + 1,
                    shape[0],
                    shape[1],
                    shape[2]
                ),
                &self.path,
            ));
        }
        Ok(i as usize + shape[0] * (j as usize + shape[1] * k as usize))
    }
}
