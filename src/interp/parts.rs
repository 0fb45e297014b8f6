//! An object's parts on two annotated slices and which part continues which: 8-connected
//! components, grouped across a gap by overlap (a part that overlaps nothing on the other slice
//! ends, or starts, inside the gap).

use serde::{Deserialize, Serialize};

/// A pixel box (u0, v0, u1, v1) on a slice, exclusive ends.
pub type Box2 = (usize, usize, usize, usize);

/// The root of `x` in a union–find forest, halving the path on the way.
fn root(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// 8-connected components of a `width`×`height` mask: an id per pixel (0 outside, 1..=count
/// inside, numbered in raster order of their first pixel) and the count. Runs of each row are
/// joined to the runs they touch in the row above (union–find), then written out once.
pub fn label_components(mask: &[bool], width: usize, height: usize) -> (Vec<u32>, usize) {
    // Runs (row, start, end) in raster order; `first[v]` indexes row v's first run.
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    let mut first = Vec::with_capacity(height + 1);
    for (v, row) in mask.chunks_exact(width).enumerate() {
        first.push(runs.len());
        let mut u = 0;
        while u < width {
            if !row[u] {
                u += 1;
                continue;
            }
            let start = u;
            while u < width && row[u] {
                u += 1;
            }
            runs.push((v, start, u));
        }
    }
    first.push(runs.len());
    let mut parent: Vec<usize> = (0..runs.len()).collect();
    for v in 1..height {
        let (above, here) = (first[v - 1]..first[v], first[v]..first[v + 1]);
        let mut k = above.start;
        for r in here {
            let (_, s, e) = runs[r];
            // Runs above that touch [s − 1, e] (8-connectivity), in order.
            while k < above.end && runs[k].2 < s {
                k += 1;
            }
            let mut j = k;
            while j < above.end && runs[j].1 <= e {
                let (a, b) = (root(&mut parent, j), root(&mut parent, r));
                parent[a.max(b)] = a.min(b);
                j += 1;
            }
        }
    }
    let mut ids = vec![0u32; mask.len()];
    let mut id_of_root = vec![0u32; runs.len()];
    let mut count = 0u32;
    for (r, &(v, s, e)) in runs.iter().enumerate() {
        let top = root(&mut parent, r);
        if id_of_root[top] == 0 {
            count += 1;
            id_of_root[top] = count;
        }
        ids[v * width + s..v * width + e].fill(id_of_root[top]);
    }
    (ids, count as usize)
}

/// One label's components on one annotated slice, within the label's box there.
#[derive(Debug, Clone)]
pub struct SliceParts {
    /// The label's exact box on the slice.
    pub tight: Box2,
    /// Component id per pixel of `tight` (row-major, 0 outside).
    pub ids: Vec<u32>,
    /// Per component (index id − 1): exact box, pixel count and pixel-coordinate sums.
    pub parts: Vec<Part>,
}

/// One connected component.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    pub bbox: Box2,
    pub pixels: usize,
    sum_u: f64,
    sum_v: f64,
}

impl SliceParts {
    /// The components of `label` on a `w`-wide `slice` within its box `tight`.
    pub fn find(slice: &[u16], w: usize, label: u16, tight: Box2) -> SliceParts {
        let (bw, bh) = (tight.2 - tight.0, tight.3 - tight.1);
        let mask: Vec<bool> = (tight.1..tight.3)
            .flat_map(|v| slice[v * w + tight.0..v * w + tight.2].iter())
            .map(|&x| x == label)
            .collect();
        let (ids, count) = label_components(&mask, bw, bh);
        let mut parts = vec![
            Part {
                bbox: (usize::MAX, usize::MAX, 0, 0),
                pixels: 0,
                sum_u: 0.0,
                sum_v: 0.0,
            };
            count
        ];
        for (i, &id) in ids.iter().enumerate() {
            if id == 0 {
                continue;
            }
            let (u, v) = (tight.0 + i % bw, tight.1 + i / bw);
            let p = &mut parts[id as usize - 1];
            p.bbox = (
                p.bbox.0.min(u),
                p.bbox.1.min(v),
                p.bbox.2.max(u + 1),
                p.bbox.3.max(v + 1),
            );
            p.pixels += 1;
            p.sum_u += u as f64;
            p.sum_v += v as f64;
        }
        SliceParts { tight, ids, parts }
    }

    /// The component id at slice pixel (u, v) (0 outside the label).
    pub fn id_at(&self, u: usize, v: usize) -> u32 {
        let t = self.tight;
        if u < t.0 || u >= t.2 || v < t.1 || v >= t.3 {
            return 0;
        }
        self.ids[(v - t.1) * (t.2 - t.0) + (u - t.0)]
    }

