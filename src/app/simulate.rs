//! The simulation panel: which plans to simulate (volume counts, strategies, interpolation,
//! seeds), the results table and the simulated Dice plot.

use egui_plot::{Legend, Line, Plot, Points};

use super::planner::simulation_request;
use super::{SliceplanApp, request_from_settings};
use crate::interp::Method;
use crate::plan::SliceStrategy;
use crate::plan::holdout_for;
use crate::sim::{SimulationSpec, plot_series, summarize};
use crate::study::ResultStore;
use crate::train::extend::DEFAULT_EXTENSION;
use crate::train::torch::TorchAvailability;
use crate::train::{BackendChoice, ModelKind, TrainConfig, UntilFitted};

/// What reading the image changes, said where the GUI lets one choose it.
pub(super) const READS_IMAGE_HINT: &str = "sdf reads the image to tell where an object ends inside a gap; sdf-labels, from the labels alone, does not";

impl SliceplanApp {
    /// Starts a simulation of 4 volume counts at the current budget, for the chosen strategy
    /// or all three, with or without interpolated masks (set up as the CLI does:
    /// `SimulationSpec`).
    pub fn start_simulation(&mut self) {
        let strategies = if self.settings.sim_compare_strategies {
            vec![
                SliceStrategy::Fixed,
                SliceStrategy::Random,
                SliceStrategy::Ual,
            ]
        } else {
            vec![self.settings.strategy]
        };
        let mut interpolations = vec![None];
        if self.settings.sim_interpolation {
            interpolations.push(Some(Method::Sdf));
            if self.settings.sim_interpolation_labels_only {
                interpolations.push(Some(Method::SdfLabels));
            }
        }
        let spec = SimulationSpec {
            base: simulation_request(&request_from_settings(&self.settings), &self.settings),
            volumes_grid: None,
            strategies,
            interpolations,
            seeds: crate::rng::seed_sequence(self.settings.seed, self.settings.sim_seeds.max(1)),
            train: TrainConfig {
                model: self.settings.model,
                steps: self.settings.steps,
                backend: self.settings.backend,
                seed: self.settings.seed,
                until_fitted: self
                    .settings
                    .sim_until_fitted
                    .then(|| UntilFitted::default_for(self.settings.steps)),
                ..TrainConfig::default()
            },
        };
        let setup = match spec.prepare(&self.dataset) {
            Ok(setup) => setup,
            Err(e) => {
                self.status = format!("error: {e}");
                return;
            }
        };
        let ds = self.dataset.clone();
        let store_dir = self.dataset_store_dir();
        // The store the planner already opened, else opened on the job's thread (its
        // fingerprint reads every case's header).
        let opened = self.store_view.as_ref().map(|v| v.store.clone());
        match self.jobs.spawn("sliceplan-simulate", move |p| {
            let store = match opened {
                Some(store) => store,
                None => ResultStore::for_dataset_lazily(&ds, store_dir.as_deref())?,
            };
            setup.run_stored(&ds, &store, p)
        }) {
            Ok(job) => self.jobs.sim = Some(job),
            Err(e) => self.status = format!("error: {e}"),
        }
    }

