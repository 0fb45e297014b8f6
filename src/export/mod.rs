//! Exports for annotators and trainers: worklist CSV, sparse nnU-Net v2 datasets, and checking
//! annotators' returned masks against the plan.

pub mod nnunet;
pub mod returned;
pub mod sparse;
pub mod worklist;

pub use nnunet::{ExportSummary, export_nnunet};
pub use returned::{ReturnedStatus, check_returned, remaining_plan};
pub use worklist::{worklist_rows, write_worklist};
