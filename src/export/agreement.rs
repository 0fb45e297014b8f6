//! Two annotators' agreement on a shared case, on the planned slices: Dice (a voxel agrees when
//! both gave it the same label) and the symmetric surface distance between their outlines, mean
//! and 95th percentile in millimetres, per slice and over the case, with the slices that
//! disagree most first so a lead knows where to adjudicate.
//!
//! Distances are in-plane (annotations are drawn slice by slice): from every outline pixel of
//! one mask to the nearest outline pixel of the other, both ways, pooled (as medpy's `hd95` and
//! `assd` pool them). A slice labelled by one annotator only has no distance; it is counted.

use serde::Serialize;

use crate::interp::dice_from_counts;
use crate::io::{Slice2d, Volume};
use crate::plan::PlannedVolume;

/// Agreement on one planned slice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SliceAgreement {
    pub slice: usize,
    /// 1 when neither labelled anything.
    pub dice: f64,
    /// Mean surface distance (mm); None when either mask is empty on the slice.
    pub mean_surface_mm: Option<f64>,
    /// 95th percentile of the surface distances (mm); None as above.
    pub surface_95_mm: Option<f64>,
}

/// Two annotators' agreement on a shared case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    pub case_id: String,
    pub annotators: [String; 2],
    /// Dice over every planned slice together (1 when neither labelled anything).
    pub dice: f64,
    /// Surface distances pooled over the slices both labelled (mm).
    pub mean_surface_mm: Option<f64>,
    pub surface_95_mm: Option<f64>,
    /// Slices that only one of the two labelled.
    pub one_sided_slices: usize,
    /// Per planned slice, the most disagreeing first (lowest Dice, then largest distance).
    pub slices: Vec<SliceAgreement>,
}

/// In-plane pixel sizes (mm) of a slice along `axis`.
fn pixel_mm(volume: &Volume, axis: usize) -> [f64; 2] {
    let (a, b) = Volume::in_plane_axes(axis);
    [volume.spacing_mm[a], volume.spacing_mm[b]]
}

/// The outline of `inside` on a `width`×`height` slice: pixels inside with a 4-neighbour outside
/// it or on the slice's edge, as (u, v).
fn outline(inside: &[bool], width: usize, height: usize) -> Vec<(usize, usize)> {
    let at = |u: usize, v: usize| inside[u + width * v];
    let mut out = Vec::new();
    for v in 0..height {
        for u in 0..width {
            if !at(u, v) {
                continue;
            }
            let edge = u == 0 || v == 0 || u + 1 == width || v + 1 == height;
            if edge || !at(u - 1, v) || !at(u + 1, v) || !at(u, v - 1) || !at(u, v + 1) {
                out.push((u, v));
            }
        }
    }
    out
}

/// From each point of `from` to the nearest of `to`, in mm.
fn nearest_mm(from: &[(usize, usize)], to: &[(usize, usize)], mm: [f64; 2]) -> Vec<f64> {
    from.iter()
        .map(|&(u, v)| {
            to.iter()
                .map(|&(x, y)| {
                    let du = (u as f64 - x as f64) * mm[0];
                    let dv = (v as f64 - y as f64) * mm[1];
                    du * du + dv * dv
                })
                .fold(f64::INFINITY, f64::min)
                .sqrt()
        })
        .collect()
}

/// The surface distances between two label sets on one slice, both ways; None when either is
/// empty.
pub fn surface_distances_mm(
    a: &[bool],
    b: &[bool],
    width: usize,
    height: usize,
    mm: [f64; 2],
) -> Option<Vec<f64>> {
    let (p, q) = (outline(a, width, height), outline(b, width, height));
    if p.is_empty() || q.is_empty() {
        return None;
    }
    let mut d = nearest_mm(&p, &q, mm);
    d.extend(nearest_mm(&q, &p, mm));
    Some(d)
}

