//! Can the seeds tell two plans apart? Two scenarios of one budget are compared seed by seed (a
//! seed scores both on the same test volumes): the mean difference in Dice with its 95 % t
//! interval, and about how many seeds a difference of that size and spread needs before its
//! interval leaves zero.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::study::stats::{Interval, mean_interval, mean_sd, t_975};
use crate::study::store::StoreContents;
use crate::study::store::key::RunSpec;
use crate::study::summary::scenario_key;

/// One-sided 80 % quantile of the normal distribution: the power the seed count aims at.
const Z_POWER_80: f64 = 0.8416;
/// Seed counts are searched up to this; a difference needing more reads "no consistent
/// difference".
const MAX_SEEDS: usize = 1000;

/// A scenario's Dice seed by seed (runs that learned only).
#[derive(Debug, Clone, PartialEq)]
pub struct SeedDice {
    pub budget: String,
    /// Allocation, strategy and model, e.g. "s=5 fixed 2d".
    pub plan: String,
    pub preset: String,
    pub by_seed: BTreeMap<u64, f64>,
}

impl SeedDice {
    fn mean(&self) -> f64 {
        self.by_seed.values().sum::<f64>() / self.by_seed.len().max(1) as f64
    }
}

/// The stored runs of `specs` grouped by scenario, in the order the specs list them; flagged
/// runs are left out, as from every mean.
pub fn seed_dice(specs: &[RunSpec], contents: &StoreContents) -> Vec<SeedDice> {
    let mut out: Vec<SeedDice> = Vec::new();
    for spec in specs {
        let (budget, allocation, strategy, model, preset) = scenario_key(spec);
        let plan = format!("{allocation} {strategy} {model}");
        let i = match out
            .iter()
            .position(|s| s.budget == budget && s.plan == plan && s.preset == preset)
        {
            Some(i) => i,
            None => {
                out.push(SeedDice {
                    budget,
                    plan,
                    preset,
                    by_seed: BTreeMap::new(),
                });
                out.len() - 1
            }
        };
        if let Some(run) = contents.get(&spec.key()).and_then(|r| r.result())
            && run.learned()
        {
            out[i].by_seed.insert(spec.request.seed, run.mean_dice);
        }
    }
    out.retain(|s| !s.by_seed.is_empty());
    out
}

/// Two scenarios compared on the seeds both have.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Separation {
    pub budget: String,
    /// The plan with the higher mean over the shared seeds.
    pub higher: String,
    pub lower: String,
    /// higher − lower, seed by seed.
    pub paired: Paired,
}

/// The smallest seed count `n` at which a true paired difference `difference` with seed-to-seed
/// standard deviation `sd` gives a 95 % t interval that leaves out zero with 80 % power
/// (`(t₀.₉₇₅(n−1) + z₀.₈)·sd/√n ≤ |difference|`); None for no difference or over a thousand.
pub fn seeds_to_separate(difference: f64, sd: f64) -> Option<usize> {
    let d = difference.abs();
    if !(d > 0.0 && d.is_finite() && sd.is_finite()) {
        return None;
    }
    (2..=MAX_SEEDS).find(|&n| (t_975(n - 1) + Z_POWER_80) * sd / (n as f64).sqrt() <= d)
}

/// `a` − `b`, seed by seed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Paired {
    /// The mean difference and its 95 % t interval over the `n` shared seeds.
    pub difference: Interval,
    /// Whether the interval leaves out zero.
    pub separated: bool,
    /// Seeds that would separate a difference of this size and spread with 80 % power.
    pub seeds_needed: Option<usize>,
}

impl Paired {
    /// The difference and its interval, e.g. "+0.050 [-0.078, +0.178]".
    pub fn difference_text(&self) -> String {
        let d = self.difference;
        format!("{:+.3} [{:+.3}, {:+.3}]", d.mean, d.lo, d.hi)
    }

    /// "separated", "about N seeds to tell" or "no consistent difference".
    pub fn verdict(&self) -> String {
        match (self.separated, self.seeds_needed) {
            (true, _) => "separated".into(),
            (false, Some(n)) => format!("about {n} seeds to tell"),
            (false, None) => "no consistent difference".into(),
        }
    }

    /// The same comparison the other way round (b − a).
    pub fn reversed(&self) -> Paired {
        let d = self.difference;
        Paired {
            difference: Interval {
                mean: -d.mean,
                lo: -d.hi,
                hi: -d.lo,
                n: d.n,
            },
            ..*self
        }
    }
}

/// `a` − `b` over the seeds both have (Dice by seed); None with fewer than two.
pub fn paired(a: &BTreeMap<u64, f64>, b: &BTreeMap<u64, f64>) -> Option<Paired> {
    let diffs: Vec<f64> = a
        .iter()
        .filter_map(|(seed, x)| b.get(seed).map(|y| x - y))
        .collect();
    if diffs.len() < 2 {
        return None;
    }
    let difference = mean_interval(&diffs);
    let (_, sd) = mean_sd(&diffs);
    Some(Paired {
        difference,
        separated: difference.lo > 0.0 || difference.hi < 0.0,
        seeds_needed: seeds_to_separate(difference.mean, sd),
    })
}

