//! Evaluation on held-out, densely labelled volumes: 2D slice by slice, 3D by sliding window
//! with 50 % overlap; 3D Dice per volume on the source grid.
//!
//! Empty-truth rule: when a test volume has no target voxel, its Dice is 1 if the prediction is
//! empty too and 0 otherwise; such volumes are counted in the report.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::data::TrainCase;
use super::unet::{UNet2d, UNet3d};

/// Dice of two binary masks (both empty → 1, one empty → 0).
pub fn dice(pred: &[u8], truth: &[u8]) -> f64 {
    let (mut inter, mut p, mut t) = (0u64, 0u64, 0u64);
    for (&a, &b) in pred.iter().zip(truth) {
        let (a, b) = (a > 0, b > 0);
        inter += (a && b) as u64;
        p += a as u64;
        t += b as u64;
    }
    crate::interp::dice_from_counts(inter, p, t)
}

fn round_up(x: usize, m: usize) -> usize {
    x.div_ceil(m.max(1)) * m.max(1)
}

fn read_f32(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap_or_default()
}

/// Foreground probabilities `(w, h, d)` of a case with a 2D net, `chunk` slices at a time.
pub fn predict_2d(
    model: &UNet2d,
    case: &TrainCase,
    divisor: [usize; 2],
    chunk: usize,
    device: &Device,
) -> Vec<f32> {
    let [w, h, d] = case.dims;
    let (ph, pw) = (round_up(h, divisor[0]), round_up(w, divisor[1]));
    let mut out = vec![0f32; w * h * d];
    let mut s = 0;
    while s < d {
        let n = chunk.min(d - s);
        let mut x = vec![case.pad_value; n * ph * pw];
        for z in 0..n {
            for v in 0..h {
                for u in 0..w {
                    x[(z * ph + v) * pw + u] = case.image[case.index(u, v, s + z)];
                }
            }
        }
        let input = Tensor::<4>::from_data(TensorData::new(x, [n, 1, ph, pw]), device);
        let logits = model.forward(input);
        let fg = sigmoid(logits.clone().narrow(1, 1, 1) - logits.narrow(1, 0, 1));
        let probs = read_f32(fg.reshape([-1]));
        for z in 0..n {
            for v in 0..h {
                for u in 0..w {
                    out[case.index(u, v, s + z)] = probs[(z * ph + v) * pw + u];
                }
            }
        }
        s += n;
    }
    out
}

/// Window starts covering `size` with windows of `patch` at `step`.
fn starts(size: usize, patch: usize, step: usize) -> Vec<usize> {
    if size <= patch {
        return vec![0];
    }
    let mut v: Vec<usize> = (0..=size - patch).step_by(step.max(1)).collect();
    if *v.last().unwrap_or(&0) != size - patch {
        v.push(size - patch);
    }
    v
}

/// Foreground probabilities `(w, h, d)` of a case with a 3D net: sliding windows of `patch`
/// (`[d, h, w]`) with half-patch steps, probabilities averaged where windows overlap.
pub fn predict_3d(
    model: &UNet3d,
    case: &TrainCase,
    patch: [usize; 3],
    device: &Device,
) -> Vec<f32> {
    let [w, h, d] = case.dims;
    let [pd, ph, pw] = patch;
    let mut sum = vec![0f32; w * h * d];
    let mut count = vec![0f32; w * h * d];
    for &s0 in &starts(d, pd, pd / 2) {
        for &v0 in &starts(h, ph, ph / 2) {
            for &u0 in &starts(w, pw, pw / 2) {
                let mut x = vec![case.pad_value; pd * ph * pw];
                for z in 0..pd {
                    for y in 0..ph {
                        for xx in 0..pw {
                            let (s, v, u) = (s0 + z, v0 + y, u0 + xx);
                            if s < d && v < h && u < w {
                                x[(z * ph + y) * pw + xx] = case.image[case.index(u, v, s)];
                            }
                        }
                    }
                }
                let input = Tensor::<5>::from_data(TensorData::new(x, [1, 1, pd, ph, pw]), device);
                let logits = model.forward(input);
                let fg = sigmoid(logits.clone().narrow(1, 1, 1) - logits.narrow(1, 0, 1));
                let probs = read_f32(fg.reshape([-1]));
                for z in 0..pd {
                    for y in 0..ph {
                        for xx in 0..pw {
                            let (s, v, u) = (s0 + z, v0 + y, u0 + xx);
                            if s < d && v < h && u < w {
                                let i = case.index(u, v, s);
                                sum[i] += probs[(z * ph + y) * pw + xx];
                                count[i] += 1.0;
                            }
                        }
                    }
                }
            }
        }
    }
    sum.iter()
        .zip(&count)
        .map(|(&s, &c)| if c > 0.0 { s / c } else { 0.0 })
        .collect()
}

/// A `(w, h, d)` mask mapped back to the source grid (nearest neighbour, axes restored).
pub fn to_source_grid(mask: &[u8], case: &TrainCase) -> Vec<u8> {
    let shape = case.source_shape;
    let (a, b) = crate::io::Volume::in_plane_axes(case.axis);
    let f = case.factor.max(1);
    let mut out = vec![0u8; shape[0] * shape[1] * shape[2]];
    for k in 0..shape[2] {
        for j in 0..shape[1] {
            for i in 0..shape[0] {
                let ijk = [i, j, k];
                let (u, v, s) = (ijk[a] / f, ijk[b] / f, ijk[case.axis]);
                out[i + shape[0] * (j + shape[1] * k)] = mask[case.index(u, v, s)];
            }
        }
    }
    out
}
