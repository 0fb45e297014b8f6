//! The egui app: open a dataset, plan a budget, see the plan on the volumes, simulate plans side
//! by side, export. Every computation is a library call on a background job (`jobs.rs`); the
//! UI only polls.

mod case_view;
mod export;
mod jobs;
mod log_panel;
mod planner;
pub mod settings;
mod simulate;
pub mod viewer;

use std::time::Duration;

pub use planner::request_from_settings;
pub use settings::Settings;
use viewer::ViewerState;

use crate::dataset::{Dataset, LoadedCase, demo};
use crate::error::Error;
use crate::interp::{CaseInterp, Interpolation};
use crate::plan::Plan;
use crate::sim::{SimResult, SkippedRun};
use jobs::{AppJobs, finished};

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
    jobs: AppJobs,
    /// The interpolation preview of one case (shown instead of its labels).
    pub preview: Option<(Interpolation, CaseInterp)>,
    viewer: ViewerState,
    /// Whether settings are saved to the user's config folder (see `persisting_settings`).
    persist_settings: bool,
    /// Where simulations keep their runs (None: the dataset's default store).
    pub store_dir: Option<std::path::PathBuf>,
    /// The status line as last logged (see `log_status_change`).
    logged_status: String,
    /// Whether the log panel is open.
    pub show_log: bool,
}

