//! The NIfTI-1 header: opening a file (gzip or not), parsing its 348 bytes with the `nifti`
//! crate, and the geometry, datatype and size checks every read starts from.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use nifti::NiftiHeader;

use super::geometry::{self, Affine};
use crate::error::{Error, Result};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const READ_BUFFER: usize = 1 << 17;

/// Header facts of a NIfTI file, read without the voxels.
#[derive(Debug, Clone)]
pub struct NiftiInfo {
    pub shape: [usize; 3],
    pub spacing_mm: [f64; 3],
    pub world_from_voxel: Affine,
    pub dtype: &'static str,
    pub header: NiftiHeader,
}

impl NiftiInfo {
    /// Orientation code of the header's affine.
    pub fn orientation(&self) -> String {
        geometry::orientation_code(&self.world_from_voxel)
    }
}

/// A NIfTI-1 datatype code: its name, bytes per stored voxel.
pub(super) fn datatype_info(code: i16) -> Option<(&'static str, usize)> {
    Some(match code {
        2 => ("uint8", 1),
        4 => ("int16", 2),
        8 => ("int32", 4),
        16 => ("float32", 4),
        32 => ("complex64", 8),
        64 => ("float64", 8),
        128 => ("rgb24", 3),
        256 => ("int8", 1),
        512 => ("uint16", 2),
        768 => ("uint32", 4),
        1024 => ("int64", 8),
        1280 => ("uint64", 8),
        1536 => ("float128", 16),
        1792 => ("complex128", 16),
        2048 => ("complex256", 32),
        2304 => ("rgba32", 4),
        _ => return None,
    })
}

pub(super) fn open_file(path: &Path) -> Result<(Box<dyn Read>, bool)> {
    let mut file = File::open(path).map_err(|e| Error::io("cannot open file", path, e))?;
    let mut magic = [0u8; 2];
    let got = file
        .read(&mut magic)
        .map_err(|e| Error::io("cannot read file", path, e))?;
    drop(file);
    let file = File::open(path).map_err(|e| Error::io("cannot open file", path, e))?;
    let gz = got == 2 && magic == GZIP_MAGIC;
    let reader: Box<dyn Read> = if gz {
        Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            READ_BUFFER,
            file,
        )))
    } else {
        Box::new(BufReader::with_capacity(READ_BUFFER, file))
    };
    Ok((reader, gz))
}

/// Reads into `buf` until it is full or the stream ends; returns the bytes read.
pub(super) fn read_full(
    reader: &mut dyn Read,
    buf: &mut [u8],
    path: &Path,
    gz: bool,
) -> Result<usize> {
    let mut pos = 0;
    while pos < buf.len() {
        match reader.read(&mut buf[pos..]) {
            Ok(0) => break,
            Ok(n) => pos += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if gz && e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => {
                let what = if gz {
                    "corrupt gzip data"
                } else {
                    "cannot read file"
                };
                return Err(Error::io(what, path, e));
            }
        }
    }
    Ok(pos)
}

pub(super) fn parse_header(reader: &mut dyn Read, path: &Path, gz: bool) -> Result<NiftiHeader> {
    let mut raw = [0u8; 348];
    let got = read_full(reader, &mut raw[..4], path, gz)?;
    if got < 4 {
        return Err(Error::file(
            format!("not a NIfTI file: only {got} bytes"),
            path,
        ));
    }
    let size_le = i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let size_be = i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    if size_le == 540 || size_be == 540 {
        return Err(Error::file(
            "NIfTI-2 files are not supported yet (convert to NIfTI-1, e.g. with nibabel or SimpleITK)",
            path,
        ));
    }
    if size_le != 348 && size_be != 348 {
        return Err(Error::file(
            format!("not a NIfTI-1 file: header size field is {size_le}, expected 348"),
            path,
        ));
    }
    let got = 4 + read_full(reader, &mut raw[4..], path, gz)?;
    if got < 348 {
        return Err(Error::file(
            format!("truncated NIfTI header: {got} of 348 bytes"),
            path,
        ));
    }
    let magic = &raw[344..348];
    if magic != b"n+1\0" && magic != b"ni1\0" {
        return Err(Error::file(
            format!(
                "wrong NIfTI magic {:?} (expected \"n+1\" or \"ni1\")",
                String::from_utf8_lossy(magic).trim_end_matches('\0')
            ),
            path,
        ));
    }
    NiftiHeader::from_reader(&raw[..])
        .map_err(|e| Error::file(format!("malformed NIfTI-1 header ({e})"), path))
}

