//! Simulation: several plans at the same budget, each trained and scored on the same held-out
//! volumes, so a user can check on their own pilot data whether more volumes with fewer slices,
//! or smarter slice selection, or mask interpolation, pays off.

use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, TargetLabels};
use crate::error::Result;
use crate::interp::Method;
use crate::jobs::Progress;
use crate::plan::{PlanRequest, SliceStrategy, make_plan};
use crate::train::{ModelKind, TrainConfig, train_and_evaluate};

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
    pub slices: usize,
    pub slices_per_volume: f64,
    pub density: f64,
    pub mean_dice: f64,
    pub dice_per_case: Vec<(String, f64)>,
    pub train_seconds: f64,
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

/// Runs every scenario with `base` (budget, seed, hold-out, plane) and `train`.
pub fn simulate(
    dataset: &Dataset,
    base: &PlanRequest,
    scenarios: &[Scenario],
    target: &TargetLabels,
    train: &TrainConfig,
    progress: &Progress,
) -> Result<Vec<SimResult>> {
    let mut results = Vec::new();
    for (n, scenario) in scenarios.iter().enumerate() {
        progress.check()?;
        let part = progress.part(
            n,
            scenarios.len(),
            format!(
                "scenario {} of {} ({})",
                n + 1,
                scenarios.len(),
                scenario.label()
            ),
        );
        part.set(0.0, "planning");
        let mut request = base.clone();
        request.volumes = Some(scenario.volumes);
        request.slice_strategy = scenario.strategy;
        let plan = make_plan(dataset, &request, &Progress::new())?;
        let mut config = train.clone();
        config.model = scenario.model;
        config.interpolation = scenario.interpolation;
        let report = train_and_evaluate(dataset, &plan, target, &config, None, false, None, &part)?;
        results.push(SimResult {
            scenario: scenario.clone(),
            slices: plan.total_slices(),
            slices_per_volume: plan.accounting.slices_per_volume,
            density: plan.accounting.density,
            mean_dice: report.mean_dice,
            dice_per_case: report
                .test
                .iter()
                .map(|t| (t.case_id.clone(), t.dice))
                .collect(),
            train_seconds: report.train_seconds,
        });
    }
    progress.set(1.0, "simulation done");
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

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
