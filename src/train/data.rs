//! Training data: volumes normalised and re-laid so the slice axis is last, binary targets,
//! which slices are supervised, and seeded batch sampling with foreground oversampling and
//! augmentation.

use crate::dataset::slice_features::{body_threshold, sampled_quantile};
use crate::dataset::{LoadedCase, Modality, TargetLabels};
use crate::error::{Error, Result};
use crate::interp::edt::tight_box;
use crate::io::Volume;
use crate::plan::BodyRule;
use crate::rng::Rng;

/// CT window mapped to [−1, 1]: centre 40 HU, width 400 HU (soft tissue).
pub const CT_WINDOW: (f64, f64) = (-160.0, 240.0);

/// A case ready for training or evaluation: `(w, h, d)` with the slice axis last.
#[derive(Debug, Clone)]
pub struct TrainCase {
    pub id: String,
    /// Width, height (in-plane, after downsampling) and depth (slices).
    pub dims: [usize; 3],
    pub image: Vec<f32>,
    /// Binary target (dense truth, or interpolated masks where `supervised`).
    pub target: Vec<u8>,
    /// Per slice: does the loss see it?
    pub supervised: Vec<bool>,
    /// Supervised slices holding foreground.
    pub fg_slices: Vec<usize>,
    /// Value used to pad outside the image.
    pub pad_value: f32,
    /// How to map back to the source grid.
    pub source_shape: [usize; 3],
    pub axis: usize,
    pub factor: usize,
}

impl TrainCase {
    /// Index of (u, v, s).
    #[inline]
    pub fn index(&self, u: usize, v: usize, s: usize) -> usize {
        u + self.dims[0] * (v + self.dims[1] * s)
    }

    /// True when the target has any foreground on a supervised slice.
    pub fn has_supervised_foreground(&self) -> bool {
        !self.fg_slices.is_empty()
    }

    /// The same case with the loss on `slices` only.
    pub fn with_supervised(&self, slices: &[usize]) -> TrainCase {
        let [w, h, d] = self.dims;
        let supervised: Vec<bool> = (0..d).map(|s| slices.contains(&s)).collect();
        let fg_slices = (0..d)
            .filter(|&s| supervised[s] && self.target[s * w * h..(s + 1) * w * h].contains(&1))
            .collect();
        TrainCase {
            supervised,
            fg_slices,
            ..self.clone()
        }
    }

    /// The case made of its supervised slices only, in their order (what a 2D net samples:
    /// draws by position among them are the same as from the whole case).
    pub fn supervised_only(self) -> TrainCase {
        let slices: Vec<usize> = (0..self.dims[2]).filter(|&s| self.supervised[s]).collect();
        if slices.len() == self.dims[2] {
            return self;
        }
        self.only_slices(&slices)
    }

    /// A case made of `slices` only (in that order), all supervised.
    pub fn only_slices(&self, slices: &[usize]) -> TrainCase {
        let [w, h, _] = self.dims;
        let per = w * h;
        let image = pick_slices(&self.image, per, slices);
        let target = pick_slices(&self.target, per, slices);
        let fg_slices = (0..slices.len())
            .filter(|&k| target[k * per..(k + 1) * per].contains(&1))
            .collect();
        TrainCase {
            id: self.id.clone(),
            dims: [w, h, slices.len()],
            image,
            target,
            supervised: vec![true; slices.len()],
            fg_slices,
            pad_value: self.pad_value,
            source_shape: self.source_shape,
            axis: self.axis,
            factor: self.factor,
        }
    }
}

fn normalise(volume: &Volume, modality: Modality) -> (Vec<f32>, f32) {
    match modality {
        Modality::Ct => {
            let (lo, hi) = CT_WINDOW;
            let (c, half) = (((lo + hi) / 2.0) as f32, ((hi - lo) / 2.0) as f32);
            let v = volume
                .to_f32()
                .into_iter()
                .map(|x| ((x - c) / half).clamp(-1.0, 1.0))
                .collect();
            (v, -1.0)
        }
        _ => {
            // z-score inside the body, clipped to ±5.
            let threshold = body_threshold(volume, modality, &BodyRule::default()) as f32;
            let raw = volume.to_f32();
            let body: Vec<f32> = raw.iter().copied().filter(|&x| x > threshold).collect();
            let (mean, std) = if body.len() > 10 {
                let m = body.iter().map(|&x| x as f64).sum::<f64>() / body.len() as f64;
                let var =
                    body.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / body.len() as f64;
                (m as f32, (var.sqrt() as f32).max(1e-6))
            } else {
                let hi = sampled_quantile(volume, 0.99) as f32;
                (0.0, hi.max(1e-6))
            };
            // Pad with the background as the volume shows it (the median of its outer faces when
            // that is below the body threshold), so an image meets its padding without a step a
            // net could take for an edge.
            let background = faces_median(&raw, volume.shape)
                .filter(|&m| m <= threshold)
                .unwrap_or(threshold.min(0.0));
            let v: Vec<f32> = raw
                .into_iter()
                .map(|x| ((x - mean) / std).clamp(-5.0, 5.0))
                .collect();
            let pad = ((background - mean) / std).clamp(-5.0, 5.0);
            (v, pad)
        }
    }
}

