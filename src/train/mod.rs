//! The training engine: 2D and 3D U-Nets (burn) trained on sparsely annotated volumes, evaluated
//! by Dice on held-out, densely labelled volumes.

pub mod backend;
pub mod data;
pub mod eval;
pub mod evaluate;
pub mod extend;
mod fit;
pub mod kernel_cache;
pub mod loss;
pub mod prepare;
pub mod quality;
pub mod torch;
pub mod trainer;
pub mod unet;
pub mod validate;

use serde::{Deserialize, Serialize};

pub use backend::{BackendChoice, OpenedDevice, open_device};
pub use evaluate::CaseDice;
pub use extend::UntilFitted;
pub use trainer::{TrainJob, TrainReport, TrainedNet, seeded_init, train_and_evaluate};
pub use unet::{UNet2d, UNet3d, UNetSpec};

use crate::interp::Method;

/// The training revision: what a run's result depends on in the code (the nets, data sampling,
/// loss, optimiser, evaluation). Stored runs are keyed by it, not by sliceplan's version, so an
/// upgrade reuses them; bump it when a change makes the same run compute another result
/// (`tests/train.rs` pins a tiny run's loss and Dice per revision and fails when they move
/// without a bump). "0.5.0" was the package version when runs were keyed by it.
pub const TRAINING_REVISION: &str = "0.5.0";

/// 2D or 3D model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// A 2D U-Net on slices.
    #[serde(rename = "2d")]
    #[value(name = "2d")]
    TwoD,
    /// A 3D U-Net on blocks.
    #[serde(rename = "3d")]
    #[value(name = "3d")]
    ThreeD,
}

impl ModelKind {
    /// Parses `2d` or `3d`.
    pub fn parse(s: &str) -> crate::Result<Self> {
        <Self as clap::ValueEnum>::from_str(s, true)
            .map_err(|_| crate::Error::invalid(format!("unknown model '{s}' (choose 2d or 3d)")))
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
    /// In-plane sides above this are downsampled by an integer factor (None: chosen from the
    /// image and the target's size, see `data::auto_in_plane_factor`).
    pub max_in_plane: Option<usize>,
    pub seed: u64,
    /// Fraction of samples centred on annotated foreground.
    pub fg_fraction: f64,
    pub augment: bool,
    /// Train on masks interpolated between the annotated slices (3D "with interpolation").
    pub interpolation: Option<Method>,
    /// Save a checkpoint every this many steps (0: only at the end or on cancel).
    pub checkpoint_every: usize,
    /// Stop when the Dice on a validation split of the plan's own annotated slices stops
    /// improving (`steps` is then the most it trains); None: train every step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<validate::EarlyStopping>,
    /// Train on past `steps` (doubling, up to its `max_steps`) while the loss shows the net has
    /// not fitted its own annotated slices (see `extend`); None: exactly `steps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_fitted: Option<UntilFitted>,
}

impl TrainConfig {
    /// The most steps a run of this configuration can train.
    pub fn most_steps(&self) -> usize {
        self.until_fitted
            .map_or(self.steps, |u| u.max_steps.max(self.steps))
    }

    /// Refuses settings no run can use (an empty or zero feature list, zero steps or batch, a
    /// learning rate that is not a positive number, a zero patch side), in one sentence.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |what: String| Err(crate::Error::invalid(what));
        if let Some(f) = &self.features {
            if f.len() < 2 {
                return bad(format!(
                    "a U-Net needs at least two feature counts (one per level), got {}",
                    f.len()
                ));
            }
            if f.contains(&0) {
                return bad("feature counts must be positive, got 0".into());
            }
        }
        if self.steps == 0 {
            return bad("training needs at least one step".into());
        }
        if self.batch_size == Some(0) {
            return bad("the batch size must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "the learning rate must be a positive number, got {}",
                self.learning_rate
            ));
        }
        if let Some(p) = &self.patch
            && p.contains(&0)
        {
            return bad("patch sides must be positive".into());
        }
        if let Some(e) = &self.early_stopping
            && (e.every == 0 || e.patience == 0)
        {
            return bad(
                "early stopping needs a validation interval and a patience of at least 1".into(),
            );
        }
        if let Some(u) = self.until_fitted {
            if u.max_steps < self.steps {
                return bad(format!(
                    "the most steps to train on until fitted ({}) must be at least the steps ({})",
                    u.max_steps, self.steps
                ));
            }
            if self.early_stopping.is_some() {
                return bad("training on until fitted and early stopping cannot be combined (early stopping already trains until the validation Dice stops improving)".into());
            }
        }
        if self.max_in_plane == Some(0) {
            return bad("the largest in-plane side must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.fg_fraction) {
            return bad(format!(
                "the foreground fraction must lie in [0, 1], got {}",
                self.fg_fraction
            ));
        }
        Ok(())
    }
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
            max_in_plane: None,
            seed: 0,
            fg_fraction: 0.5,
            augment: true,
            interpolation: None,
            checkpoint_every: 100,
            early_stopping: None,
            until_fitted: None,
        }
    }
}
