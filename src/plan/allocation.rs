//! Budget allocation: how many volumes, how many slices in each, meeting a budget exactly.
//!
//! Two rounding rules, the user's choice:
//! - `Density`: volume i gets `n_i = max(min, round(ρ·D_i))` slices; ρ is found by bisection so
//!   that Σ n_i hits the budget, and any remaining difference of a few slices is settled by the
//!   largest-remainder method (the volumes whose ρ·D_i was closest to rounding the other way).
//! - `FixedK`: every volume gets `k = ⌊B/s⌋` slices and `B mod s` of them get one more.
//!
//! No volume gets more slices than it has, nor fewer than the minimum.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How slices are spread over the chosen volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Rounding {
    /// The same number of slices in every volume (± 1 to meet the budget).
    #[default]
    FixedK,
    /// The same fraction ρ of each volume's slices.
    Density,
}

/// Annotation time model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// Seconds to annotate one slice.
    pub seconds_per_slice: f64,
    /// Fixed seconds per opened volume (loading, windowing, finding the anatomy).
    pub seconds_per_volume: f64,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            seconds_per_slice: 90.0,
            seconds_per_volume: 120.0,
        }
    }
}

impl CostModel {
    /// Seconds to annotate `slices` slices spread over `volumes` volumes.
    pub fn seconds(&self, volumes: usize, slices: usize) -> f64 {
        volumes as f64 * self.seconds_per_volume + slices as f64 * self.seconds_per_slice
    }

    /// Slices affordable with `seconds` when `volumes` volumes are opened.
    pub fn slices_for(&self, seconds: f64, volumes: usize) -> usize {
        let left = seconds - volumes as f64 * self.seconds_per_volume;
        if left <= 0.0 || self.seconds_per_slice <= 0.0 {
            0
        } else {
            (left / self.seconds_per_slice + 1e-9).floor() as usize
        }
    }
}

/// A budget: slices, or annotation time under a cost model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Budget {
    /// Annotated slices.
    Slices(usize),
    /// Seconds of annotation under the cost model.
    Seconds(f64),
}

