//! Choosing which slices of a volume to annotate.

use serde::{Deserialize, Serialize};

use super::cluster;
use crate::dataset::slice_features::SliceFeatures;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// Slice selection strategies. All but the `foreground-*` ones are label-free and so usable for
/// real planning; the `foreground-*` ones peek at the labels and exist for simulation only.
/// Its names on the command line and in study files are clap's (kebab-case, as serde's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SliceStrategy {
    /// Uniformly random (seeded) among the body slices.
    Random,
    /// Equally spaced, centred in the body extent (or the volume when the body rule is off).
    Fixed,
    /// Unsupervised active learning: k-means of slice embeddings with k = n, take the medoids.
    Ual,
    /// Greedy k-center (core-set) in the same embedding.
    Coreset,
    /// Simulation only: random among slices that contain the target.
    ForegroundRandom,
    /// Simulation only: equally spaced over the target's extent.
    ForegroundFixed,
}

impl SliceStrategy {
    /// Every strategy.
    pub const ALL: [SliceStrategy; 6] = [
        SliceStrategy::Random,
        SliceStrategy::Fixed,
        SliceStrategy::Ual,
        SliceStrategy::Coreset,
        SliceStrategy::ForegroundRandom,
        SliceStrategy::ForegroundFixed,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            SliceStrategy::Random => "random",
            SliceStrategy::Fixed => "fixed",
            SliceStrategy::Ual => "ual",
            SliceStrategy::Coreset => "coreset",
            SliceStrategy::ForegroundRandom => "foreground-random",
            SliceStrategy::ForegroundFixed => "foreground-fixed",
        }
    }

    /// Parses a command-line name.
    pub fn parse(s: &str) -> Result<Self> {
        <Self as clap::ValueEnum>::from_str(s, false).map_err(|_| {
            Error::invalid(format!(
                "unknown slice strategy '{s}' (choose random, fixed, ual, coreset, foreground-random or foreground-fixed)"
            ))
        })
    }

    /// True for strategies that need the labels (not usable before annotation).
    pub fn needs_labels(self) -> bool {
        matches!(
            self,
            SliceStrategy::ForegroundRandom | SliceStrategy::ForegroundFixed
        )
    }

    /// True for strategies that need slice embeddings.
    pub fn needs_embedding(self) -> bool {
        matches!(self, SliceStrategy::Ual | SliceStrategy::Coreset)
    }
}

/// `n` equally spaced positions in `candidates` (sorted), centred: the m-th pick sits at
/// `first + ⌊(m + ½)·L/n⌋` of the extent `L = last − first + 1`, snapped to the nearest candidate.
pub fn fixed_interval(candidates: &[usize], n: usize) -> Vec<usize> {
    if candidates.is_empty() || n == 0 {
        return Vec::new();
    }
    let first = candidates[0];
    let last = candidates[candidates.len() - 1];
    let extent = last - first + 1;
    let mut out: Vec<usize> = (0..n)
        .map(|m| {
            let target = first + ((m as f64 + 0.5) * extent as f64 / n as f64).floor() as usize;
            *candidates
                .iter()
                .min_by_key(|&&c| c.abs_diff(target))
                .unwrap_or(&first)
        })
        .collect();
    out.dedup();
    // Snapping can merge picks when candidates have gaps: fill with the unused nearest ones.
    let mut spare: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|c| !out.contains(c))
        .collect();
    while out.len() < n && !spare.is_empty() {
        let mid = first + extent / 2;
        spare.sort_by_key(|&c| std::cmp::Reverse(c.abs_diff(mid)));
        if let Some(c) = spare.pop() {
            out.push(c);
        }
    }
    out.sort_unstable();
    out
}

/// Selects `n` slices among `candidates` (sorted slice indices).
///
/// `features` is required by `ual`/`coreset`; `foreground` (slices holding the target) by the
/// `foreground-*` strategies.
pub fn select_slices(
    strategy: SliceStrategy,
    n: usize,
    candidates: &[usize],
    features: Option<&SliceFeatures>,
    foreground: Option<&[usize]>,
    rng: &mut Rng,
) -> Result<Vec<usize>> {
    let n = n.min(candidates.len());
    let picked = match strategy {
        SliceStrategy::Random => {
            candidates_at(candidates, &rng.sample_indices(candidates.len(), n))
        }
        SliceStrategy::Fixed => fixed_interval(candidates, n),
        SliceStrategy::Ual | SliceStrategy::Coreset => {
            let f = features.ok_or_else(|| Error::invalid("ual/coreset need slice features"))?;
            let mut points = Vec::with_capacity(candidates.len() * f.dims);
            for &c in candidates {
                points.extend_from_slice(f.vector(c));
            }
            let local = if strategy == SliceStrategy::Ual {
                let (assign, centroids) = cluster::kmeans(&points, f.dims, n, rng, 4);
                cluster::medoids(&points, f.dims, &assign, &centroids)
            } else {
                cluster::kcenter_order(&points, f.dims, n)
            };
            let mut out = candidates_at(candidates, &local);
            // k-means may collapse clusters on duplicate slices: top up with fixed-interval picks.
            if out.len() < n {
                for c in fixed_interval(candidates, candidates.len()) {
                    if out.len() == n {
                        break;
                    }
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
            }
            out.sort_unstable();
            out
        }
        SliceStrategy::ForegroundRandom | SliceStrategy::ForegroundFixed => {
            let fg =
                foreground.ok_or_else(|| Error::invalid("foreground strategies need labels"))?;
            let pool: Vec<usize> = if fg.is_empty() {
                candidates.to_vec()
            } else {
                fg.to_vec()
            };
            let n = n.min(pool.len());
            if strategy == SliceStrategy::ForegroundRandom {
                candidates_at(&pool, &rng.sample_indices(pool.len(), n))
            } else {
                fixed_interval(&pool, n)
            }
        }
    };
    Ok(picked)
}

fn candidates_at(candidates: &[usize], local: &[usize]) -> Vec<usize> {
    let mut out: Vec<usize> = local.iter().map(|&i| candidates[i]).collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_interval_is_exact_and_centred() {
        let all: Vec<usize> = (0..100).collect();
        assert_eq!(fixed_interval(&all, 4), vec![12, 37, 62, 87]);
        let body: Vec<usize> = (20..80).collect();
        assert_eq!(fixed_interval(&body, 3), vec![30, 50, 70]);
        assert_eq!(fixed_interval(&all, 100), all);
    }
}
