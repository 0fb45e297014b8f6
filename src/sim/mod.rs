//! Simulation: several plans at the same budget, each trained and scored on the same held-out
//! volumes, so a user can check on their own pilot data whether more volumes with fewer slices,
//! or smarter slice selection, or mask interpolation, pays off.

use serde::{Deserialize, Serialize};

use crate::interp::Method;
use crate::plan::SliceStrategy;
use std::collections::BTreeMap;

use crate::study::stats::mean_sd;
use crate::study::stats::separation::{Paired, paired};
use crate::train::ModelKind;

mod setup;
pub use setup::{SimulationSetup, SimulationSpec, StoredSimulation};

/// One plan variant to simulate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Volume count s (the budget then fixes the slices per volume).
    pub volumes: usize,
    pub strategy: SliceStrategy,
    pub model: ModelKind,
    pub interpolation: Option<Method>,
}

impl Scenario {
    /// A short label such as "s=12 fixed 2d" or "s=4 random 3d+sdf".
    pub fn label(&self) -> String {
        format!("s={} {}", self.volumes, self.series())
    }

    /// The scenario without its volume count, e.g. "fixed 2d" or "random 3d+sdf": scenarios of
    /// one series differ only in how the budget is spread, so they plot as one line.
    pub fn series(&self) -> String {
        let interp = self
            .interpolation
            .map(|m| format!("+{}", m.name()))
            .unwrap_or_default();
        format!("{} {}{interp}", self.strategy.name(), self.model.name())
    }
}

/// Every combination of slice strategy, interpolation (None: train on the annotated slices
/// only) and volume count, grouped by series: the three claims of the study side by side.
pub fn scenario_grid(
    volumes: &[usize],
    strategies: &[SliceStrategy],
    model: ModelKind,
    interpolations: &[Option<Method>],
) -> Vec<Scenario> {
    let mut out = Vec::new();
    for &strategy in strategies {
        for &interpolation in interpolations {
            for &v in volumes {
                out.push(Scenario {
                    volumes: v,
                    strategy,
                    model,
                    interpolation,
                });
            }
        }
    }
    out
}

/// The outcome of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimResult {
    pub scenario: Scenario,
    /// The seed of the plan, hold-out and training.
    #[serde(default)]
    pub seed: u64,
    pub slices: usize,
    pub slices_per_volume: f64,
    pub density: f64,
    pub mean_dice: f64,
    pub dice_per_case: Vec<(String, f64)>,
    pub train_seconds: f64,
    /// Why this run's Dice is not an estimate of the plan (see `train::quality`).
    #[serde(default)]
    pub flags: Vec<String>,
}

impl SimResult {
    /// "⚠ s=4 fixed 2d (seed 1) is not an estimate of its plan: …" for a flagged run.
    pub fn warning(&self) -> Option<String> {
        (!self.flags.is_empty()).then(|| {
            format!(
                "⚠ {} (seed {}) is not an estimate of its plan: {}",
                self.scenario.label(),
                self.seed,
                self.flags.join("; ")
            )
        })
    }
}

/// A scenario that could not be planned for a seed (e.g. its volumes hold too few slices for
/// the budget), and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedRun {
    pub scenario: Scenario,
    pub seed: u64,
    pub reason: String,
}

/// What a simulation gave: a result per scenario and seed that could be planned, the rest
/// skipped with their reasons (one infeasible scenario does not sink the others).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Simulation {
    pub results: Vec<SimResult>,
    pub skipped: Vec<SkippedRun>,
}

/// A scenario's Dice over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimSummary {
    pub scenario: Scenario,
    pub runs: usize,
    pub slices_per_volume: f64,
    /// Mean over the runs (the volumes drawn differ in length).
    pub density: f64,
    /// Mean over the runs that learned the target (None when none did).
    pub mean_dice: Option<f64>,
    /// Sample standard deviation over the runs that learned (0 for one run).
    pub sd_dice: f64,
    /// Runs flagged as not having learned the target: counted in `runs`, left out of the
    /// Dice (their Dice is not an estimate).
    pub flagged: usize,
    /// Runs under rerun seeds (`study::reruns`), each replacing a flagged run.
    pub reruns: usize,
    /// The best scenario (highest mean Dice) minus this one, seed by seed (each seed scores
    /// both on the same test volumes); None for the best itself or with fewer than two shared
    /// seeds.
    pub behind_best: Option<Paired>,
    /// Whether this is the scenario with the highest mean Dice.
    pub best: bool,
}

