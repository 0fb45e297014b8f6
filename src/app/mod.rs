//! The egui app: open a dataset, plan a budget, see the plan on the volumes, simulate plans side
//! by side, export. Every computation is a library call on a background job (`jobs.rs`); the
//! UI only polls.

mod case_view;
mod estimates;
mod export;
mod jobs;
mod log_panel;
mod planner;
pub mod settings;
mod simulate;
mod slice_strip;
mod textures;
mod toolbar;
pub mod viewer;
mod viewer_info;

use std::time::{Duration, Instant};

pub use planner::{request_from_settings, simulation_request};
pub use settings::Settings;
use viewer::ViewerState;

use crate::dataset::{Dataset, LoadedCase, demo};
use crate::interp::{CaseInterp, Interpolation};
use crate::plan::{Plan, PlanRequest};
use crate::sim::{SimResult, SkippedRun};
use estimates::Estimates;
pub use estimates::StoreView;
use jobs::AppJobs;

/// The application state.
pub struct SliceplanApp {
    pub settings: Settings,
    pub dataset: Dataset,
    pub selected: usize,
    /// The case shown (shared with a preview job, never copied).
    pub loaded: Option<std::sync::Arc<LoadedCase>>,
    /// Counts the cases loaded (each load, of any case of any dataset, gets the next number):
    /// the viewer resets and re-renders when it changes.
    pub load_generation: u64,
    pub plan: Option<Plan>,
    /// Counts the plans that landed (the estimates are recomputed when it changes).
    plan_generation: u64,
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
    /// A folder holding one result store per dataset (`<folder>/<dataset id>`) for
    /// simulations and estimates (None: each dataset's default store).
    pub store_dir: Option<std::path::PathBuf>,
    /// The status line as last logged (see `log_status_change`).
    logged_status: String,
    /// Whether the log panel is open.
    pub show_log: bool,
    /// The open dataset's result store, read for the planner's estimates (None while it
    /// opens, or when it cannot be used).
    pub store_view: Option<StoreView>,
    /// The store is to be opened at the next frame (after `store_dir` may have been set).
    store_wanted: bool,
    /// Where the case list, planner, plots and views were drawn in the last frame (for
    /// screenshots of each panel).
    pub panel_rects: Vec<(&'static str, egui::Rect)>,
    /// The frontier and budget curve shown (recomputed when what they rest on changes).
    estimates: Estimates,
    /// Screen positions of the frontier's points and their volume counts (for clicks).
    pub frontier_hits: Vec<(egui::Pos2, usize)>,
    /// The request of the last plan started, and when it started.
    last_request: Option<PlanRequest>,
    plan_started: Option<Instant>,
    /// How long the last plan took (live replanning stays on while plans are quick).
    pub last_plan_seconds: Option<f64>,
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
            load_generation: 0,
            plan: None,
            plan_generation: 0,
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
            store_view: None,
            store_wanted: true,
            estimates: Estimates::default(),
            frontier_hits: Vec::new(),
            panel_rects: Vec::new(),
            last_request: None,
            plan_started: None,
            last_plan_seconds: None,
        };
        app.settings.target_label = app.dataset.carried_target(app.named_target());
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

    /// The chosen target label with its name on the current dataset (None: every label, or a
    /// value the dataset does not name).
    fn named_target(&self) -> Option<(i64, String)> {
        let v = self.settings.target_label?;
        Some((v, self.dataset.label_names.get(&v)?.clone()))
    }

    /// Switches to `dataset`: jobs started for the previous one are cancelled and their results
    /// dropped; plan, simulation and preview are cleared.
    pub fn switch_dataset(&mut self, dataset: Dataset, data_path: Option<String>) {
        self.jobs.cancel_dataset_jobs();
        let previous_target = self.named_target();
        self.settings.data_path = data_path;
        self.dataset = dataset;
        self.selected = 0;
        self.loaded = None;
        self.plan = None;
        self.preview = None;
        self.sim_results.clear();
        self.sim_skipped.clear();
        self.store_view = None;
        self.store_wanted = true;
        self.last_request = None;
        self.last_plan_seconds = None;
        self.settings.target_label = self.dataset.carried_target(previous_target);
        self.load_selected();
    }

    /// Shows case `index` (loaded again when it is the one shown: the views start afresh).
    pub fn select_case(&mut self, index: usize) {
        if index < self.dataset.len() {
            self.selected = index;
            self.load_selected();
        }
    }

