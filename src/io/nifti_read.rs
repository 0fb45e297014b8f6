//! Reading NIfTI-1 files (`.nii`, `.nii.gz`, `.hdr`/`.img` pairs), any datatype and byte order.
//!
//! The header is parsed by the `nifti` crate (`nifti_header.rs`); the voxels are inflated straight into a vector of
//! their stored type (no intermediate byte copy), after every size check has passed: a
//! single-file `.nii.gz` of a plain numeric type by libdeflate in place (`gz_in_place`), any
//! other file (or a stream that path steps aside for) by streaming zlib-rs.

use std::io::Read;
use std::path::{Path, PathBuf};

use nifti::NiftiHeader;

use super::gz_in_place;
pub use super::nifti_header::{NiftiInfo, read_nifti_info};
use super::nifti_header::{datatype_info, info_from_header, open_file, parse_header, read_full};
use super::volume::{Volume, VoxelData};
use crate::error::{Error, Result};

fn available_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(64 << 30)
}

/// The `.img` file beside a `.hdr` header.
fn image_file_for(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".hdr.gz")
        .or_else(|| name.strip_suffix(".hdr"))?;
    [".img", ".img.gz"]
        .iter()
        .map(|ext| path.with_file_name(format!("{stem}{ext}")))
        .find(|p| p.exists())
}

fn swap_in_place<T: bytemuck::Pod>(values: &mut [T], size: usize) {
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(values);
    for chunk in bytes.chunks_exact_mut(size) {
        chunk.reverse();
    }
}

/// Reads `n` values of `T` into a new vector, byte-swapping if the file's byte order differs.
fn read_typed<T: bytemuck::Pod + Default>(
    reader: &mut dyn Read,
    n: usize,
    swap: bool,
    path: &Path,
    gz: bool,
) -> Result<Vec<T>> {
    let mut values = vec![T::default(); n];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut values);
    let want = bytes.len();
    let got = read_full(reader, bytes, path, gz)?;
    if got < want {
        return Err(Error::file(
            format!("truncated voxel data: {got} of {want} bytes present"),
            path,
        ));
    }
    if swap && std::mem::size_of::<T>() > 1 {
        swap_in_place(&mut values, std::mem::size_of::<T>());
    }
    Ok(values)
}

/// IEEE binary128 bytes (in native order after swapping) to f64.
fn f128_to_f64(bytes: &[u8]) -> f64 {
    let mut b = [0u8; 16];
    b.copy_from_slice(bytes);
    let bits = if cfg!(target_endian = "little") {
        u128::from_le_bytes(b)
    } else {
        u128::from_be_bytes(b)
    };
    let sign = if bits >> 127 == 1 { -1.0 } else { 1.0 };
    let exponent = ((bits >> 112) & 0x7fff) as i32;
    let mantissa = (bits & ((1u128 << 112) - 1)) as f64 / (1u128 << 112) as f64;
    match exponent {
        0 => sign * mantissa * 2f64.powi(-16382),
        0x7fff if mantissa == 0.0 => sign * f64::INFINITY,
        0x7fff => f64::NAN,
        e => sign * (1.0 + mantissa) * 2f64.powi(e - 16383),
    }
}

/// Reads a NIfTI-1 volume.
///
/// Errors name the file and the problem: truncation, wrong magic, NIfTI-2, invalid or
/// unaffordable dimensions, unknown datatype, corrupt compression.
pub fn read_nifti(path: impl AsRef<Path>) -> Result<Volume> {
    read_nifti_with(path.as_ref(), true)
}