/// "cancelled" is information, not an error.
fn describe_error(what: &str, e: &Error) -> String {
    match e {
        Error::Cancelled => format!("{what} cancelled"),
        e => format!("error: {e}"),
    }
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
            jobs: AppJobs::default(),
            preview: None,
            viewer: ViewerState::default(),
            persist_settings: false,
            store_dir: None,
            logged_status: String::new(),
            show_log: false,
        };
        app.load_selected();
        app
    }

    /// Saves the settings to the user's config folder (eframe's `App::save`, and on exit): the
    /// desktop app does; tests and embedders leave the user's settings alone.
    pub fn persisting_settings(mut self) -> Self {
        self.persist_settings = true;
        self
    }

    /// An app on the built-in demo cohort.
    pub fn demo() -> Self {
        Self::new(demo::dataset(), Settings::default())
    }

    /// Opens the dataset at `path` in the background; errors go to the status line.
    pub fn open_path(&mut self, path: &str) {
        let path = path.to_string();
        match self.jobs.spawn("sliceplan-open", move |_| {
            crate::dataset::open_spec(&path).map(|ds| (ds, path))
        }) {
            Ok(job) => {
                self.status = "opening the dataset…".into();
                self.jobs.open = Some(job);
            }
            Err(e) => self.status = format!("error: {e}"),
        }
    }

    /// Switches to `dataset`: jobs started for the previous one are cancelled and their results
    /// dropped; plan, simulation and preview are cleared.
    pub fn switch_dataset(&mut self, dataset: Dataset, data_path: Option<String>) {
        self.jobs.cancel_dataset_jobs();
        self.settings.data_path = data_path;
        self.dataset = dataset;
        self.selected = 0;
        self.loaded = None;
        self.plan = None;
        self.preview = None;
        self.sim_results.clear();
        self.sim_skipped.clear();
        self.load_selected();
    }

    fn load_selected(&mut self) {
        let ds = self.dataset.clone();
        let index = self.selected;
        self.preview = None;
        if let Some(old) = self.jobs.load.take() {
            old.progress.cancel();
        }
        match self.jobs.spawn("sliceplan-load", move |_| ds.load(index)) {
            Ok(job) => self.jobs.load = Some(job),
            Err(e) => self.status = format!("error: {e}"),
        }
    }

    /// True while any background job runs.
    pub fn busy(&self) -> bool {
        self.jobs.busy()
    }

    /// (job, its latest progress message) of every running job.
    pub fn status_of_jobs(&self) -> Vec<(&'static str, String)> {
        self.jobs
            .running()
            .into_iter()
            .map(|(name, p)| (name, p.get().1))
            .collect()
    }

    /// Cancels every running job (they stop at their next check).
    pub fn cancel_all(&self) {
        for (_, p) in self.jobs.running() {
            p.cancel();
        }
    }

    /// Saves the settings when this app persists them; a failure goes to the status line.
    pub fn save_settings(&mut self) {
        if self.persist_settings
            && let Err(e) = self.settings.save()
        {
            self.status = format!("could not save settings: {e}");
        }
    }

    fn poll_jobs(&mut self) {
        if let Some(r) = finished(&mut self.jobs.open) {
            match r {
                Ok((ds, path)) => {
                    self.status = format!(
                        "opened '{}': {} cases ({:?} layout)",
                        ds.id,
                        ds.len(),
                        ds.layout
                    );
                    self.switch_dataset(ds, Some(path));
                }
                Err(e) => self.status = describe_error("opening", &e),
            }
        }
        if let Some(r) = finished(&mut self.jobs.load) {
            match r {
                Ok(case) => self.loaded = Some(case),
                Err(e) => self.status = describe_error("loading", &e),
            }
        }
        if let Some(r) = finished(&mut self.jobs.plan) {
            match r {
                Ok(plan) => {
                    self.status = format!(
                        "plan: {} slices in {} volumes (about {:.1} h of annotation)",
                        plan.total_slices(),
                        plan.volumes.len(),
                        plan.accounting.estimated_seconds / 3600.0
                    );
                    self.preview = None;
                    self.plan = Some(plan);
                }
                Err(e) => self.status = describe_error("planning", &e),
            }
        }
        if let Some(r) = finished(&mut self.jobs.sim) {
            match r {
                Ok(stored) => {
                    let simulation = stored.simulation;
                    self.status = if stored.cancelled {
                        format!(
                            "simulation cancelled; {} finished run(s) kept in {}",
                            simulation.results.len() + simulation.skipped.len(),
                            stored.store.display()
                        )
                    } else {
                        format!(
                            "simulated {} plans{}",
                            simulation.results.len(),
                            match simulation.skipped.len() {
                                0 => String::new(),
                                n => format!(", {n} skipped (see the Simulate panel)"),
                            }
                        )
                    };
                    self.sim_results = simulation.results;
                    self.sim_skipped = simulation.skipped;
                }
                Err(e) => self.status = describe_error("simulation", &e),
            }
        }
        if let Some(r) = finished(&mut self.jobs.interp) {
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
                Err(e) => self.status = describe_error("interpolation preview", &e),
            }
        }
        if let Some(r) = finished(&mut self.jobs.export) {
            self.status = match r {
                Ok(msg) => msg,
                Err(e) => describe_error("export", &e),
            };
        }
    }

    /// The whole UI.
    pub fn show_ui(&mut self, ui: &mut egui::Ui) {
        if self.jobs.ctx.is_none() {
            self.jobs.ctx = Some(ui.ctx().clone());
        }
        self.poll_jobs();
        self.log_status_change();
        if self.busy() {
            // Progress bars move while jobs run; a finished job asks for its own repaint.
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        if self.show_log {
            egui::Panel::bottom("log")
                .resizable(true)
                .default_size(160.0)
                .show(ui, |ui| self.log_ui(ui));
        }
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
            let idle = self.jobs.open.is_none();
            if ui
                .add_enabled(idle, egui::Button::new("Open dataset…"))
                .clicked()
            {
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
                    .hint_text("dataset or DICOM folder path")
                    .desired_width(280.0),
            );
            if ui.add_enabled(idle, egui::Button::new("Open")).clicked() {
                let p = self.path_input.trim().to_string();
                self.open_path(&p);
            }
            if ui.button("Demo cohort").clicked() {
                self.switch_dataset(demo::dataset(), None);
                self.status = format!("demo cohort: {} synthetic CT cases", self.dataset.len());
            }
        });
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for (name, p) in self.jobs.running() {
                let (f, msg) = p.get();
                ui.add(
                    egui::ProgressBar::new(f)
                        .desired_width(420.0)
                        .text(format!("{name}: {msg}")),
                )
                .on_hover_text(format!("{name}: {msg}"));
                if ui.button(format!("Cancel {name}")).clicked() {
                    p.cancel();
                }
            }
            ui.toggle_value(&mut self.show_log, "Log");
            ui.label(&self.status);
        });
    }

    fn cases_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong(format!(
            "{} ({} cases)",
            self.dataset.id,
            self.dataset.len()
        ));
        // Only the rows in view are laid out: a 300-case list costs what 30 do.
        let row_height =
            ui.text_style_height(&egui::TextStyle::Button) + ui.spacing().item_spacing.y;
        egui::ScrollArea::vertical().show_rows(ui, row_height, self.dataset.len(), |ui, rows| {
            let mut clicked = None;
            for (i, case) in self
                .dataset
                .cases
                .iter()
                .enumerate()
                .skip(rows.start)
                .take(rows.len())
            {
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
}

impl eframe::App for SliceplanApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show_ui(ui);
    }

    fn save(&mut self, _storage: &mut dyn eframe::Storage) {
        self.save_settings();
    }

    fn on_exit(&mut self) {
        self.save_settings();
        self.cancel_all();
    }
}
