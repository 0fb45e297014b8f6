//! Shape-based interpolation: per label, the exact signed distance (mm) of each annotated slice,
//! blended linearly across each gap and thresholded at zero; overlaps between labels go to the
//! most negative distance.
//!
//! Work is kept to where it can matter. A pixel outside both masks of a gap stays outside for
//! every blend, so a gap is blended only within the box of its two masks, and each annotated
//! slice's distances are computed only within the box of its own mask and its two neighbours'
//! (the outside distances there are exact, since every pixel of the mask lies inside that box).

use super::edt::signed_distance;
use super::interpolate::{label_boxes, parallel_map};
use super::slices::set_region;

/// A pixel box (u0, v0, u1, v1) on a slice, exclusive ends.
type Box2 = (usize, usize, usize, usize);

fn union(a: Option<Box2>, b: Option<Box2>) -> Option<Box2> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.min(b.1), a.2.max(b.2), a.3.max(b.3))),
        (a, None) => a,
        (None, b) => b,
    }
}

/// `b` grown by one pixel (so the boundary's outside is inside it), within a `w`×`h` slice.
fn grow(b: Box2, w: usize, h: usize) -> Box2 {
    (
        b.0.saturating_sub(1),
        b.1.saturating_sub(1),
        (b.2 + 1).min(w),
        (b.3 + 1).min(h),
    )
}

/// One label's masks on the annotated slices: their exact boxes and signed distances.
struct LabelField {
    label: u16,
    /// The mask's exact box on each annotated slice (None: not on that slice).
    tight: Vec<Option<Box2>>,
    /// Signed distances within the box of the mask and its neighbours' masks.
    phi: Vec<Option<(Box2, Vec<f32>)>>,
}

impl LabelField {
    fn new(
        label: u16,
        bbox: Box2,
        slices: &[&[u16]],
        w: usize,
        h: usize,
        sx: f32,
        sy: f32,
    ) -> Self {
        let (u0, v0, u1, v1) = bbox;
        let tight: Vec<Option<Box2>> =
            parallel_map(slices, (u1 - u0) * (v1 - v0) * slices.len(), |slice| {
                let mut b = None;
                for v in v0..v1 {
                    let row = &slice[v * w + u0..v * w + u1];
                    let (Some(first), Some(last)) = (
                        row.iter().position(|&x| x == label),
                        row.iter().rposition(|&x| x == label),
                    ) else {
                        continue;
                    };
                    b = union(b, Some((u0 + first, v, u0 + last + 1, v + 1)));
                }
                b
            });
        let n = slices.len();
        let indices: Vec<usize> = (0..n).collect();
        let work = 4 * (u1 - u0) * (v1 - v0) * tight.iter().flatten().count();
        let phi = parallel_map(&indices, work, |&g| {
            tight[g]?;
            let near = union(
                union(tight[g.saturating_sub(1)], tight[g]),
                tight[(g + 1).min(n - 1)],
            )?;
            let b = grow(near, w, h);
            let bw = b.2 - b.0;
            let mask: Vec<bool> = (b.1..b.3)
                .flat_map(|v| {
                    slices[g][v * w + b.0..v * w + b.2]
                        .iter()
                        .map(|&x| x == label)
                })
                .collect();
            Some((b, signed_distance(&mask, bw, b.3 - b.1, sx, sy)))
        });
        LabelField { label, tight, phi }
    }

    /// Whether gap `g` (between annotated slices g and g + 1) has this label on either side.
    fn in_gap(&self, g: usize) -> bool {
        self.tight[g].is_some() || self.tight[g + 1].is_some()
    }
}

/// Row `v` of box `r` read from a distance field (its own box and values), or `constant` (one
/// row long) where the slice has no such field.
fn row_in<'a>(
    field: &'a Option<(Box2, Vec<f32>)>,
    constant: &'a [f32],
    r: Box2,
    v: usize,
) -> &'a [f32] {
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
#[allow(clippy::too_many_arguments)]
pub(super) fn fill(
    out: &mut [u16],
    shape: [usize; 3],
    axis: usize,
    annotated: &[usize],
    known: &[&[u16]],
    (w, h): (usize, usize),
    (sx, sy): (f32, f32),
) {
    let fields: Vec<LabelField> = label_boxes(known, w, h)
        .into_iter()
        .map(|(label, bbox)| LabelField::new(label, bbox, known, w, h, sx, sy))
        .collect();
    // Only gaps holding some label need work: the others stay 0.
    let jobs: Vec<(usize, usize)> = (0..annotated.len() - 1)
        .filter(|&g| fields.iter().any(|f| f.in_gap(g)))
        .flat_map(|g| (annotated[g] + 1..annotated[g + 1]).map(move |s| (g, s)))
        .collect();
    let blend = |&(g, s): &(usize, usize)| -> Option<(Box2, Vec<u16>)> {
        let gap_box = |f: &LabelField| union(f.tight[g], f.tight[g + 1]).map(|b| grow(b, w, h));
        let roi = fields.iter().fold(None, |acc, f| union(acc, gap_box(f)))?;
        let (a, b) = (annotated[g], annotated[g + 1]);
        let t = (s - a) as f32 / (b - a) as f32;
        let rw = roi.2 - roi.0;
        let mut best = vec![f32::INFINITY; rw * (roi.3 - roi.1)];
        let mut region = vec![0u16; rw * (roi.3 - roi.1)];
        for f in &fields {
            let Some(r) = gap_box(f) else { continue };
            let (pa, pb) = (&f.phi[g], &f.phi[g + 1]);
            // An annotated-empty side erodes the other side's object to nothing at the gap's
            // middle: its distance is the other side's deepest inside one.
            let deepest = |p: &(Box2, Vec<f32>)| p.1.iter().fold(0f32, |m, &x| m.max(-x));
            let (ca, cb) = match (pa, pb) {
                (None, None) => continue,
                (None, Some(q)) => (deepest(q), 0.0),
                (Some(p), None) => (0.0, deepest(p)),
                _ => (0.0, 0.0),
            };
            let width = r.2 - r.0;
            let (row_a, row_b) = (vec![ca; width], vec![cb; width]);
            for v in r.1..r.3 {
                let (fa, fb) = (row_in(pa, &row_a, r, v), row_in(pb, &row_b, r, v));
                let o = (v - roi.1) * rw + (r.0 - roi.0);
                let (best, region) = (&mut best[o..o + width], &mut region[o..o + width]);
                for (((&x, &y), d), l) in fa.iter().zip(fb).zip(best).zip(region) {
                    let phi = (1.0 - t) * x + t * y;
                    if phi < 0.0 && phi < *d {
                        *d = phi;
                        *l = f.label;
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
}
