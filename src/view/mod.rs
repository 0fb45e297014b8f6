//! What a slice viewer needs, apart from any UI: how a volume is laid out on screen for each
//! anatomical plane (radiological convention, whatever the file's voxel order), window/level
//! with the usual presets, the RGBA image of one slice with its label and plan overlays, and
//! the hover readout. The GUI draws these; the benchmark (`examples/bench_slice_image.rs`)
//! times them.

mod frame;
mod probe;
mod render;
mod window;

pub use frame::{DisplayFrame, ViewAxis};
pub use probe::{Probe, probe};
pub use render::{LabelLayer, PlanMarks, RenderOptions, SliceImage, label_color, render_slice};
pub use window::{Window, WindowPreset};
