//! Calibration: do short trainings rank plans the way long ones do? The same study run under a
//! quick and a reference preset; per scenario (seeds averaged) the two mean Dice, their
//! Spearman rank correlation, the mean absolute error, and a fitted linear quick → reference
//! correction with its leave-one-out error; and Spearman per seed, where the scenarios share
//! their held-out volumes; and which pairs of plans the reference's seeds separate at all.

use std::collections::BTreeSet;

use serde::Serialize;

use super::report::summarize_runs;
use super::store::StoreContents;
use crate::study::stats::separation::{
    PairAgreement, SeedDice, Separation, neighbour_separations, pair_agreement, seed_dice,
};
use crate::study::store::key::RunSpec;

/// Quick against reference, per scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// (scenario, quick mean Dice, reference mean Dice) for scenarios measured in both.
    pub scenarios: Vec<(String, f64, f64)>,
    pub spearman: Option<f64>,
    pub mean_absolute_error: Option<f64>,
    /// reference ≈ intercept + slope · quick, fitted on every scenario.
    pub correction: Option<(f64, f64)>,
    /// Mean absolute error of the correction, each scenario predicted from a fit on the others.
    pub corrected_mae_loo: Option<f64>,
    /// Whether the correction predicts the reference better than quick's numbers as they are
    /// (`corrected_mae_loo` below `mean_absolute_error`): with few scenarios a fitted line adds
    /// its own error, and where quick already matches, its numbers stand uncorrected.
    pub correction_helps: Option<bool>,
    /// (seed, Spearman over the scenarios run with that seed in both presets). A seed fixes the
    /// held-out volumes and the plans' draws, so each seed ranks the scenarios on the same test
    /// volumes; averaging over seeds first mixes test sets of different difficulty.
    pub per_seed_spearman: Vec<(u64, f64)>,
    /// Pairs of plans the reference's seeds tell apart, and whether quick orders them alike;
    /// with few seeds most neighbouring plans are ties, whatever order either preset gives.
    pub pairs: PairAgreement,
    /// The reference's neighbouring scenarios compared seed by seed, with the seeds each pair
    /// would need.
    pub reference_neighbours: Vec<Separation>,
}

impl Calibration {
    /// The mean of `per_seed_spearman` (None without any seed).
    pub fn mean_per_seed_spearman(&self) -> Option<f64> {
        let n = self.per_seed_spearman.len();
        (n > 0).then(|| self.per_seed_spearman.iter().map(|s| s.1).sum::<f64>() / n as f64)
    }
}

/// Spearman between the two presets' Dice, seed by seed, over the scenarios (same budget and
/// plan) measured with that seed in both.
fn per_seed_spearman(quick: &[SeedDice], reference: &[SeedDice]) -> Vec<(u64, f64)> {
    let seeds: BTreeSet<u64> = quick
        .iter()
        .flat_map(|q| q.by_seed.keys().copied())
        .collect();
    seeds
        .into_iter()
        .filter_map(|seed| {
            let (xs, ys): (Vec<f64>, Vec<f64>) = quick
                .iter()
                .filter_map(|q| {
                    let r = reference
                        .iter()
                        .find(|r| r.budget == q.budget && r.plan == q.plan)?;
                    Some((*q.by_seed.get(&seed)?, *r.by_seed.get(&seed)?))
                })
                .unzip();
            spearman(&xs, &ys).map(|rho| (seed, rho))
        })
        .collect()
}

/// Ranks with ties averaged (1-based).
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

/// Spearman's rank correlation (None with fewer than three pairs or no spread).
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 3 || a.len() != b.len() {
        return None;
    }
    pearson(&ranks(a), &ranks(b))
}