impl SimSummary {
    /// The mean Dice with `decimals` decimals; "—" where no run learned.
    pub fn mean_dice_text(&self, decimals: usize) -> String {
        self.mean_dice
            .map_or("—".to_string(), |d| format!("{d:.decimals$}"))
    }

    /// How far behind the best scenario this one is and whether its seeds tell them apart:
    /// "best", "-0.120 [-0.150, -0.090] separated", "-0.020 [-0.090, +0.050] about 14 seeds to
    /// tell" or "—" (fewer than two shared seeds).
    pub fn behind_best_text(&self) -> String {
        if self.best {
            return "best".into();
        }
        self.behind_best.map_or("—".into(), |p| {
            let this_minus_best = p.reversed();
            format!("{} {}", this_minus_best.difference_text(), p.verdict())
        })
    }

    /// "⚠ N run(s) did not learn (left out of the Dice; rerun under new seeds: M)" where any
    /// did not.
    pub fn flagged_text(&self) -> Option<String> {
        (self.flagged > 0).then(|| {
            format!(
                "⚠ {} run(s) did not learn (left out of the Dice{})",
                self.flagged,
                match self.reruns {
                    0 => String::new(),
                    r => format!("; {r} rerun(s) under new seeds"),
                }
            )
        })
    }
}

/// Groups `results` by scenario (in first-seen order): mean and spread of Dice over seeds.
pub fn summarize(results: &[SimResult]) -> Vec<SimSummary> {
    let mut groups: Vec<(Scenario, Vec<&SimResult>)> = Vec::new();
    for r in results {
        match groups.iter_mut().find(|(s, _)| *s == r.scenario) {
            Some((_, runs)) => runs.push(r),
            None => groups.push((r.scenario.clone(), vec![r])),
        }
    }
    // Per scenario, the runs that learned: their Dice make the mean, and by seed the paired
    // comparison with the best.
    let learned: Vec<Vec<&SimResult>> = groups
        .iter()
        .map(|(_, runs)| {
            runs.iter()
                .copied()
                .filter(|r| r.flags.is_empty())
                .collect()
        })
        .collect();
    let mut summaries: Vec<SimSummary> = groups
        .into_iter()
        .zip(&learned)
        .map(|((scenario, runs), learned)| {
            let n = runs.len() as f64;
            let dice: Vec<f64> = learned.iter().map(|r| r.mean_dice).collect();
            let (mean, sd) = mean_sd(&dice);
            SimSummary {
                scenario,
                runs: runs.len(),
                slices_per_volume: runs.iter().map(|r| r.slices_per_volume).sum::<f64>() / n,
                density: runs.iter().map(|r| r.density).sum::<f64>() / n,
                mean_dice: (!dice.is_empty()).then_some(mean),
                sd_dice: sd,
                flagged: runs.len() - dice.len(),
                reruns: runs
                    .iter()
                    .filter(|r| crate::study::reruns::is_rerun_seed(r.seed))
                    .count(),
                behind_best: None,
                best: false,
            }
        })
        .collect();
    let by_seed: Vec<BTreeMap<u64, f64>> = learned
        .iter()
        .map(|runs| runs.iter().map(|r| (r.seed, r.mean_dice)).collect())
        .collect();
    let best = summaries
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.mean_dice.map(|d| (i, d)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    if let Some(b) = best {
        for (i, s) in summaries.iter_mut().enumerate() {
            s.best = i == b;
            if i != b && s.mean_dice.is_some() {
                s.behind_best = paired(&by_seed[b], &by_seed[i]);
            }
        }
    }
    summaries
}

/// One series of a Dice-vs-volumes plot: its mean over seeds per volume count, and every run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotSeries {
    /// e.g. "fixed 2d+sdf" (see `Scenario::series`).
    pub name: String,
    /// (volumes, mean Dice) per volume count, in the order simulated.
    pub means: Vec<[f64; 2]>,
    /// (volumes, Dice) of every run.
    pub runs: Vec<[f64; 2]>,
}

