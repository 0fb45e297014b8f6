//! Filling the slices between annotated ones: shape-based (signed distance) interpolation and the
//! `linear` and `nearest` baselines.

use serde::{Deserialize, Serialize};

use super::parts::GapReport;
use super::slices::{in_plane_spacing, set_slice, slice_dims, slice_views};
use crate::error::{Error, Result};

/// Interpolation methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Shape-based: signed distances (mm) of the two masks blended linearly, thresholded at 0;
    /// where the volume's image is at hand, it shows where caps end and what the area rule
    /// takes in (`guide`).
    Sdf,
    /// `Sdf` from the labels alone, the image never read: for masks drawn without following the
    /// image closely, or to see on one's own data what reading it changes.
    #[serde(rename = "sdf-labels")]
    SdfLabels,
    /// The two binary masks blended linearly, thresholded at ½ (ties to the nearer slice).
    Linear,
    /// A copy of the nearest annotated slice.
    Nearest,
}

impl Method {
    /// Parses `sdf`, `sdf-labels`, `linear` or `nearest`.
    pub fn parse(s: &str) -> Result<Method> {
        <Self as clap::ValueEnum>::from_str(s, false).map_err(|_| {
            Error::invalid(format!(
                "unknown interpolation method '{s}' (choose sdf, sdf-labels, linear or nearest)"
            ))
        })
    }

    /// The revision of the method's output where it changed within a sliceplan version, so a
    /// stored run trained on masks of an earlier revision is not taken for one of this build
    /// (part of a run's key; None: unchanged). `sdf` 2: blends keep the interpolated area; 3:
    /// the image, where there is one, shows where caps end and what the area rule takes in.
    /// (`sdf-labels`, new in this version, gives `sdf` 2's masks.)
    pub fn revision(self) -> Option<u32> {
        match self {
            Method::Sdf => Some(3),
            Method::SdfLabels | Method::Linear | Method::Nearest => None,
        }
    }

    /// Whether the method reads the volume's image where it is given one (`sdf` only).
    pub fn reads_image(self) -> bool {
        self == Method::Sdf
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Sdf => "sdf",
            Method::SdfLabels => "sdf-labels",
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
    /// `sdf` only: how each group of parts of each label was carried across each gap.
    pub gaps: Vec<GapReport>,
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
    interpolate_guided(
        labels,
        None,
        shape,
        spacing_mm,
        axis,
        annotated,
        method,
        extrapolate,
    )
}

/// [`interpolate`], with the image (its values on the same grid, in the same voxel order) where
/// there is one: `sdf` then reads from the gap's own slices how far a part that ends inside a
/// gap reaches, and whether what the area rule takes in looks like the object (`guide`); the
/// other methods (`sdf-labels` included) ignore it.
#[allow(clippy::too_many_arguments)]
pub fn interpolate_guided(
    labels: &[u16],
    image: Option<&[f32]>,
    shape: [usize; 3],
    spacing_mm: [f64; 3],
    axis: usize,
    annotated: &[usize],
    method: Method,
    extrapolate: bool,
) -> Result<Interpolation> {
    if let Some(image) = image
        && image.len() != labels.len()
    {
        return Err(Error::invalid(format!(
            "the image has {} voxels and the label map {}: they are not on one grid",
            image.len(),
            labels.len()
        )));
    }
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
    let known = slice_views(labels, shape, axis, &annotated);
    let mut covered = vec![false; depth];
    for &s in &annotated {
        covered[s] = true;
    }
    let mut out = if axis == 2 {
        // Slices are contiguous: write each once (annotated copied, the rest zero).
        let mut out = Vec::with_capacity(labels.len());
        for (s, slice) in labels.chunks_exact(w * h).enumerate() {
            if covered[s] {
                out.extend_from_slice(slice);
            } else {
                out.resize(out.len() + w * h, 0);
            }
        }
        out
    } else {
        let mut out = vec![0u16; labels.len()];
        for (s, slice) in annotated.iter().zip(&known) {
            set_slice(&mut out, shape, axis, *s, slice);
        }
        out
    };
    let mut gaps = Vec::new();
    match method {
        Method::Sdf | Method::SdfLabels => {
            let refs: Vec<&[u16]> = known.iter().map(|s| s.as_ref()).collect();
            let view = image
                .filter(|_| method.reads_image())
                .map(|data| super::guide::ImageView { data, shape, axis });
            gaps = super::sdf::fill(
                &mut out,
                shape,
                axis,
                &annotated,
                &refs,
                (w, h),
                (sx, sy),
                view.as_ref(),
            );
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
        gaps,
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
pub fn present_labels<S: AsRef<[u16]>>(slices: &[S]) -> Vec<u16> {
    let mut seen = vec![false; 1 << 16];
    for s in slices {
        for &v in s.as_ref() {
            seen[v as usize] = true;
        }
    }
    (1..seen.len())
        .filter(|&v| seen[v])
        .map(|v| v as u16)
        .collect()
}