fn line_fit(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    if sxx < 1e-12 {
        return None;
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let slope = sxy / sxx;
    Some((my - slope * mx, slope))
}

/// Compares the quick runs with the reference runs of the same scenarios.
pub fn calibrate(
    quick: &[RunSpec],
    reference: &[RunSpec],
    contents: &StoreContents,
) -> Calibration {
    let q = summarize_runs(quick, contents);
    let r = summarize_runs(reference, contents);
    let name = |s: &super::report::ScenarioSummary| {
        format!("{} {} {} {}", s.budget, s.allocation, s.strategy, s.model)
    };
    let mut scenarios = Vec::new();
    for a in q.iter().filter(|s| s.estimated()) {
        if let Some(b) = r.iter().find(|b| b.estimated() && name(b) == name(a)) {
            scenarios.push((name(a), a.dice.mean, b.dice.mean));
        }
    }
    let xs: Vec<f64> = scenarios.iter().map(|s| s.1).collect();
    let ys: Vec<f64> = scenarios.iter().map(|s| s.2).collect();
    let mae = (!xs.is_empty())
        .then(|| xs.iter().zip(&ys).map(|(a, b)| (a - b).abs()).sum::<f64>() / xs.len() as f64);
    let correction = if xs.len() >= 2 {
        line_fit(&xs, &ys)
    } else {
        None
    };
    let corrected_mae_loo = if xs.len() >= 3 {
        let errors: Vec<f64> = (0..xs.len())
            .filter_map(|i| {
                let (x, y): (Vec<f64>, Vec<f64>) = xs
                    .iter()
                    .zip(&ys)
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, (a, b))| (*a, *b))
                    .unzip();
                line_fit(&x, &y).map(|(c, m)| (c + m * xs[i] - ys[i]).abs())
            })
            .collect();
        (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64)
    } else {
        None
    };
    let (quick_seeds, reference_seeds) =
        (seed_dice(quick, contents), seed_dice(reference, contents));
    Calibration {
        pairs: pair_agreement(&quick_seeds, &reference_seeds),
        reference_neighbours: neighbour_separations(&reference_seeds),
        per_seed_spearman: per_seed_spearman(&quick_seeds, &reference_seeds),
        spearman: spearman(&xs, &ys),
        mean_absolute_error: mae,
        correction,
        correction_helps: corrected_mae_loo.zip(mae).map(|(loo, raw)| loo < raw),
        corrected_mae_loo,
        scenarios,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::estimates::EstimateSetup;

    #[test]
    fn rank_statistics_match_known_values() {
        assert_eq!(ranks(&[0.3, 0.1, 0.3, 0.2]), [3.5, 1.0, 3.5, 2.0]);
        let a = [0.1, 0.2, 0.3, 0.4, 0.5];
        assert!((spearman(&a, &[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((spearman(&a, &[5.0, 4.0, 3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        // d = (0, 0, 1, -1, 0): 1 - 6·2 / (5·24) = 0.9.
        assert!((spearman(&a, &[1.0, 2.0, 4.0, 3.0, 5.0]).unwrap() - 0.9).abs() < 1e-12);
        assert!(spearman(&a[..2], &[1.0, 2.0]).is_none());
        let (c, m) = line_fit(&[0.5, 0.6, 0.7], &[0.8, 0.85, 0.9]).unwrap();
        assert!((m - 0.5).abs() < 1e-12 && (c - 0.55).abs() < 1e-12);
    }

    /// Quick and reference runs with the given Dice per scenario (volumes) and seed; the
    /// reference run `flagged` (volumes, seed index) did not learn.
    fn calibrated(
        dice: &[(usize, [f64; 2], [f64; 2])],
        flagged: Option<(usize, usize)>,
    ) -> Calibration {
        use crate::study::estimates::tests::{setup, stored};
        use crate::study::file::Preset;
        use crate::study::store::ResultStore;
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path(), "d", "fp").unwrap();
        let (quick, reference) = (
            setup(),
            EstimateSetup {
                preset: Preset::Quick,
                ..setup()
            },
        );
        let (mut q, mut r) = (Vec::new(), Vec::new());
        for &(v, qd, rd) in dice {
            for (i, (qs, rs)) in quick
                .point_specs(v)
                .into_iter()
                .zip(reference.point_specs(v))
                .enumerate()
            {
                store.append(&stored(&qs, qd[i], false)).unwrap();
                store
                    .append(&stored(&rs, rd[i], flagged == Some((v, i))))
                    .unwrap();
                q.push(qs);
                r.push(rs);
            }
        }
        calibrate(&q, &r, &store.load().unwrap())
    }

    #[test]
    fn a_correction_is_advised_only_where_it_predicts_better_than_none() {
        // The reference is 0.1 + 0.8 · quick: the line predicts each left-out scenario exactly.
        let line = |q: f64| 0.1 + 0.8 * q;
        let c = calibrated(
            &[
                (2, [0.30, 0.34], [line(0.30), line(0.34)]),
                (5, [0.50, 0.46], [line(0.50), line(0.46)]),
                (10, [0.62, 0.66], [line(0.62), line(0.66)]),
                (20, [0.80, 0.76], [line(0.80), line(0.76)]),
            ],
            None,
        );
        let (intercept, slope) = c.correction.unwrap();
        assert!(
            (intercept - 0.1).abs() < 1e-9 && (slope - 0.8).abs() < 1e-9,
            "{c:?}"
        );
        assert!(c.corrected_mae_loo.unwrap() < 1e-9);
        assert_eq!(c.correction_helps, Some(true));
        // The reference is quick ± 0.02 (means 0.32 / 0.30, 0.48 / 0.50, 0.64 / 0.62, 0.78 /
        // 0.80): quick's error is 0.02, and a line fitted on three scenarios misses the fourth
        // by more.
        let c = calibrated(
            &[
                (2, [0.30, 0.34], [0.28, 0.32]),
                (5, [0.50, 0.46], [0.52, 0.48]),
                (10, [0.62, 0.66], [0.60, 0.64]),
                (20, [0.80, 0.76], [0.82, 0.78]),
            ],
            None,
        );
        assert!(
            (c.mean_absolute_error.unwrap() - 0.02).abs() < 1e-9,
            "{c:?}"
        );
        assert!(c.corrected_mae_loo.unwrap() > 0.02, "{c:?}");
        assert_eq!(c.correction_helps, Some(false));
    }

    #[test]
    fn spearman_per_seed_compares_scenarios_on_the_same_held_out_volumes() {
        // Seed 0 holds out easy volumes, seed 1 hard ones. Both presets rank s = 2 < 5 < 10 < 20
        // within each seed; reference's seed 1 at s = 2 did not learn (flagged: left out, as if
        // missing), so averaged over seeds its s = 2 (the easy seed only) outranks its s = 5:
        // ranks 2, 1, 3, 4 against 1, 2, 3, 4.
        let dice = [
            (2, [0.50, 0.20], [0.52, 0.01]),
            (5, [0.60, 0.25], [0.58, 0.22]),
            (10, [0.70, 0.30], [0.75, 0.35]),
            (20, [0.80, 0.40], [0.80, 0.45]),
        ];
        let c = calibrated(&dice, Some((2, 1)));
        assert_eq!(c.per_seed_spearman, vec![(0, 1.0), (1, 1.0)]);
        assert_eq!(c.mean_per_seed_spearman(), Some(1.0));
        assert_eq!(c.scenarios.len(), 4);
        assert!((c.spearman.unwrap() - 0.8).abs() < 1e-12, "{c:?}");
        // Two seeds separate one pair in the reference (s = 20 over s = 5: +0.22, +0.23), which
        // quick orders alike; s = 10 against 5 and 20 are ties; s = 2 shares one seed only.
        assert_eq!(
            c.pairs,
            PairAgreement {
                separated: 1,
                agreeing: 1,
                within_noise: 2
            }
        );
        assert_eq!(c.reference_neighbours.len(), 1);
        assert!(!c.reference_neighbours[0].paired.separated);
    }
}
