//! One way to set a simulation up, for the CLI and the GUI alike: the hold-out rule, the volume
//! counts, the scenario grid and the seeds, checked before anything is planned or trained.

use crate::dataset::{Dataset, TargetLabels};
use crate::error::{Error, Result};
use crate::interp::Method;
use crate::plan::{PlanRequest, SliceStrategy};
use crate::train::TrainConfig;

use super::{Scenario, SimResult, Simulation, SkippedRun, scenario_grid};
use crate::jobs::Progress;
use crate::plan::{holdout_for, volume_grid};
use crate::study::reruns::{DEFAULT_RERUNS, run_with_reruns, with_reruns};
use crate::study::store::StoreContents;
use crate::study::{ResultStore, RunOutcome, RunSpec, run_missing};

/// What the user asks to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationSpec {
    /// Budget, cost model, plane, body rule, target, seed and hold-out (0: the default,
    /// a quarter of the volumes).
    pub base: PlanRequest,
    /// Volume counts to compare (None: four counts from 1 to every volume left).
    pub volumes_grid: Option<Vec<usize>>,
    pub strategies: Vec<SliceStrategy>,
    /// None trains on the annotated slices only; `Some(method)` on interpolated masks.
    pub interpolations: Vec<Option<Method>>,
    /// Each scenario runs once per seed (empty: the base request's seed).
    pub seeds: Vec<u64>,
    pub train: TrainConfig,
}

/// A simulation read back from its store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSimulation {
    /// Every stored run of the simulation (all of them, unless cancelled).
    pub simulation: Simulation,
    /// The simulation was cancelled; `simulation` holds the runs that finished before.
    pub cancelled: bool,
    /// The store's folder.
    pub store: std::path::PathBuf,
}

/// A simulation ready to run: every check passed.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationSetup {
    pub base: PlanRequest,
    pub scenarios: Vec<Scenario>,
    pub seeds: Vec<u64>,
    pub target: TargetLabels,
    pub train: TrainConfig,
    /// Reruns per scenario of runs that did not learn (`study::reruns`; 0: none).
    pub reruns: usize,
}

impl SimulationSetup {
    /// One run per seed and scenario, keyed for the result store.
    pub fn specs(&self, fingerprint: &str) -> Vec<RunSpec> {
        let mut out = Vec::new();
        for &seed in &self.seeds {
            for scenario in &self.scenarios {
                let request = PlanRequest {
                    seed,
                    volumes: Some(scenario.volumes),
                    slice_strategy: scenario.strategy,
                    ..self.base.clone()
                };
                let train = TrainConfig {
                    seed,
                    model: scenario.model,
                    interpolation: scenario.interpolation,
                    ..self.train.clone()
                };
                out.push(RunSpec::new(fingerprint, request, train, "custom"));
            }
        }
        out
    }

    /// Runs what `store` lacks (each run stored as it ends), then reads the simulation back
    /// from the store. A cancel is no error here: the runs that finished before it come back,
    /// with `cancelled` set.
    pub fn run_stored(
        &self,
        dataset: &Dataset,
        store: &ResultStore,
        progress: &Progress,
    ) -> Result<StoredSimulation> {
        let specs = self.specs(store.fingerprint());
        let ran = run_with_reruns(
            &specs,
            self.reruns,
            || store.load(),
            |round| run_missing(dataset, round, store, progress).map(|_| ()),
        );
        let (specs, cancelled) = match ran {
            Ok(all) => (all, false),
            Err(Error::Cancelled) => (with_reruns(&specs, &store.load()?, self.reruns), true),
            Err(e) => return Err(e),
        };
        Ok(StoredSimulation {
            simulation: Self::collect(&specs, &store.load()?),
            cancelled,
            store: store.dir().to_path_buf(),
        })
    }

    /// The simulation `specs` amount to in `contents` (runs not stored yet are left out).
    pub fn collect(specs: &[RunSpec], contents: &StoreContents) -> Simulation {
        let mut out = Simulation::default();
        for spec in specs {
            let Some(run) = contents.get(&spec.key()) else {
                continue;
            };
            let scenario = Scenario {
                volumes: spec.request.volumes.unwrap_or(0),
                strategy: spec.request.slice_strategy,
                model: spec.train.model,
                interpolation: spec.interpolation,
            };
            match &run.outcome {
                RunOutcome::Done(r) => out.results.push(SimResult {
                    scenario,
                    seed: spec.request.seed,
                    slices: r.slices,
                    slices_per_volume: r.slices_per_volume,
                    density: r.density,
                    mean_dice: r.mean_dice,
                    dice_per_case: r
                        .cases
                        .iter()
                        .map(|c| (c.case_id.clone(), c.dice))
                        .collect(),
                    train_seconds: r.train_seconds,
                    flags: r.flags.clone(),
                }),
                RunOutcome::Skipped { reason } => out.skipped.push(SkippedRun {
                    scenario,
                    seed: spec.request.seed,
                    reason: reason.clone(),
                }),
            }
        }
        out
    }
}