/// Voxel counts of a header, validated: 1–3 spatial dims > 0, any further dims equal to 1.
fn header_shape(header: &NiftiHeader, path: &Path) -> Result<[usize; 3]> {
    let ndim = header.dim[0] as i16;
    if !(1..=7).contains(&ndim) {
        return Err(Error::file(
            format!("invalid dim[0] = {ndim} (must be 1..7)"),
            path,
        ));
    }
    let mut shape = [1usize; 3];
    for d in 1..=ndim as usize {
        let n = header.dim[d] as i16;
        if n <= 0 {
            return Err(Error::file(
                format!("invalid dimension dim[{d}] = {n} (must be positive)"),
                path,
            ));
        }
        if d <= 3 {
            shape[d - 1] = n as usize;
        } else if n != 1 {
            return Err(Error::file(
                format!(
                    "{ndim}D image with {n} entries along dim[{d}]: sliceplan needs a 3D volume (split the channels or time points first)"
                ),
                path,
            ));
        }
    }
    Ok(shape)
}

fn header_affine(header: &NiftiHeader) -> Affine {
    let pixdim = [
        header.pixdim[1] as f64,
        header.pixdim[2] as f64,
        header.pixdim[3] as f64,
    ];
    if header.sform_code > 0 {
        let mut m = geometry::IDENTITY;
        for (row, srow) in [header.srow_x, header.srow_y, header.srow_z]
            .iter()
            .enumerate()
        {
            for c in 0..4 {
                m[row][c] = srow[c] as f64;
            }
        }
        m
    } else if header.qform_code > 0 {
        geometry::qform_affine(
            [
                header.quatern_b as f64,
                header.quatern_c as f64,
                header.quatern_d as f64,
            ],
            [
                header.quatern_x as f64,
                header.quatern_y as f64,
                header.quatern_z as f64,
            ],
            pixdim.map(|p| if p == 0.0 { 1.0 } else { p.abs() }),
            header.pixdim[0] as f64,
        )
    } else {
        // NIfTI "method 1" (ANALYZE): scale by pixdim only.
        let mut m = geometry::IDENTITY;
        for (i, p) in pixdim.iter().enumerate() {
            m[i][i] = if *p == 0.0 { 1.0 } else { p.abs() };
        }
        m
    }
}

fn header_spacing(header: &NiftiHeader, affine: &Affine) -> [f64; 3] {
    let mut spacing = [1.0; 3];
    for (i, s) in spacing.iter_mut().enumerate() {
        let p = (header.pixdim[i + 1] as f64).abs();
        *s = if p > 0.0 && p.is_finite() {
            p
        } else {
            // Fall back on the affine's column norm.
            (0..3)
                .map(|r| affine[r][i].powi(2))
                .sum::<f64>()
                .sqrt()
                .max(1e-6)
        };
    }
    spacing
}

pub(super) fn info_from_header(header: NiftiHeader, path: &Path) -> Result<NiftiInfo> {
    let shape = header_shape(&header, path)?;
    let (dtype, _) = datatype_info(header.datatype).ok_or_else(|| {
        Error::file(
            format!("unknown NIfTI datatype code {}", header.datatype),
            path,
        )
    })?;
    let world_from_voxel = header_affine(&header);
    let spacing_mm = header_spacing(&header, &world_from_voxel);
    Ok(NiftiInfo {
        shape,
        spacing_mm,
        world_from_voxel,
        dtype,
        header,
    })
}

/// Reads only the header of a NIfTI file: shape, spacing, affine, datatype.
pub fn read_nifti_info(path: impl AsRef<Path>) -> Result<NiftiInfo> {
    let path = path.as_ref();
    let (mut reader, gz) = open_file(path)?;
    let header = parse_header(reader.as_mut(), path, gz)?;
    info_from_header(header, path)
}
