//! Racing a budget curve: seeds go where the fitted curve's band is widest, and the race stops
//! as soon as the band is narrow enough at every measured budget.
//!
//! It starts with one seed at every budget of the curve (¼, ½, 1 and 2 times the budget in the
//! GUI). Each round it fits the curve to the stored runs that learned (`summary::budget_curves`:
//! a saturating fit and its bootstrap band) and reads the band's width at each budget; the next
//! seed goes to the budget where it is widest. It stops when
//! - the band is at most twice the tolerance wide at every budget: **settled**;
//! - the widest budgets have no seed left: **seeds spent**;
//! - the run budget is spent: **run budget spent**.
//!
//! As for allocation races, its state is the result store, so a cancelled race keeps its runs
//! and a rerun continues.

use serde::Serialize;

use super::sequential::Sequential;
use super::store::StoreContents;
use super::summary::budget_curves;
use crate::error::{Error, Result};
use crate::plan::Budget;
use crate::study::store::key::RunSpec;

/// The band half-width (Dice) below which a curve counts as settled by default.
pub const DEFAULT_TOLERANCE: f64 = 0.025;

/// Why a curve race stopped, with the band's widest width then (None: no curve fitted).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CurveVerdict {
    /// The band is within the tolerance at every budget.
    Settled { width: f64 },
    /// Every budget has all its seeds and the band is still wider.
    SeedsSpent { width: Option<f64> },
    /// The run budget is spent.
    RunBudgetSpent { width: Option<f64> },
}

/// A finished curve race.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurveReport {
    pub verdict: CurveVerdict,
    /// The race's stored runs.
    pub runs: usize,
}

impl CurveReport {
    /// One line for the user, e.g. "budget curve settled after 6 runs (band ≤ 0.043 wide)".
    pub fn line(&self) -> String {
        let runs = self.runs;
        let width = |w: Option<f64>| {
            w.map_or("no curve fitted".into(), |w| {
                format!("band up to {w:.3} wide")
            })
        };
        match self.verdict {
            CurveVerdict::Settled { width } => {
                format!("budget curve settled after {runs} runs (band ≤ {width:.3} wide)")
            }
            CurveVerdict::SeedsSpent { width: w } => {
                format!("budget curve: seeds spent after {runs} runs ({})", width(w))
            }
            CurveVerdict::RunBudgetSpent { width: w } => {
                format!(
                    "budget curve: run budget spent after {runs} runs ({})",
                    width(w)
                )
            }
        }
    }
}

/// The runs of one allocation's budget curve and when to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveRace {
    /// `specs[b][k]`: the curve's b-th budget under its k-th seed.
    specs: Vec<Vec<RunSpec>>,
    tolerance: f64,
    max_runs: Option<usize>,
}

impl CurveRace {
    /// A race over `specs` (per budget, one run per seed, the same number of seeds each);
    /// refused before any training when it cannot stop sensibly.
    pub fn new(specs: Vec<Vec<RunSpec>>, tolerance: f64, max_runs: Option<usize>) -> Result<Self> {
        if specs.len() < 2 {
            return Err(Error::invalid("a budget curve needs at least two budgets"));
        }
        if specs.iter().any(Vec::is_empty) {
            return Err(Error::invalid(
                "a budget curve needs at least one seed per budget",
            ));
        }
        if !(tolerance > 0.0 && tolerance < 1.0) {
            return Err(Error::invalid(format!(
                "a budget curve's tolerance must lie between 0 and 1 (Dice), not {tolerance}"
            )));
        }
        if max_runs == Some(0) {
            return Err(Error::invalid(
                "a budget curve needs a run budget of at least one run",
            ));
        }
        Ok(CurveRace {
            specs,
            tolerance,
            max_runs,
        })
    }

    /// The fitted band's width at each budget (None until a curve can be fitted).
    pub fn widths(&self, contents: &StoreContents) -> Option<Vec<f64>> {
        let all: Vec<RunSpec> = self.specs.iter().flatten().cloned().collect();
        let curve = budget_curves(&all, contents).into_iter().next()?;
        let fit = curve.fit_slices?;
        self.specs
            .iter()
            .map(|seeds| {
                // The budget in slices as the fit sees it: a stored run's, else the request's.
                let stored = seeds
                    .iter()
                    .find_map(|s| contents.get(&s.key()).and_then(|r| r.result()));
                let budget = match (stored, seeds[0].request.budget) {
                    (Some(result), _) => result.slices as f64,
                    (None, Some(Budget::Slices(b))) => b as f64,
                    (None, _) => return None,
                };
                fit.band
                    .iter()
                    .min_by(|a, b| (a.0 - budget).abs().total_cmp(&(b.0 - budget).abs()))
                    .map(|&(_, lo, _, hi)| hi - lo)
            })
            .collect()
    }

