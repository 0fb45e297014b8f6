//! sliceplan: plan which CT/MRI slices to annotate under a budget, and predict the Dice each plan
//! buys by simulating it on a densely labelled pilot set.
//!
//! Compute lives in the library modules (`io`, `dataset`, `plan`, `interp`, `train`, `sim`,
//! `export`, `view`); the GUI (`app`, behind the default `gui` feature) and the command line only call
//! them.

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
