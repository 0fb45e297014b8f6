//! A 3D volume held in its stored voxel type, with its geometry. Slices are converted to `f32` on
//! demand, so a 512×512×600 int16 CT stays 300 MB in memory, not 1.2 GB.

use std::collections::BTreeMap;

use super::geometry::{self, Affine, Plane};

/// Voxel values in their stored type, x fastest (NIfTI/Fortran order: `i + nx·(j + ny·k)`).
#[derive(Debug, Clone, PartialEq)]
pub enum VoxelData {
    /// Unsigned 8-bit values.
    U8(Vec<u8>),
    /// Signed 8-bit values.
    I8(Vec<i8>),
    /// Unsigned 16-bit values.
    U16(Vec<u16>),
    /// Signed 16-bit values (most CT).
    I16(Vec<i16>),
    /// Unsigned 32-bit values.
    U32(Vec<u32>),
    /// Signed 32-bit values.
    I32(Vec<i32>),
    /// Unsigned 64-bit values.
    U64(Vec<u64>),
    /// Signed 64-bit values.
    I64(Vec<i64>),
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
}

/// Runs `$body` with `$v` bound to the typed vector inside a [`VoxelData`].
#[macro_export]
macro_rules! with_voxels {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            $crate::io::VoxelData::U8($v) => $body,
            $crate::io::VoxelData::I8($v) => $body,
            $crate::io::VoxelData::U16($v) => $body,
            $crate::io::VoxelData::I16($v) => $body,
            $crate::io::VoxelData::U32($v) => $body,
            $crate::io::VoxelData::I32($v) => $body,
            $crate::io::VoxelData::U64($v) => $body,
            $crate::io::VoxelData::I64($v) => $body,
            $crate::io::VoxelData::F32($v) => $body,
            $crate::io::VoxelData::F64($v) => $body,
        }
    };
}

/// A voxel type that can be read as a number.
pub trait Sample: Copy + Send + Sync + 'static {
    /// As `f64`.
    fn to_f64(self) -> f64;
    /// As `f32`.
    fn to_f32(self) -> f32;
}

macro_rules! impl_sample {
    ($($t:ty),*) => {$(
        impl Sample for $t {
            #[inline]
            fn to_f64(self) -> f64 { self as f64 }
            #[inline]
            fn to_f32(self) -> f32 { self as f32 }
        }
    )*};
}
impl_sample!(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64);

impl VoxelData {
    /// Number of voxels.
    pub fn len(&self) -> usize {
        with_voxels!(self, v => v.len())
    }

    /// True when there are no voxels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The NIfTI name of the stored type ("int16", "float32", ...).
    pub fn dtype_name(&self) -> &'static str {
        match self {
            VoxelData::U8(_) => "uint8",
            VoxelData::I8(_) => "int8",
            VoxelData::U16(_) => "uint16",
            VoxelData::I16(_) => "int16",
            VoxelData::U32(_) => "uint32",
            VoxelData::I32(_) => "int32",
            VoxelData::U64(_) => "uint64",
            VoxelData::I64(_) => "int64",
            VoxelData::F32(_) => "float32",
            VoxelData::F64(_) => "float64",
        }
    }

    /// Bytes held.
    pub fn byte_len(&self) -> usize {
        with_voxels!(self, v => std::mem::size_of_val(v.as_slice()))
    }

    /// Voxel `index` as `f64` (no scaling).
    pub fn get_f64(&self, index: usize) -> f64 {
        with_voxels!(self, v => v[index].to_f64())
    }

    /// Number of NaN or infinite voxels (always 0 for integer types).
    pub fn non_finite_count(&self) -> usize {
        match self {
            VoxelData::F32(v) => v.iter().filter(|x| !x.is_finite()).count(),
            VoxelData::F64(v) => v.iter().filter(|x| !x.is_finite()).count(),
            _ => 0,
        }
    }
}

/// A 2D slice converted to `f32`: `data[u + width·v]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice2d {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

/// A volume: voxels in their stored type plus the geometry to place them in the patient.
#[derive(Debug, Clone)]
pub struct Volume {
    /// Voxel counts along i, j, k.
    pub shape: [usize; 3],
    /// Voxel size along i, j, k in millimetres (from pixdim).
    pub spacing_mm: [f64; 3],
    /// Voxel index → world (RAS+, mm).
    pub world_from_voxel: Affine,
    /// The voxels.
    pub data: VoxelData,
    /// `scl_slope`, `scl_inter` applied when values are read, if the file asks for scaling.
    pub scaling: Option<(f64, f64)>,
    /// The stored type of the source file where it differs from `data`'s (complex or RGB files
    /// are reduced to magnitude or luminance on load).
    pub source_dtype: Option<String>,
    /// The source NIfTI header: derived volumes written from this one copy its geometry fields.
    pub header: nifti::NiftiHeader,
}