    /// The next runs, or the report when the race is over.
    pub fn next(&self, contents: &StoreContents) -> std::result::Result<Vec<RunSpec>, CurveReport> {
        let stored = |s: &RunSpec| contents.get(&s.key()).is_some();
        let runs = self.specs.iter().flatten().filter(|s| stored(s)).count();
        let next_seed = |b: usize| self.specs[b].iter().find(|s| !stored(s)).cloned();
        // The fit (200 bootstrap refits) only where a decision or a verdict needs it.
        let widest_of =
            |w: &Option<Vec<f64>>| w.as_ref().map(|w| w.iter().copied().fold(0.0, f64::max));
        let stop = |verdict| Err(CurveReport { verdict, runs });
        if self.max_runs.is_some_and(|m| runs >= m) {
            return stop(CurveVerdict::RunBudgetSpent {
                width: widest_of(&self.widths(contents)),
            });
        }
        let left = self.max_runs.map_or(usize::MAX, |m| m - runs);
        // One seed at every budget first, and again at every budget while no curve fits.
        let first_missing: Vec<RunSpec> = self
            .specs
            .iter()
            .filter_map(|seeds| seeds.first().filter(|s| !stored(s)).cloned())
            .collect();
        if !first_missing.is_empty() {
            return Ok(first_missing.into_iter().take(left).collect());
        }
        let widths = self.widths(contents);
        let widest = widest_of(&widths);
        let round: Vec<RunSpec> = match &widths {
            None => (0..self.specs.len()).filter_map(next_seed).collect(),
            Some(w) => {
                if widest.is_some_and(|w| w <= 2.0 * self.tolerance) {
                    return stop(CurveVerdict::Settled {
                        width: widest.unwrap_or(0.0),
                    });
                }
                let mut order: Vec<usize> = (0..w.len()).collect();
                order.sort_by(|&a, &b| w[b].total_cmp(&w[a]));
                order.into_iter().find_map(next_seed).into_iter().collect()
            }
        };
        if round.is_empty() {
            return stop(CurveVerdict::SeedsSpent { width: widest });
        }
        Ok(round.into_iter().take(left).collect())
    }
}

impl Sequential for CurveRace {
    type Report = CurveReport;

    fn next_runs(
        &self,
        contents: &StoreContents,
    ) -> std::result::Result<Vec<RunSpec>, CurveReport> {
        self.next(contents)
    }

    fn line(report: &CurveReport) -> String {
        report.line()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::estimates::tests::{setup, stored};
    use crate::study::file::AllocationRule;

    /// The demo setup's curve: budgets 10, 20, 40, 80 slices × `seeds` seeds, 10 volumes.
    fn race(seeds: usize, tolerance: f64, max_runs: Option<usize>) -> CurveRace {
        let mut s = setup();
        s.seeds = (0..seeds as u64).collect();
        let specs = s
            .curve_budgets()
            .into_iter()
            .map(|b| {
                s.seeds
                    .iter()
                    .map(|&seed| s.spec(b, AllocationRule::Volumes(10), seed))
                    .collect()
            })
            .collect();
        CurveRace::new(specs, tolerance, max_runs).unwrap()
    }

    /// Plays `race` to the end with each run's Dice from `dice(slices, seed)`.
    fn play(race: &CurveRace, dice: impl Fn(f64, u64) -> f64) -> (CurveReport, Vec<(f64, u64)>) {
        let mut contents = StoreContents::default();
        let mut order = Vec::new();
        loop {
            match race.next(&contents) {
                Ok(batch) => {
                    for spec in batch {
                        let slices = match spec.request.budget {
                            Some(Budget::Slices(b)) => b as f64,
                            _ => 0.0,
                        };
                        order.push((slices, spec.request.seed));
                        contents.insert(stored(&spec, dice(slices, spec.request.seed), false));
                    }
                }
                Err(report) => return (report, order),
            }
        }
    }

    fn saturating(slices: f64) -> f64 {
        0.9 - 0.6 * (-slices / 30.0).exp()
    }

    #[test]
    fn a_clean_curve_settles_after_one_seed_per_budget() {
        let (report, order) = play(&race(5, DEFAULT_TOLERANCE, None), |x, _| saturating(x));
        assert!(
            matches!(report.verdict, CurveVerdict::Settled { .. }),
            "{report:?}"
        );
        // Four points leave the bootstrap's refits of a three-parameter curve loose; a fifth
        // settles it, far from the 20 runs of every seed at every budget.
        assert!(report.runs <= 6, "{order:?}");
    }

    #[test]
    fn seeds_go_where_the_band_is_widest_and_the_noise_is() {
        // Seed-to-seed noise of ±0.15 at the smallest budget only.
        let noisy = |x: f64, seed: u64| {
            let sign = if seed.is_multiple_of(2) { 1.0 } else { -1.0 };
            saturating(x) + if x < 15.0 { 0.15 * sign } else { 0.0 }
        };
        let (_, order) = play(&race(5, DEFAULT_TOLERANCE, None), noisy);
        // After one seed everywhere, every seed the noisy budget has left goes there first.
        let next: Vec<f64> = order[4..8].iter().map(|&(x, _)| x).collect();
        assert_eq!(next, vec![10.0; 4], "{order:?}");
    }

    #[test]
    fn a_run_budget_or_the_seeds_end_an_unsettled_curve() {
        let noise =
            |x: f64, seed: u64| saturating(x) + 0.2 * ((seed * 7 + x as u64) % 3) as f64 / 2.0;
        let (report, _) = play(&race(5, 0.001, Some(7)), noise);
        assert_eq!(report.runs, 7);
        assert!(
            matches!(report.verdict, CurveVerdict::RunBudgetSpent { .. }),
            "{report:?}"
        );
        let (report, _) = play(&race(2, 0.001, None), noise);
        assert_eq!(report.runs, 8);
        assert!(
            matches!(report.verdict, CurveVerdict::SeedsSpent { .. }),
            "{report:?}"
        );
        assert!(
            report
                .line()
                .starts_with("budget curve: seeds spent after 8 runs")
        );
    }

    #[test]
    fn an_impossible_curve_race_is_refused_before_training() {
        let one = race(2, DEFAULT_TOLERANCE, None).specs[0].clone();
        assert!(CurveRace::new(vec![one.clone()], 0.02, None).is_err());
        assert!(CurveRace::new(vec![one.clone(), one.clone()], 0.0, None).is_err());
        assert!(CurveRace::new(vec![one.clone(), Vec::new()], 0.02, None).is_err());
        assert!(CurveRace::new(vec![one.clone(), one], 0.02, Some(0)).is_err());
    }
}
