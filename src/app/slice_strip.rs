//! The slice strip: a thumbnail of each planned slice of the shown case, the current one
//! highlighted; click one to go there.

use egui::{Color32, Sense, Stroke, TextureOptions, Vec2};

use super::settings::Settings;
use super::textures::TextureSlot;
use super::viewer::{CaseOverlay, ViewerState};
use crate::dataset::LoadedCase;
use crate::view::{DisplayFrame, LabelLayer, PlanMarks, RenderOptions, render_slice};

/// Thumbnail height in points.
const THUMB_HEIGHT: f32 = 72.0;

impl ViewerState {
    /// The thumbnail texture of `slice` along the frame's axis (rendered once per load, axis,
    /// window and overlay, in the viewer's one texture cache).
    fn thumbnail(
        &mut self,
        ctx: &egui::Context,
        case: &LoadedCase,
        frame: &DisplayFrame,
        slice: usize,
        options: &RenderOptions,
        labels: LabelLayer,
    ) -> egui::TextureHandle {
        let key = super::viewer::hash_of((
            self.shown_generation(),
            options.window.center.to_bits(),
            options.window.width.to_bits(),
            options.label_opacity.to_bits(),
            options.outline,
            super::viewer::layer_key(&labels),
        ));
        let slot = TextureSlot::Thumb {
            axis: frame.slice_axis,
            slice,
        };
        self.textures
            .get_or_render(ctx, slot, key, TextureOptions::LINEAR, || {
                render_slice(
                    &case.image,
                    labels,
                    frame,
                    slice,
                    options,
                    &PlanMarks::default(),
                )
            })
    }
}

/// The strip of planned slices along `frame` (the plan's axis).
pub fn slice_strip_ui(
    ui: &mut egui::Ui,
    state: &mut ViewerState,
    settings: &Settings,
    case: &LoadedCase,
    frame: &DisplayFrame,
    overlay: &CaseOverlay,
) {
    if overlay.planned.is_empty() {
        return;
    }
    ui.label(format!(
        "{} planned {} slices of {}:",
        overlay.planned.len(),
        frame.plane.name(),
        case.id
    ));
    let options = state.render_options(settings);
    let (w_mm, h_mm) = frame.size_mm();
    let size = Vec2::new(THUMB_HEIGHT * (w_mm / h_mm.max(1e-6)) as f32, THUMB_HEIGHT);
    let ctx = ui.ctx().clone();
    state
        .textures
        .keep_thumbs(frame.slice_axis, overlay.planned);
    let mut go_to = None;
    egui::ScrollArea::horizontal()
        .id_salt("slice-strip")
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                for &s in overlay.planned {
                    let tex = state.thumbnail(&ctx, case, frame, s, &options, overlay.labels);
                    let current = state.cursor[frame.slice_axis] == s;
                    let response = ui
                        .add(
                            egui::Image::new(&tex)
                                .fit_to_exact_size(size)
                                .sense(Sense::click()),
                        )
                        .on_hover_text(format!("slice {} — click to show it", s + 1));
                    let stroke = if current {
                        Stroke::new(2.5, Color32::LIGHT_BLUE)
                    } else {
                        Stroke::new(1.0, Color32::from_rgb(255, 200, 0))
                    };
                    ui.painter()
                        .rect_stroke(response.rect, 0.0, stroke, egui::StrokeKind::Outside);
                    if response.clicked() {
                        go_to = Some(s);
                    }
                }
            });
        });
    if let Some(s) = go_to {
        state.go_to(frame.slice_axis, s);
    }
}
