//! The slice viewer: the current slice with the target overlaid, and a side view of the whole
//! volume with the planned slices drawn as lines (click a line to jump to it).

use egui::{Color32, ColorImage, Pos2, Rect, Sense, Stroke, TextureHandle, TextureOptions, Vec2};

use crate::dataset::{LoadedCase, Modality, TargetLabels};
use crate::interp::slices::get_slice;
use crate::io::Volume;
use crate::plan::features::sampled_quantile;
use crate::train::data::CT_WINDOW;

/// Runtime state of the viewer.
#[derive(Default)]
pub struct ViewerState {
    pub slice: usize,
    texture: Option<(String, TextureHandle)>,
    side: Option<(String, TextureHandle)>,
    window: Option<(String, (f32, f32))>,
}

fn window_for(case: &LoadedCase) -> (f32, f32) {
    match case.modality {
        Modality::Ct => (CT_WINDOW.0 as f32, CT_WINDOW.1 as f32),
        _ => (
            sampled_quantile(&case.image, 0.01) as f32,
            sampled_quantile(&case.image, 0.995) as f32,
        ),
    }
}

fn gray(v: f32, (lo, hi): (f32, f32)) -> u8 {
    (((v - lo) / (hi - lo).max(1e-6)).clamp(0.0, 1.0) * 255.0) as u8
}

/// What is drawn over the slice.
#[derive(Clone, Copy)]
pub enum Overlay<'a> {
    None,
    /// The case's labels (target in red).
    Labels(&'a TargetLabels),
    /// An interpolated label volume on the case's grid (in green).
    Preview(&'a [u16]),
}

impl Overlay<'_> {
    fn key(&self) -> &'static str {
        match self {
            Overlay::None => "none",
            Overlay::Labels(_) => "labels",
            Overlay::Preview(_) => "preview",
        }
    }
}

/// RGB of slice `s` along `axis` with the overlay tinted.
fn slice_image(
    case: &LoadedCase,
    axis: usize,
    s: usize,
    window: (f32, f32),
    overlay: Overlay,
) -> ColorImage {
    let img = case.image.slice_f32(axis, s);
    let (mask, tint): (Vec<bool>, [u8; 3]) = match (overlay, &case.labels) {
        (Overlay::Labels(t), Some(l)) => (
            l.slice_f32(axis, s)
                .data
                .iter()
                .map(|&v| t.is_foreground(v.round() as i64))
                .collect(),
            [255, 0, 0],
        ),
        (Overlay::Preview(p), _) => (
            get_slice(p, case.image.shape, axis, s)
                .iter()
                .map(|&v| v > 0)
                .collect(),
            [0, 255, 0],
        ),
        _ => (vec![false; img.data.len()], [0, 0, 0]),
    };
    let mut rgb = Vec::with_capacity(img.data.len() * 3);
    for (&v, &fg) in img.data.iter().zip(&mask) {
        let g = gray(v, window);
        if fg {
            rgb.extend(tint.iter().map(|&t| ((g as u16 + t as u16) / 2) as u8));
        } else {
            rgb.extend_from_slice(&[g, g, g]);
        }
    }
    ColorImage::from_rgb([img.width, img.height], &rgb)
}

/// A reformat through the middle of the volume: first in-plane axis across, slice axis up.
fn side_image(volume: &Volume, axis: usize, window: (f32, f32)) -> ColorImage {
    let (a, b) = Volume::in_plane_axes(axis);
    let (w, d) = (volume.shape[a], volume.shape[axis]);
    let mid = volume.shape[b] / 2;
    let mut gray_px = vec![0u8; w * d];
    for s in 0..d {
        for u in 0..w {
            let mut ijk = [0usize; 3];
            ijk[a] = u;
            ijk[b] = mid;
            ijk[axis] = s;
            let v = volume.value(volume.index(ijk[0], ijk[1], ijk[2])) as f32;
            gray_px[(d - 1 - s) * w + u] = gray(v, window);
        }
    }
    ColorImage::from_gray([w, d], &gray_px)
}

