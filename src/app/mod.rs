//! The egui app: open a dataset, plan a budget, see the plan on the volumes, simulate plans side
//! by side, export. Every computation is a library call on a background job; the UI only polls.

pub mod settings;
mod simulate;
pub mod viewer;

use std::path::PathBuf;
use std::time::Duration;

pub use settings::Settings;
use viewer::{Overlay, ViewerState, viewer_ui};

use crate::dataset::{Dataset, LoadedCase, TargetLabels, demo, open_dataset};
use crate::export::{export_nnunet, write_worklist};
use crate::interp::{CaseInterp, FlagRules, Interpolation, Method, interpolate_case};
use crate::io::Plane;
use crate::jobs::{Job, Progress};
use crate::plan::{
    BodyRule, Budget, CostModel, Plan, PlanRequest, SliceStrategy, VolumeStrategy, make_plan,
};
use crate::sim::{SimResult, Simulation, SkippedRun};

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

/// What an export job produced (a line for the status bar).
type ExportJob = Job<String>;

/// The application state.
pub struct SliceplanApp {
    pub settings: Settings,
    pub dataset: Dataset,
    pub selected: usize,
    pub loaded: Option<LoadedCase>,
    pub plan: Option<Plan>,
    pub sim_results: Vec<SimResult>,
    /// Scenarios the last simulation could not plan, with why.
    pub sim_skipped: Vec<SkippedRun>,
    /// The last message for the user (errors included).
    pub status: String,
    /// Typed-path fallback when no file dialog is available.
    pub path_input: String,
    pub export_path: String,
    load_job: Option<Job<LoadedCase>>,
    plan_job: Option<Job<Plan>>,
    sim_job: Option<Job<Simulation>>,
    export_job: Option<ExportJob>,
    interp_job: Option<Job<(Interpolation, CaseInterp)>>,
    /// The interpolation preview of one case (shown instead of its labels).
    pub preview: Option<(Interpolation, CaseInterp)>,
    viewer: ViewerState,
    /// Whether settings are saved to the user's config folder (see `persisting_settings`).
    persist_settings: bool,
}

impl SliceplanApp {
    /// An app on `dataset` with `settings`.
    pub fn new(dataset: Dataset, settings: Settings) -> Self {
        let status = format!("{} cases in '{}'", dataset.len(), dataset.id);
        let mut app = SliceplanApp {
            settings,
            dataset,
            selected: 0,
            loaded: None,
            plan: None,
            sim_results: Vec::new(),
            sim_skipped: Vec::new(),
            status,
            path_input: String::new(),
            export_path: String::new(),
            load_job: None,
            plan_job: None,
            sim_job: None,
            export_job: None,
            interp_job: None,
            preview: None,
            viewer: ViewerState::default(),
            persist_settings: false,
        };
        app.load_selected();
        app
    }

    /// Saves the settings to the user's config folder whenever a plan is made (the desktop
    /// app does; tests and embedders leave the user's settings alone).
    pub fn persisting_settings(mut self) -> Self {
        self.persist_settings = true;
        self
    }

    /// An app on the built-in demo cohort.
    pub fn demo() -> Self {
        Self::new(demo::dataset(), Settings::default())
    }

    /// Switches to the dataset at `path` (errors go to the status line).
    pub fn open_path(&mut self, path: &str) {
        match open_dataset(path) {
            Ok(ds) => {
                self.status = format!(
                    "opened '{}': {} cases ({:?} layout)",
                    ds.id,
                    ds.len(),
                    ds.layout
                );
                self.settings.data_path = Some(path.to_string());
                self.dataset = ds;
                self.selected = 0;
                self.plan = None;
                self.sim_results.clear();
                self.sim_skipped.clear();
                self.load_selected();
            }
            Err(e) => self.status = format!("error: {e}"),
        }
    }

    fn load_selected(&mut self) {
        let ds = self.dataset.clone();
        let index = self.selected;
        self.load_job = Job::spawn("sliceplan-load", move |_| ds.load(index)).ok();
    }

