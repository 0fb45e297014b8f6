//! One DICOM series as a volume: slices sorted by their position along the normal, the geometry
//! checked (one orientation, no gantry tilt, uniform spacing, no missing slice), the affine built
//! from ImagePositionPatient / ImageOrientationPatient / PixelSpacing, RescaleSlope/Intercept
//! applied.

use std::path::Path;

use dicom_encoding::TransferSyntaxIndex;
use dicom_object::OpenFileOptions;
use dicom_pixeldata::{ConvertOptions, ModalityLutOption, PixelDecoder};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::dicom_scan::{DicomFolder, DicomSeries, DicomSlice, scan_dicom_folder};
use super::geometry::{Affine, orientation_code};
use super::nifti_write::header_for_geometry;
use super::volume::{Volume, VoxelData};
use crate::error::{Error, Result};

/// Direction cosines may differ by this much between slices of one series.
const ORIENTATION_TOLERANCE: f64 = 1e-4;
/// Slice gaps may differ from the median gap by this fraction (and at least 0.01 mm).
pub const SPACING_TOLERANCE: f64 = 0.01;

/// Where a series' voxels lie: shape, spacing, affine, and the images in slice order.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesGeometry {
    /// Columns, rows, slices.
    pub shape: [usize; 3],
    /// Column spacing, row spacing, slice spacing (mm).
    pub spacing_mm: [f64; 3],
    /// Voxel index → world (RAS+, mm), as NIfTI.
    pub world_from_voxel: Affine,
    /// The images for k = 0, 1, …: ascending position along the slice normal.
    pub slices: Vec<DicomSlice>,
}

impl SeriesGeometry {
    /// SOPInstanceUID of each slice k.
    pub fn sop_instance_uids(&self) -> Vec<String> {
        self.slices
            .iter()
            .map(|s| s.sop_instance_uid.clone())
            .collect()
    }