/// The median of the voxels on the six outer faces of a volume (None for an empty one).
fn faces_median(raw: &[f32], shape: [usize; 3]) -> Option<f32> {
    let [nx, ny, nz] = shape;
    let mut face = Vec::new();
    for k in 0..nz {
        for j in 0..ny {
            let row = nx * (j + ny * k);
            if k == 0 || j == 0 || k + 1 == nz || j + 1 == ny {
                face.extend_from_slice(&raw[row..row + nx]);
            } else if nx > 0 {
                face.push(raw[row]);
                face.push(raw[row + nx - 1]);
            }
        }
    }
    if face.is_empty() {
        return None;
    }
    let mid = face.len() / 2;
    face.select_nth_unstable_by(mid, f32::total_cmp);
    Some(face[mid])
}

/// The slices `slices` (in that order) of a volume stored slice after slice, `per` values each.
pub fn pick_slices<T: Copy>(values: &[T], per: usize, slices: &[usize]) -> Vec<T> {
    slices
        .iter()
        .flat_map(|&s| values[s * per..(s + 1) * per].iter().copied())
        .collect()
}

/// Pixels of padding value kept around every image in training patches (by the default 2D
/// patch size) and at inference. Pixels next to the network's zero padding never carry loss
/// when an image sits centred inside a larger patch, so at inference no image pixel may sit
/// there either: that mismatch drew false-positive stripes along the first row and column.
pub const BORDER_MARGIN: usize = 8;

/// Where a side of `size` starts inside a patch of `patch` when it fits: centred. Training and
/// inference (2D and 3D) place images by this one rule.
pub fn placement(size: usize, patch: usize) -> isize {
    -((patch.saturating_sub(size) / 2) as isize)
}

/// In-plane downsampling factor so that neither in-plane side exceeds `max_in_plane`.
pub fn in_plane_factor(shape: [usize; 3], axis: usize, max_in_plane: usize) -> usize {
    let (a, b) = Volume::in_plane_axes(axis);
    let side = shape[a].max(shape[b]);
    side.div_ceil(max_in_plane.max(8)).max(1)
}

/// The smallest in-plane side (px) a target should keep after downsampling.
pub const MIN_TARGET_PX: f64 = 24.0;
/// The largest in-plane side (px) trained at, whatever the target.
pub const MAX_IN_PLANE_PX: usize = 512;
/// The in-plane side (px) aimed at when the target is large enough.
pub const DEFAULT_IN_PLANE_PX: usize = 128;

/// The target's typical in-plane size in pixels on `slices` of `case` along `axis`: the median
/// over the slices that hold it of the shorter side of its bounding box. None without labels or
/// when no listed slice holds the target.
pub fn target_extent(
    case: &LoadedCase,
    axis: usize,
    slices: &[usize],
    target: &TargetLabels,
) -> Option<f64> {
    let labels = case.labels.as_ref()?;
    let mut sides: Vec<usize> = slices
        .iter()
        .filter(|&&s| s < labels.shape[axis])
        .filter_map(|&s| {
            let slice = labels.slice_f32(axis, s);
            let mask: Vec<bool> = slice
                .data
                .iter()
                .map(|&v| target.is_foreground(v.round() as i64))
                .collect();
            let (x0, y0, x1, y1) = tight_box(&mask, slice.width)?;
            Some((x1 - x0).min(y1 - y0))
        })
        .collect();
    if sides.is_empty() {
        return None;
    }
    sides.sort_unstable();
    Some(sides[sides.len() / 2] as f64)
}