    /// True while any background job runs.
    pub fn busy(&self) -> bool {
        self.load_job.is_some()
            || self.plan_job.is_some()
            || self.sim_job.is_some()
            || self.export_job.is_some()
    }

    /// Starts planning with the current settings.
    pub fn start_plan(&mut self) {
        let ds = self.dataset.clone();
        let req = request_from_settings(&self.settings);
        if self.persist_settings
            && let Err(e) = self.settings.save()
        {
            self.status = format!("could not save settings: {e}");
        }
        self.plan_job = Job::spawn("sliceplan-plan", move |p| make_plan(&ds, &req, p)).ok();
    }

    fn poll_jobs(&mut self) {
        if let Some(job) = &mut self.load_job
            && let Some(r) = job.try_result()
        {
            self.load_job = None;
            match r {
                Ok(case) => self.loaded = Some(case),
                Err(e) => self.status = format!("error: {e}"),
            }
        }
        if let Some(job) = &mut self.plan_job
            && let Some(r) = job.try_result()
        {
            self.plan_job = None;
            match r {
                Ok(plan) => {
                    self.status = format!(
                        "plan: {} slices in {} volumes (about {:.1} h of annotation)",
                        plan.total_slices(),
                        plan.volumes.len(),
                        plan.accounting.estimated_seconds / 3600.0
                    );
                    self.plan = Some(plan);
                }
                Err(e) => self.status = format!("error: {e}"),
            }
        }
        if let Some(job) = &mut self.sim_job
            && let Some(r) = job.try_result()
        {
            self.sim_job = None;
            match r {
                Ok(simulation) => {
                    self.status = format!(
                        "simulated {} plans{}",
                        simulation.results.len(),
                        match simulation.skipped.len() {
                            0 => String::new(),
                            n => format!(", {n} skipped (see the Simulate panel)"),
                        }
                    );
                    self.sim_results = simulation.results;
                    self.sim_skipped = simulation.skipped;
                }
                Err(e) => self.status = format!("error: {e}"),
            }
        }
        if let Some(job) = &mut self.interp_job
            && let Some(r) = job.try_result()
        {
            self.interp_job = None;
            match r {
                Ok((result, report)) => {
                    let dice: Vec<String> = report
                        .dice
                        .iter()
                        .map(|(l, d)| format!("label {l}: {d:.3}"))
                        .collect();
                    self.status = format!(
                        "interpolated {} slices of {}: Dice {}; {} risk flag(s)",
                        report.interpolated_slices,
                        report.case_id,
                        dice.join(", "),
                        report.flags.len()
                    );
                    self.preview = Some((result, report));
                }
                Err(e) => self.status = format!("error: {e}"),
            }
        }
        if let Some(job) = &mut self.export_job
            && let Some(r) = job.try_result()
        {
            self.export_job = None;
            self.status = match r {
                Ok(msg) => msg,
                Err(e) => format!("error: {e}"),
            };
        }
    }

    fn planned_slices_of(&self, case_id: &str) -> Vec<usize> {
        self.plan
            .as_ref()
            .and_then(|p| p.volume(case_id))
            .map(|v| v.slices.clone())
            .unwrap_or_default()
    }

