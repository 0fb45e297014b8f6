//! Shape-based interpolation: per label, the exact signed distance (mm) of each annotated slice,
//! blended linearly across each gap and thresholded at zero, or just above zero where that would
//! keep less than the two sides' linearly interpolated area (an object that bends, slides or
//! changes shape across a gap would otherwise thin out between its slices); overlaps between
//! labels go to the most negative distance.
//!
//! An object is carried across a gap part by part. Its 8-connected components on the two
//! slices are grouped by overlap ([`group_parts`]): a group on both sides is blended (after
//! moving both onto a common centroid when they overlap by less than half, so a small object
//! that moves keeps its size instead of pinching off), a group on one side only is capped: it
//! shrinks towards its medial axis, half like a cone and half like a dome, and ends at the
//! gap's middle, so an annotated empty slice is never filled and an object ends inside the gap
//! rather than at its last labelled slice.
//!
//! Work is kept to where it can matter. A pixel outside both masks of a gap stays outside for
//! every blend, so a gap is blended only within the box of its two masks, and each annotated
//! slice's distances are computed only within the box of its own mask and its two neighbours'
//! (the outside distances there are exact, since every pixel of the mask lies inside that box).
//! The common case (one group, overlapping by at least half) uses those per-slice fields; the
//! other groups get fields of their own, within their boxes.

use std::borrow::Cow;

use super::area::level_for_area;
use super::caps::{capped_weight, dome_share};
use super::edt::signed_distance;
use super::interpolate::parallel_map;
use super::parts::{Box2, GapReport, GapRule, Group, SliceParts, group_parts};
use super::slices::set_region;

/// Below this intersection over union, a group's two sides are aligned before blending ...
const ALIGN_BELOW_IOU: f64 = 0.5;
/// ... when moving one onto the other's centroid raises it by at least this much (the object
/// moved; a low overlap from a change of size or shape is blended in place).
const ALIGN_GAIN: f64 = 0.1;

/// A signed distance field (mm) on a box of the slice.
type Field = (Box2, Vec<f32>);

/// A group with its fields, its rule and its part counts (None: the label blended whole).
type Carried<'a> = (GroupField<'a>, GapRule, Option<(usize, usize)>);

fn union(a: Option<Box2>, b: Option<Box2>) -> Option<Box2> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.min(b.1), a.2.max(b.2), a.3.max(b.3))),
        (a, None) => a,
        (None, b) => b,
    }
}

/// `b` grown by `(gu, gv)` pixels, within a `w`×`h` slice.
fn grow_by(b: Box2, (gu, gv): (usize, usize), w: usize, h: usize) -> Box2 {
    (
        b.0.saturating_sub(gu),
        b.1.saturating_sub(gv),
        (b.2 + gu).min(w),
        (b.3 + gv).min(h),
    )
}

/// `b` grown by one pixel (so the boundary's outside is inside it), within a `w`×`h` slice.
fn grow(b: Box2, w: usize, h: usize) -> Box2 {
    grow_by(b, (1, 1), w, h)
}

/// One label on the annotated slices: its exact box, its parts, and (where a gap beside the
/// slice is blended as one group) its signed distances.
struct LabelField {
    label: u16,
    /// The mask's exact box on each annotated slice (None: not on that slice).
    tight: Vec<Option<Box2>>,
    parts: Vec<Option<SliceParts>>,
    /// Signed distances within the box of the mask and its neighbours' masks.
    phi: Vec<Option<Field>>,
    /// The label's pixels on each slice with a `phi` (counted once, beside its field).
    phi_area: Vec<f32>,
}

impl LabelField {
    /// Whether gap `g` (between annotated slices g and g + 1) has this label on either side.
    fn in_gap(&self, g: usize) -> bool {
        self.tight[g].is_some() || self.tight[g + 1].is_some()
    }

    /// The whole label on slice `g` as one field within the box of it and its neighbours.
    fn slice_field(&self, g: usize, slice: &[u16], w: usize, h: usize, sx: f32, sy: f32) -> Field {
        let n = self.tight.len();
        let near = union(
            union(self.tight[g.saturating_sub(1)], self.tight[g]),
            self.tight[(g + 1).min(n - 1)],
        )
        .unwrap_or((0, 0, 1, 1));
        let b = grow(near, w, h);
        let mask: Vec<bool> = (b.1..b.3)
            .flat_map(|v| slice[v * w + b.0..v * w + b.2].iter())
            .map(|&x| x == self.label)
            .collect();
        (b, signed_distance(&mask, b.2 - b.0, b.3 - b.1, sx, sy))
    }
}

