//! One returned mask, in whichever form the annotator's tool saved it — NIfTI (ITK-SNAP, most
//! tools), NRRD or `.seg.nrrd` (3D Slicer's default), DICOM SEG (OHIF and others) — read as the
//! dataset's label values on the case's voxel grid. NIfTI and NRRD masks must lie on the grid
//! (a mask flipped, permuted or resampled by the tool is refused, naming both files); one that
//! covers a block of the grid (Slicer crops a segmentation to its extent) is placed by its
//! origin. DICOM SEG frames are placed by their world positions.

use std::path::{Path, PathBuf};

use super::segments::{nrrd_segments, seg_nrrd_labels, unknown_segment, value_of_name};
use crate::dataset::{CaseGeometry, Dataset, check_on_grid};
use crate::error::{Error, Result};
use crate::io::geometry::{voxel_from_world, voxel_to_world};
use crate::io::{Volume, VoxelData, read_dicom_seg, read_nifti, read_nrrd};

/// The forms a returned mask is read in, by file ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskFormat {
    /// `.nii` / `.nii.gz`.
    Nifti,
    /// `.nrrd` / `.seg.nrrd` (3D Slicer).
    Nrrd,
    /// A DICOM SEG object.
    DicomSeg,
}

impl MaskFormat {
    /// File endings tried for a case's returned mask, in order.
    pub const ENDINGS: [&'static str; 5] = ["nii.gz", "nii", "seg.nrrd", "nrrd", "dcm"];

    /// The format of the file at `path`, by its ending.
    pub fn of(path: &Path) -> Option<MaskFormat> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".nii.gz") || name.ends_with(".nii") {
            Some(MaskFormat::Nifti)
        } else if name.ends_with(".nrrd") {
            Some(MaskFormat::Nrrd)
        } else if name.ends_with(".dcm") {
            Some(MaskFormat::DicomSeg)
        } else {
            None
        }
    }
}

/// The returned mask of `case_id` in `dir` (`CASE.nii.gz`, `.nii`, `.seg.nrrd`, `.nrrd` or
/// `.dcm`, or any of them under `labelsTr/`).
pub fn find_mask(dir: &Path, case_id: &str) -> Option<PathBuf> {
    [dir.to_path_buf(), dir.join("labelsTr")]
        .iter()
        .flat_map(|d| {
            MaskFormat::ENDINGS
                .iter()
                .map(move |e| d.join(format!("{case_id}.{e}")))
        })
        .find(|p| p.is_file())
}

/// The returned mask at `path` of case `case_id` as the dataset's label values on the case's
/// grid. Segments (`.seg.nrrd`, DICOM SEG) are mapped by name; "not planned" becomes `ignore`
/// (0 when none is given).
pub fn read_mask_on_grid(
    dataset: &Dataset,
    case_id: &str,
    path: &Path,
    ignore: Option<u16>,
) -> Result<Volume> {
    let index = dataset.require_case(case_id)?;
    let grid = dataset.geometry(index)?;
    let image_path = PathBuf::from(dataset.cases[index].image.display_path());
    let ignore = ignore.unwrap_or(0);
    let format = MaskFormat::of(path).ok_or_else(|| {
        Error::file(
            "not a mask file this reads (NIfTI, NRRD, .seg.nrrd or DICOM SEG .dcm)",
            path,
        )
    })?;
    let mask = match format {
        MaskFormat::Nifti => read_nifti(path)?,
        MaskFormat::Nrrd => {
            let nrrd = read_nrrd(path)?;
            if nrrd_segments(&nrrd).is_empty() {
                nrrd.layers
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::file("the NRRD holds no volume", path))?
            } else {
                seg_nrrd_labels(&nrrd, &dataset.label_names, ignore, path)?
            }
        }
        MaskFormat::DicomSeg => return dicom_seg_on_grid(dataset, &grid, path, ignore),
    };
    place_on_grid(mask, &grid, &image_path, path)
}

/// A DICOM SEG's segments on the case's grid, by name.
fn dicom_seg_on_grid(
    dataset: &Dataset,
    grid: &CaseGeometry,
    path: &Path,
    ignore: u16,
) -> Result<Volume> {
    let seg = read_dicom_seg(path)?;
    let mut values = std::collections::BTreeMap::new();
    for s in &seg.segments {
        let value = value_of_name(&s.label, &dataset.label_names, ignore)
            .ok_or_else(|| unknown_segment(&s.label, &dataset.label_names, path))?;
        values.insert(s.number, value);
    }
    let labels = seg.labels_on_grid(grid.shape, &grid.world_from_voxel, |n| {
        values.get(&n).copied().unwrap_or(0)
    })?;
    Ok(Volume::new(
        grid.shape,
        grid.spacing_mm,
        grid.world_from_voxel,
        VoxelData::U16(labels),
    ))
}

