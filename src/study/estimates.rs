//! The planner's questions to the result store: the expected Dice of every allocation on the
//! trade-off frontier at one budget, which of them to estimate next, and the budget curve of one
//! allocation rule. The GUI's planner draws these; `run_missing` fills them in.

use std::collections::BTreeMap;

use serde::Serialize;

use super::curve_race::{CurveRace, DEFAULT_TOLERANCE};
use super::file::{AllocationRule, Preset};
use super::race::{Race, RacePoint, RaceRule};
use super::report::{BudgetCurve, budget_curves, summarize_runs};
use super::stats::Interval;
use super::store::StoreContents;
use crate::dataset::TargetLabels;
use crate::plan::{Budget, PlanRequest, TradeOff};
use crate::plan::{holdout_for, volume_grid};
use crate::study::stats::separation::{Paired, paired, seed_dice};
use crate::study::store::key::RunSpec;
use crate::train::{BackendChoice, ModelKind};

/// Runs the planner estimates with: the plan request (budget, cost model, strategy, hold-out,
/// …), what to segment, the model and the training preset, over seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimateSetup {
    pub base: PlanRequest,
    pub target: TargetLabels,
    pub model: ModelKind,
    pub backend: BackendChoice,
    pub preset: Preset,
    pub seeds: Vec<u64>,
    /// The store's dataset fingerprint.
    pub fingerprint: String,
}

/// One allocation at the budget, with what the store knows of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontierPoint {
    pub trade_off: TradeOff,
    /// Mean Dice over the seeds measured, with its 95 % interval; None: not estimated yet.
    pub dice: Option<Interval>,
    /// Seeds whose run did not learn the target (left out of `dice`).
    pub flagged: usize,
    /// Seeds measured or skipped so far, of `seeds`.
    pub done: usize,
    pub seeds: usize,
    /// The Dice of each seed that learned, for comparing points seed by seed.
    pub by_seed: BTreeMap<u64, f64>,
}

impl EstimateSetup {
    /// For a dataset of `cases` volumes: a request holding none out gets the simulations'
    /// default hold-out (a quarter), since estimates score on held-out volumes.
    pub fn with_default_holdout(mut self, cases: usize) -> Self {
        self.base.holdout = holdout_for(self.base.holdout, cases);
        self
    }

    /// The allocations of `alternatives` that leave the test volumes of a dataset of `cases`
    /// volumes out (a plan may hold fewer out than its estimates do).
    pub fn estimable(&self, alternatives: &[TradeOff], cases: usize) -> Vec<TradeOff> {
        let left = cases.saturating_sub(self.base.holdout);
        alternatives
            .iter()
            .filter(|t| t.volumes <= left)
            .cloned()
            .collect()
    }

    /// The run for `allocation` at `budget` and `seed`.
    pub fn spec(&self, budget: Budget, allocation: AllocationRule, seed: u64) -> RunSpec {
        let (volumes, density) = allocation.volumes_and_density();
        let mut train = self.preset.config(self.model);
        train.seed = seed;
        train.backend = self.backend;
        let request = PlanRequest {
            budget: Some(budget),
            volumes,
            density,
            seed,
            target: self.target.clone(),
            ..self.base.clone()
        };
        RunSpec::new(&self.fingerprint, request, train, self.preset.name())
    }

    fn budget(&self) -> Budget {
        self.base.budget.unwrap_or(Budget::Slices(0))
    }

    /// The runs of `volumes` volumes at the base budget, one per seed.
    pub fn point_specs(&self, volumes: usize) -> Vec<RunSpec> {
        self.seeds
            .iter()
            .map(|&seed| self.spec(self.budget(), AllocationRule::Volumes(volumes), seed))
            .collect()
    }

    /// Every frontier point with its estimate from `contents`.
    pub fn frontier(
        &self,
        alternatives: &[TradeOff],
        contents: &StoreContents,
    ) -> Vec<FrontierPoint> {
        alternatives
            .iter()
            .map(|t| {
                let specs = self.point_specs(t.volumes);
                let summary = summarize_runs(&specs, contents).into_iter().next();
                let done = specs
                    .iter()
                    .filter(|s| contents.get(&s.key()).is_some())
                    .count();
                let (dice, flagged) = match summary {
                    Some(s) => (s.estimated().then_some(s.dice), s.flagged),
                    None => (None, 0),
                };
                FrontierPoint {
                    trade_off: t.clone(),
                    dice,
                    flagged,
                    done,
                    seeds: specs.len(),
                    by_seed: seed_dice(&specs, contents)
                        .into_iter()
                        .next()
                        .map(|s| s.by_seed)
                        .unwrap_or_default(),
                }
            })
            .collect()
    }

