//! Means with 95 % intervals (Student's t over runs), and percentile intervals.

pub mod curve;
pub mod separation;

use serde::Serialize;

/// A mean and its 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    /// Values it rests on.
    pub n: usize,
}

/// Two-sided 97.5 % quantile of Student's t with `df` degrees of freedom.
pub fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        d if d <= 30 => TABLE[d - 1],
        d if d <= 60 => 2.042 - (d - 30) as f64 * (2.042 - 2.000) / 30.0,
        d if d <= 120 => 2.000 - (d - 60) as f64 * (2.000 - 1.980) / 60.0,
        _ => 1.960,
    }
}

/// Sample mean and standard deviation (0 for fewer than two values).
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, 0.0);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    (mean, sd)
}

/// `mean_interval` of Dice values, its bounds kept within [0, 1] (a t interval over a few
/// seeds can reach past either end).
pub fn dice_interval(values: &[f64]) -> Interval {
    let i = mean_interval(values);
    Interval {
        lo: i.lo.max(0.0),
        hi: i.hi.min(1.0),
        ..i
    }
}

/// The mean of `values` with its 95 % t interval (one value: an unbounded interval, shown as
/// the value itself with `n` = 1 so readers can tell).
pub fn mean_interval(values: &[f64]) -> Interval {
    let (mean, sd) = mean_sd(values);
    let n = values.len();
    let half = if n > 1 {
        t_975(n - 1) * sd / (n as f64).sqrt()
    } else {
        0.0
    };
    Interval {
        mean,
        lo: mean - half,
        hi: mean + half,
        n,
    }
}

/// The `q` quantile (0–1) of `values` by linear interpolation between order statistics.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    if i + 1 < v.len() {
        v[i] * (1.0 - f) + v[i + 1] * f
    } else {
        v[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_match_hand_computed_values() {
        // 0.70, 0.80, 0.90: mean 0.8, sd 0.1, t(2) = 4.303 → half-width 0.24843.
        let i = mean_interval(&[0.7, 0.8, 0.9]);
        assert!((i.mean - 0.8).abs() < 1e-12);
        assert!((i.hi - i.mean - 4.303 * 0.1 / 3f64.sqrt()).abs() < 1e-12);
        assert!((i.mean - i.lo - (i.hi - i.mean)).abs() < 1e-12);
        assert_eq!(i.n, 3);
        let one = mean_interval(&[0.5]);
        assert_eq!((one.lo, one.hi, one.n), (0.5, 0.5, 1));
        assert_eq!(t_975(1), 12.706);
        assert_eq!(t_975(1000), 1.96);
        assert!((quantile(&[1.0, 2.0, 3.0, 4.0], 0.5) - 2.5).abs() < 1e-12);
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.0), 1.0);
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 1.0), 3.0);
        // Dice intervals stop at 0 and 1; the mean is untouched.
        let d = dice_interval(&[0.9, 1.0]);
        let t = mean_interval(&[0.9, 1.0]);
        assert_eq!((d.mean, d.lo, d.hi), (t.mean, t.lo.max(0.0), 1.0));
        assert!(t.hi > 1.0);
        assert_eq!(dice_interval(&[0.0, 0.1]).lo, 0.0);
    }
}
