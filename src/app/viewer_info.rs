//! What the viewer shows around its images: the planned slices under each slider, the values
//! under the pointer, and the case's grid.

use std::collections::BTreeMap;

use egui::{Color32, Pos2, Rect, Sense, Stroke, Vec2};

use super::viewer::ViewerState;
use crate::dataset::LoadedCase;

/// A strip under the slider: planned slices bright, the others dimmed, the current one marked;
/// click to jump (snapping to a planned slice within two).
pub(super) fn plan_ticks_ui(
    ui: &mut egui::Ui,
    state: &mut ViewerState,
    axis: usize,
    depth: usize,
    planned: &[usize],
) {
    let (rect, response) =
        ui.allocate_exact_size(Vec2::new(ui.available_width(), 6.0), Sense::click());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, Color32::from_gray(45));
    let x_of = |s: usize| rect.left() + s as f32 / depth.max(1) as f32 * rect.width();
    let cell = (rect.width() / depth.max(1) as f32).max(1.0);
    for &s in planned {
        painter.rect_filled(
            Rect::from_min_size(
                Pos2::new(x_of(s), rect.top()),
                Vec2::new(cell, rect.height()),
            ),
            0.0,
            Color32::from_rgb(255, 200, 0),
        );
    }
    let cur = state.cursor[axis];
    painter.vline(
        x_of(cur) + cell / 2.0,
        rect.y_range(),
        Stroke::new(2.0, Color32::LIGHT_BLUE),
    );
    if let Some(pos) = response.interact_pointer_pos() {
        let s = (((pos.x - rect.left()) / rect.width()) * depth as f32)
            .floor()
            .clamp(0.0, depth.saturating_sub(1) as f32) as usize;
        state.cursor[axis] = planned
            .iter()
            .copied()
            .min_by_key(|p| p.abs_diff(s))
            .filter(|p| p.abs_diff(s) <= 2)
            .unwrap_or(s);
    }
    response.on_hover_text("Planned slices in yellow; click to jump");
}

/// What is under the pointer: voxel, world position, intensity, label.
pub(super) fn readout_ui(ui: &mut egui::Ui, state: &ViewerState, names: &BTreeMap<i64, String>) {
    let text = match &state.hover {
        Some(p) => {
            let label = match p.label {
                Some(0) => " · background".to_string(),
                Some(l) => format!(
                    " · label {l}{}",
                    names.get(&l).map(|n| format!(" ({n})")).unwrap_or_default()
                ),
                None => String::new(),
            };
            format!(
                "voxel ({}, {}, {}) · world ({:.1}, {:.1}, {:.1}) mm · value {:.1}{label}",
                p.ijk[0],
                p.ijk[1],
                p.ijk[2],
                p.world_mm[0],
                p.world_mm[1],
                p.world_mm[2],
                p.intensity
            )
        }
        None => {
            let c = state.cursor;
            format!(
                "crosshair at voxel ({}, {}, {}) — hover a view for its values",
                c[0], c[1], c[2]
            )
        }
    };
    ui.label(egui::RichText::new(text).monospace());
}

/// The fourth cell of the 2 × 2 layout: the case's grid.
pub(super) fn case_facts_ui(ui: &mut egui::Ui, case: &LoadedCase, state: &ViewerState) {
    let v = &case.image;
    ui.strong(&case.id);
    ui.label(format!(
        "{} × {} × {} voxels, {}",
        v.shape[0],
        v.shape[1],
        v.shape[2],
        v.dtype_name()
    ));
    ui.label(format!(
        "spacing {:.2} × {:.2} × {:.2} mm, orientation {}",
        v.spacing_mm[0],
        v.spacing_mm[1],
        v.spacing_mm[2],
        v.orientation()
    ));
    let w = state.window();
    ui.label(format!("window W {:.0} L {:.0}", w.width, w.center));
    ui.label("wheel: slice · ctrl-wheel: zoom · middle-drag: pan · right-drag: window/level · double-click: reset");
}
