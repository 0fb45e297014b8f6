//! Window/level: the intensity range mapped to grey, with the presets radiologists expect and
//! the right-drag adjustment of Slicer and ITK-SNAP.

use serde::{Deserialize, Serialize};

use crate::dataset::slice_features::sampled_quantile;
use crate::io::Volume;

/// Intensities `center ± width/2` map to black…white.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub center: f32,
    pub width: f32,
}

/// The usual window presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WindowPreset {
    /// CT soft tissue: W 400, L 40.
    SoftTissue,
    /// CT lung: W 1500, L −600.
    Lung,
    /// CT bone: W 1800, L 400.
    Bone,
    /// CT brain: W 80, L 40.
    Brain,
    /// From the volume's 1st and 99.5th percentiles (MR, or any image without units).
    Percentiles,
}

impl WindowPreset {
    /// Every preset, in the viewer's order.
    pub const ALL: [WindowPreset; 5] = [
        WindowPreset::SoftTissue,
        WindowPreset::Lung,
        WindowPreset::Bone,
        WindowPreset::Brain,
        WindowPreset::Percentiles,
    ];

    /// The name the viewer shows.
    pub fn name(self) -> &'static str {
        match self {
            WindowPreset::SoftTissue => "CT soft tissue",
            WindowPreset::Lung => "CT lung",
            WindowPreset::Bone => "CT bone",
            WindowPreset::Brain => "CT brain",
            WindowPreset::Percentiles => "percentiles (MR)",
        }
    }

    /// The preset's window on `volume`.
    pub fn window(self, volume: &Volume) -> Window {
        let w = |center: f32, width: f32| Window { center, width };
        match self {
            WindowPreset::SoftTissue => w(40.0, 400.0),
            WindowPreset::Lung => w(-600.0, 1500.0),
            WindowPreset::Bone => w(400.0, 1800.0),
            WindowPreset::Brain => w(40.0, 80.0),
            WindowPreset::Percentiles => {
                let lo = sampled_quantile(volume, 0.01) as f32;
                let hi = sampled_quantile(volume, 0.995) as f32;
                Window::from_range(lo, hi)
            }
        }
    }
}

impl Window {
    /// The window mapping `lo`…`hi` to black…white.
    pub fn from_range(lo: f32, hi: f32) -> Window {
        Window {
            center: (lo + hi) / 2.0,
            width: (hi - lo).max(1e-3),
        }
    }

    /// The lowest intensity shown above black.
    pub fn lo(&self) -> f32 {
        self.center - self.width / 2.0
    }

    /// The highest intensity shown below white.
    pub fn hi(&self) -> f32 {
        self.center + self.width / 2.0
    }

    /// Right-drag by (`dx`, `dy`) screen points: right widens the window, down raises the
    /// level (as in Slicer); the step scales with the width, so fine and coarse windows both
    /// respond.
    pub fn dragged(&self, dx: f32, dy: f32) -> Window {
        let width = (self.width * (dx * 0.005).exp()).clamp(1e-3, 1e7);
        Window {
            center: self.center + dy * self.width * 0.002,
            width,
        }
    }

    /// Grey level of intensity `v`.
    #[inline]
    pub fn grey(&self, v: f32) -> u8 {
        (((v - self.lo()) / self.width).clamp(0.0, 1.0) * 255.0 + 0.5) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_levels_and_dragging() {
        let w = Window {
            center: 40.0,
            width: 400.0,
        };
        assert_eq!((w.lo(), w.hi()), (-160.0, 240.0));
        assert_eq!(w.grey(-1000.0), 0);
        assert_eq!(w.grey(40.0), 128);
        assert_eq!(w.grey(3000.0), 255);
        let wider = w.dragged(100.0, 0.0);
        assert!(wider.width > w.width && wider.center == w.center);
        let brighter = w.dragged(0.0, 50.0);
        assert!(brighter.center > w.center && brighter.width == w.width);
        assert_eq!(Window::from_range(0.0, 100.0).center, 50.0);
    }
}