    fn load_selected(&mut self) {
        let ds = self.dataset.clone();
        let index = self.selected;
        self.preview = None;
        // A load still running is dropped (and so cancelled) when the new one takes its slot.
        match self.jobs.spawn("sliceplan-load", move |p| {
            p.set(0.0, format!("loading {}", ds.cases[index].id));
            ds.load(index)
        }) {
            Ok(job) => self.jobs.load = Some(job),
            Err(e) => self.status = format!("error: {e}"),
        }
    }

    /// The result store folder of the open dataset when `store_dir` is set.
    pub(crate) fn dataset_store_dir(&self) -> Option<std::path::PathBuf> {
        self.store_dir
            .as_ref()
            .map(|d| crate::study::ResultStore::folder_in(d, &self.dataset))
    }

    /// The viewer's state (crosshair, window, zoom, what is hovered).
    pub fn viewer(&self) -> &ViewerState {
        &self.viewer
    }

    /// The viewer's state, to move its crosshair or window.
    pub fn viewer_mut(&mut self) -> &mut ViewerState {
        &mut self.viewer
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

    /// The whole UI.
    pub fn show_ui(&mut self, ui: &mut egui::Ui) {
        if self.jobs.ctx.is_none() {
            self.jobs.ctx = Some(ui.ctx().clone());
        }
        if self.store_wanted && self.jobs.store.is_none() {
            self.store_wanted = false;
            self.open_store();
        }
        self.poll_jobs();
        self.refresh_estimates();
        self.open_dropped_files(ui.ctx());
        self.log_status_change();
        if self.busy() {
            // Progress bars move while jobs run; a finished job asks for its own repaint.
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
        egui::Panel::top("toolbar").show(ui, |ui| self.toolbar_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        if self.busy() {
            egui::Panel::bottom("jobs").show(ui, |ui| self.jobs_ui(ui));
        }
        if self.show_log {
            egui::Panel::bottom("log")
                .resizable(true)
                .default_size(160.0)
                .show(ui, |ui| self.log_ui(ui));
        }
        let cases = egui::Panel::left("cases")
            .resizable(true)
            .default_size(230.0)
            .min_size(200.0)
            .show(ui, |ui| self.cases_ui(ui));
        let planner = egui::Panel::right("planner")
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
        let plots = egui::Panel::bottom("plots")
            .resizable(true)
            .default_size(240.0)
            .show(ui, |ui| {
                ui.columns(2, |cols| {
                    self.frontier_ui(&mut cols[0]);
                    self.budget_curve_ui(&mut cols[1]);
                });
            });
        let views = egui::CentralPanel::default_margins().show(ui, |ui| self.viewer_panel_ui(ui));
        self.panel_rects = vec![
            ("cases", cases.response.rect),
            ("planner", planner.response.rect),
            ("plots", plots.response.rect),
            ("views", views.response.rect),
        ];
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.toggle_value(&mut self.show_log, "Log");
            if ui.ctx().input(|i| !i.raw.hovered_files.is_empty()) {
                ui.strong("drop the folder or file to open it");
            }
            ui.label(&self.status);
        });
    }

    /// One row per running job, as wide as the window: what it does (run i of N, scenario,
    /// step, time left), its progress, Cancel; and the latest stored Dice while estimating.
    fn jobs_ui(&mut self, ui: &mut egui::Ui) {
        for (name, p, cancellable) in self.jobs.running_with_cancel() {
            let (f, msg) = p.get();
            ui.horizontal(|ui| {
                // A job that cannot stop midway shows no Cancel (see `AppJobs::export_cancellable`).
                let cancel = cancellable.then(|| ui.button(format!("Cancel {name}")));
                ui.add(
                    egui::ProgressBar::new(f)
                        .desired_width(ui.available_width())
                        .text(format!("{name}: {msg}")),
                )
                .on_hover_text(format!("{name}: {msg}"));
                if cancel.is_some_and(|c| c.clicked()) {
                    p.cancel();
                }
            });
        }
        // While estimating, a line for the latest stored run (always there, so the rows
        // above do not move under the pointer when the first run lands).
        if self.jobs.estimate.is_some() {
            let last = self
                .store_view
                .as_ref()
                .and_then(|v| v.contents.runs.last());
            ui.label(match (last, last.and_then(|l| l.result())) {
                (Some(l), Some(r)) => format!(
                    "latest stored run: {} — Dice {:.3}{}",
                    l.spec.label(),
                    r.mean_dice,
                    if r.learned() { "" } else { " (did not learn)" }
                ),
                (Some(l), None) => format!("latest stored run: {} — skipped", l.spec.label()),
                (None, _) => "latest stored run: none yet".into(),
            });
        }
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
                self.select_case(i);
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
