//! Evaluation on held-out, densely labelled volumes: 2D slice by slice, 3D by sliding window
//! with 50 % overlap; 3D Dice per volume on the source grid.
//!
//! Empty-truth rule: when a test volume has no target voxel, its Dice is 1 if the prediction is
//! empty too and 0 otherwise; such volumes are counted in the report.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::data::{BORDER_MARGIN, TrainCase, placement};
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
///
/// Each slice is placed as in training (see `data::placement`): centred on a canvas of at least
/// the training `patch`, with at least `BORDER_MARGIN` pixels of the case's padding value on
/// every side, so no image pixel meets the network's zero padding unless it did in training.
///
/// With `fixed_chunk` every forward pass holds exactly `chunk` slices (the last pass is filled
/// up with padding slices whose outputs are dropped), so a GPU compiles one shape per canvas
/// instead of one more for each volume's remainder.
pub fn predict_2d(
    model: &UNet2d,
    case: &TrainCase,
    divisor: [usize; 2],
    patch: [usize; 2],
    chunk: usize,
    fixed_chunk: bool,
    device: &Device,
) -> Vec<f32> {
    let [w, h, d] = case.dims;
    let canvas = |size: usize, p: usize, m: usize| p.max(round_up(size + 2 * BORDER_MARGIN, m));
    let (ph, pw) = (
        canvas(h, patch[0], divisor[0]),
        canvas(w, patch[1], divisor[1]),
    );
    let (v0, u0) = ((ph - h) / 2, (pw - w) / 2);
    let mut out = vec![0f32; w * h * d];
    let mut s = 0;
    while s < d {
        let n = chunk.min(d - s);
        let batch = if fixed_chunk { chunk.max(n) } else { n };
        let mut x = vec![case.pad_value; batch * ph * pw];
        for z in 0..n {
            for v in 0..h {
                for u in 0..w {
                    x[(z * ph + v0 + v) * pw + u0 + u] = case.image[case.index(u, v, s + z)];
                }
            }
        }
        let input = Tensor::<4>::from_data(TensorData::new(x, [batch, 1, ph, pw]), device);
        let logits = model.forward(input);
        let fg = sigmoid(logits.clone().narrow(1, 1, 1) - logits.narrow(1, 0, 1));
        let probs = read_f32(fg.reshape([-1]));
        for z in 0..n {
            for v in 0..h {
                for u in 0..w {
                    out[case.index(u, v, s + z)] = probs[(z * ph + v0 + v) * pw + u0 + u];
                }
            }
        }
        s += n;
    }
    out
}

/// Window starts covering `size` with windows of `patch` at `step`. A side shorter than the
/// patch is centred in one window, as training places it (`data::placement`).
fn starts(size: usize, patch: usize, step: usize) -> Vec<isize> {
    if size <= patch {
        return vec![placement(size, patch)];
    }
    let mut v: Vec<isize> = (0..=size - patch)
        .step_by(step.max(1))
        .map(|s| s as isize)
        .collect();
    if *v.last().unwrap_or(&0) != (size - patch) as isize {
        v.push((size - patch) as isize);
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
                let inside = |z: usize, y: usize, xx: usize| {
                    let (s, v, u) = (s0 + z as isize, v0 + y as isize, u0 + xx as isize);
                    let ok = s >= 0
                        && v >= 0
                        && u >= 0
                        && (s as usize) < d
                        && (v as usize) < h
                        && (u as usize) < w;
                    ok.then(|| case.index(u as usize, v as usize, s as usize))
                };
                for z in 0..pd {
                    for y in 0..ph {
                        for xx in 0..pw {
                            if let Some(i) = inside(z, y, xx) {
                                x[(z * ph + y) * pw + xx] = case.image[i];
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
                            if let Some(i) = inside(z, y, xx) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::train::data::{Sampling, sample_batch};

    /// A case of `dims` (w, h, d) whose image is 1 everywhere, padding -1.
    fn ones(dims: [usize; 3]) -> TrainCase {
        let n = dims[0] * dims[1] * dims[2];
        TrainCase {
            id: "c".into(),
            dims,
            image: vec![1.0; n],
            target: vec![0; n],
            supervised: vec![true; dims[2]],
            fg_slices: Vec::new(),
            pad_value: -1.0,
            source_shape: dims,
            axis: 2,
            factor: 1,
        }
    }

    /// First index along each axis where the image (value 1) starts in a `[d, h, w]` patch.
    fn origin(x: &[f32], [_, ph, pw]: [usize; 3]) -> [usize; 3] {
        let i = x
            .iter()
            .position(|&v| v == 1.0)
            .expect("image in the patch");
        [i / (ph * pw), (i / pw) % ph, i % pw]
    }

    #[test]
    fn training_and_sliding_windows_centre_small_volumes_alike() {
        let case = ones([21, 13, 5]);
        let patch = [8, 16, 32];
        let sampling = Sampling {
            batch: 1,
            patch: patch.to_vec(),
            fg_fraction: 0.0,
            augment: false,
        };
        let batch = sample_batch(std::slice::from_ref(&case), &sampling, &mut Rng::new(1));
        let trained = origin(&batch.image, patch);
        // The sliding window's single start per axis, negated, is where the volume lands.
        let windows = [
            starts(5, patch[0], patch[0] / 2),
            starts(13, patch[1], patch[1] / 2),
            starts(21, patch[2], patch[2] / 2),
        ];
        let inferred = windows.map(|w| {
            assert_eq!(w.len(), 1, "one window per axis");
            (-w[0]) as usize
        });
        assert_eq!(trained, inferred);
        assert_eq!(trained, [1, 1, 5]);
    }

    #[test]
    fn a_padded_last_chunk_predicts_what_a_short_one_does() {
        use crate::train::unet::{UNet2d, UNetSpec};
        let device = Device::flex();
        // Drawn under the seed's lock: a net drawing its weights outside it would take draws
        // from a seeded net being drawn in another test at the same time.
        let spec = UNetSpec::isotropic(2, vec![4, 8], 2);
        let net = UNet2d::seeded(&spec, &device, 5);
        let mut case = ones([12, 10, 5]);
        let mut rng = Rng::new(3);
        for v in case.image.iter_mut() {
            *v = rng.normal() as f32;
        }
        let short = predict_2d(&net, &case, [2, 2], [16, 16], 4, false, &device);
        let fixed = predict_2d(&net, &case, [2, 2], [16, 16], 4, true, &device);
        assert_eq!(short.len(), 12 * 10 * 5);
        let worst = short
            .iter()
            .zip(&fixed)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "largest difference {worst}");
    }

    #[test]
    fn a_larger_volume_is_covered_edge_to_edge() {
        assert_eq!(starts(40, 16, 8), [0, 8, 16, 24]);
        assert_eq!(starts(37, 16, 8), [0, 8, 16, 21]);
    }
}
