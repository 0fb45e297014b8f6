//! `sliceplan gui`: the desktop app.

use anyhow::Result;

use super::super::args::GuiArgs;
use sliceplan::app::{Settings, SliceplanApp};
use sliceplan::dataset::{demo, open_spec};

/// The window icon (assets/icon.png: a body outline crossed by three planned slices).
fn with_icon(builder: egui::ViewportBuilder) -> egui::ViewportBuilder {
    match image::load_from_memory(include_bytes!("../../../assets/icon.png")) {
        Ok(img) => {
            let rgba = img.to_rgba8();
            let (width, height) = rgba.dimensions();
            builder.with_icon(std::sync::Arc::new(egui::IconData {
                rgba: rgba.into_raw(),
                width,
                height,
            }))
        }
        Err(_) => builder,
    }
}

pub fn gui(args: GuiArgs) -> Result<()> {
    let data = args.data;
    let (mut settings, notice) = Settings::load();
    if let Some(n) = &notice {
        tracing::warn!(target: "sliceplan", "{n}");
    }
    let dataset = match data.or_else(|| settings.data_path.clone()) {
        Some(d) if d != "demo" => match open_spec(&d) {
            Ok(ds) => ds,
            Err(e) => {
                tracing::warn!(target: "sliceplan", "{e}; opening the demo cohort instead");
                settings.data_path = None;
                demo::dataset()
            }
        },
        _ => demo::dataset(),
    };
    let mut app = SliceplanApp::new(dataset, settings).persisting_settings();
    if let Some(n) = notice {
        app.status = n;
    }
    let options = eframe::NativeOptions {
        viewport: with_icon(
            egui::ViewportBuilder::default()
                .with_inner_size([1400.0, 900.0])
                .with_min_inner_size([900.0, 600.0])
                // Sized to the screen: the three views want all the room there is.
                .with_maximized(true)
                .with_title("sliceplan"),
        ),
        ..Default::default()
    };
    eframe::run_native("sliceplan", options, Box::new(|_cc| Ok(Box::new(app))))
        .map_err(|e| anyhow::anyhow!("cannot start the GUI ({e}); the command-line subcommands work without a display (see `sliceplan help`)"))
}