    /// The whole UI.
    pub fn show_ui(&mut self, ui: &mut egui::Ui) {
        self.poll_jobs();
        if self.busy() {
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        egui::Panel::left("cases")
            .resizable(true)
            .default_size(230.0)
            .min_size(200.0)
            .show(ui, |ui| self.cases_ui(ui));
        egui::Panel::right("planner")
            .resizable(true)
            .default_size(320.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.planner_ui(ui);
                    ui.separator();
                    self.export_ui(ui);
                    ui.separator();
                    self.simulation_ui(ui);
                });
            });
        egui::Panel::bottom("plots")
            .resizable(true)
            .default_size(200.0)
            .show(ui, |ui| self.plots_ui(ui));
        egui::CentralPanel::default_margins().show(ui, |ui| self.viewer_panel_ui(ui));
    }

    fn toolbar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("sliceplan");
            if ui.button("Open dataset…").clicked() {
                match rfd::FileDialog::new().pick_folder() {
                    Some(p) => self.open_path(&p.display().to_string()),
                    None => {
                        self.status =
                            "no folder chosen (no file dialog here? type the path and press Open)"
                                .into()
                    }
                }
            }
            ui.add(
                egui::TextEdit::singleline(&mut self.path_input)
                    .hint_text("dataset folder path")
                    .desired_width(280.0),
            );
            if ui.button("Open").clicked() {
                let p = self.path_input.trim().to_string();
                self.open_path(&p);
            }
            if ui.button("Demo cohort").clicked() {
                self.dataset = demo::dataset();
                self.settings.data_path = None;
                self.selected = 0;
                self.plan = None;
                self.sim_results.clear();
                self.sim_skipped.clear();
                self.status = format!("demo cohort: {} synthetic CT cases", self.dataset.len());
                self.load_selected();
            }
        });
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let jobs: [(&str, Option<&Progress>); 4] = [
                ("loading", self.load_job.as_ref().map(|j| &j.progress)),
                ("planning", self.plan_job.as_ref().map(|j| &j.progress)),
                ("simulating", self.sim_job.as_ref().map(|j| &j.progress)),
                ("exporting", self.export_job.as_ref().map(|j| &j.progress)),
            ];
            for (name, progress) in jobs {
                if let Some(p) = progress {
                    let (f, msg) = p.get();
                    ui.add(
                        egui::ProgressBar::new(f)
                            .desired_width(160.0)
                            .text(format!("{name}: {msg}")),
                    );
                    if ui.button("Cancel").clicked() {
                        p.cancel();
                    }
                }
            }
            ui.label(&self.status);
        });
    }

    fn cases_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong(format!(
            "{} ({} cases)",
            self.dataset.id,
            self.dataset.len()
        ));
        egui::ScrollArea::vertical().show(ui, |ui| {
            let mut clicked = None;
            for (i, case) in self.dataset.cases.iter().enumerate() {
                let planned = self
                    .plan
                    .as_ref()
                    .and_then(|p| p.volume(&case.id))
                    .map(|v| v.slices.len());
                let held_out = self
                    .plan
                    .as_ref()
                    .map(|p| p.test_cases.contains(&case.id))
                    .unwrap_or(false);
                let text = match (planned, held_out) {
                    (Some(n), _) => format!("{}  · {n} slices", case.id),
                    (None, true) => format!("{}  · test", case.id),
                    _ => case.id.clone(),
                };
                if ui.selectable_label(i == self.selected, text).clicked() {
                    clicked = Some(i);
                }
            }
            if let Some(i) = clicked {
                self.selected = i;
                self.load_selected();
            }
        });
    }

    fn planner_ui(&mut self, ui: &mut egui::Ui) {
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
            .add_enabled(self.plan_job.is_none(), egui::Button::new("Make plan"))
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

    fn export_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Export");
        ui.add(
            egui::TextEdit::singleline(&mut self.export_path)
                .hint_text("output path (or use the dialog)"),
        );
        let Some(plan) = self.plan.clone() else {
            ui.label("Make a plan first.");
            return;
        };
        let typed = PathBuf::from(self.export_path.trim());
        let pick_file = |name: &str| rfd::FileDialog::new().set_file_name(name).save_file();
        let fallback = || (!typed.as_os_str().is_empty()).then(|| typed.clone());
        let mut clicked: Option<&str> = None;
        let mut chosen: Option<PathBuf> = None;
        ui.horizontal(|ui| {
            if ui.button("Plan JSON…").clicked() {
                clicked = Some("plan");
                chosen = pick_file("plan.json").or_else(fallback);
            }
            if ui.button("Worklist CSV…").clicked() {
                clicked = Some("csv");
                chosen = pick_file("worklist.csv").or_else(fallback);
            }
            if ui.button("nnU-Net dataset…").clicked() {
                clicked = Some("nnunet");
                chosen = rfd::FileDialog::new().pick_folder().or_else(fallback);
            }
        });
        if let (Some(kind), Some(path)) = (clicked, chosen) {
            let ds = self.dataset.clone();
            self.export_job = Job::spawn("sliceplan-export", move |progress| match kind {
                "plan" => plan
                    .save(&path)
                    .map(|_| format!("plan saved to {}", path.display())),
                "csv" => write_worklist(&plan, &ds, &path)
                    .map(|n| format!("worklist of {n} slices written to {}", path.display())),
                _ => export_nnunet(
                    &ds,
                    &plan,
                    &path,
                    &TargetLabels::all_foreground(),
                    None,
                    progress,
                )
                .map(|s| {
                    format!(
                        "nnU-Net dataset: {} cases, {} annotated slices, ignore label {} in {}",
                        s.cases, s.annotated_slices, s.ignore_label, s.out
                    )
                }),
            })
            .ok();
        } else if clicked.is_some() {
            self.status =
                "no output path: no file dialog is available here, type the path above".into();
        }
    }

    /// Starts an interpolation preview of the loaded case between its planned slices.
    pub fn start_preview(&mut self) {
        let (Some(case), Some(plan)) = (self.loaded.clone(), self.plan.as_ref()) else {
            return;
        };
        let Some(planned) = plan.volume(&case.id).cloned() else {
            self.status = format!("{} is not in the plan", case.id);
            return;
        };
        let target = plan.request.target.clone();
        self.interp_job = Job::spawn("sliceplan-interp", move |_| {
            interpolate_case(
                &case,
                &planned,
                &target,
                Method::Sdf,
                false,
                &FlagRules::default(),
            )
        })
        .ok();
    }

    fn viewer_panel_ui(&mut self, ui: &mut egui::Ui) {
        let Some(case) = &self.loaded else {
            ui.label(if self.load_job.is_some() {
                "loading…"
            } else {
                "no case loaded"
            });
            return;
        };
        let axis = case.image.axis_for_plane(self.settings.plane);
        let planned = self.planned_slices_of(&case.id);
        let preview_here = self.preview.as_ref().filter(|p| p.1.case_id == case.id);
        let mut start_preview = false;
        let mut clear_preview = false;
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.settings.show_labels, "Show labels");
            let can = planned.len() >= 2 && case.labels.is_some() && self.interp_job.is_none();
            if ui
                .add_enabled(can, egui::Button::new("Preview interpolation"))
                .on_hover_text(
                    "Fill the slices between the planned ones (sdf) and compare with the labels",
                )
                .clicked()
            {
                start_preview = true;
            }
            if preview_here.is_some() && ui.button("Hide preview").clicked() {
                clear_preview = true;
            }
        });
        if let Some((_, report)) = preview_here {
            for f in report.flags.iter().take(6) {
                ui.colored_label(
                    egui::Color32::YELLOW,
                    format!(
                        "slices {}-{}, label {}: {}",
                        f.from_slice, f.to_slice, f.label, f.detail
                    ),
                );
            }
        }
        let target = TargetLabels::all_foreground();
        let overlay = match (
            preview_here,
            self.settings.show_labels && case.labels.is_some(),
        ) {
            (Some((interp, _)), _) => Overlay::Preview(&interp.labels),
            (None, true) => Overlay::Labels(&target),
            _ => Overlay::None,
        };
        viewer_ui(ui, &mut self.viewer, case, axis, &planned, overlay);
        if start_preview {
            self.start_preview();
        }
        if clear_preview {
            self.preview = None;
        }
    }
}

impl eframe::App for SliceplanApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show_ui(ui);
    }
}
