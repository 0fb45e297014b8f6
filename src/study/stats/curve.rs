//! Budget curves: Dice against budget fitted by a saturating learning curve (inverse power law
//! or exponential plateau, chosen by leave-one-out error), bootstrap bands, and the budget that
//! reaches a target Dice, marked as extrapolated beyond the largest simulated budget.

use serde::Serialize;

use crate::rng::Rng;
use crate::study::stats::quantile;

/// The learning-curve family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CurveKind {
    /// y = a − b·x^(−c)
    InversePower,
    /// y = a − b·exp(−c·x / x_scale)
    ExpPlateau,
}

/// A fitted curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Curve {
    pub kind: CurveKind,
    pub a: f64,
    pub b: f64,
    pub c: f64,
    /// Budgets are divided by this (the largest budget) for the exponential form.
    pub x_scale: f64,
    /// Leave-one-out root mean square error (the model choice).
    pub loo_rmse: f64,
}

impl Curve {
    fn basis(kind: CurveKind, c: f64, x: f64, x_scale: f64) -> f64 {
        match kind {
            CurveKind::InversePower => x.max(1e-9).powf(-c),
            CurveKind::ExpPlateau => (-c * x / x_scale).exp(),
        }
    }

    /// The fitted Dice at budget `x`.
    pub fn predict(&self, x: f64) -> f64 {
        self.a - self.b * Self::basis(self.kind, self.c, x, self.x_scale)
    }

    /// The budget at which the curve reaches `y` (None when it never does: at or above the
    /// plateau `a`).
    pub fn budget_for(&self, y: f64) -> Option<f64> {
        if y >= self.a || self.b <= 0.0 {
            return None;
        }
        let g = (self.a - y) / self.b;
        let x = match self.kind {
            CurveKind::InversePower => g.powf(-1.0 / self.c),
            CurveKind::ExpPlateau => -g.ln() * self.x_scale / self.c,
        };
        (x.is_finite() && x > 0.0).then_some(x)
    }
}

/// Least squares of y = a − b·g for fixed basis values g: (a, b, sum of squared errors).
fn linear_fit(g: &[f64], y: &[f64]) -> Option<(f64, f64, f64)> {
    let n = g.len() as f64;
    let (mg, my) = (g.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sgg: f64 = g.iter().map(|v| (v - mg).powi(2)).sum();
    if sgg < 1e-15 {
        return None;
    }
    let sgy: f64 = g.iter().zip(y).map(|(a, b)| (a - mg) * (b - my)).sum();
    let slope = sgy / sgg; // y = my + slope·(g − mg)  →  a = my − slope·mg, b = −slope
    let (a, b) = (my - slope * mg, -slope);
    let sse = g
        .iter()
        .zip(y)
        .map(|(gi, yi)| (yi - (a - b * gi)).powi(2))
        .sum();
    Some((a, b, sse))
}

/// The best curve of `kind` through `points` (x, y): c on a log grid, (a, b) by least squares,
/// b ≥ 0 (Dice rises with budget).
fn fit_kind(kind: CurveKind, points: &[(f64, f64)], x_scale: f64) -> Option<(f64, f64, f64)> {
    let y: Vec<f64> = points.iter().map(|p| p.1).collect();
    let mut best: Option<(f64, f64, f64, f64)> = None;
    for i in 0..160 {
        let c = 0.02 * (300f64).powf(i as f64 / 159.0); // 0.02 … 6
        let g: Vec<f64> = points
            .iter()
            .map(|p| Curve::basis(kind, c, p.0, x_scale))
            .collect();
        if let Some((a, b, sse)) = linear_fit(&g, &y)
            && b >= 0.0
            && best.is_none_or(|bst| sse < bst.3)
        {
            best = Some((a, b, c, sse));
        }
    }
    best.map(|(a, b, c, _)| (a, b, c))
}

fn distinct_x(points: &[(f64, f64)]) -> usize {
    let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.dedup();
    xs.len()
}

/// Fits both families to `points` (x = budget, y = Dice) and keeps the one with the lower
/// leave-one-out error; None with fewer than three distinct budgets.
pub fn fit(points: &[(f64, f64)]) -> Option<Curve> {
    if distinct_x(points) < 3 {
        return None;
    }
    let x_scale = points.iter().map(|p| p.0).fold(0.0, f64::max).max(1e-9);
    let mut best: Option<Curve> = None;
    for kind in [CurveKind::InversePower, CurveKind::ExpPlateau] {
        let Some((a, b, c)) = fit_kind(kind, points, x_scale) else {
            continue;
        };
        // Leave one out: refit without each point, predict it.
        let mut sse = 0.0;
        let mut n = 0;
        for i in 0..points.len() {
            let rest: Vec<(f64, f64)> = points
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, p)| *p)
                .collect();
            if distinct_x(&rest) < 2 {
                continue;
            }
            if let Some((a, b, c)) = fit_kind(kind, &rest, x_scale) {
                let curve = Curve {
                    kind,
                    a,
                    b,
                    c,
                    x_scale,
                    loo_rmse: 0.0,
                };
                sse += (curve.predict(points[i].0) - points[i].1).powi(2);
                n += 1;
            }
        }
        let loo_rmse = if n > 0 {
            (sse / n as f64).sqrt()
        } else {
            f64::INFINITY
        };
        let curve = Curve {
            kind,
            a,
            b,
            c,
            x_scale,
            loo_rmse,
        };
        if best.is_none_or(|b| curve.loo_rmse < b.loo_rmse) {
            best = Some(curve);
        }
    }
    best
}

