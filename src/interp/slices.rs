//! Moving 2D slices in and out of 3D label arrays along any voxel axis.

use crate::io::Volume;

/// Width and height of slices along `axis` (the other two axes in increasing order).
pub fn slice_dims(shape: [usize; 3], axis: usize) -> (usize, usize) {
    let (a, b) = Volume::in_plane_axes(axis);
    (shape[a], shape[b])
}

/// Linear voxel index of in-plane pixel (u, v) of slice `s`.
#[inline]
pub fn voxel_index(shape: [usize; 3], axis: usize, s: usize, u: usize, v: usize) -> usize {
    let ijk = match axis {
        0 => [s, u, v],
        1 => [u, s, v],
        _ => [u, v, s],
    };
    ijk[0] + shape[0] * (ijk[1] + shape[1] * ijk[2])
}

/// Copies slice `s` out of `data`.
pub fn get_slice<T: Copy>(data: &[T], shape: [usize; 3], axis: usize, s: usize) -> Vec<T> {
    let (w, h) = slice_dims(shape, axis);
    if axis == 2 {
        let n = w * h;
        return data[s * n..(s + 1) * n].to_vec();
    }
    let mut out = Vec::with_capacity(w * h);
    for v in 0..h {
        for u in 0..w {
            out.push(data[voxel_index(shape, axis, s, u, v)]);
        }
    }
    out
}

/// Each of `slices` of `data`: borrowed where a slice is contiguous (along the last axis),
/// copied otherwise.
pub fn slice_views<'a, T: Copy>(
    data: &'a [T],
    shape: [usize; 3],
    axis: usize,
    slices: &[usize],
) -> Vec<std::borrow::Cow<'a, [T]>> {
    let (w, h) = slice_dims(shape, axis);
    slices
        .iter()
        .map(|&s| {
            if axis == 2 {
                std::borrow::Cow::Borrowed(&data[s * w * h..(s + 1) * w * h])
            } else {
                std::borrow::Cow::Owned(get_slice(data, shape, axis, s))
            }
        })
        .collect()
}

/// Writes `slice` into slice `s` of `data`.
pub fn set_slice<T: Copy>(data: &mut [T], shape: [usize; 3], axis: usize, s: usize, slice: &[T]) {
    let (w, h) = slice_dims(shape, axis);
    if axis == 2 {
        let n = w * h;
        data[s * n..(s + 1) * n].copy_from_slice(slice);
        return;
    }
    for v in 0..h {
        for u in 0..w {
            data[voxel_index(shape, axis, s, u, v)] = slice[u + w * v];
        }
    }
}

/// In-plane spacings (mm) of slices along `axis`.
pub fn in_plane_spacing(spacing_mm: [f64; 3], axis: usize) -> (f32, f32) {
    let (a, b) = Volume::in_plane_axes(axis);
    (spacing_mm[a] as f32, spacing_mm[b] as f32)
}

/// Writes `region` (row-major, `u1 − u0` wide) into the box (u0, v0, u1, v1) of slice `s`.
pub fn set_region<T: Copy>(
    data: &mut [T],
    shape: [usize; 3],
    axis: usize,
    s: usize,
    (u0, v0, u1, v1): (usize, usize, usize, usize),
    region: &[T],
) {
    let rw = u1 - u0;
    for v in v0..v1 {
        let src = &region[(v - v0) * rw..(v - v0 + 1) * rw];
        if axis == 2 {
            let start = voxel_index(shape, axis, s, u0, v);
            data[start..start + rw].copy_from_slice(src);
        } else {
            for (u, &x) in (u0..u1).zip(src) {
                data[voxel_index(shape, axis, s, u, v)] = x;
            }
        }
    }
}