impl Volume {
    /// A volume of `data` on a grid (no scaling; a header made for the geometry).
    pub fn new(
        shape: [usize; 3],
        spacing_mm: [f64; 3],
        world_from_voxel: Affine,
        data: VoxelData,
    ) -> Volume {
        Volume {
            shape,
            spacing_mm,
            world_from_voxel,
            header: super::header_for_geometry(shape, spacing_mm, &world_from_voxel),
            data,
            scaling: None,
            source_dtype: None,
        }
    }

    /// Number of voxels.
    pub fn voxel_count(&self) -> usize {
        self.shape[0] * self.shape[1] * self.shape[2]
    }

    /// Linear index of voxel (i, j, k).
    #[inline]
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.shape[0] * (j + self.shape[1] * k)
    }

    /// The stored type's name.
    pub fn dtype_name(&self) -> String {
        self.source_dtype
            .clone()
            .unwrap_or_else(|| self.data.dtype_name().to_string())
    }

    /// Orientation code such as "RAS" or "PIR".
    pub fn orientation(&self) -> String {
        geometry::orientation_code(&self.world_from_voxel)
    }

    /// The voxel axis whose slices lie in the anatomical `plane`.
    pub fn axis_for_plane(&self, plane: Plane) -> usize {
        geometry::voxel_axis_for_plane(&self.world_from_voxel, plane)
    }

    /// Voxel value with scaling applied.
    pub fn value(&self, index: usize) -> f64 {
        let raw = self.data.get_f64(index);
        match self.scaling {
            Some((slope, inter)) => raw * slope + inter,
            None => raw,
        }
    }

    /// The two in-plane voxel axes of slices along `axis`, in increasing order.
    pub fn in_plane_axes(axis: usize) -> (usize, usize) {
        match axis {
            0 => (1, 2),
            1 => (0, 2),
            _ => (0, 1),
        }
    }

    /// Slice `index` along voxel `axis`, scaled to `f32`. In-plane axes are the other two voxel
    /// axes in increasing order (width along the first).
    pub fn slice_f32(&self, axis: usize, index: usize) -> Slice2d {
        let (a, b) = Self::in_plane_axes(axis);
        let (width, height) = (self.shape[a], self.shape[b]);
        let strides = [1, self.shape[0], self.shape[0] * self.shape[1]];
        let base = index * strides[axis];
        let (sa, sb) = (strides[a], strides[b]);
        let mut data = vec![0f32; width * height];
        let (slope, inter) = self.scaling.unwrap_or((1.0, 0.0));
        let (slope, inter) = (slope as f32, inter as f32);
        with_voxels!(&self.data, v => {
            for y in 0..height {
                let row = base + y * sb;
                let out = &mut data[y * width..(y + 1) * width];
                if sa == 1 {
                    for (o, s) in out.iter_mut().zip(&v[row..row + width]) {
                        *o = s.to_f32() * slope + inter;
                    }
                } else {
                    for (x, o) in out.iter_mut().enumerate() {
                        *o = v[row + x * sa].to_f32() * slope + inter;
                    }
                }
            }
        });
        Slice2d {
            width,
            height,
            data,
        }
    }

    /// The whole volume as `f32` with scaling (for training on small volumes).
    pub fn to_f32(&self) -> Vec<f32> {
        let (slope, inter) = self.scaling.unwrap_or((1.0, 0.0));
        let (slope, inter) = (slope as f32, inter as f32);
        with_voxels!(&self.data, v => v.iter().map(|s| s.to_f32() * slope + inter).collect())
    }

    /// Slices along voxel `axis` holding a voxel whose value (scaling applied, rounded) satisfies
    /// `keep`, in increasing order.
    pub fn slices_where(&self, axis: usize, keep: impl Fn(i64) -> bool) -> Vec<usize> {
        let mut has = vec![false; self.shape[axis]];
        let [nx, ny, _] = self.shape;
        for idx in 0..self.voxel_count() {
            let s = [idx % nx, (idx / nx) % ny, idx / (nx * ny)][axis];
            if !has[s] && keep(self.value(idx).round() as i64) {
                has[s] = true;
            }
        }
        (0..has.len()).filter(|&i| has[i]).collect()
    }

    /// Voxel count per label value (scaling applied, rounded to integers).
    pub fn label_voxels(&self) -> BTreeMap<i64, u64> {
        let mut counts = BTreeMap::new();
        if self.scaling.is_none()
            && let VoxelData::U8(v) = &self.data
        {
            let mut hist = [0u64; 256];
            for &x in v {
                hist[x as usize] += 1;
            }
            for (value, &n) in hist.iter().enumerate() {
                if n > 0 {
                    counts.insert(value as i64, n);
                }
            }
            return counts;
        }
        for i in 0..self.voxel_count() {
            let value = self.value(i);
            if value.is_finite() {
                *counts.entry(value.round() as i64).or_insert(0) += 1;
            }
        }
        counts
    }

    /// A new volume on this one's grid and geometry holding `data` (e.g. a label map).
    pub fn derived(&self, data: VoxelData) -> Volume {
        Volume {
            shape: self.shape,
            spacing_mm: self.spacing_mm,
            world_from_voxel: self.world_from_voxel,
            data,
            scaling: None,
            source_dtype: None,
            header: self.header.clone(),
        }
    }
}