    /// The volume counts "Estimate" measures: up to `points` spread over the frontier (from few
    /// to all volumes) plus `chosen`, each snapped to a feasible count.
    pub fn frontier_grid(
        &self,
        alternatives: &[TradeOff],
        chosen: Option<usize>,
        points: usize,
    ) -> Vec<usize> {
        let feasible: Vec<usize> = alternatives.iter().map(|t| t.volumes).collect();
        let Some(&max) = feasible.iter().max() else {
            return Vec::new();
        };
        let mut wanted: Vec<usize> = Vec::new();
        // The chosen allocation first, then a spread, each snapped to a feasible count.
        for s in chosen.into_iter().chain(volume_grid(max, points)) {
            if let Some(&near) = feasible.iter().min_by_key(|&&f| f.abs_diff(s))
                && !wanted.contains(&near)
                && wanted.len() < points.max(1) + usize::from(chosen.is_some())
            {
                wanted.push(near);
            }
        }
        wanted
    }

    /// The runs of the frontier grid (every point × seed) not in `contents` yet.
    pub fn missing_frontier_specs(
        &self,
        alternatives: &[TradeOff],
        chosen: Option<usize>,
        points: usize,
        contents: &StoreContents,
    ) -> Vec<RunSpec> {
        self.frontier_grid(alternatives, chosen, points)
            .into_iter()
            .flat_map(|s| self.point_specs(s))
            .filter(|s| contents.get(&s.key()).is_none())
            .collect()
    }

    /// "Estimate" as a race over the frontier grid, the setup's seeds as its seeds.
    pub fn frontier_race(
        &self,
        alternatives: &[TradeOff],
        chosen: Option<usize>,
        points: usize,
        rule: RaceRule,
    ) -> crate::error::Result<Race> {
        let points = self
            .frontier_grid(alternatives, chosen, points)
            .into_iter()
            .map(|volumes| RacePoint {
                label: format!("{volumes} volumes"),
                volumes,
                specs: self.point_specs(volumes),
            })
            .collect();
        Race::new(points, rule)
    }

    /// The budgets a budget curve samples: ¼, ½, 1 and 2 times the base budget.
    pub fn curve_budgets(&self) -> Vec<Budget> {
        [0.25, 0.5, 1.0, 2.0]
            .iter()
            .map(|f| match self.budget() {
                Budget::Slices(b) => Budget::Slices(((b as f64 * f).round() as usize).max(1)),
                Budget::Seconds(t) => Budget::Seconds(t * f),
            })
            .collect()
    }

    /// The runs of `allocation`'s budget curve (every budget × seed).
    pub fn curve_specs(&self, allocation: AllocationRule) -> Vec<RunSpec> {
        self.curve_rows(allocation).into_iter().flatten().collect()
    }

    /// The curve's runs per budget (one per seed); a budget that rounds to another's slices
    /// is kept once.
    fn curve_rows(&self, allocation: AllocationRule) -> Vec<Vec<RunSpec>> {
        let key = |row: &[RunSpec]| row.first().map(RunSpec::key);
        let mut rows: Vec<Vec<RunSpec>> = Vec::new();
        for budget in self.curve_budgets() {
            let row: Vec<RunSpec> = self
                .seeds
                .iter()
                .map(|&seed| self.spec(budget, allocation, seed))
                .collect();
            if !rows.iter().any(|r| key(r) == key(&row)) {
                rows.push(row);
            }
        }
        rows
    }

    /// `allocation`'s budget curve as a race (`curve_race`): its budgets × this setup's seeds,
    /// seeds added where the band is widest, at most `max_runs` runs.
    pub fn curve_race(
        &self,
        allocation: AllocationRule,
        max_runs: Option<usize>,
    ) -> crate::error::Result<CurveRace> {
        let rows = self.curve_rows(allocation);
        CurveRace::new(rows, DEFAULT_TOLERANCE, max_runs)
    }

    /// `allocation`'s budget curve from `contents` (None until two budgets are measured).
    pub fn curve(
        &self,
        allocation: AllocationRule,
        contents: &StoreContents,
    ) -> Option<BudgetCurve> {
        budget_curves(&self.curve_specs(allocation), contents)
            .into_iter()
            .next()
    }
}

