//! Writing NIfTI-1 volumes that keep their source geometry exactly (qform, sform, pixdim, units),
//! so sparse labels, interpolated masks and predictions overlay in 3D Slicer and ITK-SNAP.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use nifti::NiftiHeader;

use super::atomic::write_atomic;
use super::geometry::Affine;
use super::volume::{Volume, VoxelData};
use crate::error::Result;

fn datatype_code(data: &VoxelData) -> (i16, i16) {
    match data {
        VoxelData::U8(_) => (2, 8),
        VoxelData::I8(_) => (256, 8),
        VoxelData::U16(_) => (512, 16),
        VoxelData::I16(_) => (4, 16),
        VoxelData::U32(_) => (768, 32),
        VoxelData::I32(_) => (8, 32),
        VoxelData::U64(_) => (1280, 64),
        VoxelData::I64(_) => (1024, 64),
        VoxelData::F32(_) => (16, 32),
        VoxelData::F64(_) => (64, 64),
    }
}

/// A fresh header for a volume with this geometry (sform and qform both set, scanner space).
pub fn header_for_geometry(
    shape: [usize; 3],
    spacing_mm: [f64; 3],
    world_from_voxel: &Affine,
) -> NiftiHeader {
    let mut h = NiftiHeader {
        dim: [
            3,
            shape[0] as u16,
            shape[1] as u16,
            shape[2] as u16,
            1,
            1,
            1,
            1,
        ],
        xyzt_units: 2, // millimetres
        sform_code: 1,
        qform_code: 1,
        ..NiftiHeader::default()
    };
    h.pixdim = [
        1.0,
        spacing_mm[0] as f32,
        spacing_mm[1] as f32,
        spacing_mm[2] as f32,
        1.0,
        1.0,
        1.0,
        1.0,
    ];
    let rows = [&mut h.srow_x, &mut h.srow_y, &mut h.srow_z];
    for (r, row) in rows.into_iter().enumerate() {
        for c in 0..4 {
            row[c] = world_from_voxel[r][c] as f32;
        }
    }
    // Quaternion of the rotation part (columns normalised); qfac carries a reflection.
    let mut m = [[0f64; 3]; 3];
    for c in 0..3 {
        let norm = (0..3)
            .map(|r| world_from_voxel[r][c].powi(2))
            .sum::<f64>()
            .sqrt()
            .max(1e-12);
        for r in 0..3 {
            m[r][c] = world_from_voxel[r][c] / norm;
        }
    }
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let qfac = if det < 0.0 { -1.0 } else { 1.0 };
    if qfac < 0.0 {
        for row in m.iter_mut() {
            row[2] = -row[2];
        }
    }
    let a = 0.5 * (1.0 + m[0][0] + m[1][1] + m[2][2]).max(0.0).sqrt();
    let (b, c, d) = if a > 1e-3 {
        (
            (m[2][1] - m[1][2]) / (4.0 * a),
            (m[0][2] - m[2][0]) / (4.0 * a),
            (m[1][0] - m[0][1]) / (4.0 * a),
        )
    } else {
        let b = 0.5 * (1.0 + m[0][0] - m[1][1] - m[2][2]).max(0.0).sqrt();
        let c = 0.5 * (1.0 - m[0][0] + m[1][1] - m[2][2]).max(0.0).sqrt();
        let d = 0.5 * (1.0 - m[0][0] - m[1][1] + m[2][2]).max(0.0).sqrt();
        if b >= c && b >= d {
            (
                b,
                (m[0][1] + m[1][0]) / (4.0 * b),
                (m[0][2] + m[2][0]) / (4.0 * b),
            )
        } else if c >= d {
            (
                (m[0][1] + m[1][0]) / (4.0 * c),
                c,
                (m[1][2] + m[2][1]) / (4.0 * c),
            )
        } else {
            (
                (m[0][2] + m[2][0]) / (4.0 * d),
                (m[1][2] + m[2][1]) / (4.0 * d),
                d,
            )
        }
    };
    h.pixdim[0] = qfac as f32;
    h.quatern_b = b as f32;
    h.quatern_c = c as f32;
    h.quatern_d = d as f32;
    h.quatern_x = world_from_voxel[0][3] as f32;
    h.quatern_y = world_from_voxel[1][3] as f32;
    h.quatern_z = world_from_voxel[2][3] as f32;
    h
}