/// `a` against `b` on their shared seeds, the higher first (None with fewer than two).
pub fn compare(a: &SeedDice, b: &SeedDice) -> Option<Separation> {
    let forward = paired(&a.by_seed, &b.by_seed)?;
    let (higher, lower) = if forward.difference.mean >= 0.0 {
        (a, b)
    } else {
        (b, a)
    };
    Some(Separation {
        budget: a.budget.clone(),
        higher: higher.plan.clone(),
        lower: lower.plan.clone(),
        paired: paired(&higher.by_seed, &lower.by_seed)?,
    })
}

/// Per budget and preset, each scenario against the next lower one by mean Dice.
pub fn neighbour_separations(scenarios: &[SeedDice]) -> Vec<Separation> {
    let mut groups: BTreeMap<(&str, &str), Vec<&SeedDice>> = BTreeMap::new();
    for s in scenarios {
        groups.entry((&s.budget, &s.preset)).or_default().push(s);
    }
    let mut out = Vec::new();
    for (_, mut group) in groups {
        group.sort_by(|a, b| b.mean().total_cmp(&a.mean()));
        out.extend(group.windows(2).filter_map(|w| compare(w[0], w[1])));
    }
    out
}

/// Does a quick preset order the pairs of plans a reference tells apart as the reference does?
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PairAgreement {
    /// Pairs of plans (same budget) the reference's seeds separate at 95 %.
    pub separated: usize,
    /// Of those, pairs the quick preset's means order the same way.
    pub agreeing: usize,
    /// Pairs whose reference interval includes zero: a tie at this many seeds, where any order
    /// the quick preset gives is not a disagreement.
    pub within_noise: usize,
}

/// Every pair of plans of one budget measured in both presets, judged by the reference's
/// paired interval.
pub fn pair_agreement(quick: &[SeedDice], reference: &[SeedDice]) -> PairAgreement {
    let find = |r: &SeedDice| {
        quick
            .iter()
            .find(|q| q.budget == r.budget && q.plan == r.plan)
    };
    let mut out = PairAgreement::default();
    for (i, a) in reference.iter().enumerate() {
        for b in &reference[i + 1..] {
            if a.budget != b.budget {
                continue;
            }
            let (Some(qa), Some(qb), Some(sep)) = (find(a), find(b), compare(a, b)) else {
                continue;
            };
            if !sep.paired.separated {
                out.within_noise += 1;
                continue;
            }
            out.separated += 1;
            let quick_higher = if qa.mean() >= qb.mean() {
                &a.plan
            } else {
                &b.plan
            };
            if *quick_higher == sep.higher {
                out.agreeing += 1;
            }
        }
    }
    out
}

/// The report's section: each neighbouring pair as a table row, with what the columns mean.
pub fn separations_markdown(separations: &[Separation]) -> String {
    let mut md = String::from(
        "\n## Can the seeds tell the plans apart?\n\nEach scenario against the next lower one at the same budget and preset, seed by seed (a seed scores both on the same test volumes): the mean difference in Dice with its 95 % t interval over the shared seeds, and, where the interval still includes zero, about how many seeds would separate a difference of this size and spread (80 % power).\n\n",
    );
    if separations.is_empty() {
        md.push_str("No two scenarios of one budget share two seeds that learned.\n");
        return md;
    }
    md.push_str("| budget | higher | lower | Δ Dice (95 % CI) | seeds | verdict |\n|---|---|---|---|---|---|\n");
    for s in separations {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            s.budget,
            s.higher,
            s.lower,
            s.paired.difference_text(),
            s.paired.difference.n,
            s.paired.verdict()
        ));
    }
    md
}

