//! Filling the slices between annotated ones: shape-based (signed distance) interpolation and the
//! `linear` and `nearest` baselines.

use serde::{Deserialize, Serialize};

use super::edt::signed_distance;
use super::slices::{get_slices, in_plane_spacing, set_region, set_slice, slice_dims};
use crate::error::{Error, Result};

/// Interpolation methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Shape-based: signed distances (mm) of the two masks blended linearly, thresholded at 0.
    Sdf,
    /// The two binary masks blended linearly, thresholded at ½ (ties to the nearer slice).
    Linear,
    /// A copy of the nearest annotated slice.
    Nearest,
}

impl Method {
    /// Parses `sdf`, `linear` or `nearest`.
    pub fn parse(s: &str) -> Result<Method> {
        match s {
            "sdf" => Ok(Method::Sdf),
            "linear" => Ok(Method::Linear),
            "nearest" => Ok(Method::Nearest),
            _ => Err(Error::invalid(format!(
                "unknown interpolation method '{s}' (choose sdf, linear or nearest)"
            ))),
        }
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Sdf => "sdf",
            Method::Linear => "linear",
            Method::Nearest => "nearest",
        }
    }
}

/// A label volume filled between annotated slices.
#[derive(Debug, Clone)]
pub struct Interpolation {
    /// Label values on the whole grid (0 outside the covered slices).
    pub labels: Vec<u16>,
    /// Per slice along the axis: annotated or interpolated (known), or left unknown.
    pub covered: Vec<bool>,
    /// The annotated slices used.
    pub annotated: Vec<usize>,
}

/// Bounding box (u0, v0, u1, v1), exclusive ends, of non-zero pixels in any of `slices`.
fn union_bbox(
    slices: &[&[u16]],
    label: u16,
    w: usize,
    h: usize,
) -> Option<(usize, usize, usize, usize)> {
    let (mut u0, mut v0, mut u1, mut v1) = (usize::MAX, usize::MAX, 0, 0);
    for s in slices {
        for (i, &x) in s.iter().enumerate() {
            if x == label {
                let (u, v) = (i % w, i / w);
                u0 = u0.min(u);
                v0 = v0.min(v);
                u1 = u1.max(u + 1);
                v1 = v1.max(v + 1);
            }
        }
    }
    if u0 == usize::MAX {
        return None;
    }
    // One pixel of margin so that the boundary's outside is inside the box.
    Some((
        u0.saturating_sub(1),
        v0.saturating_sub(1),
        (u1 + 1).min(w),
        (v1 + 1).min(h),
    ))
}

