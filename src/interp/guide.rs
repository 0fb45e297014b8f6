//! Where a capped part ends, read from the image: the gap's own slices show whether the object
//! is still there. A part on one side of a gap only shrinks and ends inside it (`caps`); how far
//! into the gap it reaches is chosen among a few ends by the likelihood of the gap's intensities,
//! with the object's intensities taken from its labelled slice and what lies there once it has
//! ended from the annotated empty slice, over the same pixels. Unless one end explains the gap
//! clearly better than the label-only end (the gap's middle), that one stays: an image that
//! cannot tell the object from its surroundings changes nothing. The same likelihoods check what
//! a blend's area rule takes in (`checked_level`).

use super::caps::capped_weight;
use super::group::Field;
use super::parts::Box2;
use super::slices::{slice_dims, voxel_index};

/// The image on the label map's grid, with the axis the slices are taken along.
#[derive(Clone, Copy)]
pub(super) struct ImageView<'a> {
    pub(super) data: &'a [f32],
    pub(super) shape: [usize; 3],
    pub(super) axis: usize,
}

impl ImageView<'_> {
    fn at(&self, s: usize, u: usize, v: usize) -> f32 {
        self.data[voxel_index(self.shape, self.axis, s, u, v)]
    }

    fn dims(&self) -> (usize, usize) {
        slice_dims(self.shape, self.axis)
    }
}

/// The end a capped part takes without the image: the gap's middle.
pub(super) const MIDDLE: f32 = 0.5;
/// The ends tried, as fractions of the gap from the labelled slice.
const ENDS: [f32; 7] = [0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0];
/// How far (pixels) around the part's box its surroundings are read on its labelled slice.
const RING: usize = 3;
/// Fewest pixels of the part on its labelled slice for its intensities to mean anything.
const MIN_PIXELS: usize = 30;
/// An end other than the middle must explain the gap better by this much (log-likelihood
/// ratio) per pixel of the part: weak evidence, or an image that cannot tell the object from
/// its surroundings, leaves the label-only end.
const MARGIN: f32 = 0.2;
/// A pixel's log-likelihood ratio is clamped to ± this (one odd voxel cannot decide).
const MAX_LLR: f32 = 4.0;

/// Intensities as likelihoods: histograms of the part (on its labelled slice) and of what is
/// not the part (the same pixels on the annotated empty slice, and a ring around the part on its
/// labelled slice, weighted alike), and their log ratio per bin. Bins are half the part's own
/// spread wide (its median absolute deviation, robust to a few odd voxels), centred on its
/// median; intensities beyond fall into the end bins.
pub(super) struct Likelihood {
    lo: f32,
    per_bin: f32,
    ratio: [f32; BINS],
}

/// Histogram bins.
const BINS: usize = 32;
/// Added to every bin of a normalised histogram, so no intensity is impossible.
const PSEUDO: f32 = 0.005;

/// The middle value of `values` (reordered).
fn median(values: &mut [f32]) -> f32 {
    let mid = values.len() / 2;
    *values.select_nth_unstable_by(mid, f32::total_cmp).1
}

/// Most samples a histogram is built from: a larger set is read at a stride.
const MAX_SAMPLES: usize = 1024;

/// `values`, or every k-th of them where there are more than MAX_SAMPLES.
fn thinned(values: Vec<f32>) -> Vec<f32> {
    let k = values.len().div_ceil(MAX_SAMPLES);
    if k <= 1 {
        values
    } else {
        values.into_iter().step_by(k).collect()
    }
}

