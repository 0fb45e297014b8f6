//! The plan panel: budget, cost model, allocation and selection settings, "Make plan", and the
//! plan's accounting and rationale.

use super::SliceplanApp;
use super::settings::Settings;
use crate::dataset::TargetLabels;
use crate::io::Plane;
use crate::plan::{
    BodyRule, Budget, CostModel, PlanRequest, SliceStrategy, VolumeStrategy, explain_coverage,
    make_plan,
};

/// The plan for annotation the settings describe ("Make plan", live replans): every volume may
/// be planned; nothing is held out (held-out test volumes belong to simulations and estimates,
/// `simulation_request`).
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
        holdout: 0,
        holdout_seed: None,
        target: TargetLabels {
            values: s.target_label.into_iter().collect(),
        },
        body_rule: BodyRule {
            threshold: None,
            min_fraction: s.body_min_fraction,
        },
    }
}

/// `plan` as simulations and estimates run it: the settings' held-out test volumes (0: a
/// quarter of the dataset, `plan::default_holdout`) and whether every seed holds out the same.
pub fn simulation_request(plan: &PlanRequest, s: &Settings) -> PlanRequest {
    PlanRequest {
        holdout: s.holdout,
        holdout_seed: s.same_test_volumes.then_some(0),
        ..plan.clone()
    }
}

impl SliceplanApp {
    /// Starts planning with the current settings.
    pub fn start_plan(&mut self) {
        let ds = self.dataset.clone();
        let req = request_from_settings(&self.settings);
        self.last_request = Some(req.clone());
        self.plan_started = Some(std::time::Instant::now());
        match self.jobs.spawn("sliceplan-plan", move |p| {
            let mut plan = make_plan(&ds, &req, p)?;
            explain_coverage(&ds, &mut plan, p)?;
            Ok(plan)
        }) {
            Ok(job) => self.jobs.plan = Some(job),
            Err(e) => self.status = format!("error: {e}"),
        }
    }

