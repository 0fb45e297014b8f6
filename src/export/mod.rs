//! Exports for annotators and trainers: worklist CSV, hand-off packages for annotators' tools
//! (3D Slicer, ITK-SNAP) and reading them back, sparse nnU-Net v2 datasets, and checking
//! annotators' returned masks against the plan.

pub mod agreement;
pub mod handoff;
pub mod handoff_report;
pub mod itksnap;
pub mod nnunet;
pub mod package;
pub mod returned;
pub mod returned_handoff;
pub mod returned_mask;
pub mod segments;
pub mod slicer;
pub mod sparse;
pub mod worklist;

pub use handoff::{Split, split};
pub use handoff_report::{read_back, status_markdown};
pub use nnunet::{ExportSummary, ReturnedMasks, export_nnunet};
pub use package::{Handoff, PackageSummary, write_package};
pub use returned::{ReturnedStatus, check_returned, remaining_plan};
pub use returned_handoff::{HandoffStatus, check_handoff};
pub use worklist::{read_ticks, worklist_rows, write_worklist};
