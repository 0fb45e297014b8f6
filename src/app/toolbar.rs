//! The toolbar: the File and View menus, the typed path (where there is no file dialog) and
//! folders or files dropped on the window.

use super::{SliceplanApp, settings};
use crate::dataset::demo;

impl SliceplanApp {
    /// Asks for a folder with the platform's dialog; where there is none, says to type it.
    fn pick_and_open(&mut self, file: bool) {
        let picked = if file {
            rfd::FileDialog::new()
                .add_filter("NIfTI", &["nii", "gz", "hdr"])
                .pick_file()
        } else {
            rfd::FileDialog::new().pick_folder()
        };
        match picked {
            Some(p) => self.open_path(&p.display().to_string()),
            None => {
                self.status =
                    "nothing chosen (no file dialog here? type the path and press Open)".into()
            }
        }
    }

    /// Opens a folder or file dropped on the window.
    pub(super) fn open_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<String> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().display().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        });
        if let Some(path) = dropped.first() {
            self.open_path(path);
        }
    }

    pub(super) fn toolbar_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            let idle = self.jobs.open.is_none();
            ui.menu_button("File", |ui| {
                if ui
                    .add_enabled(idle, egui::Button::new("Open dataset folder…"))
                    .clicked()
                {
                    ui.close();
                    self.pick_and_open(false);
                }
                if ui
                    .add_enabled(idle, egui::Button::new("Open NIfTI file…"))
                    .clicked()
                {
                    ui.close();
                    self.pick_and_open(true);
                }
                ui.menu_button("Open recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.label("nothing opened yet");
                    }
                    for path in self.settings.recent.clone() {
                        if ui.add_enabled(idle, egui::Button::new(&path)).clicked() {
                            ui.close();
                            self.open_path(&path);
                        }
                    }
                });
                if ui.button("Demo cohort").clicked() {
                    ui.close();
                    self.switch_dataset(demo::dataset(), None);
                    self.status = format!("demo cohort: {} synthetic CT cases", self.dataset.len());
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("View", |ui| {
                ui.checkbox(&mut self.settings.show_labels, "Labels");
                ui.checkbox(&mut self.settings.label_outline, "Labels as outlines");
                ui.radio_value(
                    &mut self.settings.view_layout,
                    settings::ViewLayout::OneLarge,
                    "One large and two small views",
                );
                ui.radio_value(
                    &mut self.settings.view_layout,
                    settings::ViewLayout::Grid,
                    "Two by two",
                );
                ui.checkbox(&mut self.show_log, "Log panel");
            });
            ui.separator();
            ui.heading("sliceplan");
            ui.add(
                egui::TextEdit::singleline(&mut self.path_input)
                    .hint_text("dataset folder, NIfTI file or DICOM folder (or drop one here)")
                    .desired_width(340.0),
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
}
