//! The export panel: plan JSON, worklist CSV, sparse nnU-Net dataset and the study report of
//! the result store, each written by a
//! background job to a path from a dialog or typed where no dialog exists.

use std::path::PathBuf;

use super::SliceplanApp;
use crate::dataset::Dataset;
use crate::export::{export_nnunet, read_back, write_worklist};
use crate::study::report::write_report;

/// What an export button writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExportKind {
    Plan,
    Worklist,
    Nnunet,
    Report,
    Handoff,
    HandoffStatus,
}

/// The file a hand-off's status report is written to, in its folder.
pub const HANDOFF_STATUS_FILE: &str = "status.md";

/// Reads the returned hand-off in `dir` and writes its status report there; the line to show.
fn read_handoff_back(ds: &Dataset, dir: &std::path::Path) -> crate::Result<String> {
    let report = dir.join(HANDOFF_STATUS_FILE);
    let (status, _) = read_back(ds, dir, Some(&report))?;
    Ok(format!(
        "hand-off: {}; report in {}",
        status.summary_line(),
        report.display()
    ))
}

impl SliceplanApp {
    pub(super) fn export_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Export");
        ui.add(
            egui::TextEdit::singleline(&mut self.export_path)
                .hint_text("output path (or use the dialog)"),
        );
        if self.plan.is_none() {
            ui.label("Make a plan first.");
            return;
        }
        let typed = PathBuf::from(self.export_path.trim());
        let pick_file = |name: &str| rfd::FileDialog::new().set_file_name(name).save_file();
        let fallback = || (!typed.as_os_str().is_empty()).then(|| typed.clone());
        let mut clicked: Option<ExportKind> = None;
        let mut chosen: Option<PathBuf> = None;
        // One export at a time: a second would replace (and so cancel) the first.
        let idle = self.jobs.export.is_none();
        ui.add_enabled_ui(idle, |ui| {
            ui.horizontal(|ui| {
                if ui.button("Plan JSON…").clicked() {
                    clicked = Some(ExportKind::Plan);
                    chosen = pick_file("plan.json").or_else(fallback);
                }
                if ui.button("Worklist CSV…").clicked() {
                    clicked = Some(ExportKind::Worklist);
                    chosen = pick_file("worklist.csv").or_else(fallback);
                }
                if ui.button("nnU-Net dataset…").clicked() {
                    clicked = Some(ExportKind::Nnunet);
                    chosen = rfd::FileDialog::new().pick_folder().or_else(fallback);
                }
                let runs = self
                    .store_view
                    .as_ref()
                    .map_or(0, |v| v.contents.runs.len());
                if ui
                    .add_enabled(runs > 0, egui::Button::new("Study report…"))
                    .on_hover_text("Markdown and HTML with plots of every run in the result store")
                    .clicked()
                {
                    clicked = Some(ExportKind::Report);
                    chosen = rfd::FileDialog::new().pick_folder().or_else(fallback);
                }
            });
            ui.horizontal(|ui| {
                let s = &mut self.settings;
                let label = ui.label("Annotators");
                ui.add(egui::DragValue::new(&mut s.handoff_annotators).range(1..=100))
                    .labelled_by(label.id);
                let label = ui.label("Overlap");
                ui.add(
                    egui::DragValue::new(&mut s.handoff_overlap)
                        .range(0.0..=0.5)
                        .speed(0.01)
                        .fixed_decimals(2),
                )
                .labelled_by(label.id)
                .on_hover_text("Share of the volumes also given to a second annotator, to check agreement");
                if ui
                    .button("Hand-off…")
                    .on_hover_text("Per annotator a worklist to tick and, per case, a label template with files for 3D Slicer and ITK-SNAP (an empty folder)")
                    .clicked()
                {
                    clicked = Some(ExportKind::Handoff);
                    chosen = rfd::FileDialog::new().pick_folder().or_else(fallback);
                }
                if ui
                    .button("Read hand-off back…")
                    .on_hover_text("A returned hand-off folder: what is done, absent and missing, and the agreement on shared cases, written to its status.md")
                    .clicked()
                {
                    clicked = Some(ExportKind::HandoffStatus);
                    chosen = rfd::FileDialog::new().pick_folder().or_else(fallback);
                }
            });
        });
        match (clicked, chosen) {
            (Some(kind), Some(path)) => self.start_export(kind, path),
            (Some(_), None) => {
                self.status =
                    "no output path: no file dialog is available here, type the path above".into()
            }
            _ => {}
        }
    }

    /// Writes the plan (or the store's report) as `kind` to `path` on a background job; only
    /// the nnU-Net export and the hand-off are long enough to offer Cancel (the others are
    /// single atomic writes).
    fn start_export(&mut self, kind: ExportKind, path: PathBuf) {
        let Some(plan) = self.plan.clone() else {
            return;
        };
        let ds = self.dataset.clone();
        let runs = match kind {
            ExportKind::Report => self
                .store_view
                .as_ref()
                .map(|v| v.contents.clone())
                .unwrap_or_default(),
            _ => Default::default(),
        };
        let (annotators, overlap) = (
            self.settings.handoff_annotators,
            self.settings.handoff_overlap,
        );
        let job =
            self.jobs
                .spawn("sliceplan-export", move |progress| match kind {
                    ExportKind::Handoff => {
                        let split = crate::export::split(&plan, annotators, overlap)?;
                        crate::export::write_package(&ds, &plan, &split, &path, false, progress)
                        .map(|s| {
                            format!(
                                "hand-off for {} annotator(s), {} case(s) shared, written to {}",
                                s.annotators.len(),
                                s.shared.len(),
                                s.out.display()
                            )
                        })
                    }
                    ExportKind::HandoffStatus => read_handoff_back(&ds, &path),
                    ExportKind::Plan => plan
                        .save(&path)
                        .map(|_| format!("plan saved to {}", path.display())),
                    ExportKind::Worklist => write_worklist(&plan, &ds, &path)
                        .map(|n| format!("worklist of {n} slices written to {}", path.display())),
                    ExportKind::Report => {
                        let specs: Vec<_> = runs.runs.iter().map(|r| r.spec.clone()).collect();
                        write_report(
                            &format!("sliceplan estimates on '{}'", ds.id),
                            &specs,
                            &runs,
                            &path,
                        )
                        .map(|f| {
                            format!(
                                "study report of {} runs written to {} (and its HTML and {} plots)",
                                specs.len(),
                                f.markdown.display(),
                                f.plots.len()
                            )
                        })
                    }
                    ExportKind::Nnunet => export_nnunet(
                        &ds,
                        &plan,
                        &path,
                        &plan.request.target,
                        None,
                        progress,
                    )
                    .map(|s| {
                        format!(
                            "nnU-Net dataset: {} cases, {} annotated slices, ignore label {} in {}",
                            s.cases, s.annotated_slices, s.ignore_label, s.out
                        )
                    }),
                });
        match job {
            Ok(job) => {
                self.jobs.export = Some(job);
                self.jobs.export_cancellable =
                    matches!(kind, ExportKind::Nnunet | ExportKind::Handoff);
            }
            Err(e) => self.status = format!("error: {e}"),
        }
    }
}
