//! The log panel: the messages the library and the app logged through `tracing` (the same ones
//! the command line prints on stderr), newest last.

use std::time::UNIX_EPOCH;

use super::SliceplanApp;
use crate::log::{LogLine, recent};

/// Hours:minutes:seconds (UTC) of a log line.
fn clock(line: &LogLine) -> String {
    let secs = line
        .at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{:02}:{:02}:{:02}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

impl SliceplanApp {
    /// Logs the status line when it changed, so the panel keeps what the status line showed.
    pub(super) fn log_status_change(&mut self) {
        if self.status != self.logged_status {
            if self.status.starts_with("error") {
                tracing::warn!(target: "sliceplan", "{}", self.status);
            } else if !self.status.is_empty() {
                tracing::info!(target: "sliceplan", "{}", self.status);
            }
            self.logged_status = self.status.clone();
        }
    }

    /// The log panel's contents.
    pub(super) fn log_ui(&mut self, ui: &mut egui::Ui) {
        let lines = recent();
        ui.horizontal(|ui| {
            ui.strong("Log");
            ui.label(format!("{} messages (times UTC)", lines.len()));
        });
        egui::ScrollArea::vertical()
            .stick_to_bottom(true)
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for line in &lines {
                    let text = format!("{} {:<5} {}", clock(line), line.level, line.message);
                    let color = match line.level {
                        tracing::Level::ERROR => ui.visuals().error_fg_color,
                        tracing::Level::WARN => ui.visuals().warn_fg_color,
                        _ => ui.visuals().text_color(),
                    };
                    ui.label(egui::RichText::new(text).monospace().color(color));
                }
            });
    }
}
