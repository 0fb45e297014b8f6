//! What an allocation race (`race`) and a budget-curve race (`curve_race`) share: a sequential
//! design over the result store that says which runs to train next, or why it stopped. Its state
//! is the store, so a cancelled race keeps every finished run and running it again continues.

use super::store::StoreContents;
use crate::error::Result;
use crate::study::store::key::RunSpec;

/// A design that asks for runs until it can answer.
pub trait Sequential {
    /// Why it stopped, with what it found.
    type Report;

    /// The next runs, or the report when it is over.
    fn next_runs(
        &self,
        contents: &StoreContents,
    ) -> std::result::Result<Vec<RunSpec>, Self::Report>;

    /// The report as one line for the user.
    fn line(report: &Self::Report) -> String;

    /// Runs it to the end: `load` reads the store, `run` trains and stores a batch (and may
    /// fail, e.g. when cancelled: every run it stored is kept).
    fn run(
        &self,
        mut load: impl FnMut() -> Result<StoreContents>,
        mut run: impl FnMut(&[RunSpec]) -> Result<()>,
    ) -> Result<Self::Report> {
        loop {
            match self.next_runs(&load()?) {
                Ok(batch) => run(&batch)?,
                Err(report) => return Ok(report),
            }
        }
    }
}