/// Where `mask` starts inside `grid` when it is a block of it (same axes and spacing, its
/// origin on a voxel of the grid, inside it); None otherwise.
fn block_offset(mask: &Volume, grid: &CaseGeometry) -> Option<[usize; 3]> {
    let scale = grid.spacing_mm.iter().fold(1.0f64, |m, s| m.max(*s));
    let same_axes = (0..3).all(|r| {
        (0..3).all(|c| {
            (mask.world_from_voxel[r][c] - grid.world_from_voxel[r][c]).abs() < 1e-3 * scale
        })
    });
    if !same_axes {
        return None;
    }
    let inverse = voxel_from_world(&grid.world_from_voxel)?;
    let origin = [0, 1, 2].map(|r| mask.world_from_voxel[r][3]);
    let at = voxel_to_world(&inverse, origin);
    let mut offset = [0usize; 3];
    for a in 0..3 {
        let rounded = at[a].round();
        // Compared as floats: a far-off origin must not wrap around when made an index.
        let fits = (at[a] - rounded).abs() < 1e-3
            && rounded >= 0.0
            && rounded + mask.shape[a] as f64 <= grid.shape[a] as f64;
        if !fits {
            return None;
        }
        offset[a] = rounded as usize;
    }
    Some(offset)
}

/// `mask` on the case's grid: as it is when it lies on it, pasted into a grid of zeros when it is
/// a block of it, refused otherwise (naming both files and the difference).
fn place_on_grid(
    mask: Volume,
    grid: &CaseGeometry,
    image_path: &Path,
    mask_path: &Path,
) -> Result<Volume> {
    let on_grid = check_on_grid(
        grid.shape,
        &grid.world_from_voxel,
        &mask,
        image_path,
        mask_path,
    );
    if on_grid.is_ok() || mask.shape == grid.shape {
        return on_grid.map(|()| mask);
    }
    let Some(offset) = block_offset(&mask, grid) else {
        return on_grid.map(|()| mask);
    };
    let [nx, ny, _] = grid.shape;
    let mut labels = vec![0u16; grid.shape.iter().product()];
    let [mx, my, mz] = mask.shape;
    for k in 0..mz {
        for j in 0..my {
            for i in 0..mx {
                let v = mask
                    .value(mask.index(i, j, k))
                    .round()
                    .clamp(0.0, u16::MAX as f64);
                let (gi, gj, gk) = (i + offset[0], j + offset[1], k + offset[2]);
                labels[gi + nx * (gj + ny * gk)] = v as u16;
            }
        }
    }
    Ok(Volume::new(
        grid.shape,
        grid.spacing_mm,
        grid.world_from_voxel,
        VoxelData::U16(labels),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> CaseGeometry {
        CaseGeometry {
            shape: [6, 5, 4],
            spacing_mm: [2.0, 1.0, 4.0],
            orientation: "RAS".into(),
            dtype: "uint8".into(),
            world_from_voxel: [
                [2.0, 0.0, 0.0, 10.0],
                [0.0, 1.0, 0.0, -5.0],
                [0.0, 0.0, 4.0, 3.0],
                [0.0, 0.0, 0.0, 1.0],
            ],
        }
    }

    fn block(shape: [usize; 3], origin: [f64; 3]) -> Volume {
        let g = grid();
        let mut affine = g.world_from_voxel;
        for r in 0..3 {
            affine[r][3] = origin[r];
        }
        let n = shape.iter().product();
        Volume::new(shape, g.spacing_mm, affine, VoxelData::U8(vec![1; n]))
    }

    #[test]
    fn a_block_is_placed_by_its_origin_and_a_far_one_is_not() {
        // Voxel (2, 1, 1) of the grid is at (14, -4, 7).
        assert_eq!(
            block_offset(&block([4, 4, 3], [14.0, -4.0, 7.0]), &grid()),
            Some([2, 1, 1])
        );
        // One voxel too long, between voxels, or a fuzzed origin 2.3e19 mm away (whose offset
        // would wrap around as an index): not a block of the grid.
        assert_eq!(
            block_offset(&block([5, 4, 3], [14.0, -4.0, 7.0]), &grid()),
            None
        );
        assert_eq!(
            block_offset(&block([2, 2, 2], [14.5, -4.0, 7.0]), &grid()),
            None
        );
        assert_eq!(
            block_offset(&block([1, 5, 4], [10.0, 2.3e19, 3.0]), &grid()),
            None
        );
    }
}