/// One group of one label in one gap, with the fields it needs.
struct GroupField<'a> {
    label: u16,
    /// The two sides' fields (None: the group is not on that side).
    a: Option<Cow<'a, Field>>,
    b: Option<Cow<'a, Field>>,
    /// The value standing in for a missing side: the other side's deepest inside distance, so
    /// the blend erodes the part to nothing at the gap's middle.
    cap: f32,
    /// A capped group's share of dome-like erosion (`capped_weight`).
    dome: f32,
    /// For an aligned blend: the two sides' boxes and the shift (pixels) from a's centroid to
    /// b's.
    aligned: Option<(Box2, Box2, (f32, f32))>,
    /// The box where the blend can be inside, for an unaligned group.
    region: Box2,
    /// Pixels inside on each side (zero on a missing side).
    areas: (f32, f32),
}

/// Pixels inside a field.
fn inside(field: &Field) -> f32 {
    field.1.iter().filter(|&&x| x < 0.0).count() as f32
}

impl<'a> GroupField<'a> {
    /// Both sides, with `areas` pixels inside, blended in place within `region`.
    fn blend(
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
            aligned: None,
            region,
        }
    }

    /// The box where this group can be inside at fraction `t` of the gap.
    fn region_at(&self, t: f32, w: usize, h: usize) -> Box2 {
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
    fn values_at(&self, r: Box2, t: f32) -> Option<Vec<f32>> {
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
        // A part on one side only ends mid-gap (`capped_weight`).
        let t = match (pa.is_some(), pb.is_some()) {
            (true, false) => capped_weight(t, self.dome),
            (false, true) => 1.0 - capped_weight(1.0 - t, self.dome),
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

/// Builds the fields of one group of `f`'s label in gap `g`.
fn group_field<'a>(
    f: &LabelField,
    g: usize,
    known: &[&[u16]],
    group: &Group,
    (w, h): (usize, usize),
    (sx, sy): (f32, f32),
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
            let field = Some(Cow::Owned(field));
            let (a, b) = if on_a { (field, None) } else { (None, field) };
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
            let field = GroupField {
                label: f.label,
                a,
                b,
                cap,
                dome: dome_share(taper),
                areas: (0.0, 0.0),
                aligned: None,
                region,
            };
            Some((field, GapRule::Cap))
        }
        (None, None) => None,
    }
}

/// Each label's exact box on a `w`-wide slice, in order of first appearance. One pass; rows
/// without a label are skipped by a vectorised test.
fn slice_label_boxes(slice: &[u16], w: usize) -> Vec<(u16, Box2)> {
    let mut boxes: Vec<(u16, Box2)> = Vec::new();
    for (v, row) in slice.chunks_exact(w).enumerate() {
        if row.iter().fold(0u16, |a, &x| a | x) == 0 {
            continue;
        }
        let mut last = usize::MAX;
        for (u, &x) in row.iter().enumerate() {
            if x == 0 {
                continue;
            }
            if last >= boxes.len() || boxes[last].0 != x {
                last = match boxes.iter().position(|b| b.0 == x) {
                    Some(i) => i,
                    None => {
                        boxes.push((x, (u, v, u + 1, v + 1)));
                        boxes.len() - 1
                    }
                };
            }
            let b = &mut boxes[last].1;
            *b = (b.0.min(u), b.1.min(v), b.2.max(u + 1), b.3.max(v + 1));
        }
    }
    boxes
}

/// Pixels of `label` within box `t` of a `w`-wide slice.
fn label_count(s: &[u16], w: usize, label: u16, t: Box2) -> usize {
    (t.1..t.3)
        .map(|v| {
            s[v * w + t.0..v * w + t.2]
                .iter()
                .filter(|&&x| x == label)
                .count()
        })
        .sum()
}

