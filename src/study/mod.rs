//! The study engine: every training run of a simulation or a study is a `RunSpec` with a stable
//! key, kept in a result store as it finishes, and never run twice; studies (TOML) expand into
//! runs over budgets, allocations, strategies, interpolation, models and seeds; summaries carry
//! 95 % intervals, paired comparisons over seeds and budget curves fitted to the stored runs.

pub mod advice;
pub mod calibrate;
pub mod curve;
pub mod curve_race;
pub mod engine;
pub mod estimates;
pub mod file;
pub mod key;
pub mod labels_digest;
pub mod preflight;
pub mod race;
pub mod raster;
pub mod render;
pub mod report;
pub mod reruns;
pub mod separation;
pub mod sequential;
pub mod slurm;
pub mod stats;
pub mod store;
pub mod summary;

pub use engine::{StudyProgress, run_missing};
pub use estimates::{AgainstBest, EstimateSetup, FrontierPoint, compared_with_best, recommended};
pub use file::{AllocationRule, Preset, Study};
pub use key::{RunSpec, dataset_fingerprint};
pub use race::{Race, RacePoint, RaceReport, RaceRule, Verdict};
pub use store::{ResultStore, RunOutcome, RunResult, StoredRun};