    /// Box, pixel count and centroid (u, v) of the components `ids` (1-based) together.
    pub fn union_of(&self, ids: &[u32]) -> (Box2, usize, (f32, f32)) {
        let mut b = (usize::MAX, usize::MAX, 0, 0);
        let (mut n, mut su, mut sv) = (0, 0.0, 0.0);
        for &id in ids {
            let p = &self.parts[id as usize - 1];
            b = (
                b.0.min(p.bbox.0),
                b.1.min(p.bbox.1),
                b.2.max(p.bbox.2),
                b.3.max(p.bbox.3),
            );
            n += p.pixels;
            su += p.sum_u;
            sv += p.sum_v;
        }
        let c = if n > 0 {
            ((su / n as f64) as f32, (sv / n as f64) as f32)
        } else {
            (0.0, 0.0)
        };
        (b, n, c)
    }
}

/// Components on both sides of a gap that continue each other (connected through overlap);
/// either side may be empty: the group then starts or ends inside the gap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub a: Vec<u32>,
    pub b: Vec<u32>,
}

/// Groups the components of the two sides by overlap (union–find over overlapping pairs),
/// and counts the overlapping pixels.
pub fn group_parts(a: Option<&SliceParts>, b: Option<&SliceParts>) -> (Vec<Group>, usize) {
    let na = a.map_or(0, |p| p.parts.len());
    let nb = b.map_or(0, |p| p.parts.len());
    let mut parent: Vec<usize> = (0..na + nb).collect();
    let mut overlap = 0;
    if let (Some(pa), Some(pb)) = (a, b) {
        let (ta, tb) = (pa.tight, pb.tight);
        let (u0, v0, u1, v1) = (
            ta.0.max(tb.0),
            ta.1.max(tb.1),
            ta.2.min(tb.2),
            ta.3.min(tb.3),
        );
        for v in v0..v1.max(v0) {
            for u in u0..u1.max(u0) {
                let (ia, ib) = (pa.id_at(u, v), pb.id_at(u, v));
                if ia > 0 && ib > 0 {
                    overlap += 1;
                    let (ra, rb) = (
                        root(&mut parent, ia as usize - 1),
                        root(&mut parent, na + ib as usize - 1),
                    );
                    parent[ra] = rb;
                }
            }
        }
    }
    let mut groups: Vec<(usize, Group)> = Vec::new();
    for i in 0..na + nb {
        let r = root(&mut parent, i);
        let at = match groups.iter().position(|g| g.0 == r) {
            Some(k) => k,
            None => {
                groups.push((
                    r,
                    Group {
                        a: Vec::new(),
                        b: Vec::new(),
                    },
                ));
                groups.len() - 1
            }
        };
        if i < na {
            groups[at].1.a.push(i as u32 + 1);
        } else {
            groups[at].1.b.push((i - na) as u32 + 1);
        }
    }
    (groups.into_iter().map(|g| g.1).collect(), overlap)
}

/// How one group of an object was carried across a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GapRule {
    /// Signed distances of the two sides blended in place.
    Blend,
    /// The two sides overlap by less than half (intersection over union): blended after moving
    /// both onto their common centroid, which then travels from one side's centroid to the other's.
    AlignedBlend,
    /// On one side only: the part shrinks towards its medial axis (eroded by its signed distance)
    /// and ends at the gap's middle, where its deepest point vanishes; nothing is drawn beyond.
    Cap,
    /// A cap whose end the image chose: the gap's slices showed how far the object reaches
    /// (its intensities against those on the annotated empty slice).
    ImageCap,
}

/// One group's rule in one gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapReport {
    pub label: u16,
    pub from_slice: usize,
    pub to_slice: usize,
    pub rule: GapRule,
    /// Components of the group on the first and on the second slice; None where the label was
    /// blended whole (its two sides overlap by at least half) without being split into parts.
    pub parts: Option<(usize, usize)>,
    /// Blended groups read with the image: the slices whose area rule it turned down (what the
    /// rule would have taken in looked unlike the object), which kept the plain blend.
    #[serde(default)]
    pub left_thin: usize,
}