/// The 348-byte NIfTI-1 header plus the 4-byte empty extension block, little-endian.
fn header_bytes(
    h: &NiftiHeader,
    data: &VoxelData,
    scaling: Option<(f64, f64)>,
    shape: [usize; 3],
) -> Vec<u8> {
    let (datatype, bitpix) = datatype_code(data);
    let mut b = Vec::with_capacity(352);
    let i32le = |b: &mut Vec<u8>, v: i32| b.extend_from_slice(&v.to_le_bytes());
    let i16le = |b: &mut Vec<u8>, v: i16| b.extend_from_slice(&v.to_le_bytes());
    let f32le = |b: &mut Vec<u8>, v: f32| b.extend_from_slice(&v.to_le_bytes());
    let fixed = |b: &mut Vec<u8>, bytes: &[u8], len: usize| {
        let mut field = vec![0u8; len];
        let n = bytes.len().min(len);
        field[..n].copy_from_slice(&bytes[..n]);
        b.extend_from_slice(&field);
    };
    i32le(&mut b, 348);
    fixed(&mut b, &h.data_type, 10);
    fixed(&mut b, &h.db_name, 18);
    i32le(&mut b, h.extents);
    i16le(&mut b, h.session_error);
    b.push(h.regular);
    b.push(h.dim_info);
    let dims = [
        3i16,
        shape[0] as i16,
        shape[1] as i16,
        shape[2] as i16,
        1,
        1,
        1,
        1,
    ];
    for d in dims {
        i16le(&mut b, d);
    }
    f32le(&mut b, h.intent_p1);
    f32le(&mut b, h.intent_p2);
    f32le(&mut b, h.intent_p3);
    i16le(&mut b, h.intent_code);
    i16le(&mut b, datatype);
    i16le(&mut b, bitpix);
    i16le(&mut b, h.slice_start);
    for p in h.pixdim {
        f32le(&mut b, p);
    }
    f32le(&mut b, 352.0);
    let (slope, inter) = scaling.unwrap_or((1.0, 0.0));
    f32le(&mut b, slope as f32);
    f32le(&mut b, inter as f32);
    i16le(&mut b, h.slice_end);
    b.push(h.slice_code);
    b.push(h.xyzt_units);
    f32le(&mut b, 0.0); // cal_max: let viewers choose the window
    f32le(&mut b, 0.0); // cal_min
    f32le(&mut b, h.slice_duration);
    f32le(&mut b, h.toffset);
    i32le(&mut b, 0);
    i32le(&mut b, 0);
    fixed(&mut b, &h.descrip, 80);
    fixed(&mut b, &h.aux_file, 24);
    i16le(&mut b, h.qform_code);
    i16le(&mut b, h.sform_code);
    for q in [
        h.quatern_b,
        h.quatern_c,
        h.quatern_d,
        h.quatern_x,
        h.quatern_y,
        h.quatern_z,
    ] {
        f32le(&mut b, q);
    }
    for row in [h.srow_x, h.srow_y, h.srow_z] {
        for v in row {
            f32le(&mut b, v);
        }
    }
    fixed(&mut b, &h.intent_name, 16);
    b.extend_from_slice(b"n+1\0");
    debug_assert_eq!(b.len(), 348);
    b.extend_from_slice(&[0, 0, 0, 0]);
    b
}

fn data_bytes(data: &VoxelData) -> &[u8] {
    crate::with_voxels!(data, v => bytemuck::cast_slice(v.as_slice()))
}

/// Writes `volume` as NIfTI-1 (gzip-compressed when the name ends in `.gz`), atomically, with
/// the geometry fields of its header unchanged. Little-endian hosts only write little-endian.
pub fn write_nifti(path: impl AsRef<Path>, volume: &Volume) -> Result<()> {
    let path = path.as_ref();
    let header = header_bytes(&volume.header, &volume.data, volume.scaling, volume.shape);
    let voxels = data_bytes(&volume.data);
    let gz = path.to_string_lossy().ends_with(".gz");
    write_atomic(path, |w| {
        if gz {
            let mut enc = GzEncoder::new(w, Compression::new(3));
            enc.write_all(&header)?;
            enc.write_all(voxels)?;
            enc.finish()?;
        } else {
            w.write_all(&header)?;
            w.write_all(voxels)?;
        }
        Ok(())
    })
}

/// Writes a label map (`u8` values, or `u16` when any label exceeds 255) on `reference`'s grid.
pub fn write_labels_like(path: impl AsRef<Path>, reference: &Volume, labels: &[u16]) -> Result<()> {
    let data = if labels.iter().all(|&l| l <= 255) {
        VoxelData::U8(labels.iter().map(|&l| l as u8).collect())
    } else {
        VoxelData::U16(labels.to_vec())
    };
    write_nifti(path, &reference.derived(data))
}