    pub(super) fn simulation_ui(&mut self, ui: &mut egui::Ui) {
        let s = &mut self.settings;
        ui.heading("Simulate");
        ui.label("Trains a model per plan on the labelled pilot set and scores Dice on the held-out volumes.");
        ui.horizontal(|ui| {
            ui.radio_value(&mut s.model, ModelKind::TwoD, "2D U-Net");
            ui.radio_value(&mut s.model, ModelKind::ThreeD, "3D U-Net");
        });
        ui.horizontal(|ui| {
            ui.label("Backend");
            ui.radio_value(&mut s.backend, BackendChoice::Auto, "auto");
            ui.radio_value(&mut s.backend, BackendChoice::Wgpu, "GPU");
            ui.radio_value(&mut s.backend, BackendChoice::Cpu, "CPU");
            let built = crate::train::torch::availability() != TorchAvailability::NotBuilt;
            ui.add_enabled_ui(built, |ui| {
                ui.radio_value(&mut s.backend, BackendChoice::Torch, "PyTorch")
                    .on_hover_text(
                        "PyTorch's kernels (libtorch): CUDA if it sees a GPU, else the CPU",
                    )
                    .on_disabled_hover_text(crate::train::torch::NOT_BUILT);
            });
        });
        ui.horizontal(|ui| {
            let label = ui.label("Steps per plan");
            ui.add(egui::DragValue::new(&mut s.steps).range(10..=100_000))
                .labelled_by(label.id);
        });
        ui.checkbox(
            &mut s.sim_until_fitted,
            format!("Train on, up to {DEFAULT_EXTENSION}× the steps, while a net has not fitted its slices (small targets)"),
        );
        ui.checkbox(
            &mut s.sim_compare_strategies,
            "Compare slice strategies (fixed, random, ual)",
        );
        ui.checkbox(
            &mut s.sim_interpolation,
            "Also train on interpolated masks (sdf)",
        );
        ui.add_enabled(
            s.sim_interpolation,
            egui::Checkbox::new(
                &mut s.sim_interpolation_labels_only,
                "… and on masks interpolated from the labels alone (sdf-labels)",
            ),
        )
        .on_hover_text(READS_IMAGE_HINT);
        ui.horizontal(|ui| {
            let label = ui.label("Seeds per plan");
            ui.add(egui::DragValue::new(&mut s.sim_seeds).range(1..=10))
                .labelled_by(label.id);
        });
        let total = self.dataset.len();
        ui.label(format!(
            "Holds out {} of the {total} volumes to score on (Test volumes in the plan panel).",
            holdout_for(self.settings.holdout, total)
        ));
        let can = self.jobs.sim.is_none() && self.dataset.is_labelled();
        if ui
            .add_enabled(can, egui::Button::new("Simulate volumes vs slices"))
            .clicked()
        {
            self.start_simulation();
        }
        if !self.dataset.is_labelled() {
            ui.label("Simulation needs a densely labelled pilot set.");
        }
        if !self.sim_results.is_empty() {
            egui::Grid::new("sim_results").striped(true).show(ui, |ui| {
                for head in ["plan", "slices/vol", "ρ", "Dice", "± sd", "runs", "vs best", ""] {
                    ui.strong(head);
                }
                ui.end_row();
                for r in summarize(&self.sim_results) {
                    ui.label(r.scenario.label());
                    ui.label(format!("{:.1}", r.slices_per_volume));
                    ui.label(format!("{:.3}", r.density));
                    ui.label(r.mean_dice_text(3));
                    ui.label(format!("{:.3}", r.sd_dice));
                    ui.label(r.runs.to_string());
                    ui.label(r.behind_best_text()).on_hover_text(
                        "The best plan's Dice minus this one's, seed by seed (a seed scores both on the same test volumes), with its 95 % interval; where it includes zero, about how many seeds would tell them apart",
                    );
                    match r.flagged_text() {
                        Some(text) => ui.colored_label(egui::Color32::YELLOW, text),
                        None => ui.label(""),
                    };
                    ui.end_row();
                }
            });
        }
        if !self.sim_results.is_empty() {
            self.simulation_plot_ui(ui);
        }
        for warning in self.sim_results.iter().filter_map(|r| r.warning()) {
            ui.colored_label(egui::Color32::YELLOW, warning);
        }
        for k in &self.sim_skipped {
            ui.label(format!(
                "skipped {} (seed {}): {}",
                k.scenario.label(),
                k.seed,
                k.reason
            ));
        }
    }

    /// Simulated Dice against volume count, one line per strategy/model, every run a point.
    fn simulation_plot_ui(&self, ui: &mut egui::Ui) {
        Plot::new("simulation")
            .height(180.0)
            .x_axis_label("volumes annotated (s)")
            .y_axis_label("Dice on held-out volumes")
            .legend(Legend::default())
            .allow_scroll(false)
            .show(ui, |plot| {
                for series in plot_series(&self.sim_results) {
                    plot.line(Line::new(series.name.clone(), series.means));
                    plot.points(Points::new(series.name, series.runs).radius(3.0));
                }
            });
    }
}
