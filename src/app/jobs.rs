//! Every background job of the app in one place: what runs, its progress for the status bar,
//! cancellation, and which dataset it belongs to. A job that finishes asks for a repaint itself;
//! the next frame takes in its result (`poll_jobs`).

use super::{SliceplanApp, StoreView};
use crate::dataset::{Dataset, LoadedCase};
use crate::error::Error;
use crate::error::Result;
use crate::interp::{CaseInterp, Interpolation};
use crate::jobs::{Job, Progress};
use crate::plan::Plan;
use crate::sim::StoredSimulation;

/// How an estimate job ended.
#[derive(Debug, Clone)]
pub struct EstimateDone {
    /// "frontier" or "budget curve".
    pub what: &'static str,
    /// Runs it was asked to run.
    pub asked: usize,
    /// Runs it stored.
    pub kept: usize,
    pub cancelled: bool,
    pub store: std::path::PathBuf,
    /// How a race ended (the frontier's Estimate), in one line.
    pub verdict: Option<String>,
}

/// The app's jobs, one per slot. A job dropped from its slot is cancelled (`Job`'s `Drop`), and
/// the result of a cancelled job never lands (`finished_current`). Those tied to the open
/// dataset (opening another, loading a case, planning, simulating, the interpolation preview,
/// the store, estimates) are dropped when another dataset is shown, so their results never land
/// on it; an export keeps running (it only writes files and a message).
#[derive(Default)]
pub struct AppJobs {
    pub open: Option<Job<(Dataset, String)>>,
    pub load: Option<Job<LoadedCase>>,
    pub plan: Option<Job<Plan>>,
    pub sim: Option<Job<StoredSimulation>>,
    pub export: Option<Job<String>>,
    /// Whether the running export looks at its cancel flag (the nnU-Net export does; the
    /// others are single atomic writes, and show no Cancel).
    pub export_cancellable: bool,
    pub interp: Option<Job<(Interpolation, CaseInterp)>>,
    /// Opening the dataset's result store (its fingerprint reads every header).
    pub store: Option<Job<StoreView>>,
    /// Estimating frontier points or a budget curve.
    pub estimate: Option<Job<EstimateDone>>,
    /// Asked to repaint when a job finishes (None until the first frame, and in tests).
    pub ctx: Option<egui::Context>,
}

impl AppJobs {
    /// Starts `work` on a named thread that asks for a repaint when done; a thread that cannot
    /// start is an error for the status line.
    pub fn spawn<T: Send + 'static>(
        &self,
        name: &str,
        work: impl FnOnce(&Progress) -> Result<T> + Send + 'static,
    ) -> Result<Job<T>> {
        let ctx = self.ctx.clone();
        Job::spawn_notify(name, work, move || {
            if let Some(ctx) = ctx {
                ctx.request_repaint();
            }
        })
    }

    /// (what, progress, whether Cancel stops it) of every running job, for the status bar.
    pub fn running_with_cancel(&self) -> Vec<(&'static str, &Progress, bool)> {
        self.running()
            .into_iter()
            .map(|(name, p)| {
                let cancellable =
                    name != "exporting" || (self.export.is_some() && self.export_cancellable);
                (name, p, cancellable)
            })
            .collect()
    }

    /// (what, progress) of every running job, for the status bar.
    pub fn running(&self) -> Vec<(&'static str, &Progress)> {
        let jobs: [(&'static str, Option<&Progress>); 8] = [
            ("opening", self.open.as_ref().map(|j| &j.progress)),
            ("loading", self.load.as_ref().map(|j| &j.progress)),
            ("planning", self.plan.as_ref().map(|j| &j.progress)),
            ("simulating", self.sim.as_ref().map(|j| &j.progress)),
            ("exporting", self.export.as_ref().map(|j| &j.progress)),
            ("interpolating", self.interp.as_ref().map(|j| &j.progress)),
            (
                "reading the store",
                self.store.as_ref().map(|j| &j.progress),
            ),
            ("estimating", self.estimate.as_ref().map(|j| &j.progress)),
        ];
        jobs.into_iter()
            .filter_map(|(name, p)| p.map(|p| (name, p)))
            .collect()
    }

    /// True while any job runs.
    pub fn busy(&self) -> bool {
        !self.running().is_empty()
    }

    /// Cancels and forgets the jobs tied to the open dataset, a pending open of another one
    /// included (an estimate's finished runs are already in its store).
    pub fn cancel_dataset_jobs(&mut self) {
        // Dropping a job cancels it.
        self.open = None;
        self.load = None;
        self.plan = None;
        self.sim = None;
        self.interp = None;
        self.store = None;
        self.estimate = None;
    }
}