    /// Orientation code of the affine ("LPS", …).
    pub fn orientation(&self) -> String {
        orientation_code(&self.world_from_voxel)
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// The transfer syntax's name, and whether this build decodes its pixel data.
pub fn transfer_syntax_support(uid: &str) -> (String, bool) {
    match TransferSyntaxRegistry.get(uid) {
        Some(ts) => (
            format!("{} ({uid})", ts.name()),
            ts.can_decode_all() && !ts.is_unsupported_pixel_encapsulation(),
        ),
        None => (format!("unknown transfer syntax {uid}"), false),
    }
}

/// Checks the series and sorts its slices; every refusal names the folder and what is wrong.
pub fn series_geometry(series: &DicomSeries, folder: &Path) -> Result<SeriesGeometry> {
    let name = if series.series_uid.is_empty() {
        "DICOM series".to_string()
    } else {
        format!("DICOM series {}", series.series_uid)
    };
    let fail = |msg: String| Error::file(format!("{name}: {msg}"), folder);
    let first = series
        .slices
        .first()
        .ok_or_else(|| fail("holds no image".into()))?;
    for s in &series.slices {
        if s.frames > 1 {
            return Err(fail(format!(
                "{} is a multi-frame image ({} frames); only one image per file is read",
                file_name(&s.path),
                s.frames
            )));
        }
        if s.samples_per_pixel != 1 {
            return Err(fail(format!(
                "{} is a colour image ({} samples per pixel); only greyscale CT/MR is read",
                file_name(&s.path),
                s.samples_per_pixel
            )));
        }
        if (s.rows, s.columns) != (first.rows, first.columns) {
            return Err(fail(format!(
                "images differ in size: {} is {}×{}, {} is {}×{}",
                file_name(&first.path),
                first.columns,
                first.rows,
                file_name(&s.path),
                s.columns,
                s.rows
            )));
        }
        let (name, decodable) = transfer_syntax_support(&s.transfer_syntax_uid);
        if !decodable {
            return Err(fail(format!(
                "{} is encoded as {name}, which this build cannot decode (it reads uncompressed, deflated, JPEG baseline/extended/lossless, JPEG 2000 and RLE); convert the series, e.g. with `gdcmconv --raw`",
                file_name(&s.path)
            )));
        }
    }
    let missing =
        |what: &str, s: &DicomSlice| fail(format!("{} has no {what}", file_name(&s.path)));
    let orientation = first
        .orientation_lps
        .ok_or_else(|| missing("ImageOrientationPatient", first))?;
    let pixel_spacing = first
        .pixel_spacing_mm
        .ok_or_else(|| missing("PixelSpacing", first))?;
    for s in &series.slices {
        let o = s
            .orientation_lps
            .ok_or_else(|| missing("ImageOrientationPatient", s))?;
        if o.iter()
            .zip(&orientation)
            .any(|(a, b)| (a - b).abs() > ORIENTATION_TOLERANCE)
        {
            return Err(fail(format!(
                "mixed orientations: {} has {:?}, {} has {:?}",
                file_name(&first.path),
                orientation,
                file_name(&s.path),
                o
            )));
        }
        let ps = s
            .pixel_spacing_mm
            .ok_or_else(|| missing("PixelSpacing", s))?;
        if (ps[0] - pixel_spacing[0]).abs() > 1e-4 || (ps[1] - pixel_spacing[1]).abs() > 1e-4 {
            return Err(fail(format!(
                "pixel spacing differs: {} has {:?} mm, {} has {:?} mm",
                file_name(&first.path),
                pixel_spacing,
                file_name(&s.path),
                ps
            )));
        }
        s.position_lps
            .ok_or_else(|| missing("ImagePositionPatient", s))?;
    }
    if pixel_spacing.iter().any(|&p| p <= 0.0) {
        return Err(fail(format!(
            "PixelSpacing {pixel_spacing:?} is not positive"
        )));
    }
    let row_dir = [orientation[0], orientation[1], orientation[2]];
    let col_dir = [orientation[3], orientation[4], orientation[5]];
    let normal = cross(row_dir, col_dir);
    let norm = dot(normal, normal).sqrt();
    if !(0.99..=1.01).contains(&norm) || dot(row_dir, col_dir).abs() > 1e-3 {
        return Err(fail(format!(
            "ImageOrientationPatient {orientation:?} is not two perpendicular unit vectors"
        )));
    }
    let normal = normal.map(|v| v / norm);
    let mut slices = series.slices.clone();
    let along = |s: &DicomSlice| dot(s.position_lps.unwrap_or_default(), normal);
    slices.sort_by(|a, b| along(a).total_cmp(&along(b)));
    let positions: Vec<f64> = slices.iter().map(along).collect();
    let slice_spacing = if slices.len() == 1 {
        first
            .spacing_between_mm
            .or(first.thickness_mm)
            .filter(|v| *v > 0.0)
            .unwrap_or(1.0)
    } else {
        check_slice_positions(&slices, &positions, normal).map_err(fail)?
    };
    // Voxel (i = column, j = row, k = slice) → LPS, then LPS → RAS (negate x and y).
    let origin = slices[0].position_lps.unwrap_or_default();
    let lps_columns = [
        row_dir.map(|v| v * pixel_spacing[1]),
        col_dir.map(|v| v * pixel_spacing[0]),
        normal.map(|v| v * slice_spacing),
    ];
    let sign = [-1.0, -1.0, 1.0];
    let mut world_from_voxel: Affine = [[0.0; 4]; 4];
    for r in 0..3 {
        for (c, column) in lps_columns.iter().enumerate() {
            world_from_voxel[r][c] = sign[r] * column[r];
        }
        world_from_voxel[r][3] = sign[r] * origin[r];
    }
    world_from_voxel[3][3] = 1.0;
    Ok(SeriesGeometry {
        shape: [first.columns, first.rows, slices.len()],
        spacing_mm: [pixel_spacing[1], pixel_spacing[0], slice_spacing],
        world_from_voxel,
        slices,
    })
}

/// Refuses duplicates, gantry tilt, missing slices and non-uniform gaps; returns the gap (mm).
fn check_slice_positions(
    slices: &[DicomSlice],
    positions: &[f64],
    normal: [f64; 3],
) -> std::result::Result<f64, String> {
    let gaps: Vec<f64> = positions.windows(2).map(|w| w[1] - w[0]).collect();
    let mut sorted = gaps.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let name = |k: usize| file_name(&slices[k].path);
    for (k, &gap) in gaps.iter().enumerate() {
        if gap < 1e-3 {
            return Err(format!(
                "{} and {} lie at the same position ({:.3} mm along the normal): several acquisitions, echoes or phases in one series are not a volume",
                name(k),
                name(k + 1),
                positions[k]
            ));
        }
    }
    let tolerance = (SPACING_TOLERANCE * median).max(0.01);
    for (k, &gap) in gaps.iter().enumerate() {
        let a = slices[k].position_lps.unwrap_or_default();
        let b = slices[k + 1].position_lps.unwrap_or_default();
        let step = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
        let in_plane = [
            step[0] - gap * normal[0],
            step[1] - gap * normal[1],
            step[2] - gap * normal[2],
        ];
        let shift = dot(in_plane, in_plane).sqrt();
        if shift > tolerance.max(0.01 * gap) {
            return Err(format!(
                "gantry tilt or sheared stack: from {} to {} the slice moves {shift:.2} mm within its plane ({:.1}°); resample it to an orthogonal grid first",
                name(k),
                name(k + 1),
                shift.atan2(gap).to_degrees()
            ));
        }
    }
    for (k, &gap) in gaps.iter().enumerate() {
        if (gap - median).abs() <= tolerance {
            continue;
        }
        let ratio = gap / median;
        if ratio > 1.5 && (ratio - ratio.round()).abs() * median <= tolerance {
            return Err(format!(
                "{} slice(s) missing between {} and {} ({gap:.3} mm apart, the others {median:.3} mm)",
                ratio.round() as usize - 1,
                name(k),
                name(k + 1)
            ));
        }
        return Err(format!(
            "non-uniform slice spacing: {} and {} (slices {k} and {}) are {gap:.3} mm apart, the median gap is {median:.3} mm (tolerance {tolerance:.3} mm)",
            name(k),
            name(k + 1),
            k + 1
        ));
    }
    Ok(positions
        .last()
        .zip(positions.first())
        .map(|(l, f)| (l - f) / (positions.len() - 1) as f64)
        .unwrap_or(median))
}

/// Reads series `uid` (or the folder's only series) as a volume in the NIfTI conventions.
pub fn read_dicom_series(folder: impl AsRef<Path>, uid: Option<&str>) -> Result<Volume> {
    read_scanned_series(&scan_dicom_folder(folder)?, uid)
}

/// `read_dicom_series` from a scan of the folder made before (`dataset::DicomScans`).
pub fn read_scanned_series(scanned: &DicomFolder, uid: Option<&str>) -> Result<Volume> {
    let folder = scanned.folder.as_path();
    let series = scanned.pick(uid)?;
    let geometry = series_geometry(series, folder)?;
    let started = std::time::Instant::now();
    let volume = read_voxels(&geometry)?;
    tracing::debug!(
        target: "sliceplan",
        "read DICOM series {} ({} images, {}) from {} in {:.2} s",
        series.series_uid,
        geometry.slices.len(),
        volume.dtype_name(),
        folder.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(volume)
}

/// Header facts of series `uid` (or the only one) without decoding pixels.
pub fn read_dicom_geometry(folder: impl AsRef<Path>, uid: Option<&str>) -> Result<SeriesGeometry> {
    scanned_geometry(&scan_dicom_folder(folder)?, uid)
}

/// `read_dicom_geometry` from a scan of the folder made before.
pub fn scanned_geometry(scanned: &DicomFolder, uid: Option<&str>) -> Result<SeriesGeometry> {
    series_geometry(scanned.pick(uid)?, &scanned.folder)
}

/// The stored type a series is read into.
enum OutputType {
    I16,
    I32,
    F32,
}

/// int16 when integer rescaling keeps every possible value in range (as CT is stored), int32
/// when it keeps them in that range, float32 otherwise.
fn output_type(slices: &[DicomSlice]) -> OutputType {
    let mut integral = true;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for s in slices {
        let (slope, intercept) = s.rescale;
        integral &= slope.fract() == 0.0 && intercept.fract() == 0.0;
        let bits = s.bits_stored.min(32) as i32;
        let (raw_lo, raw_hi) = if s.signed {
            (-(2f64.powi(bits - 1)), 2f64.powi(bits - 1) - 1.0)
        } else {
            (0.0, 2f64.powi(bits) - 1.0)
        };
        for v in [raw_lo * slope + intercept, raw_hi * slope + intercept] {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !integral {
        OutputType::F32
    } else if lo >= i16::MIN as f64 && hi <= i16::MAX as f64 {
        OutputType::I16
    } else if lo >= i32::MIN as f64 && hi <= i32::MAX as f64 {
        OutputType::I32
    } else {
        OutputType::F32
    }
}

/// A voxel type a series is read into.
trait OutputSample: Copy + Default + Send + Sync {
    fn from_f64(v: f64) -> Self;
}

impl OutputSample for i16 {
    fn from_f64(v: f64) -> Self {
        v as i16
    }
}

impl OutputSample for i32 {
    fn from_f64(v: f64) -> Self {
        v as i32
    }
}

impl OutputSample for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

/// Raw stored value of `bits` significant bits (higher bits masked, sign extended).
#[inline]
fn stored_value(raw: u32, bits: u16, signed: bool) -> f64 {
    let bits = bits.min(32) as u32;
    if bits == 32 {
        return if signed {
            raw as i32 as f64
        } else {
            raw as f64
        };
    }
    let masked = raw & ((1u32 << bits) - 1);
    if signed && masked & (1 << (bits - 1)) != 0 {
        (masked as i64 - (1i64 << bits)) as f64
    } else {
        masked as f64
    }
}

/// Transfer syntaxes whose pixel data is plain little-endian samples.
const NATIVE_LITTLE_ENDIAN: [&str; 3] = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.99",
];

/// Decodes one image into `out` (its pixels, rescaled).
fn decode_slice<T: OutputSample>(s: &DicomSlice, out: &mut [T]) -> Result<()> {
    use dicom_core::PrimitiveValue;
    use dicom_core::value::Value;
    let path = &s.path;
    let obj = OpenFileOptions::new()
        .open_file(path)
        .map_err(|e| Error::file(format!("unreadable DICOM file ({e})"), path))?;
    let (slope, intercept) = s.rescale;
    let put = |out: &mut [T], raw: &mut dyn Iterator<Item = u32>| -> usize {
        let mut n = 0;
        for (o, r) in out.iter_mut().zip(raw) {
            *o = T::from_f64(stored_value(r, s.bits_stored, s.signed) * slope + intercept);
            n += 1;
        }
        n
    };
    // Uncompressed 8/16-bit samples are read straight from the element.
    if NATIVE_LITTLE_ENDIAN.contains(&s.transfer_syntax_uid.as_str())
        && let Ok(element) = obj.element(dicom_dictionary_std::tags::PIXEL_DATA)
    {
        let written = match (element.value(), s.bits_allocated) {
            (Value::Primitive(PrimitiveValue::U16(v)), 16) => {
                Some(put(out, &mut v.iter().map(|&x| x as u32)))
            }
            (Value::Primitive(PrimitiveValue::I16(v)), 16) => {
                Some(put(out, &mut v.iter().map(|&x| x as u16 as u32)))
            }
            (Value::Primitive(PrimitiveValue::U8(v)), 16) => Some(put(
                out,
                &mut v
                    .chunks_exact(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]) as u32),
            )),
            (Value::Primitive(PrimitiveValue::U8(v)), 8) => {
                Some(put(out, &mut v.iter().map(|&x| x as u32)))
            }
            _ => None,
        };
        if let Some(n) = written {
            if n != out.len() {
                return Err(Error::file(
                    format!(
                        "pixel data holds {n} values, the header says {}×{}",
                        s.columns, s.rows
                    ),
                    path,
                ));
            }
            return Ok(());
        }
    }
    // Everything else (compressed, other sample sizes) through dicom-pixeldata.
    let decoded = obj
        .decode_pixel_data()
        .map_err(|e| Error::file(format!("cannot decode the pixel data ({e})"), path))?;
    let raw: Vec<f64> = decoded
        .to_vec_with_options(&ConvertOptions::new().with_modality_lut(ModalityLutOption::None))
        .map_err(|e| Error::file(format!("cannot convert the pixel data ({e})"), path))?;
    if raw.len() != out.len() {
        return Err(Error::file(
            format!(
                "pixel data holds {} values, the header says {}×{}",
                raw.len(),
                s.columns,
                s.rows
            ),
            path,
        ));
    }
    for (o, v) in out.iter_mut().zip(raw) {
        *o = T::from_f64(v * slope + intercept);
    }
    Ok(())
}

/// Decodes every slice into one buffer, slices spread over the cores.
fn decode_all<T: OutputSample>(geometry: &SeriesGeometry) -> Result<Vec<T>> {
    let [nx, ny, nz] = geometry.shape;
    let per_slice = nx * ny;
    let mut data = vec![T::default(); per_slice * nz];
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(nz.max(1));
    let slices_per_thread = nz.div_ceil(threads).max(1);
    let errors: Vec<Error> = std::thread::scope(|scope| {
        let handles: Vec<_> = data
            .chunks_mut(per_slice * slices_per_thread)
            .zip(geometry.slices.chunks(slices_per_thread))
            .map(|(out, slices)| {
                scope.spawn(move || -> Result<()> {
                    for (o, s) in out.chunks_mut(per_slice).zip(slices) {
                        decode_slice(s, o)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| match h.join() {
                Ok(r) => r.err(),
                Err(_) => Some(Error::invalid("a DICOM decoding thread panicked")),
            })
            .collect()
    });
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(data),
    }
}

/// Decodes every slice of a checked series, in the stored type `output_type` picks.
pub fn read_voxels(geometry: &SeriesGeometry) -> Result<Volume> {
    let data = match output_type(&geometry.slices) {
        OutputType::I16 => VoxelData::I16(decode_all(geometry)?),
        OutputType::I32 => VoxelData::I32(decode_all(geometry)?),
        OutputType::F32 => VoxelData::F32(decode_all(geometry)?),
    };
    let mut header = header_for_geometry(
        geometry.shape,
        geometry.spacing_mm,
        &geometry.world_from_voxel,
    );
    header.datatype = match &data {
        VoxelData::I16(_) => 4,
        VoxelData::I32(_) => 8,
        _ => 16,
    };
    Ok(Volume {
        shape: geometry.shape,
        spacing_mm: geometry.spacing_mm,
        world_from_voxel: geometry.world_from_voxel,
        data,
        scaling: None,
        source_dtype: None,
        header,
    })
}
