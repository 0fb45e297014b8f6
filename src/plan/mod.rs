//! Annotation planning: budget allocation across volumes, slice selection within volumes, and
//! the plan file.

pub mod allocation;
pub mod case_features;
pub mod cluster;
pub mod coverage;
#[allow(clippy::module_inception)]
pub mod plan;
pub mod select;

pub use allocation::{
    Budget, CostModel, Rounding, TradeOff, default_holdout, holdout_for, volume_grid,
};
// Slice features are the cases' own (dataset::slice_features); plans read them through here.
pub use crate::dataset::feature_cache::FeatureCache;
pub use crate::dataset::slice_features::{BodyRule, SliceFeatures, slice_features};
pub use coverage::{TargetCoverage, explain_coverage};
pub use plan::{Plan, PlanRequest, PlannedVolume, VolumeStrategy, foreground_slices, make_plan};
pub use select::SliceStrategy;
