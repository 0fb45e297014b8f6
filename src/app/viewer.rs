//! The viewer: axial, coronal and sagittal views of the selected case in the radiological
//! convention (`view::DisplayFrame`), linked by a crosshair, with the labels, the planned slices
//! and risky interpolation gaps drawn on every view. Slicer/ITK-SNAP habits: wheel = slice,
//! right-drag = window/level, ctrl-wheel = zoom, middle-drag = pan, double-click = reset.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use egui::{
    Align2, Color32, ColorImage, FontId, PointerButton, Pos2, Rect, Sense, Stroke, TextureOptions,
    UiBuilder, Vec2,
};

use super::settings::{Settings, ViewLayout};
use super::textures::{TextureCache, TextureSlot};
use super::viewer_info::{case_facts_ui, plan_ticks_ui, readout_ui};
use crate::dataset::{LoadedCase, Modality};
use crate::io::Plane;
use crate::view::{
    DisplayFrame, LabelLayer, PlanMarks, Probe, RenderOptions, SliceImage, Window, WindowPreset,
    probe, render_slice,
};

/// What the viewer draws over one case besides its grey levels.
pub struct CaseOverlay<'a> {
    pub labels: LabelLayer<'a>,
    /// The voxel axis of the plan's slices (the settings' plane when the case is not planned).
    pub plan_axis: usize,
    pub planned: &'a [usize],
    /// (first, last, what) of each interpolation risk flag, along `plan_axis`.
    pub flags: &'a [(usize, usize, String)],
    pub label_names: &'a BTreeMap<i64, String>,
}

/// The viewer's state across frames.
#[derive(Default)]
pub struct ViewerState {
    /// The load generation of the case the state was set up for (None: none yet). A case loaded
    /// again, or another dataset's case of the same name, has a new generation.
    shown: Option<u64>,
    /// The crosshair: the voxel all three views pass through.
    pub cursor: [usize; 3],
    pub window: Option<Window>,
    /// The preset the window came from (None once dragged).
    pub preset: Option<WindowPreset>,
    zoom: [f32; 3],
    pan: [Vec2; 3],
    scroll: [f32; 3],
    /// The views' and the slice strip's textures.
    pub(super) textures: TextureCache,
    /// What is under the pointer.
    pub hover: Option<Probe>,
    /// Where each plane's view was drawn in the last frame.
    pub view_rects: Vec<(Plane, Rect)>,
}

/// Points of wheel scrolling per slice (one notch of a mouse wheel).
const POINTS_PER_SLICE: f32 = 40.0;
const CROSSHAIR: Color32 = Color32::from_rgba_premultiplied(70, 130, 190, 170);

fn plane_index(plane: Plane) -> usize {
    Plane::ALL.iter().position(|&p| p == plane).unwrap_or(0)
}

/// Screen-edge letters (left, right, top, bottom) of a plane's view.
fn edge_letters(plane: Plane) -> [&'static str; 4] {
    match plane {
        Plane::Axial => ["R", "L", "A", "P"],
        Plane::Coronal => ["R", "L", "S", "I"],
        Plane::Sagittal => ["A", "P", "S", "I"],
    }
}