/// `read_nifti`, with the in-place inflate allowed or not (the streaming reader alone).
fn read_nifti_with(path: &Path, in_place: bool) -> Result<Volume> {
    let (mut reader, gz) = open_file(path)?;
    let header = parse_header(reader.as_mut(), path, gz)?;
    let info = info_from_header(header, path)?;
    let header = info.header.clone();
    let (_, bytes_per_voxel) = datatype_info(header.datatype).unwrap_or(("", 1));
    let n = info
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let n = n.ok_or_else(|| Error::file("dimensions overflow", path))?;
    let data_bytes = (n as u128) * bytes_per_voxel as u128;
    let available = available_memory_bytes() as u128;
    if data_bytes > available {
        return Err(Error::file(
            format!(
                "volume of {}×{}×{} {} voxels needs {:.1} GB, more than the {:.1} GB of memory available",
                info.shape[0],
                info.shape[1],
                info.shape[2],
                info.dtype,
                data_bytes as f64 / 1e9,
                available as f64 / 1e9
            ),
            path,
        ));
    }
    let vox_offset = header.vox_offset.max(0.0) as u64;
    let swap = header.endianness != nifti::Endianness::native();
    if in_place
        && gz
        && &header.magic == b"n+1\0"
        && vox_offset >= 348
        && let Some(data) = read_in_place(path, vox_offset as usize, n, header.datatype, swap)?
    {
        return Ok(finish(info, header, data, None));
    }
    // Position the streaming reader at the voxels.
    let (mut reader, gz, data_path, skip) = if &header.magic == b"ni1\0" {
        let img = image_file_for(path)
            .ok_or_else(|| Error::file("header-only NIfTI (.hdr) without its .img file", path))?;
        let (r, g) = open_file(&img)?;
        (r, g, img, vox_offset)
    } else {
        if vox_offset < 348 {
            return Err(Error::file(
                format!("invalid vox_offset {vox_offset} (must be at least 348)"),
                path,
            ));
        }
        (reader, gz, path.to_path_buf(), vox_offset - 348)
    };
    if !gz {
        let file_len = std::fs::metadata(&data_path)
            .map_err(|e| Error::io("cannot read file size", &data_path, e))?
            .len() as u128;
        let start = if data_path == path { vox_offset } else { skip } as u128;
        if file_len < start + data_bytes {
            return Err(Error::file(
                format!(
                    "truncated voxel data: the header needs {} bytes after offset {start}, the file has {}",
                    data_bytes,
                    file_len.saturating_sub(start)
                ),
                &data_path,
            ));
        }
    }
    let skipped = std::io::copy(&mut reader.as_mut().take(skip), &mut std::io::sink())
        .map_err(|e| Error::io("cannot read file", &data_path, e))?;
    if skipped < skip {
        return Err(Error::file(
            "truncated file: ends before the voxel data starts",
            &data_path,
        ));
    }
    let r = reader.as_mut();
    let p = data_path.as_path();
    let mut source_dtype = None;
    let plain = plain_voxels(
        header.datatype,
        n,
        &mut Streaming {
            reader: &mut *r,
            swap,
            path: p,
            gz,
        },
    )?;
    let data = match (plain, header.datatype) {
        (Some(data), _) => data,
        (None, 32) => {
            let pairs: Vec<f32> = read_typed(r, 2 * n, swap, p, gz)?;
            source_dtype = Some("complex64 (read as magnitude)".to_string());
            VoxelData::F32(pairs.chunks_exact(2).map(|c| c[0].hypot(c[1])).collect())
        }
        (None, 1792) => {
            let pairs: Vec<f64> = read_typed(r, 2 * n, swap, p, gz)?;
            source_dtype = Some("complex128 (read as magnitude)".to_string());
            VoxelData::F64(pairs.chunks_exact(2).map(|c| c[0].hypot(c[1])).collect())
        }
        (None, 1536 | 2048) => {
            let parts = if header.datatype == 1536 { 1 } else { 2 };
            let mut raw: Vec<u8> = read_typed(r, 16 * parts * n, false, p, gz)?;
            if swap {
                swap_in_place(&mut raw, 16);
            }
            let values: Vec<f64> = raw.chunks_exact(16).map(f128_to_f64).collect();
            if parts == 1 {
                source_dtype = Some("float128 (read as float64)".to_string());
                VoxelData::F64(values)
            } else {
                source_dtype = Some("complex256 (read as magnitude)".to_string());
                VoxelData::F64(values.chunks_exact(2).map(|c| c[0].hypot(c[1])).collect())
            }
        }
        (None, 128 | 2304) => {
            let channels = if header.datatype == 128 { 3 } else { 4 };
            let raw: Vec<u8> = read_typed(r, channels * n, false, p, gz)?;
            source_dtype = Some(format!(
                "{} (read as luminance)",
                if channels == 3 { "rgb24" } else { "rgba32" }
            ));
            VoxelData::U8(
                raw.chunks_exact(channels)
                    .map(|c| {
                        (0.299 * c[0] as f32 + 0.587 * c[1] as f32 + 0.114 * c[2] as f32).round()
                            as u8
                    })
                    .collect(),
            )
        }
        (None, other) => {
            return Err(Error::file(
                format!("unknown NIfTI datatype code {other}"),
                path,
            ));
        }
    };
    Ok(finish(info, header, data, source_dtype))
}

/// Where voxel values come from: the streaming reader or the in-place inflate.
trait ValueSource {
    /// `n` values of `T` in native byte order; None where this source steps aside.
    fn values<T: bytemuck::Pod + Default>(&mut self, n: usize) -> Result<Option<Vec<T>>>;
}

/// The voxels of a plain numeric datatype (8- to 64-bit integers, f32, f64) from `source`;
/// None for any other datatype, or where the source steps aside.
fn plain_voxels(
    datatype: i16,
    n: usize,
    source: &mut impl ValueSource,
) -> Result<Option<VoxelData>> {
    Ok(match datatype {
        2 => source.values(n)?.map(VoxelData::U8),
        4 => source.values(n)?.map(VoxelData::I16),
        8 => source.values(n)?.map(VoxelData::I32),
        16 => source.values(n)?.map(VoxelData::F32),
        64 => source.values(n)?.map(VoxelData::F64),
        256 => source.values(n)?.map(VoxelData::I8),
        512 => source.values(n)?.map(VoxelData::U16),
        768 => source.values(n)?.map(VoxelData::U32),
        1024 => source.values(n)?.map(VoxelData::I64),
        1280 => source.values(n)?.map(VoxelData::U64),
        _ => None,
    })
}