/// Dice by seed 0, 1, … for tests.
#[cfg(test)]
pub(crate) fn seeds_from(dice: &[f64]) -> BTreeMap<u64, f64> {
    dice.iter()
        .enumerate()
        .map(|(i, d)| (i as u64, *d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(plan: &str, dice: &[f64]) -> SeedDice {
        SeedDice {
            budget: "60 slices".into(),
            plan: plan.into(),
            preset: "quick".into(),
            by_seed: seeds_from(dice),
        }
    }

    #[test]
    fn seed_counts_follow_the_power_formula() {
        // sd = |difference|: (t(n−1) + 0.8416)/√n ≤ 1 first at n = 10 (t(9) = 2.262:
        // 3.10/3.16; at 9, t(8) = 2.306: 3.15/3).
        assert_eq!(seeds_to_separate(0.1, 0.1), Some(10));
        assert!((t_975(8) + Z_POWER_80) / 3.0 > 1.0);
        // Half the spread: fewer seeds; no spread: two.
        assert!(seeds_to_separate(0.1, 0.05).unwrap() < 10);
        assert_eq!(seeds_to_separate(0.1, 0.0), Some(2));
        assert_eq!(
            seeds_to_separate(-0.1, 0.1),
            Some(10),
            "the sign does not matter"
        );
        assert_eq!(seeds_to_separate(0.0, 0.1), None);
        assert_eq!(seeds_to_separate(0.001, 1.0), None, "over a thousand");
    }

    #[test]
    fn paired_seeds_separate_a_consistent_difference_that_unpaired_spread_hides() {
        // Seeds differ a lot (test volumes, draws), but b beats a by 0.05 ± 0.01 in every seed.
        let a = scenario("s=2 fixed 2d", &[0.30, 0.60, 0.45, 0.20]);
        let b = scenario("s=20 fixed 2d", &[0.36, 0.64, 0.50, 0.26]);
        let sep = compare(&a, &b).unwrap();
        assert_eq!(
            (sep.higher.as_str(), sep.lower.as_str()),
            ("s=20 fixed 2d", "s=2 fixed 2d")
        );
        let p = sep.paired;
        assert!((p.difference.mean - 0.0525).abs() < 1e-12 && p.difference.n == 4);
        assert!(p.separated && p.difference.lo > 0.0, "{sep:?}");
        assert_eq!(p.verdict(), "separated");
        assert!(
            p.difference_text().starts_with("+0.053 [+0.0"),
            "{}",
            p.difference_text()
        );
        let back = p.reversed();
        assert_eq!(
            (back.difference.mean, back.difference.hi),
            (-p.difference.mean, -p.difference.lo)
        );
        // A noisy difference: not separated, with the seeds it would need.
        // c − a: 0.15, −0.05, 0.10, 0.10 (mean 0.075, sd 0.087): 13 seeds.
        let c = scenario("s=5 fixed 2d", &[0.45, 0.55, 0.55, 0.30]);
        let sep = compare(&a, &c).unwrap();
        assert!(!sep.paired.separated && sep.higher == "s=5 fixed 2d");
        let n = sep.paired.seeds_needed.unwrap();
        assert_eq!(n, 13, "{sep:?}");
        assert_eq!(sep.paired.verdict(), "about 13 seeds to tell");
        // Seeds not shared are not compared.
        let lone = SeedDice {
            by_seed: [(9, 0.5)].into(),
            ..a.clone()
        };
        assert!(compare(&a, &lone).is_none());
    }

    #[test]
    fn neighbours_are_compared_within_a_budget_in_rank_order() {
        let a = scenario("s=2 fixed 2d", &[0.30, 0.60, 0.45]);
        let b = scenario("s=20 fixed 2d", &[0.36, 0.64, 0.50]);
        let c = scenario("s=10 fixed 2d", &[0.70, 0.70, 0.70]);
        let other = SeedDice {
            budget: "30 slices".into(),
            ..scenario("s=1 fixed 2d", &[0.1, 0.2])
        };
        let seps = neighbour_separations(&[a, b, c, other]);
        let pairs: Vec<(&str, &str)> = seps
            .iter()
            .filter(|s| s.budget == "60 slices")
            .map(|s| (s.higher.as_str(), s.lower.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("s=10 fixed 2d", "s=20 fixed 2d"),
                ("s=20 fixed 2d", "s=2 fixed 2d")
            ]
        );
        assert_eq!(seps.len(), 2, "a lone scenario has no neighbour");
    }

    #[test]
    fn agreement_counts_only_pairs_the_reference_separates() {
        let reference = [
            scenario("s=2 fixed 2d", &[0.30, 0.31, 0.29]),
            scenario("s=5 fixed 2d", &[0.50, 0.52, 0.51]),
            scenario("s=20 fixed 2d", &[0.51, 0.49, 0.53]),
        ];
        // Quick swaps s=5 and s=20 (a tie in the reference) and keeps s=2 lowest.
        let quick = [
            scenario("s=2 fixed 2d", &[0.20, 0.25, 0.22]),
            scenario("s=5 fixed 2d", &[0.40, 0.41, 0.40]),
            scenario("s=20 fixed 2d", &[0.45, 0.44, 0.46]),
        ];
        let agreement = pair_agreement(&quick, &reference);
        assert_eq!(
            agreement,
            PairAgreement {
                separated: 2,
                agreeing: 2,
                within_noise: 1
            }
        );
        // A quick preset that puts s=2 on top disagrees on both separated pairs.
        let mut wrong = quick.clone();
        wrong[0] = scenario("s=2 fixed 2d", &[0.9, 0.9, 0.9]);
        assert_eq!(pair_agreement(&wrong, &reference).agreeing, 0);
    }
}
