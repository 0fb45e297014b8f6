//! Study files (TOML): which budgets, allocations, strategies, interpolation, models, seeds and
//! training preset to run on a dataset. Unknown keys, impossible budgets and labels the dataset
//! lacks are refused before any training, naming the file and the key.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::reruns::{DEFAULT_RERUNS, RERUN_SEEDS_FROM};
use crate::dataset::{Dataset, TargetLabels};
use crate::error::{Error, Result};
use crate::interp::Method;
use crate::plan::{Budget, CostModel, PlanRequest, SliceStrategy};
use crate::plan::{holdout_for, volume_grid};
use crate::study::store::key::RunSpec;
use crate::train::validate::EarlyStopping;
use crate::train::{BackendChoice, ModelKind, TrainConfig, UntilFitted};

/// How a budget is spread over volumes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum AllocationRule {
    /// As many volumes as the budget allows at one slice each (the recommendation).
    Spread,
    /// A fixed number of volumes.
    Volumes(usize),
    /// A fixed fraction of each volume's slices.
    Density(f64),
}

impl AllocationRule {
    /// The plan request's (volumes, density) for this rule: the one place it is decided.
    pub fn volumes_and_density(self) -> (Option<usize>, Option<f64>) {
        match self {
            AllocationRule::Spread => (None, None),
            AllocationRule::Volumes(s) => (Some(s), None),
            AllocationRule::Density(r) => (None, Some(r)),
        }
    }

    /// Parses `spread`, `volumes:S` or `density:RHO`.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        if s == "spread" {
            return Ok(AllocationRule::Spread);
        }
        if let Some(v) = s.strip_prefix("volumes:") {
            return match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(AllocationRule::Volumes(n)),
                _ => Err(format!(
                    "'{s}': the volume count must be a whole number ≥ 1"
                )),
            };
        }
        if let Some(v) = s.strip_prefix("density:") {
            return match v.trim().parse::<f64>() {
                Ok(r) if r > 0.0 && r <= 1.0 => Ok(AllocationRule::Density(r)),
                _ => Err(format!("'{s}': the density must lie in (0, 1]")),
            };
        }
        Err(format!(
            "unknown allocation '{s}' (use spread, volumes:S or density:RHO)"
        ))
    }

    /// The rule a plan request follows.
    pub fn of(request: &PlanRequest) -> Self {
        match (request.volumes, request.density) {
            (Some(s), _) => AllocationRule::Volumes(s),
            (None, Some(r)) => AllocationRule::Density(r),
            (None, None) => AllocationRule::Spread,
        }
    }

    /// e.g. "spread", "s=4", "ρ=0.1".
    pub fn name(&self) -> String {
        match self {
            AllocationRule::Spread => "spread".into(),
            AllocationRule::Volumes(s) => format!("s={s}"),
            AllocationRule::Density(r) => format!("ρ={r}"),
        }
    }
}

/// The quick preset's steps (and up to `extend::DEFAULT_EXTENSION` times that many while a net
/// has not fitted its own annotated slices).
pub const QUICK_STEPS: usize = 300;

/// Training presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Seconds per run on a CPU: for tests and smoke runs, not estimates.
    Tiny,
    /// Minutes per plan on a laptop CPU.
    Quick,
    /// Long runs with the default nets.
    Full,
}

impl Preset {
    /// Every preset, shortest first.
    pub const ALL: [Preset; 3] = [Preset::Tiny, Preset::Quick, Preset::Full];

    /// Parses `tiny`, `quick` or `full`.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s {
            "tiny" => Ok(Preset::Tiny),
            "quick" => Ok(Preset::Quick),
            "full" => Ok(Preset::Full),
            _ => Err(format!("unknown preset '{s}' (choose tiny, quick or full)")),
        }
    }

    /// The preset's name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Quick => "quick",
            Preset::Full => "full",
        }
    }

    /// Its training settings for `model`.
    pub fn config(self, model: ModelKind) -> TrainConfig {
        let base = TrainConfig {
            model,
            ..TrainConfig::default()
        };
        match self {
            Preset::Tiny => TrainConfig {
                steps: 12,
                batch_size: Some(2),
                features: Some(vec![4, 8]),
                max_in_plane: Some(32),
                learning_rate: 3e-3,
                checkpoint_every: 0,
                ..base
            },
            // 300 steps: at 150, 2 of 12 runs on the demo's spleen did not learn at all, and
            // the rest ranked plans less well (docs/src/calibration.md). A run whose net has not
            // fitted its slices by then trains on, up to 4× (small targets: the demo's lesions
            // learned in 3 of 10 runs at 300 steps, in 10 of 10 at 1000, and in 10 of 10 trained
            // on until fitted).
            Preset::Quick => TrainConfig {
                steps: QUICK_STEPS,
                until_fitted: Some(UntilFitted::default_for(QUICK_STEPS)),
                batch_size: Some(if model == ModelKind::TwoD { 6 } else { 2 }),
                features: Some(if model == ModelKind::TwoD {
                    vec![8, 16, 32, 64]
                } else {
                    vec![4, 8, 16, 32]
                }),
                learning_rate: 3e-3,
                checkpoint_every: 0,
                ..base
            },
            // To convergence: at most 2000 steps, stopped when the Dice on a validation split
            // of the plan's own slices has not improved for 5 validations 100 steps apart.
            Preset::Full => TrainConfig {
                steps: 2000,
                checkpoint_every: 0,
                early_stopping: Some(EarlyStopping {
                    every: 100,
                    patience: 5,
                }),
                ..base
            },
        }
    }
}