/// The streaming reader, positioned at the voxels.
struct Streaming<'a> {
    reader: &'a mut dyn Read,
    swap: bool,
    path: &'a Path,
    gz: bool,
}

impl ValueSource for Streaming<'_> {
    fn values<T: bytemuck::Pod + Default>(&mut self, n: usize) -> Result<Option<Vec<T>>> {
        read_typed(self.reader, n, self.swap, self.path, self.gz).map(Some)
    }
}

/// A single-file `.nii.gz` whose voxels start `offset` bytes into its stream (`gz_in_place`).
struct InPlace<'a> {
    path: &'a Path,
    offset: usize,
    swap: bool,
}

impl ValueSource for InPlace<'_> {
    fn values<T: bytemuck::Pod + Default>(&mut self, n: usize) -> Result<Option<Vec<T>>> {
        let mut values = gz_in_place::read_values::<T>(self.path, self.offset, n)?;
        let size = std::mem::size_of::<T>();
        if let Some(v) = values.as_mut()
            && self.swap
            && size > 1
        {
            swap_in_place(v, size);
        }
        Ok(values)
    }
}

/// The voxels of a single-file `.nii.gz` of a plain numeric type, inflated in place; None
/// where that path does not apply and the streaming reader takes over.
fn read_in_place(
    path: &Path,
    offset: usize,
    n: usize,
    datatype: i16,
    swap: bool,
) -> Result<Option<VoxelData>> {
    plain_voxels(datatype, n, &mut InPlace { path, offset, swap })
}

/// The volume from its header facts and voxels, with the header's intensity scaling.
fn finish(
    info: NiftiInfo,
    header: NiftiHeader,
    data: VoxelData,
    source_dtype: Option<String>,
) -> Volume {
    let slope = header.scl_slope as f64;
    let inter = header.scl_inter as f64;
    let scaling =
        (slope != 0.0 && slope.is_finite() && inter.is_finite() && (slope, inter) != (1.0, 0.0))
            .then_some((slope, inter));
    Volume {
        shape: info.shape,
        spacing_mm: info.spacing_mm,
        world_from_voxel: info.world_from_voxel,
        data,
        scaling,
        source_dtype,
        header,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_place_and_streaming_reads_agree_on_every_real_file() {
        let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
        let Ok(cases) = std::fs::read_dir(&real) else {
            eprintln!("SKIPPED: ../shared/data/real is absent");
            return;
        };
        let mut compared = 0;
        for case in cases.flatten() {
            for name in ["image.nii.gz", "labels.nii.gz"] {
                let path = case.path().join(name);
                if !path.is_file() {
                    continue;
                }
                let n = read_nifti_info(&path)
                    .unwrap()
                    .shape
                    .iter()
                    .product::<usize>();
                let stored = read_nifti_info(&path).unwrap().header.datatype;
                let (_, size) = datatype_info(stored).unwrap();
                // Each case's file goes through the fast path, and it gives the streaming
                // reader's voxels, header and geometry.
                let offset = read_nifti_info(&path).unwrap().header.vox_offset as usize;
                assert!(
                    read_in_place(&path, offset, n, stored, false)
                        .unwrap()
                        .is_some(),
                    "{} stepped aside",
                    path.display()
                );
                let (fast, slow) = (
                    read_nifti_with(&path, true).unwrap(),
                    read_nifti_with(&path, false).unwrap(),
                );
                assert!(fast.data == slow.data, "{}", path.display());
                assert_eq!(fast.data.byte_len(), n * size);
                assert_eq!(fast.shape, slow.shape);
                assert_eq!(fast.world_from_voxel, slow.world_from_voxel);
                assert_eq!(fast.scaling, slow.scaling);
                compared += 1;
            }
        }
        assert!(compared >= 10, "{compared} real files compared");
        // nibabel's big-endian int16 .nii, gzipped: swapped after the in-place inflate.
        let plain = real.join("nibabel-anatomical/image.nii");
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("be.nii.gz");
        let mut encoder = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        std::io::copy(&mut std::fs::File::open(&plain).unwrap(), &mut encoder).unwrap();
        encoder.finish().unwrap();
        let (fast, original) = (read_nifti(&gz).unwrap(), read_nifti(&plain).unwrap());
        assert_eq!(fast.header.endianness, nifti::Endianness::Big);
        assert!(fast.data == original.data);
        let info = read_nifti_info(&gz).unwrap();
        let n = info.shape.iter().product::<usize>();
        let offset = info.header.vox_offset as usize;
        assert!(read_in_place(&gz, offset, n, 4, true).unwrap().is_some());
    }
}