/// A fitted curve with its 95 % bootstrap band.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FittedCurve {
    pub curve: Curve,
    /// (budget, lower, fitted, upper) over the simulated range and a little beyond.
    pub band: Vec<(f64, f64, f64, f64)>,
    /// The largest simulated budget: beyond it the curve extrapolates.
    pub max_budget: f64,
    /// Bootstrap refits of the same family (for budget intervals).
    refits: Vec<Curve>,
}

/// The budget that reaches a target Dice, with its 95 % bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BudgetAnswer {
    pub target_dice: f64,
    /// None when the fitted curve never reaches the target.
    pub budget: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    /// The answer lies beyond the largest simulated budget.
    pub extrapolated: bool,
}

impl FittedCurve {
    /// Fits `points` and resamples them `resamples` times (seeded) for the band.
    pub fn new(points: &[(f64, f64)], resamples: usize, seed: u64) -> Option<FittedCurve> {
        let curve = fit(points)?;
        let max_budget = points.iter().map(|p| p.0).fold(0.0, f64::max);
        let mut rng = Rng::new(seed);
        let mut refits = Vec::new();
        for _ in 0..resamples {
            let sample: Vec<(f64, f64)> = (0..points.len())
                .map(|_| points[rng.below(points.len())])
                .collect();
            if distinct_x(&sample) < 2 {
                continue;
            }
            if let Some((a, b, c)) = fit_kind(curve.kind, &sample, curve.x_scale) {
                refits.push(Curve { a, b, c, ..curve });
            }
        }
        let min_budget = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let band = (0..=40)
            .map(|i| {
                let x = min_budget + (1.5 * max_budget - min_budget) * i as f64 / 40.0;
                let ys: Vec<f64> = refits.iter().map(|r| r.predict(x)).collect();
                (
                    x,
                    quantile(&ys, 0.025),
                    curve.predict(x),
                    quantile(&ys, 0.975),
                )
            })
            .collect();
        Some(FittedCurve {
            curve,
            band,
            max_budget,
            refits,
        })
    }

    /// The budget that reaches `target` Dice, with the interval of the bootstrap refits (an
    /// end is None when too many refits never reach the target).
    pub fn budget_for(&self, target: f64) -> BudgetAnswer {
        let budget = self.curve.budget_for(target);
        let reached: Vec<f64> = self
            .refits
            .iter()
            .map(|r| r.budget_for(target).unwrap_or(f64::INFINITY))
            .collect();
        let q = |p: f64| {
            let v = quantile_with_inf(&reached, p);
            v.is_finite().then_some(v)
        };
        BudgetAnswer {
            target_dice: target,
            budget,
            lo: q(0.025),
            hi: q(0.975),
            extrapolated: budget.is_none_or(|b| b > self.max_budget),
        }
    }
}

/// `quantile` that keeps infinities (refits that never reach a target sort last).
fn quantile_with_inf(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_recover_known_curves_and_invert_them() {
        // Dice = 0.9 − 0.8·B^(−0.5) at budgets 10…160.
        let truth = |x: f64| 0.9 - 0.8 * x.powf(-0.5);
        let pts: Vec<(f64, f64)> = [10.0, 20.0, 40.0, 80.0, 160.0]
            .iter()
            .map(|&x| (x, truth(x)))
            .collect();
        let c = fit(&pts).unwrap();
        assert_eq!(c.kind, CurveKind::InversePower);
        assert!((c.a - 0.9).abs() < 0.01, "{c:?}");
        assert!((c.c - 0.5).abs() < 0.05, "{c:?}");
        // 0.8 = 0.9 − 0.8·B^(−½) → B = 64.
        let b = c.budget_for(0.8).unwrap();
        assert!((b - 64.0).abs() < 3.0, "{b}");
        assert!(c.budget_for(0.95).is_none(), "above the plateau");
        // An exponential plateau is told apart.
        let exp = |x: f64| 0.85 - 0.6 * (-3.0 * x / 100.0).exp();
        let pts: Vec<(f64, f64)> = [5.0, 20.0, 40.0, 60.0, 80.0, 100.0]
            .iter()
            .map(|&x| (x, exp(x)))
            .collect();
        let c = fit(&pts).unwrap();
        assert_eq!(c.kind, CurveKind::ExpPlateau);
        assert!((c.predict(50.0) - exp(50.0)).abs() < 0.005);
        assert!(fit(&pts[..2]).is_none(), "two budgets do not make a curve");
    }

    #[test]
    fn bands_cover_the_fit_and_answers_mark_extrapolation() {
        let mut rng = Rng::new(4);
        let pts: Vec<(f64, f64)> = [10.0, 20.0, 40.0, 80.0]
            .iter()
            .flat_map(|&x| {
                (0..3)
                    .map(|_| (x, 0.9 - 0.8 * f64::powf(x, -0.5) + 0.01 * rng.normal()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let f = FittedCurve::new(&pts, 200, 1).unwrap();
        for &(_, lo, mid, hi) in &f.band {
            assert!(lo <= mid + 1e-9 && mid <= hi + 1e-9, "{lo} {mid} {hi}");
        }
        let inside = f.budget_for(0.75);
        assert!(!inside.extrapolated, "{inside:?}");
        let (lo, hi) = (inside.lo.unwrap(), inside.hi.unwrap());
        assert!(lo <= inside.budget.unwrap() && inside.budget.unwrap() <= hi);
        let beyond = f.budget_for(0.84);
        assert!(beyond.extrapolated, "{beyond:?}");
    }
}