fn default_strategies() -> Vec<String> {
    vec!["fixed".into()]
}
fn default_interpolation() -> Vec<String> {
    vec!["none".into()]
}
fn default_models() -> Vec<String> {
    vec!["2d".into()]
}
fn default_seeds() -> Vec<u64> {
    vec![0]
}
fn default_preset() -> String {
    "quick".into()
}
fn default_seconds_per_slice() -> f64 {
    CostModel::default().seconds_per_slice
}
fn default_seconds_per_volume() -> f64 {
    CostModel::default().seconds_per_volume
}

/// A study file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Study {
    /// A title for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Target labels, names or values, comma-separated (default: the dataset's default target:
    /// the demo's spleen, every non-zero label elsewhere).
    #[serde(default)]
    pub labels: Option<String>,
    /// Budgets in annotated slices.
    #[serde(default)]
    pub budgets_slices: Vec<usize>,
    /// Budgets in hours of annotation (with the cost model below).
    #[serde(default)]
    pub budgets_hours: Vec<f64>,
    #[serde(default = "default_seconds_per_slice")]
    pub seconds_per_slice: f64,
    #[serde(default = "default_seconds_per_volume")]
    pub seconds_per_volume: f64,
    /// `spread`, `volumes:S`, `density:RHO` (default: four volume counts from 1 to all).
    #[serde(default)]
    pub allocations: Vec<String>,
    #[serde(default = "default_strategies")]
    pub strategies: Vec<String>,
    /// `none` and/or interpolation methods (`sdf`, `sdf-labels`, `linear`, `nearest`).
    #[serde(default = "default_interpolation")]
    pub interpolation: Vec<String>,
    #[serde(default = "default_models")]
    pub models: Vec<String>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// `tiny`, `quick` (default) or `full`.
    #[serde(default = "default_preset")]
    pub preset: String,
    /// Training steps instead of the preset's.
    #[serde(default)]
    pub steps: Option<usize>,
    /// Channels per U-Net level instead of the preset's (for every model of the study), e.g. to
    /// train the `full` schedule on `quick`'s small net when calibrating on a CPU.
    #[serde(default)]
    pub features: Option<Vec<usize>>,
    /// `auto` (default), `wgpu` or `cpu`.
    #[serde(default)]
    pub backend: Option<String>,
    /// Held-out test volumes per seed (0 or absent: a quarter of the volumes).
    #[serde(default)]
    pub holdout: usize,
    /// Draw the held-out volumes once, with this seed, for every seed of the study (absent: each
    /// seed draws its own), so every scenario and seed is scored on the same test volumes.
    #[serde(default)]
    pub holdout_seed: Option<u64>,
    /// Reruns per scenario of runs that did not learn, each under the next rerun seed
    /// (`reruns::DEFAULT_RERUNS` when absent; 0: none).
    #[serde(default)]
    pub reruns: Option<usize>,
}

impl Study {
    /// Reruns per scenario of runs that did not learn.
    pub fn reruns(&self) -> usize {
        self.reruns.unwrap_or(DEFAULT_RERUNS)
    }