/// `results` as plot series: one per strategy, model and interpolation.
pub fn plot_series(results: &[SimResult]) -> Vec<PlotSeries> {
    let mut out: Vec<PlotSeries> = Vec::new();
    for summary in summarize(results) {
        let name = summary.scenario.series();
        let volumes = summary.scenario.volumes as f64;
        let runs = results
            .iter()
            .filter(|r| r.scenario == summary.scenario)
            .map(|r| [volumes, r.mean_dice]);
        let index = match out.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                out.push(PlotSeries {
                    name,
                    means: Vec::new(),
                    runs: Vec::new(),
                });
                out.len() - 1
            }
        };
        if let Some(mean) = summary.mean_dice {
            out[index].means.push([volumes, mean]);
        }
        out[index].runs.extend(runs);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_average_each_scenario_over_its_seeds() {
        let scenario = |volumes| Scenario {
            volumes,
            strategy: SliceStrategy::Fixed,
            model: ModelKind::TwoD,
            interpolation: None,
        };
        let run = |volumes, seed, dice, density| SimResult {
            scenario: scenario(volumes),
            seed,
            slices: 12,
            slices_per_volume: 12.0 / volumes as f64,
            density,
            mean_dice: dice,
            dice_per_case: Vec::new(),
            train_seconds: 1.0,
            flags: Vec::new(),
        };
        let results = [
            run(2, 0, 0.70, 0.10),
            run(6, 0, 0.80, 0.05),
            run(2, 1, 0.74, 0.12),
            run(6, 1, 0.86, 0.05),
            run(6, 2, 0.83, 0.06),
        ];
        let summary = summarize(&results);
        assert_eq!(summary.len(), 2);
        assert_eq!(summary[0].scenario, scenario(2));
        assert_eq!((summary[0].runs, summary[1].runs), (2, 3));
        assert!((summary[0].mean_dice.unwrap() - 0.72).abs() < 1e-12);
        assert!((summary[0].sd_dice - 0.04 / 2f64.sqrt()).abs() < 1e-12);
        assert!((summary[0].density - 0.11).abs() < 1e-12);
        assert!((summary[1].mean_dice.unwrap() - 0.83).abs() < 1e-12);
        assert!((summary[1].sd_dice - 0.03).abs() < 1e-12);
        // s = 6 is best; s = 2 trails it by 0.10 and 0.12 on the two shared seeds: not yet
        // separated by two seeds.
        assert!(summary[1].best && !summary[0].best);
        assert_eq!(summary[1].behind_best_text(), "best");
        let behind = summary[0].behind_best.unwrap();
        assert_eq!(behind.difference.n, 2);
        assert!((behind.difference.mean - 0.11).abs() < 1e-12 && !behind.separated);
        let text = summary[0].behind_best_text();
        assert!(
            text.starts_with("-0.110 [-0.2") && text.ends_with("seeds to tell"),
            "{text}"
        );
        // A third seed where s = 2 trails by 0.11 again separates them.
        let mut three = results.to_vec();
        three.push(run(2, 2, 0.72, 0.12));
        let s3 = summarize(&three);
        assert!(s3[0].behind_best.unwrap().separated, "{:?}", s3[0]);
        assert!(s3[0].behind_best_text().ends_with("separated"));
        let series = plot_series(&results);
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].name, "fixed 2d");
        assert_eq!(series[0].means.len(), 2);
        assert!((series[0].means[1][1] - 0.83).abs() < 1e-12);
        assert_eq!(series[0].runs.len(), 5);
        // A run that did not learn is counted and shown, not averaged in.
        let failed = SimResult {
            flags: vec!["did not learn".into()],
            ..run(6, 3, 0.01, 0.05)
        };
        let mut with_failed = results.to_vec();
        with_failed.push(failed.clone());
        let summary = summarize(&with_failed);
        assert_eq!((summary[1].runs, summary[1].flagged), (4, 1));
        assert!((summary[1].mean_dice.unwrap() - 0.83).abs() < 1e-12);
        assert!((summary[1].sd_dice - 0.03).abs() < 1e-12);
        let only_failed = std::slice::from_ref(&failed);
        assert_eq!(summarize(only_failed)[0].mean_dice, None);
        assert!(plot_series(only_failed)[0].means.is_empty());
    }

    #[test]
    fn the_grid_groups_scenarios_by_series() {
        let grid = scenario_grid(
            &[1, 8],
            &[SliceStrategy::Fixed, SliceStrategy::Random],
            ModelKind::ThreeD,
            &[None, Some(Method::Sdf)],
        );
        let labels: Vec<String> = grid.iter().map(Scenario::label).collect();
        assert_eq!(
            labels,
            [
                "s=1 fixed 3d",
                "s=8 fixed 3d",
                "s=1 fixed 3d+sdf",
                "s=8 fixed 3d+sdf",
                "s=1 random 3d",
                "s=8 random 3d",
                "s=1 random 3d+sdf",
                "s=8 random 3d+sdf"
            ]
        );
    }
}