impl Likelihood {
    fn new(inside: &[f32], outside: &[&[f32]]) -> Option<Likelihood> {
        if inside.is_empty() {
            return None;
        }
        let centre = median(&mut inside.to_vec());
        let mut deviations: Vec<f32> = inside.iter().map(|x| (x - centre).abs()).collect();
        let spread = 1.4826 * median(&mut deviations);
        if !centre.is_finite() || !spread.is_finite() {
            return None;
        }
        let per_bin = spread.max(1e-3 * centre.abs().max(1.0)) / 2.0;
        let mut model = Likelihood {
            lo: centre - per_bin * (BINS / 2) as f32,
            per_bin,
            ratio: [0.0; BINS],
        };
        let density = |samples: &[&[f32]]| -> [f32; BINS] {
            let mut h = [0f32; BINS];
            for s in samples.iter().filter(|s| !s.is_empty()) {
                for &x in s.iter() {
                    h[model.bin(x)] += 1.0 / s.len() as f32;
                }
            }
            // Smoothed by a 5-bin triangle.
            let kernel = [1.0, 2.0, 3.0, 2.0, 1.0];
            let smooth: [f32; BINS] = std::array::from_fn(|i| {
                (0..5)
                    .filter_map(|k| (i + k).checked_sub(2).filter(|&j| j < BINS))
                    .map(|j| kernel[j + 2 - i] * h[j])
                    .sum()
            });
            let total = smooth.iter().sum::<f32>().max(f32::MIN_POSITIVE);
            smooth.map(|x| x / total + PSEUDO)
        };
        let (p_in, p_out) = (density(&[inside]), density(outside));
        model.ratio = std::array::from_fn(|i| (p_in[i] / p_out[i]).ln().clamp(-MAX_LLR, MAX_LLR));
        Some(model)
    }

    fn bin(&self, x: f32) -> usize {
        (((x - self.lo) / self.per_bin).max(0.0) as usize).min(BINS - 1)
    }

    /// The log-likelihood ratio of intensity `x`: above zero where it looks like the part.
    fn llr(&self, x: f32) -> f32 {
        self.ratio[self.bin(x)]
    }
}

/// Whether the part's pixels lie inside at fraction `t` of the gap from its labelled slice when
/// it ends at `end`: the signed-distance threshold (inside where the field is below it), or
/// None where it has ended.
fn threshold(t: f32, end: f32, cap: f32, dome: f32) -> Option<f32> {
    // Inside where (1 − w)·field + w·cap < 0.
    let w = end_weight(t, end, dome);
    (w < 1.0).then(|| -cap * w / (1.0 - w))
}

/// The blend weight of the missing side at fraction `t` of the gap from the labelled slice,
/// for a part ending at `end` (1 once it has ended: the cap's constant alone, outside).
pub(super) fn end_weight(t: f32, end: f32, dome: f32) -> f32 {
    let scaled = t * MIDDLE / end;
    if scaled >= MIDDLE {
        1.0
    } else {
        capped_weight(scaled, dome)
    }
}

/// The end (fraction of the gap from slice `labelled` towards the annotated empty slice
/// `empty`) that the image supports best for a capped part with signed distances `field`
/// (on `labelled`), deepest distance `cap` and dome share `dome`; None where it shows no end
/// clearly better than the middle (or the part is too small to tell).
pub(super) fn cap_end(
    image: &ImageView,
    field: &Field,
    cap: f32,
    dome: f32,
    labelled: usize,
    empty: usize,
) -> Option<f32> {
    let (b, values) = field;
    let bw = b.2 - b.0;
    // The part's pixels, with their signed distances.
    let part: Vec<(usize, usize, f32)> = values
        .iter()
        .enumerate()
        .filter(|(_, x)| **x < 0.0)
        .map(|(i, &x)| (b.0 + i % bw, b.1 + i / bw, x))
        .collect();
    if part.len() < MIN_PIXELS {
        return None;
    }
    let on = |s: usize| -> Vec<f32> { part.iter().map(|&(u, v, _)| image.at(s, u, v)).collect() };
    // Around the part on its labelled slice: the pixels within RING of its box, outside it.
    let (w, h) = image.dims();
    let around = (
        b.0.saturating_sub(RING),
        b.1.saturating_sub(RING),
        (b.2 + RING).min(w),
        (b.3 + RING).min(h),
    );
    let in_part = |u: usize, v: usize| {
        (b.0..b.2).contains(&u)
            && (b.1..b.3).contains(&v)
            && values[(v - b.1) * bw + (u - b.0)] < 0.0
    };
    let ring: Vec<f32> = (around.1..around.3)
        .flat_map(|v| (around.0..around.2).map(move |u| (u, v)))
        .filter(|&(u, v)| !in_part(u, v))
        .map(|(u, v)| image.at(labelled, u, v))
        .collect();
    let model = Likelihood::new(&on(labelled), &[&on(empty), &ring])?;
    // Per gap slice (d slices from the labelled one), the part's pixels' log-likelihood ratios.
    let n = labelled.abs_diff(empty);
    let slice_at = |d: usize| {
        if empty > labelled {
            labelled + d
        } else {
            labelled - d
        }
    };
    let ratios: Vec<Vec<f32>> = (1..n)
        .map(|d| on(slice_at(d)).into_iter().map(|x| model.llr(x)).collect())
        .collect();
    // How well an end explains the gap: the ratios summed over the pixels it keeps inside.
    let score = |end: f32| -> f32 {
        (1..n)
            .filter_map(|d| {
                let level = threshold(d as f32 / n as f32, end, cap, dome)?;
                let kept = part.iter().zip(&ratios[d - 1]).filter(|(p, _)| p.2 < level);
                Some(kept.map(|(_, r)| r).sum::<f32>())
            })
            .sum()
    };
    // The middle unless another end explains the gap better, by MARGIN a pixel at least.
    let middle = score(MIDDLE);
    let (end, best) = ENDS
        .iter()
        .map(|&e| (e, score(e)))
        .fold((MIDDLE, middle), |a, x| if x.1 > a.1 { x } else { a });
    (best - middle >= MARGIN * part.len() as f32).then_some(end)
}

