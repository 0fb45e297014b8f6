//! The study engine: every training run of a simulation or a study is a `RunSpec` with a stable
//! key, kept in a result store as it finishes, and never run twice; studies (TOML) expand into
//! runs over budgets, allocations, strategies, interpolation, models and seeds; summaries carry
//! 95 % intervals, paired comparisons over seeds and budget curves fitted to the stored runs.
//!
//! Where to read what:
//! - **the store and its keys**: `store` (`store::key`: what identifies a run;
//!   `store::labels_digest`: a dataset's labels in its fingerprint), and `engine`, which runs
//!   what the store lacks; `reruns` adds runs under new seeds for runs that did not learn;
//! - **what a study asks**: `file` (study files), `estimates` (the planner's questions),
//!   `race`, `curve_race` and `sequential` (spending runs only where they decide something),
//!   `preflight` (what is said before training), `calibrate` (quick against a reference);
//! - **statistics**: `stats` (intervals; `stats::separation`: paired comparisons over seeds;
//!   `stats::curve`: budget curves), `summary` (stored runs per scenario), `advice`;
//! - **reports**: `report` (Markdown and HTML; `report::render` and `report::raster` draw
//!   the plots as SVG and PNG);
//! - **clusters**: `slurm` (array jobs over the missing runs, and collecting what they stored).

pub mod advice;
pub mod calibrate;
pub mod curve_race;
pub mod engine;
pub mod estimates;
pub mod file;
pub mod preflight;
pub mod race;
pub mod report;
pub mod reruns;
pub mod sequential;
pub mod slurm;
pub mod stats;
pub mod store;
pub mod summary;

pub use engine::{StudyProgress, run_missing};
pub use estimates::{AgainstBest, EstimateSetup, FrontierPoint, compared_with_best, recommended};
pub use file::{AllocationRule, Preset, Study};
pub use race::{Race, RacePoint, RaceReport, RaceRule, Verdict};
pub use store::key::{RunSpec, dataset_fingerprint};
pub use store::{ResultStore, RunOutcome, RunResult, StoredRun};
