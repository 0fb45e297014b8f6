//! The training engine: 2D and 3D U-Nets (burn) trained on sparsely annotated volumes, evaluated
//! by Dice on held-out, densely labelled volumes.

pub mod backend;
pub mod data;
pub mod eval;
pub mod evaluate;
pub mod loss;
pub mod trainer;
pub mod unet;

use serde::{Deserialize, Serialize};

pub use backend::{BackendChoice, OpenedDevice, open_device};
pub use evaluate::CaseDice;
pub use trainer::{TrainReport, train_and_evaluate};
pub use unet::{UNet2d, UNet3d, UNetSpec};

use crate::interp::Method;

/// 2D or 3D model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    #[serde(rename = "2d")]
    TwoD,
    #[serde(rename = "3d")]
    ThreeD,
}

impl ModelKind {
    /// Parses `2d` or `3d`.
    pub fn parse(s: &str) -> crate::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "2d" => Ok(ModelKind::TwoD),
            "3d" => Ok(ModelKind::ThreeD),
            _ => Err(crate::Error::invalid(format!(
                "unknown model '{s}' (choose 2d or 3d)"
            ))),
        }
    }

    /// "2d" or "3d".
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::TwoD => "2d",
            ModelKind::ThreeD => "3d",
        }
    }
}

/// Everything that decides a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: ModelKind,
    pub backend: BackendChoice,
    pub steps: usize,
    /// Samples per step (None: 8 for 2D, 2 for 3D).
    pub batch_size: Option<usize>,
    pub learning_rate: f64,
    /// Features per level (None: 2D 16-32-64-128-256, 3D 8-16-32-64-128 as nnU-Net scaled down).
    pub features: Option<Vec<usize>>,
    /// Patch: `[h, w]` (2D) or `[d, h, w]` (3D); None: chosen from the data.
    pub patch: Option<Vec<usize>>,
    /// In-plane sides above this are downsampled by an integer factor.
    pub max_in_plane: usize,
    pub seed: u64,
    /// Fraction of samples centred on annotated foreground.
    pub fg_fraction: f64,
    pub augment: bool,
    /// Train on masks interpolated between the annotated slices (3D "with interpolation").
    pub interpolation: Option<Method>,
    /// Save a checkpoint every this many steps (0: only at the end or on cancel).
    pub checkpoint_every: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: ModelKind::TwoD,
            backend: BackendChoice::Auto,
            steps: 300,
            batch_size: None,
            learning_rate: 1e-3,
            features: None,
            patch: None,
            max_in_plane: 128,
            seed: 0,
            fg_fraction: 0.33,
            augment: true,
            interpolation: None,
            checkpoint_every: 100,
        }
    }
}