/// A blended group's intensities: the label's pixels on its two annotated slices (`sides`: a
/// field and its slice each) against a ring of `ring_mm` around them there (None without
/// enough of either).
pub(super) fn blend_model(
    image: &ImageView,
    sides: [(&Field, usize); 2],
    ring_mm: f32,
) -> Option<Likelihood> {
    let (mut inside, mut ring) = (Vec::new(), Vec::new());
    for ((b, values), s) in sides {
        for (row, v) in values.chunks_exact(b.2 - b.0).zip(b.1..) {
            for (&x, u) in row.iter().zip(b.0..) {
                if x < 0.0 {
                    inside.push(image.at(s, u, v));
                } else if x <= ring_mm {
                    ring.push(image.at(s, u, v));
                }
            }
        }
    }
    if inside.len() < MIN_PIXELS || ring.len() < MIN_PIXELS {
        return None;
    }
    Likelihood::new(&thinned(inside), &[&thinned(ring)])
}

/// The level a blended group is thresholded at on slice `s` (its blended values `values` on
/// box `r`): `level`, the area rule's, unless the pixels that level takes in beyond the plain
/// blend (values in [0, level)) look, on the image, unlike the object by MARGIN a pixel; then
/// zero, the plain blend. (An object that thins between its slices, such as the heart's apex,
/// is left thin where the image shows it thin.)
pub(super) fn checked_level(
    model: &Likelihood,
    image: &ImageView,
    s: usize,
    r: Box2,
    values: &[f32],
    level: f32,
) -> f32 {
    let width = r.2 - r.0;
    let (mut sum, mut n) = (0.0, 0usize);
    for (i, _) in values
        .iter()
        .enumerate()
        .filter(|(_, x)| (0.0..level).contains(*x))
    {
        sum += model.llr(image.at(s, r.0 + i % width, r.1 + i / width));
        n += 1;
    }
    if sum < -MARGIN * n as f32 { 0.0 } else { level }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::edt::signed_distance;

    const W: usize = 32;
    const DEPTH: usize = 9;

    /// A disc of `radius` pixels centred on the slice.
    fn disc(radius: f32) -> Vec<bool> {
        (0..W * W)
            .map(|i| {
                let (u, v) = ((i % W) as f32 - 15.5, (i / W) as f32 - 15.5);
                u * u + v * v <= radius * radius
            })
            .collect()
    }

    /// An image of DEPTH slices: 100 on a disc of `radius(s)` on slice s, 20 elsewhere, with a
    /// fixed ±15 ripple.
    fn image(radius: impl Fn(usize) -> f32) -> Vec<f32> {
        (0..DEPTH)
            .flat_map(|s| {
                let mask = disc(radius(s));
                (0..W * W).map(
                    move |i| if mask[i] { 100.0 } else { 20.0 } + 15.0 * ((i * 7 + s) as f32).sin(),
                )
            })
            .collect()
    }

    /// The end `cap_end` chooses for a disc of radius 8 on slice 0, capped towards the
    /// annotated empty slice 8.
    fn end_for(data: &[f32]) -> Option<f32> {
        let view = ImageView {
            data,
            shape: [W, W, DEPTH],
            axis: 2,
        };
        let field = ((0, 0, W, W), signed_distance(&disc(8.0), W, W, 1.0, 1.0));
        let cap = field.1.iter().fold(0f32, |m, &x| m.max(-x));
        cap_end(&view, &field, cap, 1.0, 0, 8)
    }

    #[test]
    fn an_object_the_image_shows_running_on_ends_late_in_the_gap() {
        // A dome that runs on to slice 7 of the 8-slice gap.
        let data = image(|s| 8.0 * (1.0 - (s as f32 / 7.5).powi(2)).max(0.0).sqrt());
        let end = end_for(&data).expect("the image shows where it ends");
        assert!(end >= 0.75, "ends at {end}");
    }

    #[test]
    fn an_object_the_image_shows_ending_at_once_ends_early() {
        let data = image(|s| if s == 0 { 8.0 } else { 0.0 });
        let end = end_for(&data).expect("the image shows where it ends");
        assert!(end <= 0.375, "ends at {end}");
    }

    #[test]
    fn an_image_that_cannot_tell_the_object_leaves_the_middle() {
        // The same intensities inside and out: no evidence for any end.
        let flat: Vec<f32> = (0..W * W * DEPTH)
            .map(|i| 50.0 + (i as f32).sin())
            .collect();
        assert_eq!(end_for(&flat), None);
        // An object as it would end by the labels alone: the middle stays.
        let data = image(|s| 8.0 * (1.0 - (s as f32 / 4.0).powi(2)).max(0.0).sqrt());
        assert!(end_for(&data).is_none_or(|e| (0.375..=0.625).contains(&e)));
    }

    #[test]
    fn the_area_rule_takes_in_only_pixels_the_image_does_not_show_outside() {
        // A disc of radius 8 on slice 0 and one of radius 4 on slice 8, bright on grey.
        let data = image(|s| match s {
            0 => 8.0,
            8 => 4.0,
            _ => 6.0,
        });
        let view = ImageView {
            data: &data,
            shape: [W, W, DEPTH],
            axis: 2,
        };
        let (big, small) = (disc(8.0), disc(4.0));
        let fa = ((0, 0, W, W), signed_distance(&big, W, W, 1.0, 1.0));
        let fb = ((0, 0, W, W), signed_distance(&small, W, W, 1.0, 1.0));
        let model = blend_model(&view, [(&fa, 0), (&fb, 8)], 3.0).expect("model");
        // Mid-gap the blend is a disc of radius 6; a level of 1.5 takes in the ring to 7.5.
        let values: Vec<f32> = fa.1.iter().zip(&fb.1).map(|(a, b)| (a + b) / 2.0).collect();
        let whole = (0, 0, W, W);
        // On slice 4 the object has radius 6: that ring is outside, the plain blend stays.
        assert_eq!(checked_level(&model, &view, 4, whole, &values, 1.5), 0.0);
        // Where the image shows radius 8 (slice 0), the ring is inside: the level stands.
        assert_eq!(checked_level(&model, &view, 0, whole, &values, 1.5), 1.5);
    }

    #[test]
    fn likelihood_ratios_favour_the_part_at_its_own_intensities() {
        let inside: Vec<f32> = (0..50).map(|i| 100.0 + (i % 7) as f32).collect();
        let outside: Vec<f32> = (0..50).map(|i| 20.0 + (i % 5) as f32).collect();
        let model = Likelihood::new(&inside, &[&outside]).expect("model");
        assert!(model.llr(103.0) > 1.0);
        assert!(model.llr(22.0) < -1.0);
        assert!(model.llr(-1e6) < 0.0 && model.llr(f32::NAN).is_finite());
        assert!(Likelihood::new(&[], &[&outside]).is_none());
    }
}
