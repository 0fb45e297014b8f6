//! The README's screenshots, taken from the running app (so they stay current): the planner on
//! the demo cohort with its frontier and budget curve estimated, the 2 × 2 views with an
//! interpolation preview, and a real CT from `../shared/data/real` when it is there. Each
//! whole-window shot is also cut into its panels.
//!
//! Needs a display; on a machine without one:
//! `xvfb-run -s "-screen 0 1600x1000x24" cargo run --release --example screenshots -- [--out assets/screenshots] [--preset tiny] [--points 5] [--seeds 2] [--store DIR]`

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use sliceplan::app::{Settings, SliceplanApp};
use sliceplan::dataset::demo;
use sliceplan::train::BackendChoice;

/// What the app does before each screenshot.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Step {
    Plan,
    EstimateFrontier,
    EstimateCurve,
    ShootPlanner,
    Preview,
    ShootPreview,
    OpenReal,
    ShootReal,
    Done,
}

struct Shots {
    app: SliceplanApp,
    step: Step,
    /// Idle frames seen in this step (shots wait for the textures to settle).
    idle_frames: usize,
    /// The name of the shot asked for, until it arrives.
    pending: Option<&'static str>,
    out: PathBuf,
    real: Option<PathBuf>,
    /// Screenshots arrive here from the renderer.
    shots: (
        Sender<Arc<egui::ColorImage>>,
        Receiver<Arc<egui::ColorImage>>,
    ),
}

fn save(out: &std::path::Path, name: &str, img: &egui::ColorImage) {
    let [w, h] = img.size;
    let bytes: Vec<u8> = img.pixels.iter().flat_map(|c| c.to_array()).collect();
    match image::RgbaImage::from_raw(w as u32, h as u32, bytes) {
        Some(png) => match png.save(out.join(format!("{name}.png"))) {
            Ok(()) => println!("wrote {}", out.join(format!("{name}.png")).display()),
            Err(e) => eprintln!("{name}: {e}"),
        },
        None => eprintln!("{name}: bad image size"),
    }
}

impl Shots {
    fn shoot(&mut self, ctx: &egui::Context, name: &'static str) {
        self.pending = Some(name);
        let tx = self.shots.0.clone();
        let repaint = ctx.clone();
        ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(
            egui::ScreenshotCallback::new(move |img| {
                let _ = tx.send(img);
                repaint.request_repaint();
            }),
        ));
    }

    /// The whole window and each panel cut out of it.
    fn received(&mut self, name: &str, img: &egui::ColorImage, ppp: f32) {
        save(&self.out, name, img);
        for (panel, rect) in &self.app.panel_rects {
            let part = img.region(rect, Some(ppp));
            save(&self.out, &format!("{name}-{panel}"), &part);
        }
    }
}

impl eframe::App for Shots {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.show_ui(ui);
        let ctx = ui.ctx().clone();
        ctx.request_repaint();
        let ppp = ctx.pixels_per_point();
        if let (Ok(img), Some(name)) = (self.shots.1.try_recv(), self.pending) {
            self.received(name, &img, ppp);
            self.pending = None;
            self.step = match self.step {
                Step::ShootPlanner => Step::Preview,
                Step::ShootPreview if self.real.is_some() => Step::OpenReal,
                _ => Step::Done,
            };
            self.idle_frames = 0;
        }
        if self.pending.is_some() {
            return;
        }
        if self.app.busy() {
            self.idle_frames = 0;
            return;
        }
        self.idle_frames += 1;
        if self.idle_frames < 5 {
            return;
        }
        self.idle_frames = 0;
        println!("step {:?}: {}", self.step, self.app.status);
        match self.step {
            Step::Plan => {
                self.app.start_plan();
                self.step = Step::EstimateFrontier;
            }
            Step::EstimateFrontier => {
                self.app.start_estimate();
                self.step = Step::EstimateCurve;
            }
            Step::EstimateCurve => {
                self.app.start_curve_estimate();
                self.step = Step::ShootPlanner;
            }
            Step::ShootPlanner => {
                // Show a planned slice of the first planned case.
                if let Some(v) = self.app.plan.as_ref().and_then(|p| p.volume("demo_000")) {
                    let (axis, s) = (v.axis, v.slices[v.slices.len() / 2]);
                    self.app.viewer_mut().go_to(axis, s);
                }
                self.shoot(&ctx, "planner");
            }
            Step::Preview => {
                self.app.settings.view_layout = sliceplan::app::settings::ViewLayout::Grid;
                self.app.settings.label_outline = true;
                self.app.start_preview();
                self.step = Step::ShootPreview;
            }
            Step::ShootPreview => self.shoot(&ctx, "views-2x2-preview"),
            Step::OpenReal => {
                self.app.settings.view_layout = sliceplan::app::settings::ViewLayout::OneLarge;
                self.app.settings.label_outline = false;
                if let Some(p) = &self.real {
                    self.app.open_path(&p.display().to_string());
                }
                self.step = Step::ShootReal;
            }
            Step::ShootReal => self.shoot(&ctx, "real-ct"),
            Step::Done => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
        }
    }
}

fn main() -> eframe::Result {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let out = PathBuf::from(value("--out").unwrap_or_else(|| "assets/screenshots".into()));
    let _ = std::fs::create_dir_all(&out);
    let settings = Settings {
        budget_slices: 60,
        holdout: 6,
        estimate_preset: match value("--preset") {
            Some(p) => match sliceplan::study::Preset::parse(&p) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("screenshots: {e}");
                    std::process::exit(2);
                }
            },
            None => sliceplan::study::Preset::Tiny,
        },
        estimate_points: value("--points").and_then(|v| v.parse().ok()).unwrap_or(5),
        estimate_seeds: value("--seeds").and_then(|v| v.parse().ok()).unwrap_or(2),
        backend: BackendChoice::Cpu,
        ..Settings::default()
    };
    let mut app = SliceplanApp::new(demo::dataset(), settings);
    // `--store DIR` reuses the estimates of an earlier run (one folder per dataset inside).
    let store = value("--store").map(PathBuf::from).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("sliceplan-screenshots-{}", std::process::id()))
    });
    app.store_dir = Some(store);
    let real =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real/totalseg-ct-abdomen");
    let shots = Shots {
        app,
        step: Step::Plan,
        idle_frames: 0,
        pending: None,
        out,
        real: real.is_dir().then_some(real),
        shots: channel(),
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1500.0, 940.0])
            .with_title("sliceplan"),
        ..Default::default()
    };
    eframe::run_native(
        "sliceplan-screenshots",
        options,
        Box::new(|_cc| Ok(Box::new(shots))),
    )
}
