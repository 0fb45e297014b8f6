//! One group of one label in one gap: the signed distances of its parts on the two sides, and
//! their blend at any point of the gap (in place, aligned on a travelling centroid, or capped
//! where the group is on one side only).

use std::borrow::Cow;

use super::boxes::{grow, grow_by, label_count, union};
use super::caps::dome_share;
use super::edt::signed_distance;
use super::guide::{ImageView, MIDDLE, cap_end, end_weight};
use super::parts::{Box2, GapRule, Group, SliceParts};
use super::sdf::LabelField;

/// Below this intersection over union, a group's two sides are aligned before blending ...
pub(super) const ALIGN_BELOW_IOU: f64 = 0.5;
/// ... when moving one onto the other's centroid raises it by at least this much (the object
/// moved; a low overlap from a change of size or shape is blended in place).
const ALIGN_GAIN: f64 = 0.1;

/// A signed distance field (mm) on a box of the slice.
pub(super) type Field = (Box2, Vec<f32>);

/// One group of one label in one gap, with the fields it needs.
pub(super) struct GroupField<'a> {
    pub(super) label: u16,
    /// The two sides' fields (None: the group is not on that side).
    pub(super) a: Option<Cow<'a, Field>>,
    pub(super) b: Option<Cow<'a, Field>>,
    /// The value standing in for a missing side: the other side's deepest inside distance, so
    /// the blend erodes the part to nothing at the gap's middle.
    cap: f32,
    /// A capped group's share of dome-like erosion (`capped_weight`).
    dome: f32,
    /// Where a capped group ends, as a fraction of the gap from its labelled slice (the gap's
    /// middle unless the image showed otherwise, `guide::cap_end`).
    end: f32,
    /// For an aligned blend: the two sides' boxes and the shift (pixels) from a's centroid to
    /// b's.
    aligned: Option<(Box2, Box2, (f32, f32))>,
    /// The box where the blend can be inside, for an unaligned group.
    region: Box2,
    /// Pixels inside on each side (zero on a missing side).
    pub(super) areas: (f32, f32),
}

/// Pixels inside a field.
pub(super) fn inside(field: &Field) -> f32 {
    field.1.iter().filter(|&&x| x < 0.0).count() as f32
}

impl<'a> GroupField<'a> {
    /// Both sides, with `areas` pixels inside, blended in place within `region`.
    pub(super) fn blend(
        label: u16,
        (a, b): (Cow<'a, Field>, Cow<'a, Field>),
        areas: (f32, f32),
        region: Box2,
    ) -> Self {
        GroupField {
            areas,
            label,
            a: Some(a),
            b: Some(b),
            cap: 0.0,
            dome: 0.0,
            end: MIDDLE,
            aligned: None,
            region,
        }
    }

    /// The box where this group can be inside at fraction `t` of the gap.
    pub(super) fn region_at(&self, t: f32, w: usize, h: usize) -> Box2 {
        let Some((ba, bb, (du, dv))) = self.aligned else {
            return self.region;
        };
        let shifted = |b: Box2, s: f32| {
            let (ou, ov) = (s * du, s * dv);
            (
                (b.0 as f32 + ou).floor().max(0.0) as usize,
                (b.1 as f32 + ov).floor().max(0.0) as usize,
                ((b.2 as f32 + ou).ceil().max(0.0) as usize).min(w),
                ((b.3 as f32 + ov).ceil().max(0.0) as usize).min(h),
            )
        };
        let r = union(Some(shifted(ba, t)), Some(shifted(bb, t - 1.0))).unwrap_or(self.region);
        let r = grow(r, w, h);
        // An empty box (both shifted off the slice) stays empty.
        (r.0.min(r.2), r.1.min(r.3), r.2, r.3)
    }
}

