//! Persisted settings: a small serde struct, apart from runtime state, saved as JSON in the
//! user's config folder.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::io::Plane;
use crate::plan::{Rounding, SliceStrategy, VolumeStrategy};
use crate::study::Preset;
use crate::train::{BackendChoice, ModelKind};

/// What the GUI remembers between sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The last dataset folder (None: the demo cohort).
    pub data_path: Option<String>,
    pub plane: Plane,
    pub budget_slices: usize,
    /// Use the time budget instead of the slice budget.
    pub budget_in_hours: bool,
    pub budget_hours: f64,
    pub seconds_per_slice: f64,
    pub seconds_per_volume: f64,
    pub min_slices_per_volume: usize,
    /// 0 = recommended (as many volumes as the budget allows).
    pub volumes: usize,
    pub rounding: Rounding,
    pub strategy: SliceStrategy,
    pub volume_strategy: VolumeStrategy,
    pub seed: u64,
    /// Volumes simulations and estimates hold out to score on (0: a quarter of the dataset).
    /// A plan for annotation holds none out.
    pub holdout: usize,
    /// Hold out the volumes drawn with seed 0 whatever the seed (else each seed draws its own).
    pub same_test_volumes: bool,
    /// Only slices with at least this fraction of body voxels are candidates (0: every slice).
    pub body_min_fraction: f64,
    pub model: ModelKind,
    pub backend: BackendChoice,
    pub steps: usize,
    /// Train on (up to 4× the steps) while a net has not fitted its annotated slices.
    pub sim_until_fitted: bool,
    /// Simulate fixed, random and ual selection side by side (else only `strategy`).
    pub sim_compare_strategies: bool,
    /// Simulate each plan also with sdf-interpolated masks.
    pub sim_interpolation: bool,
    /// ... and with masks interpolated from the labels alone (`sdf-labels`), side by side.
    pub sim_interpolation_labels_only: bool,
    /// The interpolation preview reads the case's image (`sdf`; off: `sdf-labels`).
    pub interp_reads_image: bool,
    /// Seeds per scenario (seed, seed + 1, …), to tell differences from noise.
    pub sim_seeds: usize,
    pub show_labels: bool,
    /// Label overlay opacity (0–1) in every view.
    pub label_opacity: f32,
    /// Draw labels as outlines instead of filled.
    pub label_outline: bool,
    pub view_layout: ViewLayout,
    /// The large view of the one-large-two-small layout.
    pub main_plane: Plane,
    /// Recently opened datasets and files, newest first.
    pub recent: Vec<String>,
    /// The label the plan and its estimates target (None: every label).
    pub target_label: Option<i64>,
    /// Replan as the budget or the settings change, while plans take under
    /// `live_plan_max_seconds`.
    pub live_plan: bool,
    pub live_plan_max_seconds: f64,
    /// Training preset of the planner's estimates.
    pub estimate_preset: Preset,
    /// Volume counts "Estimate" spreads over the frontier.
    pub estimate_points: usize,
    /// Seeds an estimated allocation may get: "Estimate" races the allocations and gives more
    /// seeds only where they can change the recommendation (two or more give an interval).
    pub estimate_seeds: usize,
    /// Runs one "Estimate" may make (0: no limit but the seeds).
    pub estimate_max_runs: usize,
    /// The Dice the budget panel asks a budget for.
    pub target_dice: f64,
    /// Annotators a hand-off splits the plan between.
    pub handoff_annotators: usize,
    /// Share of the volumes a hand-off gives to a second annotator (agreement checks).
    pub handoff_overlap: f64,
}

/// How the three views are arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewLayout {
    /// One large view and two small ones beside it.
    OneLarge,
    /// Two by two: axial, coronal, sagittal and the case's readout.
    Grid,
}

impl Settings {
    /// Remembers `path` at the top of the recent list (eight kept).
    pub fn remember_recent(&mut self, path: &str) {
        self.recent.retain(|p| p != path);
        self.recent.insert(0, path.to_string());
        self.recent.truncate(8);
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_path: None,
            plane: Plane::Axial,
            budget_slices: 60,
            budget_in_hours: false,
            budget_hours: 2.0,
            seconds_per_slice: 90.0,
            seconds_per_volume: 120.0,
            min_slices_per_volume: 1,
            volumes: 0,
            rounding: Rounding::FixedK,
            strategy: SliceStrategy::Fixed,
            volume_strategy: VolumeStrategy::Random,
            seed: 0,
            holdout: 0,
            same_test_volumes: false,
            body_min_fraction: 0.05,
            model: ModelKind::TwoD,
            backend: BackendChoice::Auto,
            steps: 200,
            sim_until_fitted: true,
            sim_compare_strategies: false,
            sim_interpolation: false,
            sim_interpolation_labels_only: false,
            interp_reads_image: true,
            sim_seeds: 1,
            show_labels: true,
            label_opacity: 0.45,
            label_outline: false,
            view_layout: ViewLayout::OneLarge,
            main_plane: Plane::Axial,
            recent: Vec::new(),
            target_label: None,
            live_plan: true,
            live_plan_max_seconds: 2.0,
            estimate_preset: Preset::Quick,
            estimate_points: 5,
            estimate_seeds: 5,
            estimate_max_runs: 0,
            target_dice: 0.8,
            handoff_annotators: 2,
            handoff_overlap: 0.05,
        }
    }
}

impl Settings {
    /// `settings.json` in the user's config folder (`$XDG_CONFIG_HOME/sliceplan` or
    /// `~/.config/sliceplan` on Linux; see `crate::paths`).
    pub fn path() -> Option<PathBuf> {
        Some(crate::paths::config_dir()?.join("settings.json"))
    }

    /// Loads saved settings, or the defaults when there are none. A settings file that cannot
    /// be read or parsed gives the defaults and a sentence saying so (it is left in place).
    pub fn load() -> (Settings, Option<String>) {
        match Self::path() {
            Some(p) => Self::load_from(&p),
            None => (Settings::default(), None),
        }
    }

    /// Like `load`, from `path`.
    pub fn load_from(path: &std::path::Path) -> (Settings, Option<String>) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Settings::default(), None);
            }
            Err(e) => {
                return (
                    Settings::default(),
                    Some(format!(
                        "cannot read the settings ({e}), using the defaults: {}",
                        path.display()
                    )),
                );
            }
        };
        match serde_json::from_str(&text) {
            Ok(s) => (s, None),
            Err(e) => (
                Settings::default(),
                Some(format!(
                    "the settings file is corrupt ({e}), using the defaults: {}",
                    path.display()
                )),
            ),
        }
    }

    /// Saves the settings to `path` (atomically).
    pub fn save_to(&self, path: &std::path::Path) -> crate::Result<()> {
        let text =
            serde_json::to_string_pretty(self).map_err(|e| crate::Error::invalid(e.to_string()))?;
        crate::io::write_bytes_atomic(path, text.as_bytes())
    }

    /// Saves the settings (atomically); errors are returned for the status line.
    pub fn save(&self) -> crate::Result<()> {
        match Self::path() {
            Some(path) => self.save_to(&path),
            None => Ok(()),
        }
    }
}
