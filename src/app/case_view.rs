//! The case view: the viewer with the plan's slices, the label overlay and the interpolation
//! preview with its risk flags.

use super::SliceplanApp;
use super::viewer::{CaseOverlay, viewer_ui};
use crate::interp::{FlagRules, Method, interpolate_case};
use crate::view::LabelLayer;

impl SliceplanApp {
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
        let method = if self.settings.interp_reads_image {
            Method::Sdf
        } else {
            Method::SdfLabels
        };
        let job = self.jobs.spawn("sliceplan-interp", move |progress| {
            progress.set(0.0, format!("interpolating {}", case.id));
            let result = interpolate_case(
                &case,
                &planned,
                &target,
                method,
                false,
                &FlagRules::default(),
            )?;
            // A preview cancelled meanwhile is not shown.
            progress.check()?;
            Ok(result)
        });
        match job {
            Ok(job) => self.jobs.interp = Some(job),
            Err(e) => self.status = format!("error: {e}"),
        }
    }

    pub(super) fn viewer_panel_ui(&mut self, ui: &mut egui::Ui) {
        let Some(case) = &self.loaded else {
            ui.horizontal(|ui| {
                if self.jobs.load.is_some() {
                    ui.spinner();
                    ui.label("loading the case…");
                } else {
                    ui.label("no case loaded");
                }
            });
            return;
        };
        // A planned case's plan axis is its plan's own (the settings' plane may have changed
        // since the plan was made); other cases use the settings' plane.
        let planned_volume = self.plan.as_ref().and_then(|p| p.volume(&case.id));
        let plan_axis =
            planned_volume.map_or(case.image.axis_for_plane(self.settings.plane), |v| v.axis);
        let planned = planned_volume.map(|v| v.slices.clone()).unwrap_or_default();
        let preview_here = self.preview.as_ref().filter(|p| p.1.case_id == case.id);
        let mut start_preview = false;
        let mut clear_preview = false;
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.settings.show_labels, "Show labels");
            let can = planned.len() >= 2 && case.labels.is_some() && self.jobs.interp.is_none();
            if ui
                .add_enabled(can, egui::Button::new("Preview interpolation"))
                .on_hover_text(
                    "Fill the slices between the planned ones (sdf) and compare with the labels",
                )
                .clicked()
            {
                start_preview = true;
            }
            ui.checkbox(&mut self.settings.interp_reads_image, "read the image")
                .on_hover_text(super::simulate::READS_IMAGE_HINT);
            if preview_here.is_some() && ui.button("Hide preview").clicked() {
                clear_preview = true;
            }
            if let Some((_, report)) = preview_here {
                if let Some(rules) = crate::interp::rules_summary(&report.gap_rules) {
                    ui.label(format!("gaps: {rules}"))
                        .on_hover_text("blended in place; aligned: moved onto a common centre first; capped: ends inside the gap");
                }
                if !report.flags.is_empty() {
                    ui.colored_label(
                        egui::Color32::from_rgb(255, 140, 40),
                        format!("{} risky gap(s), tinted orange on the views", report.flags.len()),
                    );
                }
            }
        });
        let flags: Vec<(usize, usize, String)> = preview_here
            .map(|(_, r)| {
                r.flags
                    .iter()
                    .map(|f| {
                        (
                            f.from_slice,
                            f.to_slice,
                            format!("label {}: {}", f.label, f.detail),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let labels = match (preview_here, self.settings.show_labels, &case.labels) {
            (Some((interp, _)), _, _) => LabelLayer::Mask(&interp.labels),
            (None, true, Some(l)) => LabelLayer::Volume(l),
            _ => LabelLayer::None,
        };
        let overlay = CaseOverlay {
            labels,
            plan_axis,
            planned: &planned,
            flags: &flags,
            label_names: &self.dataset.label_names,
        };
        viewer_ui(
            ui,
            &mut self.viewer,
            &mut self.settings,
            case,
            self.load_generation,
            &overlay,
        );
        if start_preview {
            self.start_preview();
        }
        if clear_preview {
            self.preview = None;
        }
    }
}
