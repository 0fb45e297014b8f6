//! Summaries of stored runs: per scenario (a run without its seed) the mean Dice with its 95 %
//! interval over seeds and over held-out cases, and per allocation rule the budget curve.

use std::collections::BTreeMap;

use serde::Serialize;

use super::file::AllocationRule;
use super::stats::{Interval, dice_interval};
use super::store::StoreContents;
use crate::plan::Budget;
use crate::study::stats::curve::{BudgetAnswer, FittedCurve};
use crate::study::store::key::RunSpec;

/// A scenario: a run without its seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioSummary {
    /// e.g. "60 slices".
    pub budget: String,
    /// e.g. "s=12".
    pub allocation: String,
    pub strategy: String,
    /// e.g. "2d" or "3d+sdf".
    pub model: String,
    pub preset: String,
    /// Seeds measured.
    pub runs: usize,
    /// Seeds skipped because their plan cannot be made, with why.
    pub skipped: Vec<String>,
    /// Runs flagged as not having learned the target: counted in `runs`, left out of `dice`
    /// and `dice_over_cases` (their Dice is not an estimate of the plan).
    pub flagged: usize,
    /// Runs under rerun seeds (`reruns::is_rerun`), each replacing a flagged run: counted in
    /// `runs`.
    pub reruns: usize,
    pub slices: f64,
    pub volumes: f64,
    pub density: f64,
    pub annotation_hours: f64,
    /// Mean Dice over the seeds that learned (each seed's mean over its held-out volumes),
    /// 95 % t interval.
    pub dice: Interval,
    /// Over every held-out volume of every seed that learned.
    pub dice_over_cases: Interval,
}

impl ScenarioSummary {
    /// Whether any run of it learned, so `dice` is an estimate.
    pub fn estimated(&self) -> bool {
        self.runs > self.flagged
    }
}

fn budget_label(b: Option<Budget>) -> String {
    match b {
        Some(Budget::Slices(s)) => format!("{s} slices"),
        Some(Budget::Seconds(t)) => format!("{:.1} h", t / 3600.0),
        None => "no budget".into(),
    }
}

fn model_label(spec: &RunSpec) -> String {
    let interp = spec
        .interpolation
        .map(|m| format!("+{}", m.name()))
        .unwrap_or_default();
    format!("{}{interp}", spec.train.model.name())
}

/// Budget, allocation, strategy, model and preset: a run without its seed.
pub(super) type ScenarioKey = (String, String, String, String, String);

/// The scenario of a run (everything but the seed) as a sortable key.
pub(super) fn scenario_key(spec: &RunSpec) -> ScenarioKey {
    (
        budget_label(spec.request.budget),
        AllocationRule::of(&spec.request).name(),
        spec.request.slice_strategy.name().to_string(),
        model_label(spec),
        spec.preset.clone(),
    )
}

/// `specs` grouped by scenario, the scenarios in the order the specs first list them.
pub(super) fn by_scenario(specs: &[RunSpec]) -> Vec<(ScenarioKey, Vec<&RunSpec>)> {
    let mut order: Vec<ScenarioKey> = Vec::new();
    let mut groups: BTreeMap<ScenarioKey, Vec<&RunSpec>> = BTreeMap::new();
    for spec in specs {
        let k = scenario_key(spec);
        if !groups.contains_key(&k) {
            order.push(k.clone());
        }
        groups.entry(k).or_default().push(spec);
    }
    order
        .into_iter()
        .map(|k| {
            let members = groups.remove(&k).unwrap_or_default();
            (k, members)
        })
        .collect()
}