    pub(super) fn planner_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Plan");
        let (s, names) = (&mut self.settings, &self.dataset.label_names);
        egui::Grid::new("plan-grid").num_columns(2).show(ui, |ui| {
            target_and_plane_rows_ui(ui, s, names);
            budget_rows_ui(ui, s);
            selection_rows_ui(ui, s);
            test_volume_rows_ui(ui, s);
        });
        if s.strategy.needs_labels() {
            ui.colored_label(
                egui::Color32::YELLOW,
                "This strategy looks at the labels: simulation only.",
            );
        }
        self.plan_buttons_ui(ui);
        self.estimate_settings_ui(ui);
        self.plan_summary_ui(ui);
    }

    /// Make plan, Live, the last plan's time; a live replan when the request changed.
    fn plan_buttons_ui(&mut self, ui: &mut egui::Ui) {
        // Quick plans replan live; so do plans whose slow part, reading the volumes for their
        // slice features, is done (the dataset keeps the features: replans take milliseconds,
        // BENCHMARKS.md, "Replanning").
        let fast = self
            .last_plan_seconds
            .is_some_and(|t| t < self.settings.live_plan_max_seconds)
            || (!self.dataset.features.is_empty() && !self.settings.strategy.needs_labels());
        ui.horizontal(|ui| {
            if ui
                .add_enabled(self.jobs.plan.is_none(), egui::Button::new("Make plan"))
                .clicked()
            {
                // Saved when the user asks for a plan, not on every live replan (eframe also
                // saves them every 30 s and on exit).
                self.save_settings();
                self.start_plan();
            }
            ui.checkbox(&mut self.settings.live_plan, "Live")
                .on_hover_text(format!(
                    "Replan as the settings change, while plans take under {} s",
                    self.settings.live_plan_max_seconds
                ));
            if let Some(t) = self.last_plan_seconds {
                ui.label(format!("planned in {t:.2} s"));
            }
        });
        // Live: a changed request replans once the previous plan is done.
        if self.settings.live_plan
            && fast
            && self.plan.is_some()
            && self.jobs.plan.is_none()
            && self.last_request.as_ref() != Some(&request_from_settings(&self.settings))
        {
            self.start_plan();
        }
    }

    /// The Estimate settings (preset, points, seeds, run budget) and the store they fill.
    fn estimate_settings_ui(&mut self, ui: &mut egui::Ui) {
        egui::CollapsingHeader::new("Estimates").show(ui, |ui| {
            let s = &mut self.settings;
            ui.horizontal(|ui| {
                let label = ui.label("Preset");
                egui::ComboBox::from_id_salt("estimate-preset")
                    .selected_text(s.estimate_preset.name())
                    .show_ui(ui, |ui| {
                        for p in crate::study::Preset::ALL {
                            ui.selectable_value(&mut s.estimate_preset, p, p.name());
                        }
                    })
                    .response
                    .labelled_by(label.id)
                    .on_hover_text("quick: minutes per point on a laptop CPU; full: to convergence; tiny: seconds, for trying the app only");
            });
            ui.horizontal(|ui| {
                let label = ui.label("Points");
                ui.add(egui::DragValue::new(&mut s.estimate_points).range(1..=50))
                    .labelled_by(label.id);
                let label = ui.label("Seeds");
                ui.add(egui::DragValue::new(&mut s.estimate_seeds).range(1..=10))
                    .labelled_by(label.id)
                    .on_hover_text("At most this many seeds per allocation: Estimate races the allocations and adds seeds only where they can change the recommendation");
                let label = ui.label("Run budget");
                ui.add(egui::DragValue::new(&mut s.estimate_max_runs).range(0..=500))
                    .labelled_by(label.id)
                    .on_hover_text("At most this many runs per Estimate (0: no limit but the seeds)");
            });
            if let Some(line) = self.store_view.as_ref().and_then(|v| v.out_of_date_line()) {
                ui.colored_label(egui::Color32::YELLOW, line);
            }
            ui.label(match &self.store_view {
                Some(v) => format!(
                    "{} run(s) in the store {}",
                    v.contents.runs.len(),
                    v.store.dir().display()
                ),
                None => "opening the result store…".into(),
            });
        });
    }

    /// The plan's accounting and rationale.
    fn plan_summary_ui(&self, ui: &mut egui::Ui) {
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

/// A grid row: a label naming its control (for screen readers and tests).
fn row(ui: &mut egui::Ui, text: &str, add: impl FnOnce(&mut egui::Ui) -> egui::Response) {
    let label = ui.label(text);
    add(ui).labelled_by(label.id);
    ui.end_row();
}

/// The target (where the dataset names its labels) and the slicing plane.
fn target_and_plane_rows_ui(
    ui: &mut egui::Ui,
    s: &mut Settings,
    names: &std::collections::BTreeMap<i64, String>,
) {
    if !names.is_empty() {
        row(ui, "Target", |ui| {
            let shown = match s.target_label {
                Some(v) => names.get(&v).cloned().unwrap_or_else(|| v.to_string()),
                None => "every label".into(),
            };
            egui::ComboBox::from_id_salt("target")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut s.target_label, None, "every label");
                    for (v, n) in names {
                        ui.selectable_value(&mut s.target_label, Some(*v), format!("{v}: {n}"));
                    }
                })
                .response
        });
    }
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
}

/// The budget in slices or in hours (with the cost model), the minimum slices per volume and
/// the volume count.
fn budget_rows_ui(ui: &mut egui::Ui, s: &mut Settings) {
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
}

/// Slice and volume selection, and the seed.
fn selection_rows_ui(ui: &mut egui::Ui, s: &mut Settings) {
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
}

/// The held-out test volumes and the body rule.
fn test_volume_rows_ui(ui: &mut egui::Ui, s: &mut Settings) {
    row(ui, "Test volumes (0 = a quarter)", |ui| {
        ui.add(egui::DragValue::new(&mut s.holdout).range(0..=10_000))
                .on_hover_text(
                    "Simulations and estimates score Dice on volumes kept out of training. A plan for annotation holds none out.",
                )
    });
    row(ui, "Same test volumes for every seed", |ui| {
        ui.checkbox(&mut s.same_test_volumes, "").on_hover_text(
                "Draw the held-out volumes once (with seed 0) instead of per seed, so every plan and seed is scored on the same volumes.",
            )
    });
    row(ui, "Min body fraction of a slice", |ui| {
        ui.add(egui::DragValue::new(&mut s.body_min_fraction).range(0.0..=1.0).speed(0.01)).on_hover_text(
                "A slice is a candidate when this fraction of its voxels is body: above -500 HU (CT) or 10 % of the 99th percentile (MR). 0 keeps every slice.",
            )
    });
}