/// Shows the viewer; `planned` are the slices the plan chose in this case.
pub fn viewer_ui(
    ui: &mut egui::Ui,
    state: &mut ViewerState,
    case: &LoadedCase,
    axis: usize,
    planned: &[usize],
    overlay: Overlay,
) {
    let depth = case.image.shape[axis];
    state.slice = state.slice.min(depth.saturating_sub(1));
    let win_key = case.id.clone();
    if state
        .window
        .as_ref()
        .map(|w| w.0 != win_key)
        .unwrap_or(true)
    {
        state.window = Some((win_key, window_for(case)));
    }
    let window = state.window.as_ref().map(|w| w.1).unwrap_or((0.0, 1.0));
    ui.horizontal(|ui| {
        ui.label(format!("{} — slice", case.id));
        ui.add(egui::Slider::new(
            &mut state.slice,
            0..=depth.saturating_sub(1),
        ));
        let mark = if planned.contains(&state.slice) {
            "(planned)"
        } else {
            ""
        };
        ui.label(format!("of {depth} {mark}"));
        if ui.button("< previous planned").clicked()
            && let Some(&p) = planned.iter().rev().find(|&&p| p < state.slice)
        {
            state.slice = p;
        }
        if ui.button("next planned >").clicked()
            && let Some(&p) = planned.iter().find(|&&p| p > state.slice)
        {
            state.slice = p;
        }
    });
    let key = format!("{}:{axis}:{}:{}", case.id, state.slice, overlay.key());
    if state.texture.as_ref().map(|t| t.0 != key).unwrap_or(true) {
        let image = slice_image(case, axis, state.slice, window, overlay);
        state.texture = Some((
            key,
            ui.ctx()
                .load_texture("slice", image, TextureOptions::LINEAR),
        ));
    }
    let side_key = format!("{}:{axis}", case.id);
    if state.side.as_ref().map(|t| t.0 != side_key).unwrap_or(true) {
        let image = side_image(&case.image, axis, window);
        state.side = Some((
            side_key,
            ui.ctx().load_texture("side", image, TextureOptions::LINEAR),
        ));
    }
    let (a, b) = Volume::in_plane_axes(axis);
    let sp = case.image.spacing_mm;
    ui.horizontal_top(|ui| {
        let avail = ui.available_size();
        // Slice, with physical aspect ratio.
        if let Some((_, tex)) = &state.texture {
            let phys = Vec2::new(
                (case.image.shape[a] as f64 * sp[a]) as f32,
                (case.image.shape[b] as f64 * sp[b]) as f32,
            );
            let scale = ((avail.x * 0.6) / phys.x).min((avail.y - 10.0).max(100.0) / phys.y);
            ui.add(egui::Image::new(tex).fit_to_exact_size(phys * scale));
        }
        // Side view with the plan drawn on it.
        if let Some((_, tex)) = &state.side {
            let phys = Vec2::new(
                (case.image.shape[a] as f64 * sp[a]) as f32,
                (depth as f64 * sp[axis]) as f32,
            );
            let scale = ((avail.x * 0.35) / phys.x).min((avail.y - 10.0).max(100.0) / phys.y);
            let size = phys * scale;
            let (rect, response) = ui.allocate_exact_size(size, Sense::click());
            let painter = ui.painter_at(rect);
            painter.image(
                tex.id(),
                rect,
                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                Color32::WHITE,
            );
            let y_of = |s: usize| rect.bottom() - (s as f32 + 0.5) / depth as f32 * rect.height();
            for &p in planned {
                painter.hline(
                    rect.x_range(),
                    y_of(p),
                    Stroke::new(1.5, Color32::from_rgb(255, 200, 0)),
                );
            }
            painter.hline(
                rect.x_range(),
                y_of(state.slice),
                Stroke::new(1.0, Color32::LIGHT_BLUE),
            );
            if let Some(pos) = response.interact_pointer_pos() {
                let s = ((rect.bottom() - pos.y) / rect.height() * depth as f32)
                    .floor()
                    .clamp(0.0, (depth - 1) as f32) as usize;
                // Snap to a planned slice within 2 slices, else go where clicked.
                state.slice = planned
                    .iter()
                    .copied()
                    .min_by_key(|p| p.abs_diff(s))
                    .filter(|p| p.abs_diff(s) <= 2)
                    .unwrap_or(s);
            }
            response.on_hover_text("Planned slices in yellow; click to jump");
        }
    });
}