/// Interpolates `labels` (values on the `annotated` slices along `axis` are used, the rest
/// ignored) over the grid `shape` with `spacing_mm`. With `extrapolate`, slices outside the
/// annotated range copy the nearest annotated slice; otherwise they stay unknown.
pub fn interpolate(
    labels: &[u16],
    shape: [usize; 3],
    spacing_mm: [f64; 3],
    axis: usize,
    annotated: &[usize],
    method: Method,
    extrapolate: bool,
) -> Result<Interpolation> {
    let depth = shape[axis];
    let mut annotated: Vec<usize> = annotated.iter().copied().filter(|&s| s < depth).collect();
    annotated.sort_unstable();
    annotated.dedup();
    if annotated.len() < 2 {
        return Err(Error::invalid(format!(
            "{} annotated slice(s): at least two are needed to interpolate between",
            annotated.len()
        )));
    }
    let (w, h) = slice_dims(shape, axis);
    let (sx, sy) = in_plane_spacing(spacing_mm, axis);
    let known = get_slices(labels, shape, axis, &annotated);
    let values = present_labels(&known);
    let mut out = vec![0u16; labels.len()];
    let mut covered = vec![false; depth];
    for (s, slice) in annotated.iter().zip(&known) {
        set_slice(&mut out, shape, axis, *s, slice);
        covered[*s] = true;
    }
    match method {
        Method::Sdf => {
            // Per label: signed distances of every annotated slice within the label's box.
            let refs: Vec<&[u16]> = known.iter().map(|s| s.as_slice()).collect();
            let mut fields = Vec::new(); // (label, bbox, per-annotated-slice Option<phi>)
            for &label in &values {
                let Some(bbox) = union_bbox(&refs, label, w, h) else {
                    continue;
                };
                let (u0, v0, u1, v1) = bbox;
                let (bw, bh) = (u1 - u0, v1 - v0);
                let compute = |slice: &&[u16]| -> Option<Vec<f32>> {
                    let mut mask = vec![false; bw * bh];
                    let mut any = false;
                    for v in 0..bh {
                        for u in 0..bw {
                            let m = slice[(u0 + u) + (v0 + v) * w] == label;
                            mask[u + v * bw] = m;
                            any |= m;
                        }
                    }
                    any.then(|| signed_distance(&mask, bw, bh, sx, sy))
                };
                let phis: Vec<Option<Vec<f32>>> =
                    parallel_map(&refs, 4 * bw * bh * refs.len(), compute);
                fields.push((label, bbox, phis));
            }
            // Every slice between two annotated ones, blended in parallel batches, within the
            // region holding any label (the rest of each slice stays 0).
            let roi = fields
                .iter()
                .fold(None::<(usize, usize, usize, usize)>, |acc, f| {
                    let (u0, v0, u1, v1) = f.1;
                    Some(match acc {
                        None => (u0, v0, u1, v1),
                        Some((a0, b0, a1, b1)) => (a0.min(u0), b0.min(v0), a1.max(u1), b1.max(v1)),
                    })
                });
            if let Some((ru0, rv0, ru1, rv1)) = roi {
                let rw = ru1 - ru0;
                let jobs: Vec<(usize, usize)> = (0..annotated.len() - 1)
                    .flat_map(|g| (annotated[g] + 1..annotated[g + 1]).map(move |s| (g, s)))
                    .collect();
                let blend = |&(g, s): &(usize, usize)| -> Vec<u16> {
                    let (a, b) = (annotated[g], annotated[g + 1]);
                    let t = (s - a) as f32 / (b - a) as f32;
                    let mut best = vec![f32::INFINITY; rw * (rv1 - rv0)];
                    let mut region = vec![0u16; rw * (rv1 - rv0)];
                    for (label, (u0, v0, u1, v1), phis) in &fields {
                        let bw = u1 - u0;
                        let (pa, pb) = (&phis[g], &phis[g + 1]);
                        // An annotated-empty side erodes the other side's object to nothing at
                        // the gap's middle: its distance is the other side's deepest inside one.
                        let deepest = |p: &Vec<f32>| p.iter().fold(0f32, |m, &x| m.max(-x));
                        let (ca, cb) = match (pa, pb) {
                            (None, None) => continue,
                            (None, Some(q)) => (deepest(q), 0.0),
                            (Some(p), None) => (0.0, deepest(p)),
                            _ => (0.0, 0.0),
                        };
                        for v in *v0..*v1 {
                            let row = (v - v0) * bw;
                            let out_row = (v - rv0) * rw;
                            for u in *u0..*u1 {
                                let k = row + (u - u0);
                                let fa = pa.as_ref().map(|p| p[k]).unwrap_or(ca);
                                let fb = pb.as_ref().map(|p| p[k]).unwrap_or(cb);
                                let phi = (1.0 - t) * fa + t * fb;
                                let i = out_row + (u - ru0);
                                if phi < 0.0 && phi < best[i] {
                                    best[i] = phi;
                                    region[i] = *label;
                                }
                            }
                        }
                    }
                    region
                };
                for batch in jobs.chunks(32) {
                    for ((_, s), region) in
                        batch
                            .iter()
                            .zip(parallel_map(batch, rw * (rv1 - rv0) * batch.len(), blend))
                    {
                        set_region(&mut out, shape, axis, *s, (ru0, rv0, ru1, rv1), &region);
                    }
                }
            }
            for g in 0..annotated.len() - 1 {
                covered[annotated[g] + 1..annotated[g + 1]].fill(true);
            }
        }
        Method::Linear | Method::Nearest => {
            let mut slice_out = vec![0u16; w * h];
            for g in 0..annotated.len() - 1 {
                let (a, b) = (annotated[g], annotated[g + 1]);
                let (ka, kb) = (&known[g], &known[g + 1]);
                for s in a + 1..b {
                    let t = (s - a) as f32 / (b - a) as f32;
                    for i in 0..w * h {
                        let (x, y) = (ka[i], kb[i]);
                        slice_out[i] = if method == Method::Nearest || x == y {
                            if t <= 0.5 { x } else { y }
                        } else {
                            // Blend of the two one-hot masks: the side with weight > ½ wins,
                            // a pixel labelled on one side only survives while its weight ≥ ½.
                            match (x, y) {
                                (x, 0) => {
                                    if t <= 0.5 {
                                        x
                                    } else {
                                        0
                                    }
                                }
                                (0, y) => {
                                    if t >= 0.5 {
                                        y
                                    } else {
                                        0
                                    }
                                }
                                (x, y) => {
                                    if t <= 0.5 {
                                        x
                                    } else {
                                        y
                                    }
                                }
                            }
                        };
                    }
                    set_slice(&mut out, shape, axis, s, &slice_out);
                }
                covered[a + 1..b].fill(true);
            }
        }
    }
    if extrapolate {
        let (first, last) = (annotated[0], annotated[annotated.len() - 1]);
        for s in (0..first).chain(last + 1..depth) {
            let src = if s < first {
                &known[0]
            } else {
                &known[known.len() - 1]
            };
            set_slice(&mut out, shape, axis, s, src);
            covered[s] = true;
        }
    }
    Ok(Interpolation {
        labels: out,
        covered,
        annotated,
    })
}

/// Maps `f` over `items` on up to `available_parallelism` scoped threads, keeping order;
/// `work` (pixels touched in all) below ~1 M stays on this thread, where spawning costs more.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    work: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(items.len().max(1));
    if threads <= 1 || items.len() < 4 || work < 1 << 20 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// The non-zero label values present in `slices`, sorted.
pub fn present_labels(slices: &[Vec<u16>]) -> Vec<u16> {
    let mut seen = vec![false; 1 << 16];
    for s in slices {
        for &v in s {
            seen[v as usize] = true;
        }
    }
    (1..seen.len())
        .filter(|&v| seen[v])
        .map(|v| v as u16)
        .collect()
}