/// Slices per volume for the chosen volumes (their slice counts `depths`), meeting `budget`
/// slices exactly.
pub fn allocate(
    depths: &[usize],
    budget: usize,
    rounding: Rounding,
    min_slices: usize,
) -> Result<Vec<usize>> {
    let s = depths.len();
    if s == 0 {
        return Err(Error::invalid("no volume to allocate slices to"));
    }
    let floor: Vec<usize> = depths.iter().map(|&d| min_slices.min(d).max(1)).collect();
    let lo: usize = floor.iter().sum();
    let hi: usize = depths.iter().sum();
    if budget < lo || budget > hi {
        return Err(Error::infeasible(format!(
            "a budget of {budget} slices cannot be met with these {s} volumes: the feasible range is {lo}–{hi} slices"
        )));
    }
    let mut n = match rounding {
        Rounding::FixedK => {
            let k = budget / s;
            let mut n: Vec<usize> = depths
                .iter()
                .zip(&floor)
                .map(|(&d, &f)| k.clamp(f, d))
                .collect();
            // Hand out the remainder one slice at a time, to the volumes with most room first.
            settle(&mut n, depths, &floor, budget, |i| depths[i] as f64);
            n
        }
        Rounding::Density => {
            let count = |rho: f64| -> usize {
                depths
                    .iter()
                    .zip(&floor)
                    .map(|(&d, &f)| ((rho * d as f64).round() as usize).clamp(f, d))
                    .sum()
            };
            let (mut a, mut b) = (0.0f64, 1.0f64);
            for _ in 0..60 {
                let mid = 0.5 * (a + b);
                if count(mid) < budget {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            let rho = b;
            let mut n: Vec<usize> = depths
                .iter()
                .zip(&floor)
                .map(|(&d, &f)| ((rho * d as f64).round() as usize).clamp(f, d))
                .collect();
            settle(&mut n, depths, &floor, budget, |i| {
                let exact = rho * depths[i] as f64;
                exact - exact.round()
            });
            n
        }
    };
    // Final guard (the settling always converges; this keeps the invariant explicit).
    let total: usize = n.iter().sum();
    if total != budget {
        n.clear();
        return Err(Error::invalid(format!(
            "internal allocation error: {total} ≠ {budget}"
        )));
    }
    Ok(n)
}

/// Adds or removes single slices until Σ n = budget, preferring volumes by `priority`
/// (highest first when adding, lowest first when removing).
fn settle(
    n: &mut [usize],
    depths: &[usize],
    floor: &[usize],
    budget: usize,
    priority: impl Fn(usize) -> f64,
) {
    let mut order: Vec<usize> = (0..n.len()).collect();
    order.sort_by(|&a, &b| {
        priority(b)
            .partial_cmp(&priority(a))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    loop {
        let total: usize = n.iter().sum();
        if total == budget {
            return;
        }
        let mut changed = false;
        if total < budget {
            for &i in &order {
                if n.iter().sum::<usize>() == budget {
                    break;
                }
                if n[i] < depths[i] {
                    n[i] += 1;
                    changed = true;
                }
            }
        } else {
            for &i in order.iter().rev() {
                if n.iter().sum::<usize>() == budget {
                    break;
                }
                if n[i] > floor[i] {
                    n[i] -= 1;
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
    }
}

/// One point of the volumes-versus-density trade-off at a fixed budget.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TradeOff {
    /// Volume count s.
    pub volumes: usize,
    /// Total slices.
    pub slices: usize,
    /// Mean slices per volume.
    pub slices_per_volume: f64,
    /// Mean annotation density ρ (fraction of each volume's slices).
    pub density: f64,
    /// Estimated annotation time.
    pub seconds: f64,
}

/// The slice budget for `volumes` volumes: the slice budget itself, or what the time affords.
pub fn slices_for_budget(budget: Budget, volumes: usize, cost: &CostModel) -> usize {
    match budget {
        Budget::Slices(b) => b,
        Budget::Seconds(t) => cost.slices_for(t, volumes),
    }
}

/// Every feasible volume count for `budget` over volumes of slice counts `depths` (taking the
/// `s` volumes in the given order), from "every volume, few slices" to "few volumes, many slices".
pub fn trade_offs(
    depths: &[usize],
    budget: Budget,
    min_slices: usize,
    cost: &CostModel,
) -> Vec<TradeOff> {
    let mut out = Vec::new();
    for s in 1..=depths.len() {
        let chosen = &depths[..s];
        let b = slices_for_budget(budget, s, cost);
        let lo: usize = chosen.iter().map(|&d| min_slices.min(d).max(1)).sum();
        let hi: usize = chosen.iter().sum();
        if b < lo || b > hi {
            continue;
        }
        let total_depth: usize = chosen.iter().sum();
        out.push(TradeOff {
            volumes: s,
            slices: b,
            slices_per_volume: b as f64 / s as f64,
            density: b as f64 / total_depth as f64,
            seconds: cost.seconds(s, b),
        });
    }
    out
}

/// Volumes held out for testing when none are asked for: a quarter, at least one.
pub fn default_holdout(volumes: usize) -> usize {
    (volumes / 4).max(1)
}

/// The volumes held out of `volumes` when `requested` are asked for (0: `default_holdout`).
pub fn holdout_for(requested: usize, volumes: usize) -> usize {
    match requested {
        0 => default_holdout(volumes),
        h => h,
    }
}

/// Volume counts spread from 1 to `max` (at most `points` of them, always including both ends).
pub fn volume_grid(max: usize, points: usize) -> Vec<usize> {
    if max <= points {
        return (1..=max).collect();
    }
    let mut v: Vec<usize> = (0..points)
        .map(|i| 1 + (i * (max - 1)) / (points - 1).max(1))
        .collect();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_k_meets_budget_exactly_and_spreads_remainder() {
        let depths = [40, 80, 120, 60];
        let n = allocate(&depths, 14, Rounding::FixedK, 1).unwrap();
        assert_eq!(n.iter().sum::<usize>(), 14);
        assert!(n.iter().all(|&k| k == 3 || k == 4), "{n:?}");
    }

    #[test]
    fn density_is_proportional_to_depth() {
        let depths = [40, 80, 120];
        let n = allocate(&depths, 24, Rounding::Density, 1).unwrap();
        assert_eq!(n, vec![4, 8, 12]);
        let n = allocate(&depths, 25, Rounding::Density, 1).unwrap();
        assert_eq!(n.iter().sum::<usize>(), 25);
    }

    #[test]
    fn infeasible_budget_names_the_range() {
        let err = allocate(&[10, 10], 1, Rounding::FixedK, 2)
            .unwrap_err()
            .to_string();
        assert!(err.contains("4–20"), "{err}");
        assert!(allocate(&[10, 10], 21, Rounding::Density, 1).is_err());
    }

    #[test]
    fn time_budget_pays_per_volume_overhead() {
        let cost = CostModel {
            seconds_per_slice: 60.0,
            seconds_per_volume: 120.0,
        };
        // 1 hour, 10 volumes: 3600 - 1200 = 2400 s → 40 slices.
        assert_eq!(slices_for_budget(Budget::Seconds(3600.0), 10, &cost), 40);
        let t = trade_offs(&[50; 30], Budget::Seconds(3600.0), 1, &cost);
        assert!(t.iter().all(|p| p.seconds <= 3600.0 + 1e-9));
        assert_eq!(t.last().unwrap().volumes, 20); // 20 volumes × (120 + 60) s = 3600 s
    }
}