/// The in-plane downsampling factor when none is set: down to about `DEFAULT_IN_PLANE_PX` per
/// side, but never so far that the target (of `target_px` pixels across) falls under
/// `MIN_TARGET_PX`, and always enough to stay within `MAX_IN_PLANE_PX`.
pub fn auto_in_plane_factor(shape: [usize; 3], axis: usize, target_px: Option<f64>) -> usize {
    let (a, b) = Volume::in_plane_axes(axis);
    let side = shape[a].max(shape[b]);
    let mut factor = side.div_ceil(DEFAULT_IN_PLANE_PX).max(1);
    if let Some(t) = target_px {
        while factor > 1 && t / (factor as f64) < MIN_TARGET_PX {
            factor -= 1;
        }
    }
    factor.max(side.div_ceil(MAX_IN_PLANE_PX)).max(1)
}

/// Prepares `case` for training: slice axis `axis` moved last, in-plane downsampled by `factor`
/// (mean for the image, the block's centre for labels). `supervised` lists the slices the loss
/// may see (None: all); `labels_override` replaces the truth (interpolated masks).
pub fn prepare_case(
    case: &LoadedCase,
    axis: usize,
    target: &TargetLabels,
    supervised: Option<&[usize]>,
    labels_override: Option<&[u16]>,
    factor: usize,
) -> Result<TrainCase> {
    let labels = case.labels.as_ref().ok_or_else(|| {
        Error::invalid(format!(
            "case '{}' has no labels: it cannot be used for training or evaluation",
            case.id
        ))
    })?;
    let shape = case.image.shape;
    let (a, b) = Volume::in_plane_axes(axis);
    let f = factor.max(1);
    let (w, h, d) = (shape[a].div_ceil(f), shape[b].div_ceil(f), shape[axis]);
    let (norm, pad_value) = normalise(&case.image, case.modality);
    let mut image = vec![0f32; w * h * d];
    let mut tgt = vec![0u8; w * h * d];
    let strides = [1, shape[0], shape[0] * shape[1]];
    for s in 0..d {
        for v in 0..h {
            for u in 0..w {
                let mut sum = 0f32;
                let mut n = 0f32;
                for dv in 0..f {
                    for du in 0..f {
                        let (uu, vv) = (u * f + du, v * f + dv);
                        if uu < shape[a] && vv < shape[b] {
                            sum += norm[uu * strides[a] + vv * strides[b] + s * strides[axis]];
                            n += 1.0;
                        }
                    }
                }
                let (cu, cv) = (
                    (u * f + f / 2).min(shape[a] - 1),
                    (v * f + f / 2).min(shape[b] - 1),
                );
                let src = cu * strides[a] + cv * strides[b] + s * strides[axis];
                let label = match labels_override {
                    Some(o) => o[src] as i64,
                    None => labels.value(src).round() as i64,
                };
                let i = u + w * (v + h * s);
                image[i] = sum / n.max(1.0);
                tgt[i] = target.is_foreground(label) as u8;
            }
        }
    }
    let mut sup = vec![supervised.is_none(); d];
    if let Some(list) = supervised {
        for &s in list {
            if s < d {
                sup[s] = true;
            }
        }
    }
    let fg_slices = (0..d)
        .filter(|&s| sup[s] && tgt[s * w * h..(s + 1) * w * h].iter().any(|&t| t > 0))
        .collect();
    Ok(TrainCase {
        id: case.id.clone(),
        dims: [w, h, d],
        image,
        target: tgt,
        supervised: sup,
        fg_slices,
        pad_value,
        source_shape: shape,
        axis,
        factor: f,
    })
}

/// A batch in host memory, laid out `[batch, channel, (depth,) height, width]`.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[b, 1, …]`.
    pub image: Vec<f32>,
    /// `[b, 2, …]` one-hot of background / foreground.
    pub onehot: Vec<f32>,
    /// `[b, 1, …]` 1 where the loss applies.
    pub mask: Vec<f32>,
    /// Spatial shape: `[h, w]` or `[d, h, w]`.
    pub spatial: Vec<usize>,
    pub batch: usize,
}

/// How batches are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    pub batch: usize,
    /// `[h, w]` for 2D, `[d, h, w]` for 3D.
    pub patch: Vec<usize>,
    /// Probability that a sample is centred on supervised foreground.
    pub fg_fraction: f64,
    pub augment: bool,
}