    /// Reads a study file; a syntax error or an unknown key names the file and the key.
    pub fn load(path: impl AsRef<Path>) -> Result<Study> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io("cannot read study", path, e))?;
        toml::from_str(&text).map_err(|e| {
            let msg = e.message().trim().to_string();
            Error::file(format!("invalid study file ({msg})"), path)
        })
    }

    /// Every run of the study on `dataset` (fingerprint `fingerprint`), checked: budgets,
    /// allocations, strategies, interpolation, models, preset and labels. `path` names the
    /// study file in messages. Runs are listed by budget, allocation, strategy, interpolation,
    /// model, then seed.
    pub fn runs(&self, dataset: &Dataset, fingerprint: &str, path: &Path) -> Result<Vec<RunSpec>> {
        if !dataset.is_labelled() {
            return Err(Error::invalid(format!(
                "a study trains on dense labels, but not every case of dataset '{}' has a label map",
                dataset.id
            )));
        }
        let checked = self
            .check(dataset)
            .map_err(|(key, why)| Error::file(format!("study key '{key}': {why}"), path))?;
        let plans = product(
            &product(&checked.budgets, &checked.allocations),
            &checked.strategies,
        );
        let trainings = product(
            &product(&checked.interpolations, &checked.models),
            &self.seeds,
        );
        let mut runs = Vec::with_capacity(plans.len() * trainings.len());
        for &((budget, allocation), strategy) in &plans {
            for &((interpolation, model), seed) in &trainings {
                let (volumes, density) = allocation.volumes_and_density();
                let request = PlanRequest {
                    budget: Some(budget),
                    volumes,
                    density,
                    slice_strategy: strategy,
                    seed,
                    holdout: checked.holdout,
                    holdout_seed: self.holdout_seed,
                    cost_model: checked.cost_model,
                    target: checked.target.clone(),
                    ..PlanRequest::default()
                };
                let train = self.train_config(&checked, model, interpolation, seed);
                runs.push(RunSpec::new(
                    fingerprint,
                    request,
                    train,
                    checked.preset.name(),
                ));
            }
        }
        Ok(runs)
    }

    /// The study's keys parsed and checked against `dataset`; an error names the key and why.
    fn check(&self, dataset: &Dataset) -> KeyResult<Checked> {
        let target = self.target(dataset)?;
        let total = dataset.len();
        let holdout = holdout_for(self.holdout, total);
        if holdout >= total {
            return Err((
                "holdout",
                format!("cannot hold out {holdout} of {total} volumes"),
            ));
        }
        let budgets = self.budgets()?;
        let allocations = self.allocation_rules(total - holdout, holdout)?;
        let strategies: Vec<SliceStrategy> = parse_list("strategies", &self.strategies, |s| {
            SliceStrategy::parse(s).map_err(|e| e.to_string())
        })?;
        let interpolations = parse_list("interpolation", &self.interpolation, |m| match m {
            "none" => Ok(None),
            other => Method::parse(other).map(Some).map_err(|e| e.to_string()),
        })?;
        let models = parse_list("models", &self.models, |m| {
            ModelKind::parse(m).map_err(|e| e.to_string())
        })?;
        let preset = Preset::parse(&self.preset).map_err(|e| ("preset", e))?;
        let backend = match &self.backend {
            Some(b) => BackendChoice::parse(b).map_err(|e| ("backend", e.to_string()))?,
            None => BackendChoice::Auto,
        };
        self.check_seeds()?;
        let checked = Checked {
            target,
            holdout,
            budgets,
            allocations,
            strategies,
            interpolations,
            models,
            preset,
            backend,
            cost_model: CostModel {
                seconds_per_slice: self.seconds_per_slice,
                seconds_per_volume: self.seconds_per_volume,
            },
        };
        // The presets are valid: what fails is the study's steps or features.
        for &model in &checked.models {
            let train = self.train_config(&checked, model, None, 0);
            train.validate().map_err(|e| {
                let key = if train.steps == 0 {
                    "steps"
                } else {
                    "features"
                };
                (key, e.to_string())
            })?;
        }
        Ok(checked)
    }

    /// The target: the study's labels, each among the dataset's, or the dataset's default.
    fn target(&self, dataset: &Dataset) -> KeyResult<TargetLabels> {
        let target = match &self.labels {
            Some(spec) => TargetLabels::parse(spec, &dataset.label_names)
                .map_err(|e| ("labels", e.to_string()))?,
            None => dataset.default_target(),
        };
        if let Some(v) = target
            .values
            .iter()
            .find(|v| !dataset.label_names.is_empty() && !dataset.label_names.contains_key(v))
        {
            return Err((
                "labels",
                format!("label {v} is not among the dataset's labels"),
            ));
        }
        Ok(target)
    }

    /// The budgets in slices, then in hours; at least one; and the annotation costs.
    fn budgets(&self) -> KeyResult<Vec<Budget>> {
        let mut budgets: Vec<Budget> = Vec::new();
        for &b in &self.budgets_slices {
            if b == 0 {
                return Err(("budgets_slices", "a budget must be at least 1 slice".into()));
            }
            budgets.push(Budget::Slices(b));
        }
        for &h in &self.budgets_hours {
            if !(h.is_finite() && h > 0.0) {
                return Err((
                    "budgets_hours",
                    format!("{h} is not a positive number of hours"),
                ));
            }
            budgets.push(Budget::Seconds(h * 3600.0));
        }
        if budgets.is_empty() {
            return Err((
                "budgets_slices",
                "give at least one budget (budgets_slices or budgets_hours)".into(),
            ));
        }
        if !(self.seconds_per_slice > 0.0 && self.seconds_per_volume >= 0.0) {
            return Err((
                "seconds_per_slice",
                "annotation costs must be positive".into(),
            ));
        }
        Ok(budgets)
    }

    /// The allocation rules (default: four volume counts from 1 to the `left` volumes), none
    /// asking for more volumes than are left after holding out `holdout`.
    fn allocation_rules(&self, left: usize, holdout: usize) -> KeyResult<Vec<AllocationRule>> {
        let allocations: Vec<AllocationRule> = if self.allocations.is_empty() {
            volume_grid(left, 4)
                .into_iter()
                .map(AllocationRule::Volumes)
                .collect()
        } else {
            self.allocations
                .iter()
                .map(|a| AllocationRule::parse(a).map_err(|e| ("allocations", e)))
                .collect::<KeyResult<_>>()?
        };
        if let Some(AllocationRule::Volumes(s)) = allocations
            .iter()
            .find(|a| matches!(a, AllocationRule::Volumes(s) if *s > left))
        {
            return Err((
                "allocations",
                format!("{s} volumes, but {left} remain after holding out {holdout}"),
            ));
        }
        Ok(allocations)
    }

    /// At least one seed, none among the rerun seeds.
    fn check_seeds(&self) -> KeyResult<()> {
        if self.seeds.is_empty() {
            return Err(("seeds", "the list is empty".into()));
        }
        if let Some(seed) = self.seeds.iter().find(|&&s| s >= RERUN_SEEDS_FROM) {
            return Err((
                "seeds",
                format!(
                    "seed {seed}: seeds from {RERUN_SEEDS_FROM} are kept for the reruns of runs that did not learn"
                ),
            ));
        }
        Ok(())
    }

    /// The preset's training of `model` under the study's steps, features and backend.
    fn train_config(
        &self,
        checked: &Checked,
        model: ModelKind,
        interpolation: Option<Method>,
        seed: u64,
    ) -> TrainConfig {
        let mut train = checked.preset.config(model);
        train.seed = seed;
        train.backend = checked.backend;
        train.interpolation = interpolation;
        if let Some(steps) = self.steps {
            train.steps = steps;
            if train.until_fitted.is_some() {
                train.until_fitted = Some(UntilFitted::default_for(steps));
            }
        }
        if let Some(features) = &self.features {
            train.features = Some(features.clone());
        }
        train
    }
}

