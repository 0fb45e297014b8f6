//! Volume input and output: NIfTI-1 reading and writing, geometry, atomic file writes.

pub mod atomic;
pub mod geometry;
pub mod nifti_read;
pub mod nifti_write;
pub mod volume;

pub use atomic::{write_atomic, write_bytes_atomic};
pub use geometry::{Affine, Plane};
pub use nifti_read::{NiftiInfo, read_nifti, read_nifti_info};
pub use nifti_write::{header_for_geometry, write_labels_like, write_nifti};
pub use volume::{Sample, Slice2d, Volume, VoxelData};