/// Groups the stored runs of `specs` by scenario, in the order the specs list them.
pub fn summarize_runs(specs: &[RunSpec], contents: &StoreContents) -> Vec<ScenarioSummary> {
    by_scenario(specs)
        .into_iter()
        .filter_map(|(k, members)| {
            let mut skipped = Vec::new();
            let mut results = Vec::new();
            let mut reruns = 0;
            for spec in members {
                let Some(run) = contents.get(&spec.key()) else {
                    continue;
                };
                match &run.outcome {
                    super::store::RunOutcome::Done(r) => {
                        reruns += usize::from(super::reruns::is_rerun(spec));
                        results.push(r)
                    }
                    super::store::RunOutcome::Skipped { reason } => {
                        skipped.push(format!("seed {}: {reason}", spec.request.seed))
                    }
                }
            }
            if results.is_empty() && skipped.is_empty() {
                return None;
            }
            let n = results.len().max(1) as f64;
            let mean = |f: &dyn Fn(&super::store::RunResult) -> f64| {
                results.iter().map(|r| f(r)).sum::<f64>() / n
            };
            let learned = || results.iter().filter(|r| r.learned());
            let seed_dice: Vec<f64> = learned().map(|r| r.mean_dice).collect();
            let case_dice: Vec<f64> = learned()
                .flat_map(|r| r.cases.iter().map(|c| c.dice))
                .collect();
            Some(ScenarioSummary {
                budget: k.0,
                allocation: k.1,
                strategy: k.2,
                model: k.3,
                preset: k.4,
                runs: results.len(),
                skipped,
                flagged: results.iter().filter(|r| !r.learned()).count(),
                reruns,
                slices: mean(&|r| r.slices as f64),
                volumes: mean(&|r| r.volumes as f64),
                density: mean(&|r| r.density),
                annotation_hours: mean(&|r| r.annotation_hours),
                dice: dice_interval(&seed_dice),
                dice_over_cases: dice_interval(&case_dice),
            })
        })
        .collect()
}

/// Dice against budget for one allocation rule (and strategy, model, preset), fitted.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetCurve {
    /// e.g. "s=12 fixed 2d".
    pub series: String,
    /// (slices, Dice) of every measured, unflagged run.
    pub points_slices: Vec<(f64, f64)>,
    /// (hours, Dice) of the same runs.
    pub points_hours: Vec<(f64, f64)>,
    pub fit_slices: Option<FittedCurve>,
    pub fit_hours: Option<FittedCurve>,
}

impl BudgetCurve {
    /// The budget in slices and in hours that reaches `target` Dice.
    pub fn budget_for(&self, target: f64) -> (Option<BudgetAnswer>, Option<BudgetAnswer>) {
        (
            self.fit_slices.as_ref().map(|f| f.budget_for(target)),
            self.fit_hours.as_ref().map(|f| f.budget_for(target)),
        )
    }
}

/// One curve per allocation rule, strategy, model and preset, over the study's budgets.
/// Flagged runs (not learned) are left out of the fits.
pub fn budget_curves(specs: &[RunSpec], contents: &StoreContents) -> Vec<BudgetCurve> {
    // (name, (slices, Dice), (hours, Dice)) per series.
    type Points = Vec<(f64, f64)>;
    let mut series: Vec<(String, Points, Points)> = Vec::new();
    for spec in specs {
        let Some(r) = contents.get(&spec.key()).and_then(|run| run.result()) else {
            continue;
        };
        if !r.learned() {
            continue;
        }
        let name = format!(
            "{} {} {} ({})",
            AllocationRule::of(&spec.request).name(),
            spec.request.slice_strategy.name(),
            model_label(spec),
            spec.preset
        );
        let i = match series.iter().position(|s| s.0 == name) {
            Some(i) => i,
            None => {
                series.push((name, Vec::new(), Vec::new()));
                series.len() - 1
            }
        };
        series[i].1.push((r.slices as f64, r.mean_dice));
        series[i].2.push((r.annotation_hours, r.mean_dice));
    }
    series
        .into_iter()
        .map(|(name, slices, hours)| BudgetCurve {
            fit_slices: FittedCurve::new(&slices, 200, 17),
            fit_hours: FittedCurve::new(&hours, 200, 17),
            series: name,
            points_slices: slices,
            points_hours: hours,
        })
        .collect()
}