/// Takes a finished job's result out of its slot (None while it runs). A cancelled job that
/// finished anyway gives what it returned (a simulation's runs kept so far).
pub fn finished<T: Send + 'static>(slot: &mut Option<Job<T>>) -> Option<Result<T>> {
    let result = slot.as_mut()?.try_result()?;
    *slot = None;
    Some(result)
}

/// Like `finished`, but a job cancelled before its result was taken gives `Error::Cancelled`:
/// an open, load, plan or preview the user cancelled never lands, even when its thread had
/// finished the work.
pub fn finished_current<T: Send + 'static>(slot: &mut Option<Job<T>>) -> Option<Result<T>> {
    let cancelled = slot.as_ref()?.is_cancelled();
    let result = finished(slot)?;
    Some(if cancelled {
        Err(Error::Cancelled)
    } else {
        result
    })
}

/// "cancelled" is information, not an error.
fn describe_error(what: &str, e: &Error) -> String {
    match e {
        Error::Cancelled => format!("{what} cancelled"),
        e => format!("error: {e}"),
    }
}

impl SliceplanApp {
    /// Takes in the result of every job that has finished: the dataset, case, plan, simulation,
    /// preview, store or estimate it made, or its error on the status line.
    pub(super) fn poll_jobs(&mut self) {
        if let Some(r) = finished_current(&mut self.jobs.open) {
            match r {
                Ok((ds, path)) => {
                    self.settings.remember_recent(&path);
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
        if let Some(r) = finished_current(&mut self.jobs.load) {
            match r {
                Ok(case) => {
                    self.load_generation += 1;
                    self.loaded = Some(std::sync::Arc::new(case));
                }
                Err(e) => self.status = describe_error("loading", &e),
            }
        }
        if let Some(r) = finished_current(&mut self.jobs.plan) {
            match r {
                Ok(plan) => {
                    self.last_plan_seconds = self.plan_started.map(|t| t.elapsed().as_secs_f64());
                    self.status = format!(
                        "plan: {} slices in {} volumes (about {:.1} h of annotation)",
                        plan.total_slices(),
                        plan.volumes.len(),
                        plan.accounting.estimated_seconds / 3600.0
                    );
                    // A preview belongs to the plan it was started on: a pending one is dropped
                    // (so cancelled) with the shown one.
                    self.jobs.interp = None;
                    self.preview = None;
                    self.plan = Some(plan);
                    self.plan_generation += 1;
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
        if let Some(r) = finished_current(&mut self.jobs.interp) {
            match r {
                Ok((result, report)) => {
                    let dice: Vec<String> = report
                        .dice
                        .iter()
                        .map(|(l, d)| format!("label {l}: {d:.3}"))
                        .collect();
                    self.status = format!(
                        "interpolated {} slices of {} ({}): Dice {}; {} risk flag(s)",
                        report.interpolated_slices,
                        report.case_id,
                        report.method.name(),
                        dice.join(", "),
                        report.flags.len()
                    );
                    self.preview = Some((result, report));
                }
                Err(e) => self.status = describe_error("interpolation preview", &e),
            }
        }
        if let Some(r) = finished_current(&mut self.jobs.store) {
            match r {
                Ok(view) => {
                    if let Some(line) = view.out_of_date_line() {
                        self.status = line;
                    }
                    self.store_view = Some(view);
                }
                Err(e) => {
                    self.status = format!("no estimates: the result store cannot be used: {e}")
                }
            }
        }
        if let Some(r) = finished(&mut self.jobs.estimate) {
            self.status = match r {
                Ok(done) if done.cancelled => format!(
                    "estimate cancelled; {} finished run(s) kept in {}",
                    done.kept,
                    done.store.display()
                ),
                Ok(done) => match &done.verdict {
                    Some(verdict) => format!(
                        "estimated the {}: {verdict}; {} new run(s) stored in {}",
                        done.what,
                        done.kept,
                        done.store.display()
                    ),
                    None => format!(
                        "estimated the {}: {} of {} run(s) stored in {}",
                        done.what,
                        done.kept,
                        done.asked,
                        done.store.display()
                    ),
                },
                Err(e) => describe_error("estimate", &e),
            };
        }
        // Runs finished by an estimate (or another process) appear as they are stored.
        if let Some(view) = &mut self.store_view
            && let Err(e) = view.refresh()
        {
            self.status = format!("error reading the result store: {e}");
        }
        if let Some(r) = finished(&mut self.jobs.export) {
            self.status = match r {
                Ok(msg) => msg,
                Err(e) => describe_error("export", &e),
            };
        }
    }
}