/// A study key that does not check: the key and why.
type KeyResult<T> = std::result::Result<T, (&'static str, String)>;

/// A study's keys, parsed and checked.
struct Checked {
    target: TargetLabels,
    holdout: usize,
    budgets: Vec<Budget>,
    allocations: Vec<AllocationRule>,
    strategies: Vec<SliceStrategy>,
    interpolations: Vec<Option<Method>>,
    models: Vec<ModelKind>,
    preset: Preset,
    backend: BackendChoice,
    cost_model: CostModel,
}

/// Each value of the list under `key` parsed; an error for an empty list or a bad value.
fn parse_list<T>(
    key: &'static str,
    values: &[String],
    parse: impl Fn(&str) -> std::result::Result<T, String>,
) -> KeyResult<Vec<T>> {
    if values.is_empty() {
        return Err((key, "the list is empty".into()));
    }
    values
        .iter()
        .map(|v| parse(v).map_err(|e| (key, e)))
        .collect()
}

/// Every pair of `a` and `b`, `a` outermost.
fn product<A: Clone, B: Clone>(a: &[A], b: &[B]) -> Vec<(A, B)> {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| (x.clone(), y.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::demo;

    fn runs(text: &str) -> Result<Vec<RunSpec>> {
        let study: Study = toml::from_str(text).map_err(|e| Error::invalid(e.to_string()))?;
        study.runs(&demo::dataset(), "f", Path::new("study.toml"))
    }

    #[test]
    fn a_study_expands_into_every_combination() {
        let r = runs(
            "budgets_slices = [30, 60]\nallocations = [\"spread\", \"volumes:4\"]\n\
             strategies = [\"fixed\", \"random\"]\ninterpolation = [\"none\", \"sdf\"]\nseeds = [0, 1]\nholdout = 4\n",
        )
        .unwrap();
        assert_eq!(r.len(), 2 * 2 * 2 * 2 * 2);
        let keys: std::collections::HashSet<String> = r.iter().map(RunSpec::key).collect();
        assert_eq!(keys.len(), r.len(), "every run has its own key");
        assert!(
            r.iter()
                .all(|s| s.request.holdout == 4 && s.preset == "quick")
        );
        // Order: budget, allocation, strategy, interpolation, model, seed.
        assert_eq!(AllocationRule::of(&r[7].request), AllocationRule::Spread);
        assert_eq!(
            AllocationRule::of(&r[8].request),
            AllocationRule::Volumes(4)
        );
        // Default allocations: four volume counts from 1 to the 18 volumes left.
        let r = runs("budgets_slices = [60]\n").unwrap();
        let counts: Vec<Option<usize>> = r.iter().map(|s| s.request.volumes).collect();
        assert_eq!(counts, [Some(1), Some(6), Some(12), Some(18)]);
    }

    #[test]
    fn a_held_out_seed_fixes_the_test_volumes_across_seeds() {
        let total = demo::dataset().len();
        let held = |text: &str| -> Vec<Vec<usize>> {
            runs(text)
                .unwrap()
                .iter()
                .map(|s| s.request.held_out(total))
                .collect()
        };
        let own = held("budgets_slices = [60]\nallocations = [\"volumes:4\"]\nseeds = [0, 1, 2]\n");
        assert_eq!(own.len(), 3);
        assert!(
            own[0] != own[1] || own[1] != own[2],
            "each seed draws its own"
        );
        let fixed = held(
            "budgets_slices = [60]\nallocations = [\"volumes:4\"]\nseeds = [0, 1, 2]\nholdout_seed = 0\n",
        );
        assert!(fixed.iter().all(|h| *h == own[0] && h.len() == 6));
    }

    #[test]
    fn features_replace_the_presets_net_and_keep_equal_keys() {
        let quick = runs("budgets_slices = [60]\nallocations = [\"volumes:4\"]\n").unwrap();
        let same = runs(
            "budgets_slices = [60]\nallocations = [\"volumes:4\"]\nfeatures = [8, 16, 32, 64]\n",
        )
        .unwrap();
        assert_eq!(quick[0].key(), same[0].key(), "quick's own net: same run");
        let full = runs(
            "budgets_slices = [60]\nallocations = [\"volumes:4\"]\npreset = \"full\"\nfeatures = [8, 16, 32, 64]\n",
        )
        .unwrap();
        assert_eq!(full[0].train.features, quick[0].train.features);
        assert!(full[0].train.early_stopping.is_some() && full[0].train.steps == 2000);
        // Quick trains on, up to 4× its steps, while a net has not fitted its slices; full
        // stops early instead.
        assert_eq!(quick[0].train.until_fitted.map(|u| u.max_steps), Some(1200));
        assert_eq!(full[0].train.until_fitted, None);
        let longer =
            runs("budgets_slices = [60]\nallocations = [\"volumes:4\"]\nsteps = 1000\n").unwrap();
        assert_eq!(
            longer[0].train.until_fitted.map(|u| u.max_steps),
            Some(4000)
        );
        assert_ne!(full[0].key(), quick[0].key());
    }

    #[test]
    fn bad_studies_name_the_key() {
        let err = toml::from_str::<Study>("budgets_slices = [10]\nbudget = 3\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `budget`"), "{err}");
        for (text, key) in [
            ("budgets_slices = []", "budgets_slices"),
            ("budgets_slices = [10]\nlabels = \"pancreas\"", "labels"),
            ("budgets_slices = [10]\nlabels = \"9\"", "labels"),
            (
                "budgets_slices = [10]\nallocations = [\"volumes:40\"]",
                "allocations",
            ),
            (
                "budgets_slices = [10]\nstrategies = [\"smart\"]",
                "strategies",
            ),
            ("budgets_slices = [10]\npreset = \"huge\"", "preset"),
            ("budgets_slices = [10]\nholdout = 24", "holdout"),
            ("budgets_slices = [10]\nsteps = 0", "steps"),
            ("budgets_slices = [10]\nfeatures = [8]", "features"),
            ("budgets_slices = [10]\nfeatures = [8, 0]", "features"),
        ] {
            let err = runs(text).unwrap_err().to_string();
            assert!(
                err.contains(&format!("study key '{key}'")) && err.ends_with("study.toml"),
                "{text}: {err}"
            );
        }
    }
}
