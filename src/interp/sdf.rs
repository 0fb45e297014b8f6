//! Shape-based interpolation: per label, the exact signed distance (mm) of each annotated slice,
//! blended linearly across each gap and thresholded at zero; overlaps between labels go to the
//! most negative distance.
//!
//! Work is kept to where it can matter. A pixel outside both masks of a gap stays outside for
//! every blend, so a gap is blended only within the box of its two masks, and each annotated
//! slice's distances are computed only within the box of its own mask and its two neighbours'
//! (the outside distances there are exact, since every pixel of the mask lies inside that box).

use super::edt::signed_distance;
use super::interpolate::parallel_map;
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
    /// The deepest inside distance on each slice next to one without the label (else 0).
    deepest: Vec<f32>,
}

impl LabelField {
    fn new(
        label: u16,
        tight: Vec<Option<Box2>>,
        slices: &[&[u16]],
        w: usize,
        h: usize,
        sx: f32,
        sy: f32,
    ) -> Self {
        let n = slices.len();
        let indices: Vec<usize> = (0..n).collect();
        let work = 4 * tight
            .iter()
            .flatten()
            .map(|b| (b.2 - b.0) * (b.3 - b.1))
            .sum::<usize>();
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
        // Needed only beside an annotated slice without the label.
        let beside_empty =
            |g: usize| (g > 0 && tight[g - 1].is_none()) || (g + 1 < n && tight[g + 1].is_none());
        let deepest = phi
            .iter()
            .enumerate()
            .map(|(g, p)| match p {
                Some((_, d)) if beside_empty(g) => d.iter().fold(0f32, |m, &x| m.max(-x)),
                _ => 0.0,
            })
            .collect();
        LabelField {
            label,
            tight,
            phi,
            deepest,
        }
    }

    /// Whether gap `g` (between annotated slices g and g + 1) has this label on either side.
    fn in_gap(&self, g: usize) -> bool {
        self.tight[g].is_some() || self.tight[g + 1].is_some()
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
    // Every label's box on every annotated slice, in one pass over them.
    let boxes: Vec<Vec<(u16, Box2)>> =
        parallel_map(known, w * h * known.len(), |s| slice_label_boxes(s, w));
    let mut labels: Vec<u16> = boxes.iter().flatten().map(|b| b.0).collect();
    labels.sort_unstable();
    labels.dedup();
    let fields: Vec<LabelField> = labels
        .into_iter()
        .map(|label| {
            let tight = boxes
                .iter()
                .map(|on| on.iter().find(|b| b.0 == label).map(|b| b.1))
                .collect();
            LabelField::new(label, tight, known, w, h, sx, sy)
        })
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
            let (ca, cb) = match (pa, pb) {
                (None, None) => continue,
                (None, Some(_)) => (f.deepest[g + 1], 0.0),
                (Some(_), None) => (0.0, f.deepest[g]),
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