/// Draws one batch from `cases` (deterministic for a given `rng`).
pub fn sample_batch(cases: &[TrainCase], sampling: &Sampling, rng: &mut Rng) -> Batch {
    let three_d = sampling.patch.len() == 3;
    let (pd, ph, pw) = if three_d {
        (sampling.patch[0], sampling.patch[1], sampling.patch[2])
    } else {
        (1, sampling.patch[0], sampling.patch[1])
    };
    let per = pd * ph * pw;
    let b = sampling.batch;
    let mut image = vec![0f32; b * per];
    let mut onehot = vec![0f32; b * 2 * per];
    let mut mask = vec![0f32; b * per];
    let usable: Vec<usize> = (0..cases.len())
        .filter(|&i| cases[i].supervised.iter().any(|&s| s))
        .collect();
    let with_fg: Vec<usize> = usable
        .iter()
        .copied()
        .filter(|&i| cases[i].has_supervised_foreground())
        .collect();
    for n in 0..b {
        if usable.is_empty() {
            break;
        }
        let mut case = &cases[usable[rng.below(usable.len())]];
        // A sample meant for foreground whose case has none on its annotated slices is drawn
        // from a case that has: otherwise a plan of many volumes with a small target (most of
        // them without it on their few slices) sees it in far fewer samples than `fg_fraction`
        // says, and its net sits for hundreds of steps predicting background everywhere. Where
        // every case has some, the draws are exactly those of a case-first sampler.
        let want_fg = rng.uniform() < sampling.fg_fraction && !with_fg.is_empty();
        if want_fg && !case.has_supervised_foreground() {
            case = &cases[with_fg[rng.below(with_fg.len())]];
        }
        let [w, h, d] = case.dims;
        let sup_slices: Vec<usize> = (0..d).filter(|&s| case.supervised[s]).collect();
        // Centre of the patch.
        let (cs, cv, cu) = if want_fg {
            let s = case.fg_slices[rng.below(case.fg_slices.len())];
            let fg: Vec<usize> = (0..w * h)
                .filter(|&p| case.target[s * w * h + p] > 0)
                .collect();
            let p = fg[rng.below(fg.len())];
            (s, p / w, p % w)
        } else {
            let s = if three_d {
                rng.below(d)
            } else {
                sup_slices[rng.below(sup_slices.len())]
            };
            (s, rng.below(h), rng.below(w))
        };
        // Top-left corner: the centre with some jitter, kept inside the image where the patch
        // fits; a patch larger than the image is centred on it.
        let corner = |c: usize, p: usize, size: usize, rng: &mut Rng| -> isize {
            if size <= p {
                return placement(size, p);
            }
            let jitter = rng.below(p / 2 + 1) as isize - (p / 4) as isize;
            (c as isize - (p / 2) as isize + jitter).clamp(0, (size - p) as isize)
        };
        let s0 = if three_d {
            corner(cs, pd, d, rng)
        } else {
            cs as isize
        };
        let v0 = corner(cv, ph, h, rng);
        let u0 = corner(cu, pw, w, rng);
        let (flip_u, flip_v) = if sampling.augment {
            (rng.uniform() < 0.5, rng.uniform() < 0.5)
        } else {
            (false, false)
        };
        let (gain, shift) = if sampling.augment {
            (
                rng.range_f64(0.9, 1.1) as f32,
                rng.range_f64(-0.1, 0.1) as f32,
            )
        } else {
            (1.0, 0.0)
        };
        for zs in 0..pd {
            for y in 0..ph {
                for x in 0..pw {
                    let (xs, ys) = (
                        if flip_u { pw - 1 - x } else { x },
                        if flip_v { ph - 1 - y } else { y },
                    );
                    let (s, v, u) = (s0 + zs as isize, v0 + ys as isize, u0 + xs as isize);
                    let o = (zs * ph + y) * pw + x;
                    let inside = s >= 0
                        && v >= 0
                        && u >= 0
                        && (s as usize) < d
                        && (v as usize) < h
                        && (u as usize) < w;
                    if inside {
                        let i = case.index(u as usize, v as usize, s as usize);
                        image[n * per + o] = case.image[i] * gain + shift;
                        let t = case.target[i] as usize;
                        onehot[(n * 2 + t) * per + o] = 1.0;
                        mask[n * per + o] = case.supervised[s as usize] as u8 as f32;
                    } else {
                        image[n * per + o] = case.pad_value;
                        onehot[n * 2 * per + o] = 1.0;
                    }
                }
            }
        }
    }
    let spatial = if three_d {
        vec![pd, ph, pw]
    } else {
        vec![ph, pw]
    };
    Batch {
        image,
        onehot,
        mask,
        spatial,
        batch: b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::VoxelData;

    fn case_with_square(side: usize, target_side: usize) -> LoadedCase {
        let shape = [side, side, 3];
        let mut labels = vec![0u8; side * side * 3];
        for k in 0..3 {
            for j in 10..10 + target_side {
                for i in 20..20 + target_side {
                    labels[i + side * (j + side * k)] = 1;
                }
            }
        }
        let spacing = [1.0, 1.0, 3.0];
        let affine = [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 3.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let image = Volume {
            shape,
            spacing_mm: spacing,
            world_from_voxel: affine,
            data: VoxelData::I16(vec![0; side * side * 3]),
            scaling: None,
            source_dtype: None,
            header: crate::io::header_for_geometry(shape, spacing, &affine),
        };
        LoadedCase {
            id: "c".into(),
            labels: Some(image.derived(VoxelData::U8(labels))),
            image,
            modality: Modality::Mr,
        }
    }

    /// A `side`² × 4 case supervised on every slice; with `fg`, one foreground pixel on slice 2.
    fn plain_case(side: usize, fg: bool) -> TrainCase {
        let n = side * side * 4;
        let mut target = vec![0u8; n];
        if fg {
            target[2 * side * side + side * (side / 2) + side / 2] = 1;
        }
        TrainCase {
            id: "c".into(),
            dims: [side, side, 4],
            image: vec![0.0; n],
            target,
            supervised: vec![true; 4],
            fg_slices: if fg { vec![2] } else { Vec::new() },
            pad_value: -1.0,
            source_shape: [side, side, 4],
            axis: 2,
            factor: 1,
        }
    }

    /// Fraction of the samples of `batches` batches that hold foreground.
    fn foreground_share(cases: &[TrainCase], fg_fraction: f64, batches: usize) -> f64 {
        let sampling = Sampling {
            batch: 4,
            patch: vec![8, 8],
            fg_fraction,
            augment: false,
        };
        let mut rng = Rng::new(7);
        let mut with = 0usize;
        for _ in 0..batches {
            let b = sample_batch(cases, &sampling, &mut rng);
            let per = 2 * 8 * 8;
            with += (0..b.batch)
                .filter(|&i| b.onehot[i * per + 64..(i + 1) * per].contains(&1.0))
                .count();
        }
        with as f64 / (batches * 4) as f64
    }

    #[test]
    fn foreground_samples_come_from_the_cases_that_hold_it() {
        // One case in ten holds the target on its annotated slices: half the samples still
        // show it (a case-first sampler gave about one in twenty).
        let mut cases: Vec<TrainCase> = (0..9).map(|_| plain_case(32, false)).collect();
        cases.push(plain_case(32, true));
        let share = foreground_share(&cases, 0.5, 400);
        assert!((0.45..0.56).contains(&share), "share {share}");
        // No foreground anywhere: nothing to oversample, and no sample shows any.
        let none: Vec<TrainCase> = (0..3).map(|_| plain_case(32, false)).collect();
        assert_eq!(foreground_share(&none, 0.5, 50), 0.0);
        // Every case holds some: the fraction asked for (plus random patches that meet it).
        let all: Vec<TrainCase> = (0..3).map(|_| plain_case(32, true)).collect();
        let share = foreground_share(&all, 0.5, 400);
        assert!((0.45..0.56).contains(&share), "share {share}");
    }

    #[test]
    fn small_targets_keep_their_resolution_and_large_images_are_capped() {
        let small = case_with_square(256, 30);
        let extent = target_extent(&small, 2, &[0, 1], &TargetLabels::all_foreground());
        assert_eq!(extent, Some(30.0));
        // 256 px would go down 2× to 128, but a 30-px target would fall under 24 px.
        assert_eq!(auto_in_plane_factor([256, 256, 3], 2, extent), 1);
        // A 60-px target can take the 2×.
        assert_eq!(auto_in_plane_factor([256, 256, 3], 2, Some(60.0)), 2);
        // No target seen: down to about 128 px per side.
        assert_eq!(auto_in_plane_factor([256, 256, 3], 2, None), 2);
        // Never above 512 px, whatever the target.
        assert_eq!(auto_in_plane_factor([1024, 1024, 3], 2, Some(10.0)), 2);
        assert_eq!(auto_in_plane_factor([100, 90, 3], 2, Some(10.0)), 1);
        // Only the listed slices count.
        assert_eq!(
            target_extent(&small, 2, &[], &TargetLabels::all_foreground()),
            None
        );
    }
}