/// (mean, 95th percentile by nearest rank) of `d`; None when empty.
pub fn mean_and_95(d: &[f64]) -> Option<(f64, f64)> {
    if d.is_empty() {
        return None;
    }
    let mut sorted = d.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((0.95 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some((d.iter().sum::<f64>() / d.len() as f64, sorted[rank - 1]))
}

/// Labels of a slice: the value where it is a label (not 0, not `ignore`), else 0.
fn labels_of(slice: &Slice2d, ignore: u16) -> Vec<u32> {
    slice
        .data
        .iter()
        .map(|&x| {
            let v = x.round().max(0.0) as u32;
            if v == ignore as u32 { 0 } else { v }
        })
        .collect()
}

/// The agreement of two annotators' masks on the planned slices of `volume`.
pub fn agreement(
    volume: &PlannedVolume,
    annotators: [String; 2],
    masks: [&Volume; 2],
    ignore: u16,
) -> Agreement {
    let mm = pixel_mm(masks[0], volume.axis);
    let mut counts = (0, 0, 0);
    let mut pooled = Vec::new();
    let mut one_sided_slices = 0;
    let mut slices: Vec<SliceAgreement> = volume
        .slices
        .iter()
        .map(|&s| {
            let (sa, sb) = (
                masks[0].slice_f32(volume.axis, s),
                masks[1].slice_f32(volume.axis, s),
            );
            let (la, lb) = (labels_of(&sa, ignore), labels_of(&sb, ignore));
            let both = la
                .iter()
                .zip(&lb)
                .filter(|(x, y)| **x != 0 && x == y)
                .count() as u64;
            let p = la.iter().filter(|x| **x != 0).count() as u64;
            let q = lb.iter().filter(|x| **x != 0).count() as u64;
            counts = (counts.0 + both, counts.1 + p, counts.2 + q);
            if (p == 0) != (q == 0) {
                one_sided_slices += 1;
            }
            let inside = |l: &[u32]| l.iter().map(|x| *x != 0).collect::<Vec<bool>>();
            let d = surface_distances_mm(&inside(&la), &inside(&lb), sa.width, sa.height, mm);
            let stats = d.as_deref().and_then(mean_and_95);
            pooled.extend(d.unwrap_or_default());
            SliceAgreement {
                slice: s,
                dice: dice_from_counts(both, p, q),
                mean_surface_mm: stats.map(|s| s.0),
                surface_95_mm: stats.map(|s| s.1),
            }
        })
        .collect();
    slices.sort_by(|p, q| {
        p.dice
            .total_cmp(&q.dice)
            .then(
                q.surface_95_mm
                    .unwrap_or(0.0)
                    .total_cmp(&p.surface_95_mm.unwrap_or(0.0)),
            )
            .then(p.slice.cmp(&q.slice))
    });
    let case_stats = mean_and_95(&pooled);
    Agreement {
        case_id: volume.case_id.clone(),
        annotators,
        dice: dice_from_counts(counts.0, counts.1, counts.2),
        mean_surface_mm: case_stats.map(|s| s.0),
        surface_95_mm: case_stats.map(|s| s.1),
        one_sided_slices,
        slices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w`×`h` slice with the rectangle [u0, u1) × [v0, v1) inside.
    fn rect(w: usize, h: usize, u0: usize, u1: usize, v0: usize, v1: usize) -> Vec<bool> {
        (0..w * h)
            .map(|i| (u0..u1).contains(&(i % w)) && (v0..v1).contains(&(i / w)))
            .collect()
    }

    #[test]
    fn identical_outlines_are_zero_apart() {
        let a = rect(20, 20, 5, 12, 4, 15);
        let d = surface_distances_mm(&a, &a, 20, 20, [0.7, 1.3]).unwrap();
        assert!(d.iter().all(|x| *x == 0.0));
        assert!(surface_distances_mm(&a, &rect(20, 20, 0, 0, 0, 0), 20, 20, [1.0; 2]).is_none());
    }

    #[test]
    fn a_square_shifted_by_two_pixels_is_counted_pixel_by_pixel() {
        // 6×6 squares, the second shifted 2 pixels along u; pixels 0.5 mm along u, 1 mm along v.
        let a = rect(30, 30, 5, 11, 5, 11);
        let b = rect(30, 30, 7, 13, 5, 11);
        let d = surface_distances_mm(&a, &b, 30, 30, [0.5, 1.0]).unwrap();
        // Each outline has 20 pixels. Of a's: on its top and bottom rows, 4 pixels lie on b's
        // outline (0), one is 1 pixel from it (0.5 mm), one 2 pixels (1 mm); each of its 8 side
        // pixels is 1 mm from b's nearest column or corner. The same from b to a.
        assert_eq!(d.len(), 40);
        let count = |x: f64| d.iter().filter(|&&y| (y - x).abs() < 1e-12).count();
        assert_eq!((count(0.0), count(0.5), count(1.0)), (16, 4, 20));
        let (mean, p95) = mean_and_95(&d).unwrap();
        assert!((mean - 22.0 / 40.0).abs() < 1e-12, "{mean}");
        assert_eq!(p95, 1.0);
    }

    #[test]
    fn percentile_is_by_nearest_rank() {
        let d: Vec<f64> = (1..=20).map(f64::from).collect();
        let (mean, p95) = mean_and_95(&d).unwrap();
        assert_eq!(mean, 10.5);
        assert_eq!(p95, 19.0);
        assert_eq!(mean_and_95(&[3.0]), Some((3.0, 3.0)));
        assert_eq!(mean_and_95(&[]), None);
    }
}