impl GroupField<'_> {
    /// The blended signed distances within box `r` at fraction `t` of the gap, row-major
    /// (None for an aligned group missing a side, which cannot occur).
    pub(super) fn values_at(&self, r: Box2, t: f32) -> Option<Vec<f32>> {
        let width = r.2 - r.0;
        let mut values = Vec::with_capacity(width * (r.3 - r.1));
        if let Some((_, _, (du, dv))) = self.aligned {
            // Both sides read at the positions that move their centroids onto this slice's
            // common one.
            let (Some(fa), Some(fb)) = (&self.a, &self.b) else {
                return None;
            };
            for v in r.1..r.3 {
                for u in r.0..r.2 {
                    let (x, y) = (u as f32, v as f32);
                    let va = sample(fa, x - t * du, y - t * dv);
                    let vb = sample(fb, x + (1.0 - t) * du, y + (1.0 - t) * dv);
                    values.push((1.0 - t) * va + t * vb);
                }
            }
            return Some(values);
        }
        let (pa, pb) = (self.a.as_deref(), self.b.as_deref());
        let (ca, cb) = (
            if pa.is_none() { self.cap } else { 0.0 },
            if pb.is_none() { self.cap } else { 0.0 },
        );
        // A part on one side only ends inside the gap (`end_weight`).
        let t = match (pa.is_some(), pb.is_some()) {
            (true, false) => end_weight(t, self.end, self.dome),
            (false, true) => 1.0 - end_weight(1.0 - t, self.end, self.dome),
            _ => t,
        };
        let (row_a, row_b) = (vec![ca; width], vec![cb; width]);
        for v in r.1..r.3 {
            let (fa, fb) = (row_in(pa, &row_a, r, v), row_in(pb, &row_b, r, v));
            values.extend(fa.iter().zip(fb).map(|(&x, &y)| (1.0 - t) * x + t * y));
        }
        Some(values)
    }
}

/// A field's value at slice position (x, y), bilinear, clamped to the field's box.
fn sample((b, data): &Field, x: f32, y: f32) -> f32 {
    let (bw, bh) = (b.2 - b.0, b.3 - b.1);
    let fx = (x - b.0 as f32).clamp(0.0, (bw - 1) as f32);
    let fy = (y - b.1 as f32).clamp(0.0, (bh - 1) as f32);
    let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(bw - 1), (y0 + 1).min(bh - 1));
    let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
    let at = |x: usize, y: usize| data[y * bw + x];
    (1.0 - ay) * ((1.0 - ax) * at(x0, y0) + ax * at(x1, y0))
        + ay * ((1.0 - ax) * at(x0, y1) + ax * at(x1, y1))
}

/// Intersection over union of the components `ids_a` of `a` and `ids_b` of `b` (with `na` and
/// `nb` pixels) once `b` is moved back by `shift` (rounded to whole pixels).
fn shifted_iou(
    a: &SliceParts,
    ids_a: &[u32],
    b: &SliceParts,
    ids_b: &[u32],
    shift: (f32, f32),
    (na, nb): (usize, usize),
) -> f64 {
    let (du, dv) = (shift.0.round() as isize, shift.1.round() as isize);
    let t = a.tight;
    let mut both = 0usize;
    for v in t.1..t.3 {
        for u in t.0..t.2 {
            let id = a.id_at(u, v);
            if id == 0 || !ids_a.contains(&id) {
                continue;
            }
            let (x, y) = (u as isize + du, v as isize + dv);
            if x >= 0 && y >= 0 {
                let other = b.id_at(x as usize, y as usize);
                both += (other != 0 && ids_b.contains(&other)) as usize;
            }
        }
    }
    both as f64 / (na + nb - both).max(1) as f64
}

/// Signed distances of the components `ids` of `parts` within `b`.
fn parts_field(parts: &SliceParts, ids: &[u32], b: Box2, sx: f32, sy: f32) -> Field {
    let mask: Vec<bool> = (b.1..b.3)
        .flat_map(|v| (b.0..b.2).map(move |u| (u, v)))
        .map(|(u, v)| {
            let id = parts.id_at(u, v);
            id != 0 && ids.contains(&id)
        })
        .collect();
    (b, signed_distance(&mask, b.2 - b.0, b.3 - b.1, sx, sy))
}

