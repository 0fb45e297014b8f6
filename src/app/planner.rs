//! The plan panel: budget, cost model, allocation and selection settings, "Make plan", and the
//! plan's accounting and rationale.

use super::SliceplanApp;
use super::settings::Settings;
use crate::io::Plane;
use crate::plan::{
    BodyRule, Budget, CostModel, PlanRequest, SliceStrategy, VolumeStrategy, make_plan,
};

/// The plan request the settings describe (shared by "Make plan" and "Simulate").
pub fn request_from_settings(s: &Settings) -> PlanRequest {
    PlanRequest {
        budget: Some(if s.budget_in_hours {
            Budget::Seconds(s.budget_hours * 3600.0)
        } else {
            Budget::Slices(s.budget_slices)
        }),
        volumes: (s.volumes > 0).then_some(s.volumes),
        density: None,
        rounding: s.rounding,
        min_slices_per_volume: s.min_slices_per_volume.max(1),
        slice_strategy: s.strategy,
        volume_strategy: s.volume_strategy,
        seed: s.seed,
        plane: s.plane,
        cost_model: CostModel {
            seconds_per_slice: s.seconds_per_slice,
            seconds_per_volume: s.seconds_per_volume,
        },
        holdout: s.holdout,
        body_rule: BodyRule {
            threshold: None,
            min_fraction: s.body_min_fraction,
        },
        ..PlanRequest::default()
    }
}

impl SliceplanApp {
    /// Starts planning with the current settings.
    pub fn start_plan(&mut self) {
        let ds = self.dataset.clone();
        let req = request_from_settings(&self.settings);
        self.save_settings();
        match self
            .jobs
            .spawn("sliceplan-plan", move |p| make_plan(&ds, &req, p))
        {
            Ok(job) => self.jobs.plan = Some(job),
            Err(e) => self.status = format!("error: {e}"),
        }
    }

    pub(super) fn planner_ui(&mut self, ui: &mut egui::Ui) {
        let s = &mut self.settings;
        ui.heading("Plan");
        // Each row's label names its control (for screen readers and tests).
        fn row(ui: &mut egui::Ui, text: &str, add: impl FnOnce(&mut egui::Ui) -> egui::Response) {
            let label = ui.label(text);
            add(ui).labelled_by(label.id);
            ui.end_row();
        }
        egui::Grid::new("plan-grid").num_columns(2).show(ui, |ui| {
            row(ui, "Slicing plane", |ui| {
                egui::ComboBox::from_id_salt("plane")
                    .selected_text(s.plane.name())
                    .show_ui(ui, |ui| {
                        for p in Plane::ALL {
                            ui.selectable_value(&mut s.plane, p, p.name());
                        }
                    })
                    .response
            });
            ui.label("Budget");
            ui.horizontal(|ui| {
                ui.radio_value(&mut s.budget_in_hours, false, "slices");
                ui.radio_value(&mut s.budget_in_hours, true, "hours");
            });
            ui.end_row();
            if s.budget_in_hours {
                row(ui, "Hours", |ui| {
                    ui.add(
                        egui::DragValue::new(&mut s.budget_hours)
                            .range(0.1..=10_000.0)
                            .speed(0.1),
                    )
                });
                row(ui, "Seconds per slice", |ui| {
                    ui.add(egui::DragValue::new(&mut s.seconds_per_slice).range(1.0..=3600.0))
                });
                row(ui, "Seconds per volume", |ui| {
                    ui.add(egui::DragValue::new(&mut s.seconds_per_volume).range(0.0..=3600.0))
                });
            } else {
                row(ui, "Slices", |ui| {
                    ui.add(egui::DragValue::new(&mut s.budget_slices).range(1..=1_000_000))
                });
            }
            row(ui, "Min slices / volume", |ui| {
                ui.add(egui::DragValue::new(&mut s.min_slices_per_volume).range(1..=1000))
            });
            row(ui, "Volumes (0 = recommended)", |ui| {
                ui.add(egui::DragValue::new(&mut s.volumes).range(0..=100_000))
            });
            row(ui, "Slice selection", |ui| {
                egui::ComboBox::from_id_salt("strategy")
                    .selected_text(s.strategy.name())
                    .show_ui(ui, |ui| {
                        for st in SliceStrategy::ALL {
                            ui.selectable_value(&mut s.strategy, st, st.name());
                        }
                    })
                    .response
            });
            ui.label("Volume selection");
            ui.horizontal(|ui| {
                ui.radio_value(&mut s.volume_strategy, VolumeStrategy::Random, "random");
                ui.radio_value(
                    &mut s.volume_strategy,
                    VolumeStrategy::Representative,
                    "representative",
                );
            });
            ui.end_row();
            row(ui, "Seed", |ui| ui.add(egui::DragValue::new(&mut s.seed)));
            row(ui, "Held-out test volumes", |ui| {
                ui.add(egui::DragValue::new(&mut s.holdout).range(0..=10_000))
            });
            row(ui, "Min body fraction of a slice", |ui| {
                ui.add(egui::DragValue::new(&mut s.body_min_fraction).range(0.0..=1.0).speed(0.01)).on_hover_text(
                    "A slice is a candidate when this fraction of its voxels is body: above -500 HU (CT) or 10 % of the 99th percentile (MR). 0 keeps every slice.",
                )
            });
        });
        if s.strategy.needs_labels() {
            ui.colored_label(
                egui::Color32::YELLOW,
                "This strategy looks at the labels: simulation only.",
            );
        }
        if ui
            .add_enabled(self.jobs.plan.is_none(), egui::Button::new("Make plan"))
            .clicked()
        {
            self.start_plan();
        }
        if let Some(plan) = &self.plan {
            ui.label(format!(
                "{} slices in {} of {} volumes · {:.1} per volume · ρ = {:.3} · about {:.1} h",
                plan.total_slices(),
                plan.volumes.len(),
                plan.accounting.available_volumes,
                plan.accounting.slices_per_volume,
                plan.accounting.density,
                plan.accounting.estimated_seconds / 3600.0
            ));
            for line in &plan.rationale {
                ui.label(egui::RichText::new(line).small());
            }
        }
    }
}
