//! Annotation planning: budget allocation across volumes, slice selection within volumes, and
//! the plan file.

pub mod allocation;
pub mod case_features;
pub mod cluster;
pub mod feature_cache;
pub mod features;
#[allow(clippy::module_inception)]
pub mod plan;
pub mod select;

pub use allocation::{Budget, CostModel, Rounding, TradeOff};
pub use feature_cache::FeatureCache;
pub use features::{BodyRule, SliceFeatures, slice_features};
pub use plan::{Plan, PlanRequest, PlannedVolume, VolumeStrategy, foreground_slices, make_plan};
pub use select::SliceStrategy;