/// Intersection over union of `label` on two `w`-wide slices with boxes `ta` and `tb`.
fn overlap_iou(a: &[u16], b: &[u16], w: usize, label: u16, ta: Box2, tb: Box2) -> f64 {
    let count = |s: &[u16], t: Box2| label_count(s, w, label, t);
    let (u0, v0, u1, v1) = (
        ta.0.max(tb.0),
        ta.1.max(tb.1),
        ta.2.min(tb.2),
        ta.3.min(tb.3),
    );
    let both: usize = (v0..v1.max(v0))
        .map(|v| {
            let row = v * w + u0..v * w + u1.max(u0);
            let (ra, rb) = (&a[row.clone()], &b[row]);
            ra.iter()
                .zip(rb)
                .filter(|(x, y)| **x == label && **y == label)
                .count()
        })
        .sum();
    let union = count(a, ta) + count(b, tb) - both;
    both as f64 / union.max(1) as f64
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

/// Fills the slices between annotated ones of `out` (a `shape` volume, slices along `axis`)
/// from the annotated slices `known` (at `annotated`, sorted), with in-plane spacing (sx, sy).
/// Returns the rule used for each group of each label in each gap with slices to fill.
#[allow(clippy::too_many_arguments)]
pub(super) fn fill(
    out: &mut [u16],
    shape: [usize; 3],
    axis: usize,
    annotated: &[usize],
    known: &[&[u16]],
    (w, h): (usize, usize),
    (sx, sy): (f32, f32),
) -> Vec<GapReport> {
    let n = known.len();
    // Every label's box on every annotated slice, in one pass over them.
    let boxes: Vec<Vec<(u16, Box2)>> = parallel_map(known, w * h * n, |s| slice_label_boxes(s, w));
    let mut labels: Vec<u16> = boxes.iter().flatten().map(|b| b.0).collect();
    labels.sort_unstable();
    labels.dedup();
    let mut fields: Vec<LabelField> = labels
        .into_iter()
        .map(|label| LabelField {
            label,
            tight: boxes
                .iter()
                .map(|on| on.iter().find(|b| b.0 == label).map(|b| b.1))
                .collect(),
            parts: Vec::new(),
            phi: Vec::new(),
            phi_area: Vec::new(),
        })
        .collect();
    // Per gap with slices to fill, per label on it: both sides overlapping by at least half
    // (intersection over union) are blended whole with the per-slice fields (`false` here);
    // anything else is carried part by part. (Finding parts on every slice would triple the
    // time on large masks, so a well-overlapping gap is not split into parts.)
    let gaps: Vec<usize> = (0..n - 1)
        .filter(|&g| annotated[g + 1] > annotated[g] + 1)
        .collect();
    let by_parts: Vec<Vec<(usize, bool)>> = parallel_map(&gaps, w * h * gaps.len(), |&g| {
        fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.in_gap(g))
            .map(|(i, f)| {
                let whole = f.tight[g].zip(f.tight[g + 1]).is_some_and(|(ta, tb)| {
                    overlap_iou(known[g], known[g + 1], w, f.label, ta, tb) >= ALIGN_BELOW_IOU
                });
                (i, !whole)
            })
            .collect()
    });
    // Parts on the slices beside a gap carried part by part.
    for (i, f) in fields.iter_mut().enumerate() {
        let mut need = vec![false; n];
        for (k, &g) in gaps.iter().enumerate() {
            if by_parts[k].contains(&(i, true)) {
                need[g] = true;
                need[g + 1] = true;
            }
        }
        let indices: Vec<usize> = (0..n).collect();
        let area = (0..n)
            .filter(|&g| need[g])
            .filter_map(|g| f.tight[g])
            .map(|b| (b.2 - b.0) * (b.3 - b.1));
        let (label, tight) = (f.label, &f.tight);
        f.parts = parallel_map(&indices, 8 * area.sum::<usize>(), |&g| {
            tight[g]
                .filter(|_| need[g])
                .map(|t| SliceParts::find(known[g], w, label, t))
        });
    }
    // Per-slice fields where a gap beside the slice is blended as one group.
    for (i, f) in fields.iter_mut().enumerate() {
        let mut need = vec![false; n];
        for (k, &g) in gaps.iter().enumerate() {
            if by_parts[k].contains(&(i, false)) {
                need[g] = true;
                need[g + 1] = true;
            }
        }
        let indices: Vec<usize> = (0..n).filter(|&g| need[g]).collect();
        let work = 4 * indices
            .iter()
            .filter_map(|&g| f.tight[g])
            .map(|b| (b.2 - b.0) * (b.3 - b.1))
            .sum::<usize>();
        let computed = parallel_map(&indices, work, |&g| {
            let field = f.slice_field(g, known[g], w, h, sx, sy);
            let area = inside(&field);
            (field, area)
        });
        f.phi = vec![None; n];
        f.phi_area = vec![0.0; n];
        for (g, (field, area)) in indices.into_iter().zip(computed) {
            f.phi[g] = Some(field);
            f.phi_area[g] = area;
        }
    }
    // Every gap's groups with their fields.
    let mut reports = Vec::new();
    let mut plans: Vec<(usize, Vec<GroupField>)> = Vec::new();
    for (k, &g) in gaps.iter().enumerate() {
        let mut items = Vec::new();
        for &(i, part_by_part) in &by_parts[k] {
            let f = &fields[i];
            let built: Vec<Carried> = if !part_by_part {
                let (Some(pa), Some(pb)) = (&f.phi[g], &f.phi[g + 1]) else {
                    continue;
                };
                let region = union(f.tight[g], f.tight[g + 1]).map(|b| grow(b, w, h));
                let sides = (Cow::Borrowed(pa), Cow::Borrowed(pb));
                let areas = (f.phi_area[g], f.phi_area[g + 1]);
                let field = GroupField::blend(f.label, sides, areas, region.unwrap_or(pa.0));
                vec![(field, GapRule::Blend, None)]
            } else {
                let (groups, _) = group_parts(f.parts[g].as_ref(), f.parts[g + 1].as_ref());
                let work = groups.len() * w * h / 4;
                parallel_map(&groups, work, |group| {
                    group_field(f, g, known, group, (w, h), (sx, sy))
                        .map(|(field, rule)| (field, rule, Some((group.a.len(), group.b.len()))))
                })
                .into_iter()
                .flatten()
                .collect()
            };
            for (field, rule, parts) in built {
                reports.push(GapReport {
                    label: f.label,
                    from_slice: annotated[g],
                    to_slice: annotated[g + 1],
                    rule,
                    parts,
                });
                items.push(field);
            }
        }
        plans.push((g, items));
    }
    let jobs: Vec<(usize, usize)> = plans
        .iter()
        .enumerate()
        .filter(|(_, (_, items))| !items.is_empty())
        .flat_map(|(k, (g, _))| (annotated[*g] + 1..annotated[g + 1]).map(move |s| (k, s)))
        .collect();
    let blend = |&(k, s): &(usize, usize)| -> Option<(Box2, Vec<u16>)> {
        let (g, items) = &plans[k];
        let (a, b) = (annotated[*g], annotated[g + 1]);
        let t = (s - a) as f32 / (b - a) as f32;
        let regions: Vec<Box2> = items.iter().map(|it| it.region_at(t, w, h)).collect();
        let roi = regions.iter().fold(None, |acc, r| union(acc, Some(*r)))?;
        let rw = roi.2 - roi.0;
        let mut best = vec![f32::INFINITY; rw * (roi.3 - roi.1)];
        let mut region = vec![0u16; rw * (roi.3 - roi.1)];
        for (it, &r) in items.iter().zip(&regions) {
            let width = r.2 - r.0;
            let Some(values) = it.values_at(r, t) else {
                continue;
            };
            // A blend of two sides holds at least their interpolated area.
            let level = if it.a.is_some() && it.b.is_some() {
                let (aa, ab) = it.areas;
                level_for_area(&values, (1.0 - t) * aa + t * ab)
            } else {
                0.0
            };
            for v in r.1..r.3 {
                for u in r.0..r.2 {
                    let phi = values[(v - r.1) * width + (u - r.0)] - level;
                    let o = (v - roi.1) * rw + (u - roi.0);
                    if phi < 0.0 && phi < best[o] {
                        best[o] = phi;
                        region[o] = it.label;
                    }
                }
            }
        }
        Some((roi, region))
    };
    for batch in jobs.chunks(32) {
        let work = w * h * batch.len() / 4;
        for ((_, s), blended) in batch.iter().zip(parallel_map(batch, work, blend)) {
            if let Some((roi, region)) = blended {
                set_region(out, shape, axis, *s, roi, &region);
            }
        }
    }
    reports
}