/// One line on how a case's gaps were filled, e.g. "12 blended, 2 aligned, 3 capped, 1 split
/// or merge, 4 slices left thin by the image" (None when nothing was reported).
pub fn rules_summary(reports: &[GapReport]) -> Option<String> {
    let count = |rule: GapRule| reports.iter().filter(|r| r.rule == rule).count();
    let splits = reports
        .iter()
        .filter_map(|r| r.parts)
        .filter(|p| p.0.min(p.1) >= 1 && p.0.max(p.1) >= 2)
        .count();
    let mut out: Vec<String> = [
        (GapRule::Blend, "blended"),
        (GapRule::AlignedBlend, "aligned"),
        (GapRule::Cap, "capped"),
        (GapRule::ImageCap, "capped by the image"),
    ]
    .into_iter()
    .filter(|(rule, _)| count(*rule) > 0)
    .map(|(rule, name)| format!("{} {name}", count(rule)))
    .collect();
    if splits > 0 {
        out.push(format!("{splits} split or merge"));
    }
    let thin: usize = reports.iter().map(|r| r.left_thin).sum();
    if thin > 0 {
        let slices = if thin == 1 { "slice" } else { "slices" };
        out.push(format!("{thin} {slices} left thin by the image"));
    }
    (!out.is_empty()).then(|| out.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_rules_splits_and_slices_left_thin() {
        let report = |rule, parts, left_thin| GapReport {
            label: 1,
            from_slice: 0,
            to_slice: 4,
            rule,
            parts,
            left_thin,
        };
        let reports = [
            report(GapRule::Blend, None, 2),
            report(GapRule::Blend, Some((1, 2)), 1),
            report(GapRule::ImageCap, Some((1, 0)), 0),
        ];
        assert_eq!(
            rules_summary(&reports).as_deref(),
            Some(
                "2 blended, 1 capped by the image, 1 split or merge, 3 slices left thin by the image"
            )
        );
        assert_eq!(rules_summary(&[]), None);
    }

    fn parts_of(rows: &[&str]) -> (Vec<u16>, usize, Option<SliceParts>) {
        let w = rows[0].len();
        let slice: Vec<u16> = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| (b == b'#') as u16))
            .collect();
        let mask: Vec<bool> = slice.iter().map(|&x| x == 1).collect();
        let tight = super::super::edt::tight_box(&mask, w);
        let parts = tight.map(|t| SliceParts::find(&slice, w, 1, t));
        (slice, w, parts)
    }

    #[test]
    fn run_labelling_matches_a_flood_fill() {
        let mut rng = crate::rng::Rng::new(3);
        for _ in 0..50 {
            let (w, h) = (1 + rng.below(12), 1 + rng.below(12));
            let mask: Vec<bool> = (0..w * h).map(|_| rng.uniform() < 0.45).collect();
            let (ids, count) = label_components(&mask, w, h);
            // Flood fill: every pixel reached from a component's first pixel has its id.
            let mut seen = vec![false; w * h];
            let mut found = 0;
            for start in 0..w * h {
                if !mask[start] || seen[start] {
                    continue;
                }
                found += 1;
                let mut stack = vec![start];
                seen[start] = true;
                while let Some(p) = stack.pop() {
                    assert_eq!(ids[p], found as u32, "{w}×{h} {mask:?}");
                    let (x, y) = (p % w, p / w);
                    for ny in y.saturating_sub(1)..(y + 2).min(h) {
                        for nx in x.saturating_sub(1)..(x + 2).min(w) {
                            let q = nx + ny * w;
                            if mask[q] && !seen[q] {
                                seen[q] = true;
                                stack.push(q);
                            }
                        }
                    }
                }
            }
            assert_eq!(count, found);
            assert!(ids.iter().zip(&mask).all(|(&i, &m)| (i == 0) != m));
        }
    }

    #[test]
    fn components_are_eight_connected() {
        let (_, _, p) = parts_of(&["#....", ".#..#", "....#", "##..."]);
        let p = p.expect("parts");
        assert_eq!(p.parts.len(), 3, "diagonal neighbours join; three blobs");
        let sizes: Vec<usize> = p.parts.iter().map(|q| q.pixels).collect();
        assert_eq!(sizes, vec![2, 2, 2]);
    }

    #[test]
    fn a_split_is_one_group_and_a_newcomer_its_own() {
        // Slice a: one bar. Slice b: two pieces under the bar and one far away.
        let (_, _, a) = parts_of(&["#####....", ".........", "........."]);
        let (_, _, b) = parts_of(&["#.#......", ".........", "........#"]);
        let (groups, overlap) = group_parts(a.as_ref(), b.as_ref());
        assert_eq!(overlap, 2);
        assert_eq!(groups.len(), 2);
        assert!(groups.contains(&Group {
            a: vec![1],
            b: vec![1, 2]
        }));
        assert!(groups.contains(&Group {
            a: vec![],
            b: vec![3]
        }));
        let (_, n, c) = b.as_ref().expect("b").union_of(&[1, 2]);
        assert_eq!((n, c), (2, (1.0, 0.0)));
    }

    #[test]
    fn an_empty_side_leaves_every_part_alone() {
        let (_, _, a) = parts_of(&["#..#", "...."]);
        let (groups, overlap) = group_parts(a.as_ref(), None);
        assert_eq!(overlap, 0);
        assert_eq!(groups.len(), 2);
        assert!(groups.iter().all(|g| g.b.is_empty() && g.a.len() == 1));
    }
}
