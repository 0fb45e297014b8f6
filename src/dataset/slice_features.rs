//! Label-free slice features: each slice downsampled to a G×G grid of mean normalised intensity
//! (the embedding that `ual` and `coreset` cluster), and the fraction of the slice inside the body.

use serde::{Deserialize, Serialize};

use super::Modality;
use crate::io::{Sample, Volume};

/// Side of the embedding grid.
pub const GRID: usize = 16;

/// Which slices count as "inside the body / field of view".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BodyRule {
    /// A voxel is body when its value exceeds this. None: −500 HU for CT, 10 % of the 99th
    /// percentile otherwise.
    pub threshold: Option<f64>,
    /// A slice is kept when at least this fraction of its voxels are body. 0 keeps every slice.
    pub min_fraction: f64,
}

impl Default for BodyRule {
    fn default() -> Self {
        BodyRule {
            threshold: None,
            min_fraction: 0.05,
        }
    }
}

/// Features of every slice of a volume along one axis.
#[derive(Debug, Clone)]
pub struct SliceFeatures {
    /// Embedding length (GRID²).
    pub dims: usize,
    /// Row-major, one row per slice.
    pub vectors: Vec<f32>,
    /// Fraction of body voxels per slice.
    pub body_fraction: Vec<f32>,
    /// The body threshold used (in the volume's units).
    pub threshold: f64,
}

impl SliceFeatures {
    /// Slices passing the body rule (all slices if none passes).
    pub fn candidates(&self, rule: &BodyRule) -> Vec<usize> {
        let keep: Vec<usize> = (0..self.body_fraction.len())
            .filter(|&i| self.body_fraction[i] as f64 >= rule.min_fraction)
            .collect();
        if keep.is_empty() {
            (0..self.body_fraction.len()).collect()
        } else {
            keep
        }
    }

    /// Embedding of slice `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dims..(i + 1) * self.dims]
    }
}

/// Value at the `q` quantile of a sparse sample of the volume.
pub fn sampled_quantile(volume: &Volume, q: f64) -> f64 {
    let n = volume.voxel_count();
    let step = (n / 20_000).max(1);
    let mut values: Vec<f64> = (0..n)
        .step_by(step)
        .map(|i| volume.value(i))
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// The intensity window mapped to [0, 1] in embeddings: CT [−200, 300] HU, else 1st–99th percentile.
pub fn intensity_window(volume: &Volume, modality: Modality) -> (f64, f64) {
    match modality {
        Modality::Ct => (-200.0, 300.0),
        _ => {
            let lo = sampled_quantile(volume, 0.01);
            let hi = sampled_quantile(volume, 0.99);
            (lo, if hi > lo { hi } else { lo + 1.0 })
        }
    }
}

/// The body threshold `rule` resolves to for this volume.
pub fn body_threshold(volume: &Volume, modality: Modality, rule: &BodyRule) -> f64 {
    rule.threshold.unwrap_or_else(|| match modality {
        Modality::Ct => -500.0,
        _ => 0.1 * sampled_quantile(volume, 0.99),
    })
}

/// Computes slice features along voxel `axis` in one pass over the voxels.
pub fn slice_features(
    volume: &Volume,
    axis: usize,
    modality: Modality,
    rule: &BodyRule,
) -> SliceFeatures {
    let (lo, hi) = intensity_window(volume, modality);
    let threshold = body_threshold(volume, modality, rule);
    let (slope, inter) = volume.scaling.unwrap_or((1.0, 0.0));
    let (slope, inter, lo, thr) = (slope as f32, inter as f32, lo as f32, threshold as f32);
    let scale = 1.0 / (hi - lo as f64) as f32;
    let (a, b) = Volume::in_plane_axes(axis);
    let [nx, ny, nz] = volume.shape;
    let depth = volume.shape[axis];
    let (wa, wb) = (volume.shape[a], volume.shape[b]);
    let cell_a: Vec<usize> = (0..wa).map(|u| u * GRID / wa).collect();
    let cell_b: Vec<usize> = (0..wb).map(|v| v * GRID / wb).collect();
    // Runs of consecutive `u` falling in the same grid column.
    let mut runs: Vec<(usize, usize, usize)> = Vec::with_capacity(GRID);
    for (u, &c) in cell_a.iter().enumerate() {
        match runs.last_mut() {
            Some(r) if r.2 == c => r.1 = u + 1,
            _ => runs.push((u, u + 1, c)),
        }
    }
    let dims = GRID * GRID;
    let mut sums = vec![0f32; depth * dims];
    let mut counts = vec![0u32; dims];
    for u in 0..wa {
        for v in 0..wb {
            counts[cell_b[v] * GRID + cell_a[u]] += 1;
        }
    }
    let mut body = vec![0u64; depth];
    // Value, normalised to the window, and the body test: branch-free f32 so rows vectorise.
    crate::with_voxels!(&volume.data, data => {
        for k in 0..nz {
            for j in 0..ny {
                let row = &data[(k * ny + j) * nx..(k * ny + j + 1) * nx];
                if axis == 0 {
                    // The slice index runs along the row: s = i, u = j, v = k.
                    let cell = cell_b[k] * GRID + cell_a[j];
                    for (i, &x) in row.iter().enumerate() {
                        let value = x.to_f32() * slope + inter;
                        sums[i * dims + cell] += ((value - lo) * scale).clamp(0.0, 1.0);
                        body[i] += (value > thr) as u64;
                    }
                } else {
                    // axis 2: s = k, u = i, v = j; axis 1: s = j, u = i, v = k.
                    let (s, v) = if axis == 2 { (k, j) } else { (j, k) };
                    let base = s * dims + cell_b[v] * GRID;
                    let mut n_body = 0u32;
                    for &(start, end, c) in &runs {
                        // Eight independent lanes, so the reduction vectorises.
                        let mut acc = [0f32; 8];
                        let mut inside = [0u32; 8];
                        let run = &row[start..end];
                        let mut chunks = run.chunks_exact(8);
                        for chunk in &mut chunks {
                            for l in 0..8 {
                                let value = chunk[l].to_f32() * slope + inter;
                                acc[l] += ((value - lo) * scale).clamp(0.0, 1.0);
                                inside[l] += (value > thr) as u32;
                            }
                        }
                        for &x in chunks.remainder() {
                            let value = x.to_f32() * slope + inter;
                            acc[0] += ((value - lo) * scale).clamp(0.0, 1.0);
                            inside[0] += (value > thr) as u32;
                        }
                        sums[base + c] += acc.iter().sum::<f32>();
                        n_body += inside.iter().sum::<u32>();
                    }
                    body[s] += n_body as u64;
                }
            }
        }
    });
    let vectors = sums
        .chunks_exact(dims)
        .flat_map(|row| {
            row.iter()
                .zip(&counts)
                .map(|(&s, &c)| if c > 0 { s / c as f32 } else { 0.0 })
        })
        .collect();
    let per_slice = (wa * wb) as f32;
    SliceFeatures {
        dims,
        vectors,
        body_fraction: body.iter().map(|&c| c as f32 / per_slice).collect(),
        threshold,
    }
}