/// The estimated point with the highest mean Dice, and every other estimated point compared
/// with it seed by seed.
#[derive(Debug, Clone, PartialEq)]
pub struct AgainstBest {
    /// Index of the best point.
    pub best: usize,
    /// (index, best − point over their shared seeds; None where they share fewer than two).
    pub others: Vec<(usize, Option<Paired>)>,
}

/// Every estimated point against the one with the highest mean Dice (None: nothing estimated).
pub fn compared_with_best(points: &[FrontierPoint]) -> Option<AgainstBest> {
    let best = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.dice.map(|d| (i, d.mean)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?
        .0;
    let others = points
        .iter()
        .enumerate()
        .filter(|(i, p)| *i != best && p.dice.is_some())
        .map(|(i, p)| (i, paired(&points[best].by_seed, &p.by_seed)))
        .collect();
    Some(AgainstBest { best, others })
}

/// The frontier point to recommend: the highest expected Dice; among points the seeds cannot
/// tell apart from it (compared seed by seed, each seed scoring both on the same test volumes;
/// by overlapping intervals where they share fewer than two seeds), the one with the most
/// volumes (the paper's first finding, and the cheaper bet when the data cannot tell them
/// apart). None while nothing is estimated.
pub fn recommended(points: &[FrontierPoint]) -> Option<usize> {
    let AgainstBest { best, others } = compared_with_best(points)?;
    let top = points[best].dice?;
    others
        .into_iter()
        .filter(|(i, p)| {
            let Some(d) = points[*i].dice else {
                return false;
            };
            match p {
                Some(p) => !p.separated,
                None => d.mean == top.mean || (d.n > 1 && top.n > 1 && d.hi >= top.lo),
            }
        })
        .map(|(i, _)| i)
        .chain([best])
        .max_by_key(|&i| (points[i].trade_off.volumes, usize::from(i == best)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::study::store::{ResultStore, RunOutcome, RunResult, StoredRun};

    pub(crate) fn setup() -> EstimateSetup {
        EstimateSetup {
            base: PlanRequest {
                budget: Some(Budget::Slices(40)),
                holdout: 2,
                ..PlanRequest::default()
            },
            target: TargetLabels::all_foreground(),
            model: ModelKind::TwoD,
            backend: BackendChoice::Cpu,
            preset: Preset::Tiny,
            seeds: vec![0, 1],
            fingerprint: "fp".into(),
        }
    }

    fn trade_off(volumes: usize) -> TradeOff {
        TradeOff {
            volumes,
            slices: 40,
            slices_per_volume: 40.0 / volumes as f64,
            density: 0.1,
            seconds: 0.0,
        }
    }

    pub(crate) fn stored(spec: &RunSpec, dice: f64, flagged: bool) -> StoredRun {
        StoredRun {
            key: spec.key(),
            spec: spec.clone(),
            outcome: RunOutcome::Done(RunResult {
                slices: match spec.request.budget {
                    Some(Budget::Slices(b)) => b,
                    _ => 0,
                },
                volumes: spec.request.volumes.unwrap_or(10),
                slices_per_volume: 4.0,
                density: 0.1,
                annotation_hours: 1.0,
                mean_dice: dice,
                cases: Vec::new(),
                loss_curve: Vec::new(),
                validation_curve: Vec::new(),
                steps_trained: 12,
                train_seconds: 1.0,
                warmup_seconds: 0.0,
                eval_seconds: 0.0,
                device: "cpu".into(),
                flags: if flagged {
                    vec!["did not learn".into()]
                } else {
                    Vec::new()
                },
                notes: Vec::new(),
            }),
            finished_unix: 0,
        }
    }

    #[test]
    fn the_frontier_reads_estimates_and_recommends_by_dice_then_volumes() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path(), "d", "fp").unwrap();
        let s = setup();
        let alternatives: Vec<TradeOff> = [1, 2, 5, 10].map(trade_off).to_vec();
        // s = 2: 0.86 and 0.90 (the best mean, a wide interval); s = 10: 0.84 and 0.86;
        // s = 5: one seed learned (0.83), one did not; s = 1: nothing stored.
        for (v, dice, flagged) in [
            (2, [0.86, 0.90], [false, false]),
            (10, [0.84, 0.86], [false, false]),
            (5, [0.83, 0.10], [false, true]),
        ] {
            for (i, spec) in s.point_specs(v).iter().enumerate() {
                store.append(&stored(spec, dice[i], flagged[i])).unwrap();
            }
        }
        let contents = store.load().unwrap();
        let f = s.frontier(&alternatives, &contents);
        assert_eq!(f.len(), 4);
        assert!(f[0].dice.is_none() && f[0].done == 0);
        let d2 = f[1].dice.unwrap();
        assert!((d2.mean - 0.88).abs() < 1e-12 && d2.n == 2 && d2.lo < 0.88 && d2.hi > 0.88);
        let d5 = f[2].dice.unwrap();
        assert_eq!(
            (d5.n, f[2].flagged, f[2].done),
            (1, 1, 2),
            "the flagged seed is left out"
        );
        assert!((d5.mean - 0.83).abs() < 1e-12);
        // s = 2 has the best mean; s = 10 trails it by 0.02 and 0.04 in the two seeds: the data
        // cannot tell them apart, so the allocation over more volumes is recommended.
        assert_eq!(f[1].by_seed, BTreeMap::from([(0, 0.86), (1, 0.90)]));
        assert_eq!(f[2].by_seed.len(), 1, "the flagged seed is left out");
        assert_eq!(recommended(&f), Some(3));
        let AgainstBest { best, others } = compared_with_best(&f).unwrap();
        assert_eq!(best, 1);
        let vs10 = others.iter().find(|(i, _)| *i == 3).unwrap().1.unwrap();
        assert!((vs10.difference.mean - 0.03).abs() < 1e-12 && !vs10.separated);
        assert!(vs10.seeds_needed.unwrap() > 2);
        assert!(
            others.iter().any(|(i, p)| *i == 2 && p.is_none()),
            "s = 5 shares one seed"
        );
        // Seeds far apart (0.60 and 0.90) but s = 2 ahead by 0.05 in both: the intervals
        // overlap, the paired differences do not include zero, and the better point wins.
        let mut consistent = f.clone();
        consistent[1].by_seed = BTreeMap::from([(0, 0.60), (1, 0.90)]);
        consistent[3].by_seed = BTreeMap::from([(0, 0.55), (1, 0.85)]);
        assert_eq!(
            recommended(&consistent),
            Some(1),
            "a consistently better point wins"
        );
        // Nothing estimated: nothing recommended.
        assert_eq!(
            recommended(&s.frontier(&alternatives, &Default::default())),
            None
        );
        // Estimate asks for the missing points only: s = 1 (both seeds); the others are stored.
        let missing = s.missing_frontier_specs(&alternatives, Some(1), 4, &contents);
        assert_eq!(
            missing.len(),
            2,
            "{:?}",
            missing.iter().map(|m| m.label()).collect::<Vec<_>>()
        );
        assert!(missing.iter().all(|m| m.request.volumes == Some(1)));
        // A spread of 2 points plus the chosen one.
        let all = s.missing_frontier_specs(&alternatives, Some(5), 2, &Default::default());
        let mut volumes: Vec<usize> = all.iter().filter_map(|m| m.request.volumes).collect();
        volumes.dedup();
        assert_eq!(volumes.len(), 3, "{volumes:?}");
        assert_eq!(volumes[0], 5, "the chosen allocation first");
    }

    #[test]
    fn a_budget_curve_comes_from_runs_at_several_budgets() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path(), "d", "fp").unwrap();
        let s = setup();
        let budgets = s.curve_budgets();
        assert_eq!(
            budgets,
            [10, 20, 40, 80].map(Budget::Slices).to_vec(),
            "¼, ½, 1 and 2 times the budget"
        );
        let specs = s.curve_specs(AllocationRule::Spread);
        assert_eq!(specs.len(), 8);
        let contents = store.load().unwrap();
        assert!(s.curve(AllocationRule::Spread, &contents).is_none());
        let truth = |b: f64| 0.9 - 0.8 * b.powf(-0.5);
        for spec in &specs {
            let b = match spec.request.budget {
                Some(Budget::Slices(b)) => b as f64,
                _ => unreachable!(),
            };
            let noise = if spec.request.seed == 0 {
                0.005
            } else {
                -0.005
            };
            store
                .append(&stored(spec, truth(b) + noise, false))
                .unwrap();
        }
        let curve = s
            .curve(AllocationRule::Spread, &store.load().unwrap())
            .unwrap();
        assert_eq!(curve.points_slices.len(), 8);
        let answer = curve.fit_slices.unwrap().budget_for(0.8);
        // 0.8 = 0.9 − 0.8·B^(−½) → B = 64, inside the simulated range.
        let b = answer.budget.unwrap();
        assert!((b - 64.0).abs() < 8.0 && !answer.extrapolated, "{answer:?}");
    }
}