/// Builds the fields of one group of `f`'s label in gap `g`, between annotated slices
/// `slices` (where a capped group ends is read from `image` where there is one).
#[allow(clippy::too_many_arguments)]
pub(super) fn group_field<'a>(
    f: &LabelField,
    g: usize,
    known: &[&[u16]],
    group: &Group,
    (w, h): (usize, usize),
    (sx, sy): (f32, f32),
    slices: (usize, usize),
    image: Option<&ImageView>,
) -> Option<(GroupField<'a>, GapRule)> {
    let side = |k: usize, ids: &[u32]| {
        f.parts[k]
            .as_ref()
            .filter(|_| !ids.is_empty())
            .map(|p| (p, p.union_of(ids)))
    };
    let (a, b) = (side(g, &group.a), side(g + 1, &group.b));
    match (a, b) {
        (Some((pa, (ba, na, ca))), Some((pb, (bb, nb, cb)))) => {
            let region = grow(union(Some(ba), Some(bb)).unwrap_or(ba), w, h);
            let fa = parts_field(pa, &group.a, region, sx, sy);
            let fb = parts_field(pb, &group.b, region, sx, sy);
            let both =
                fa.1.iter()
                    .zip(&fb.1)
                    .filter(|(x, y)| **x < 0.0 && **y < 0.0);
            let inter = both.count();
            let iou = inter as f64 / (na + nb - inter).max(1) as f64;
            let shift = (cb.0 - ca.0, cb.1 - ca.1);
            if iou >= ALIGN_BELOW_IOU
                || shifted_iou(pa, &group.a, pb, &group.b, shift, (na, nb)) < iou + ALIGN_GAIN
            {
                let areas = (inside(&fa), inside(&fb));
                let field =
                    GroupField::blend(f.label, (Cow::Owned(fa), Cow::Owned(fb)), areas, region);
                return Some((field, GapRule::Blend));
            }
            // Aligned: each side is read up to the shift away from its own box.
            let pad = (
                shift.0.abs().ceil() as usize + 2,
                shift.1.abs().ceil() as usize + 2,
            );
            let wide = grow_by(region, pad, w, h);
            let (fa, fb) = (
                parts_field(pa, &group.a, wide, sx, sy),
                parts_field(pb, &group.b, wide, sx, sy),
            );
            let field = GroupField {
                areas: (inside(&fa), inside(&fb)),
                label: f.label,
                a: Some(Cow::Owned(fa)),
                b: Some(Cow::Owned(fb)),
                cap: 0.0,
                dome: 0.0,
                end: MIDDLE,
                aligned: Some((ba, bb, shift)),
                region: wide,
            };
            Some((field, GapRule::AlignedBlend))
        }
        (Some((p, (bx, ..))), None) | (None, Some((p, (bx, ..)))) => {
            let on_a = group.b.is_empty();
            let ids = if on_a { &group.a } else { &group.b };
            let region = grow(bx, w, h);
            let field = parts_field(p, ids, region, sx, sy);
            let cap = field.1.iter().fold(0f32, |m, &x| m.max(-x));
            let (labelled, empty) = if on_a { slices } else { (slices.1, slices.0) };
            // The label's taper towards the gap: its area here against the annotated slice
            // beyond (away from the gap).
            // (Counted here, for capped groups only: most gaps of a large mask have none.)
            let area = |k: usize| f.tight[k].map_or(0, |t| label_count(known[k], w, f.label, t));
            let beyond = if on_a { g.checked_sub(1) } else { Some(g + 2) };
            let taper = beyond
                .filter(|&k| k < known.len())
                .map(area)
                .filter(|&a| a > 0)
                .map(|a| area(if on_a { g } else { g + 1 }) as f32 / a as f32);
            let dome = dome_share(taper);
            let seen = image.and_then(|im| cap_end(im, &field, cap, dome, labelled, empty));
            let field = Some(Cow::Owned(field));
            let (a, b) = if on_a { (field, None) } else { (None, field) };
            let rule = if seen.is_some() {
                GapRule::ImageCap
            } else {
                GapRule::Cap
            };
            let field = GroupField {
                label: f.label,
                a,
                b,
                cap,
                dome,
                end: seen.unwrap_or(MIDDLE),
                areas: (0.0, 0.0),
                aligned: None,
                region,
            };
            Some((field, rule))
        }
        (None, None) => None,
    }
}

/// Row `v` of box `r` read from a distance field (its own box and values), or `constant` (one
/// row long) where the slice has no such field.
fn row_in<'a>(field: Option<&'a Field>, constant: &'a [f32], r: Box2, v: usize) -> &'a [f32] {
    match field {
        None => constant,
        Some((b, data)) => {
            let start = (v - b.1) * (b.2 - b.0) + (r.0 - b.0);
            &data[start..start + constant.len()]
        }
    }
}
