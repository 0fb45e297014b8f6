//! Shape-based interpolation: per label, the exact signed distance (mm) of each annotated slice,
//! blended linearly across each gap and thresholded at zero, or just above zero where that would
//! keep less than the two sides' linearly interpolated area (an object that bends, slides or
//! changes shape across a gap would otherwise thin out between its slices) unless the image
//! shows the pixels that takes in outside the object (`guide`); overlaps between labels go to
//! the most negative distance.
//!
//! An object is carried across a gap part by part. Its 8-connected components on the two
//! slices are grouped by overlap ([`group_parts`]): a group on both sides is blended (after
//! moving both onto a common centroid when they overlap by less than half, so a small object
//! that moves keeps its size instead of pinching off), a group on one side only is capped: it
//! shrinks towards its medial axis, like a cone or a dome by its taper, and ends at the gap's
//! middle, or where the gap's slices of the image show it ends (`guide`), so an annotated empty
//! slice is never filled and an object ends inside the gap rather than at its last labelled
//! slice.
//!
//! Work is kept to where it can matter. A pixel outside both masks of a gap stays outside for
//! every blend, so a gap is blended only within the box of its two masks, and each annotated
//! slice's distances are computed only within the box of its own mask and its two neighbours'
//! (the outside distances there are exact, since every pixel of the mask lies inside that box).
//! The common case (one group, overlapping by at least half) uses those per-slice fields; the
//! other groups get fields of their own, within their boxes.

use std::borrow::Cow;
use std::sync::OnceLock;

use super::area::level_for_area;
use super::boxes::{grow, overlap_iou, slice_label_boxes, union};
use super::edt::signed_distance;
use super::group::{ALIGN_BELOW_IOU, Field, GroupField, group_field, inside};
use super::guide::{ImageView, Likelihood, blend_model, checked_level};
use super::interpolate::parallel_map;
use super::parts::{Box2, GapReport, GapRule, SliceParts, group_parts};
use super::slices::set_region;

/// How far (pixels) around a blended group's masks its surroundings are read on the image.
const RING_PIXELS: f32 = 3.0;

/// A group with its fields, its rule and its part counts (None: the label blended whole).
type Carried<'a> = (GroupField<'a>, GapRule, Option<(usize, usize)>);

/// One label on the annotated slices: its exact box, its parts, and (where a gap beside the
/// slice is blended as one group) its signed distances.
pub(super) struct LabelField {
    pub(super) label: u16,
    /// The mask's exact box on each annotated slice (None: not on that slice).
    pub(super) tight: Vec<Option<Box2>>,
    pub(super) parts: Vec<Option<SliceParts>>,
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

/// Fills the slices between annotated ones of `out` (a `shape` volume, slices along `axis`)
/// from the annotated slices `known` (at `annotated`, sorted), with in-plane spacing (sx, sy).
/// With `image`, a capped part ends where the image shows it does (`guide`).
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
    image: Option<&ImageView>,
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
    // Where each gap's reports start (one per item of its plan, in order).
    let mut first_report: Vec<usize> = Vec::new();
    for (k, &g) in gaps.iter().enumerate() {
        let mut items = Vec::new();
        first_report.push(reports.len());
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
                    let slices = (annotated[g], annotated[g + 1]);
                    group_field(f, g, known, group, (w, h), (sx, sy), slices, image)
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
                    left_thin: 0,
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
    // With the image: each blended group's intensities, found where its area rule first takes
    // pixels in (most groups never do), to check them (`guide::checked_level`).
    let models: Vec<Vec<OnceLock<Option<Likelihood>>>> = plans
        .iter()
        .map(|(_, items)| items.iter().map(|_| OnceLock::new()).collect())
        .collect();
    let ring_mm = RING_PIXELS * sx.max(sy);
    // A slice's blended labels within a box, and the items whose area rule the image turned down.
    type Blended = (Box2, Vec<u16>, Vec<usize>);
    let blend = |&(k, s): &(usize, usize)| -> Option<Blended> {
        let (g, items) = &plans[k];
        let (a, b) = (annotated[*g], annotated[g + 1]);
        let t = (s - a) as f32 / (b - a) as f32;
        let regions: Vec<Box2> = items.iter().map(|it| it.region_at(t, w, h)).collect();
        let roi = regions.iter().fold(None, |acc, r| union(acc, Some(*r)))?;
        let rw = roi.2 - roi.0;
        let mut best = vec![f32::INFINITY; rw * (roi.3 - roi.1)];
        let mut region = vec![0u16; rw * (roi.3 - roi.1)];
        let mut thin = Vec::new();
        for (n, ((it, &r), model)) in items.iter().zip(&regions).zip(&models[k]).enumerate() {
            let width = r.2 - r.0;
            let Some(values) = it.values_at(r, t) else {
                continue;
            };
            // A blend of two sides holds at least their interpolated area.
            let level = if it.a.is_some() && it.b.is_some() {
                let (aa, ab) = it.areas;
                let level = level_for_area(&values, (1.0 - t) * aa + t * ab);
                let sides = it.a.as_deref().zip(it.b.as_deref());
                match (image, sides) {
                    (Some(im), Some((fa, fb))) if level > 0.0 => {
                        let model =
                            model.get_or_init(|| blend_model(im, [(fa, a), (fb, b)], ring_mm));
                        match model {
                            Some(m) => {
                                let checked = checked_level(m, im, s, r, &values, level);
                                if checked < level {
                                    thin.push(n);
                                }
                                checked
                            }
                            None => level,
                        }
                    }
                    _ => level,
                }
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
        Some((roi, region, thin))
    };
    for batch in jobs.chunks(32) {
        let work = w * h * batch.len() / 4;
        for ((k, s), blended) in batch.iter().zip(parallel_map(batch, work, blend)) {
            if let Some((roi, region, thin)) = blended {
                set_region(out, shape, axis, *s, roi, &region);
                for n in thin {
                    reports[first_report[*k] + n].left_thin += 1;
                }
            }
        }
    }
    reports
}