pub(super) fn hash_of(parts: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

pub(super) fn to_color_image(img: &SliceImage) -> ColorImage {
    ColorImage::from_rgba_unmultiplied([img.width, img.height], img.rgba())
}

impl ViewerState {
    /// Resets the views for a newly shown case: crosshair at its centre, the modality's window,
    /// no zoom or pan, no texture kept.
    fn reset_for(&mut self, case: &LoadedCase, generation: u64) {
        self.shown = Some(generation);
        self.cursor = case.image.shape.map(|n| n / 2);
        let preset = match case.modality {
            Modality::Ct => WindowPreset::SoftTissue,
            _ => WindowPreset::Percentiles,
        };
        self.preset = Some(preset);
        self.window = Some(preset.window(&case.image));
        self.zoom = [1.0; 3];
        self.pan = [Vec2::ZERO; 3];
        self.textures.clear();
    }

    /// (voxel axis, slice) of each slice-strip thumbnail held.
    pub fn thumbnails(&self) -> Vec<(usize, usize)> {
        self.textures.thumbs()
    }

    /// The load generation the views show (None before the first case).
    pub fn shown_generation(&self) -> Option<u64> {
        self.shown
    }

    /// The window in use (soft tissue until a case is shown).
    pub fn window(&self) -> Window {
        self.window.unwrap_or(Window {
            center: 40.0,
            width: 400.0,
        })
    }

    /// Moves the crosshair to slice `slice` along voxel `axis`.
    pub fn go_to(&mut self, axis: usize, slice: usize) {
        self.cursor[axis] = slice;
    }

    /// Steps the view of `plane` by `slices` (wheel), within the volume.
    pub fn step(&mut self, frame: &DisplayFrame, depth: usize, slices: i64) {
        let s = &mut self.cursor[frame.slice_axis];
        *s = (*s as i64 + slices).clamp(0, depth as i64 - 1) as usize;
    }

    /// How slices are drawn: this window and the settings' label opacity and outline.
    pub(super) fn render_options(&self, settings: &Settings) -> RenderOptions {
        RenderOptions {
            window: self.window(),
            label_opacity: if settings.show_labels {
                settings.label_opacity
            } else {
                0.0
            },
            outline: settings.label_outline,
        }
    }

    /// The zoom of `plane`'s view (1 = fit).
    pub fn zoom(&self, plane: Plane) -> f32 {
        self.zoom[plane_index(plane)]
    }
}

/// Shows the viewer for `case`, loaded as load `generation` (each load, of any case, has its own:
/// a new one resets the views).
pub fn viewer_ui(
    ui: &mut egui::Ui,
    state: &mut ViewerState,
    settings: &mut Settings,
    case: &LoadedCase,
    generation: u64,
    overlay: &CaseOverlay,
) {
    if state.shown != Some(generation) || state.window.is_none() {
        state.reset_for(case, generation);
    }
    for a in 0..3 {
        state.cursor[a] = state.cursor[a].min(case.image.shape[a].saturating_sub(1));
    }
    state.hover = None;
    controls_ui(ui, state, settings, case, generation);
    let frames = Plane::ALL.map(|p| {
        DisplayFrame::new(
            &case.image.world_from_voxel,
            case.image.shape,
            case.image.spacing_mm,
            p,
        )
    });
    let strip_height = if overlay.planned.is_empty() {
        0.0
    } else {
        96.0
    };
    let area = ui.available_rect_before_wrap();
    let views_area = Rect::from_min_max(
        area.min,
        Pos2::new(
            area.max.x,
            (area.max.y - strip_height - 24.0).max(area.min.y + 120.0),
        ),
    );
    let gap = 6.0;
    let rects: Vec<(Plane, Rect)> = match settings.view_layout {
        ViewLayout::OneLarge => {
            let split = views_area.min.x + views_area.width() * 0.62;
            let big = Rect::from_min_max(views_area.min, Pos2::new(split - gap, views_area.max.y));
            let mid_y = views_area.center().y;
            let small = [
                Rect::from_min_max(
                    Pos2::new(split, views_area.min.y),
                    Pos2::new(views_area.max.x, mid_y - gap / 2.0),
                ),
                Rect::from_min_max(Pos2::new(split, mid_y + gap / 2.0), views_area.max),
            ];
            let others: Vec<Plane> = Plane::ALL
                .into_iter()
                .filter(|&p| p != settings.main_plane)
                .collect();
            vec![
                (settings.main_plane, big),
                (others[0], small[0]),
                (others[1], small[1]),
            ]
        }
        ViewLayout::Grid => {
            let c = views_area.center();
            let cell = |x0: f32, y0: f32, x1: f32, y1: f32| {
                Rect::from_min_max(Pos2::new(x0, y0), Pos2::new(x1, y1))
            };
            let (l, t, r, b) = (
                views_area.min.x,
                views_area.min.y,
                views_area.max.x,
                views_area.max.y,
            );
            vec![
                (Plane::Axial, cell(l, t, c.x - gap / 2.0, c.y - gap / 2.0)),
                (Plane::Coronal, cell(c.x + gap / 2.0, t, r, c.y - gap / 2.0)),
                (
                    Plane::Sagittal,
                    cell(l, c.y + gap / 2.0, c.x - gap / 2.0, b),
                ),
            ]
        }
    };
    state.view_rects = rects.clone();
    for (plane, rect) in &rects {
        let frame = &frames[plane_index(*plane)];
        ui.scope_builder(UiBuilder::new().max_rect(*rect), |ui| {
            view_ui(ui, state, settings, case, frame, overlay);
        });
    }
    if settings.view_layout == ViewLayout::Grid {
        let c = views_area.center();
        let cell = Rect::from_min_max(Pos2::new(c.x + gap, c.y + gap), views_area.max);
        ui.scope_builder(UiBuilder::new().max_rect(cell), |ui| {
            case_facts_ui(ui, case, state);
        });
    }
    ui.advance_cursor_after_rect(views_area);
    readout_ui(ui, state, overlay.label_names);
    if let Some(frame) = frames.iter().find(|f| f.slice_axis == overlay.plan_axis) {
        super::slice_strip::slice_strip_ui(ui, state, settings, case, frame, overlay);
    }
}

fn controls_ui(
    ui: &mut egui::Ui,
    state: &mut ViewerState,
    settings: &mut Settings,
    case: &LoadedCase,
    generation: u64,
) {
    ui.horizontal_wrapped(|ui| {
        let w = state.window();
        let label = ui.label("W/L");
        let current = match state.preset {
            Some(p) => p.name().to_string(),
            None => format!("W {:.0} L {:.0}", w.width, w.center),
        };
        egui::ComboBox::from_id_salt("wl-preset")
            .selected_text(current)
            .show_ui(ui, |ui| {
                for p in WindowPreset::ALL {
                    if ui
                        .selectable_label(state.preset == Some(p), p.name())
                        .clicked()
                    {
                        state.preset = Some(p);
                        state.window = Some(p.window(&case.image));
                    }
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text("Right-drag on a view: left/right = width, up/down = level");
        let label = ui.label("Label opacity");
        ui.add(egui::Slider::new(&mut settings.label_opacity, 0.0..=1.0).fixed_decimals(2))
            .labelled_by(label.id);
        ui.checkbox(&mut settings.label_outline, "Outline");
        ui.separator();
        ui.radio_value(&mut settings.view_layout, ViewLayout::OneLarge, "1 + 2");
        ui.radio_value(&mut settings.view_layout, ViewLayout::Grid, "2 × 2");
        if settings.view_layout == ViewLayout::OneLarge {
            let label = ui.label("Large view");
            egui::ComboBox::from_id_salt("main-plane")
                .selected_text(settings.main_plane.name())
                .show_ui(ui, |ui| {
                    for p in Plane::ALL {
                        ui.selectable_value(&mut settings.main_plane, p, p.name());
                    }
                })
                .response
                .labelled_by(label.id);
        }
        if ui.button("Reset views").clicked() {
            state.reset_for(case, generation);
        }
    });
}

/// One plane's view: its slice slider (planned slices marked, the others dimmed) and the image.
fn view_ui(
    ui: &mut egui::Ui,
    state: &mut ViewerState,
    settings: &Settings,
    case: &LoadedCase,
    frame: &DisplayFrame,
    overlay: &CaseOverlay,
) {
    let p = plane_index(frame.plane);
    let depth = case.image.shape[frame.slice_axis];
    let along_plan = frame.slice_axis == overlay.plan_axis && !overlay.planned.is_empty();
    ui.horizontal(|ui| {
        let slice = state.cursor[frame.slice_axis];
        let mark = if along_plan && overlay.planned.contains(&slice) {
            " planned"
        } else {
            ""
        };
        ui.label(format!(
            "{} {}/{depth}{mark}",
            frame.plane.name(),
            slice + 1
        ));
        let mut s = slice;
        ui.spacing_mut().slider_width = (ui.available_width() - 12.0).max(40.0);
        ui.add(egui::Slider::new(&mut s, 0..=depth.saturating_sub(1)).show_value(false))
            .on_hover_text(format!("{} slice", frame.plane.name()));
        state.cursor[frame.slice_axis] = s;
    });
    if along_plan {
        plan_ticks_ui(ui, state, frame.slice_axis, depth, overlay.planned);
    }
    let rect = ui.available_rect_before_wrap();
    let response = ui.allocate_rect(rect, Sense::click_and_drag());
    let options = state.render_options(settings);
    let risky: Vec<(usize, usize)> = overlay.flags.iter().map(|f| (f.0, f.1)).collect();
    let marks = PlanMarks {
        axis: overlay.plan_axis,
        slices: overlay.planned,
        risky: &risky,
    };
    let slice = state.cursor[frame.slice_axis];
    let (w_mm, h_mm) = frame.size_mm();
    let fit = (rect.width() / w_mm as f32)
        .min(rect.height() / h_mm as f32)
        .max(1e-3);
    let scale = fit * state.zoom[p].max(0.1);
    let size = Vec2::new(w_mm as f32, h_mm as f32) * scale;
    let img_rect = Rect::from_center_size(rect.center() + state.pan[p], size);
    let magnified = size.x / frame.width() as f32 > 2.0;
    let key = hash_of((
        state.shown,
        slice,
        options.window.center.to_bits(),
        options.window.width.to_bits(),
        options.label_opacity.to_bits(),
        options.outline,
        layer_key(&overlay.labels),
        overlay.plan_axis,
        overlay.planned,
        &risky,
        magnified,
    ));
    let filter = if magnified {
        TextureOptions::NEAREST
    } else {
        TextureOptions::LINEAR
    };
    let texture = state
        .textures
        .get_or_render(ui.ctx(), TextureSlot::View(p), key, filter, || {
            render_slice(&case.image, overlay.labels, frame, slice, &options, &marks)
        });
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, Color32::BLACK);
    painter.image(
        texture.id(),
        img_rect,
        Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
        Color32::WHITE,
    );
    // Crosshair through the cursor.
    let (_, cx, cy) = frame.pixel(state.cursor);
    let x = img_rect.left() + (cx as f32 + 0.5) / frame.width() as f32 * img_rect.width();
    let y = img_rect.top() + (cy as f32 + 0.5) / frame.height() as f32 * img_rect.height();
    painter.vline(x, rect.y_range(), Stroke::new(1.0, CROSSHAIR));
    painter.hline(rect.x_range(), y, Stroke::new(1.0, CROSSHAIR));
    let letters = edge_letters(frame.plane);
    let font = FontId::proportional(13.0);
    let c = Color32::from_rgb(230, 200, 90);
    painter.text(
        Pos2::new(rect.left() + 4.0, rect.center().y),
        Align2::LEFT_CENTER,
        letters[0],
        font.clone(),
        c,
    );
    painter.text(
        Pos2::new(rect.right() - 4.0, rect.center().y),
        Align2::RIGHT_CENTER,
        letters[1],
        font.clone(),
        c,
    );
    painter.text(
        Pos2::new(rect.center().x, rect.top() + 2.0),
        Align2::CENTER_TOP,
        letters[2],
        font.clone(),
        c,
    );
    painter.text(
        Pos2::new(rect.center().x, rect.bottom() - 2.0),
        Align2::CENTER_BOTTOM,
        letters[3],
        font.clone(),
        c,
    );
    if along_plan && let Some(f) = overlay.flags.iter().find(|f| f.0 <= slice && slice <= f.1) {
        painter.text(
            rect.left_bottom() + Vec2::new(4.0, -18.0),
            Align2::LEFT_BOTTOM,
            format!("risk: {}", f.2),
            font.clone(),
            Color32::from_rgb(255, 140, 40),
        );
    }
    // Pointer: hover readout, click/drag moves the crosshair, wheel steps, ctrl-wheel zooms,
    // middle-drag pans, right-drag sets window/level, double-click resets zoom and pan.
    let pixel_at = |pos: Pos2| -> Option<(usize, usize)> {
        let u = (pos - img_rect.min) / img_rect.size();
        let (x, y) = (u.x * frame.width() as f32, u.y * frame.height() as f32);
        (x >= 0.0 && y >= 0.0 && (x as usize) < frame.width() && (y as usize) < frame.height())
            .then_some((x as usize, y as usize))
    };
    if let Some(pos) = response.hover_pos()
        && let Some((px, py)) = pixel_at(pos)
    {
        let ijk = frame.voxel(slice, px, py);
        state.hover = probe(&case.image, case.labels.as_ref(), ijk);
    }
    if response.is_pointer_button_down_on()
        && ui.input(|i| i.pointer.primary_down())
        && let Some(pos) = response.interact_pointer_pos()
        && let Some((px, py)) = pixel_at(pos)
    {
        state.cursor = frame.voxel(slice, px, py);
    }
    if response.hovered() {
        // Wheel notches from the raw events: one notch, one slice; with ctrl (or cmd), zoom.
        let (notches, zoom) = ui.input(|i| {
            let mut notches = 0.0f32;
            let mut zoom = 1.0f32;
            for e in &i.raw.events {
                if let egui::Event::MouseWheel {
                    unit,
                    delta,
                    modifiers,
                    ..
                } = e
                {
                    let lines = match unit {
                        egui::MouseWheelUnit::Line => delta.y,
                        egui::MouseWheelUnit::Page => delta.y * 10.0,
                        egui::MouseWheelUnit::Point => delta.y / POINTS_PER_SLICE,
                    };
                    if modifiers.command || modifiers.ctrl {
                        zoom *= 1.1f32.powf(lines);
                    } else {
                        notches += lines;
                    }
                }
            }
            (notches, zoom)
        });
        if zoom != 1.0 {
            state.zoom[p] = (state.zoom[p] * zoom).clamp(0.25, 40.0);
        }
        state.scroll[p] += notches;
        let steps = state.scroll[p].trunc();
        if steps != 0.0 {
            state.scroll[p] -= steps;
            state.step(frame, depth, steps as i64);
        }
    }
    if response.dragged_by(PointerButton::Middle) {
        state.pan[p] += response.drag_delta();
    }
    if response.dragged_by(PointerButton::Secondary) {
        let d = response.drag_delta();
        state.window = Some(state.window().dragged(d.x, d.y));
        state.preset = None;
    }
    if response.double_clicked() {
        state.zoom[p] = 1.0;
        state.pan[p] = Vec2::ZERO;
    }
}

pub(super) fn layer_key(layer: &LabelLayer) -> String {
    match layer {
        LabelLayer::None => "none".into(),
        LabelLayer::Volume(_) => "labels".into(),
        LabelLayer::Mask(m) => format!("mask{:p}", m.as_ptr()),
    }
}