impl SimulationSpec {
    /// Checks the spec against `dataset` and builds the scenarios, or says in one sentence why
    /// it cannot run (no budget, unlabelled cases, a hold-out that leaves nothing to train on, a
    /// volume count beyond the volumes left, an unusable training setting).
    pub fn prepare(&self, dataset: &Dataset) -> Result<SimulationSetup> {
        if self.base.budget.is_none() {
            return Err(Error::invalid(
                "a simulation needs a budget (in slices or hours)",
            ));
        }
        if !dataset.is_labelled() {
            return Err(Error::invalid(format!(
                "simulation trains on dense labels, but not every case of dataset '{}' has a label map",
                dataset.id
            )));
        }
        let total = dataset.len();
        let holdout = holdout_for(self.base.holdout, total);
        if holdout >= total {
            return Err(Error::invalid(format!(
                "cannot hold out {holdout} of the {total} volumes of dataset '{}': at least one must remain to train on",
                dataset.id
            )));
        }
        let left = total - holdout;
        let grid = match &self.volumes_grid {
            Some(g) => g.clone(),
            None => volume_grid(left, 4),
        };
        if grid.is_empty() {
            return Err(Error::invalid("no volume count to simulate"));
        }
        if let Some(&bad) = grid.iter().find(|&&v| v == 0 || v > left) {
            return Err(Error::invalid(format!(
                "volume count {bad} is out of range: {left} volumes remain after holding out {holdout} of {total}"
            )));
        }
        if self.strategies.is_empty() || self.interpolations.is_empty() {
            return Err(Error::invalid(
                "a simulation needs at least one slice strategy and one interpolation choice",
            ));
        }
        self.train.validate()?;
        let base = PlanRequest {
            holdout,
            volumes: None,
            ..self.base.clone()
        };
        let seeds = if self.seeds.is_empty() {
            vec![base.seed]
        } else {
            self.seeds.clone()
        };
        Ok(SimulationSetup {
            scenarios: scenario_grid(
                &grid,
                &self.strategies,
                self.train.model,
                &self.interpolations,
            ),
            target: base.target.clone(),
            base,
            seeds,
            train: self.train.clone(),
            reruns: DEFAULT_RERUNS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::demo;
    use crate::plan::Budget;

    fn spec(holdout: usize, grid: Option<Vec<usize>>) -> SimulationSpec {
        SimulationSpec {
            base: PlanRequest {
                budget: Some(Budget::Slices(20)),
                holdout,
                ..PlanRequest::default()
            },
            volumes_grid: grid,
            strategies: vec![SliceStrategy::Fixed],
            interpolations: vec![None],
            seeds: Vec::new(),
            train: TrainConfig::default(),
        }
    }

    #[test]
    fn the_hold_out_is_checked_before_anything_is_planned() {
        let ds = demo::dataset();
        let err = spec(30, None).prepare(&ds).unwrap_err().to_string();
        assert!(
            err.contains("cannot hold out 30 of the 24 volumes"),
            "{err}"
        );
        let err = spec(24, None).prepare(&ds).unwrap_err().to_string();
        assert!(err.contains("at least one must remain"), "{err}");
        let err = spec(20, Some(vec![2, 5]))
            .prepare(&ds)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("volume count 5 is out of range: 4 volumes remain"),
            "{err}"
        );
        // 0 asks for the default quarter; the grid then spans the 18 volumes left.
        let setup = spec(0, None).prepare(&ds).unwrap();
        assert_eq!(setup.base.holdout, 6);
        let counts: Vec<usize> = setup.scenarios.iter().map(|s| s.volumes).collect();
        assert_eq!(counts, [1, 6, 12, 18]);
        assert_eq!(setup.seeds, [0]);
    }

    #[test]
    fn unusable_training_settings_are_refused() {
        let mut s = spec(4, None);
        s.train.features = Some(Vec::new());
        let err = s.prepare(&demo::dataset()).unwrap_err().to_string();
        assert!(err.contains("at least two feature counts"), "{err}");
    }
}
