//! Boxes on a slice: each label's exact box, its pixels and overlaps within boxes, and boxes
//! joined or grown within the slice.

use super::parts::Box2;

pub(super) fn union(a: Option<Box2>, b: Option<Box2>) -> Option<Box2> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.min(b.1), a.2.max(b.2), a.3.max(b.3))),
        (a, None) => a,
        (None, b) => b,
    }
}

/// `b` grown by `(gu, gv)` pixels, within a `w`×`h` slice.
pub(super) fn grow_by(b: Box2, (gu, gv): (usize, usize), w: usize, h: usize) -> Box2 {
    (
        b.0.saturating_sub(gu),
        b.1.saturating_sub(gv),
        (b.2 + gu).min(w),
        (b.3 + gv).min(h),
    )
}

/// `b` grown by one pixel (so the boundary's outside is inside it), within a `w`×`h` slice.
pub(super) fn grow(b: Box2, w: usize, h: usize) -> Box2 {
    grow_by(b, (1, 1), w, h)
}

/// Each label's exact box on a `w`-wide slice, in order of first appearance. One pass; rows
/// without a label are skipped by a vectorised test.
pub(super) fn slice_label_boxes(slice: &[u16], w: usize) -> Vec<(u16, Box2)> {
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
pub(super) fn label_count(s: &[u16], w: usize, label: u16, t: Box2) -> usize {
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
pub(super) fn overlap_iou(a: &[u16], b: &[u16], w: usize, label: u16, ta: Box2, tb: Box2) -> f64 {
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
