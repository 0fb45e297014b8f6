//! sliceplan: plan which CT/MRI slices to annotate under a budget, and predict the Dice each plan
//! buys by simulating it on a densely labelled pilot set.
//!
//! Compute lives in the library modules (`io`, `dataset`, `plan`, `interp`, `train`, `sim`,
//! `export`, `view`); the GUI (`app`, behind the default `gui` feature) and the command line only call
//! them.
//!
//! Layers, lowest first: a module imports only from layers below its own (`tests/layers.rs`
//! fails otherwise; test modules are exempt). Leaves first, then the volume and job types, the
//! dataset and what is known of its cases (slice features included), plans, interpolation,
//! display frames, training, the result store and its studies, simulations over the store,
//! exports, and the GUI:
//!
//! layers: error, rng, paths, log, palette < io < jobs < dataset < plan < interp < view < train < study < sim < export < app

#[cfg(feature = "gui")]
pub mod app;
pub mod dataset;
pub mod error;
pub mod export;
pub mod interp;
pub mod io;
pub mod jobs;
pub mod log;
pub mod palette;
pub mod paths;
pub mod plan;
pub mod rng;
pub mod sim;
pub mod study;
pub mod train;
pub mod view;

pub use error::{Error, Result};
