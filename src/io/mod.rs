//! Volume input and output: NIfTI-1 and NRRD reading and writing, DICOM series and DICOM SEG
//! reading, geometry, atomic file writes.

pub mod atomic;
pub mod dicom_check;
pub mod dicom_scan;
pub mod dicom_seg;
pub mod dicom_series;
pub mod geometry;
mod gz_in_place;
pub mod nifti_header;
pub mod nifti_read;
pub mod nifti_write;
pub mod nrrd;
pub mod volume;

pub use atomic::{write_atomic, write_bytes_atomic};
pub use dicom_scan::{
    DicomFolder, DicomSeries, DicomSlice, folder_has_dicom, scan_dicom_folder, scans_of,
};
pub use dicom_seg::{DicomSeg, read_dicom_seg};
pub use dicom_series::{
    SeriesGeometry, read_dicom_geometry, read_dicom_series, read_scanned_series, scanned_geometry,
    series_geometry,
};
pub use geometry::{Affine, Plane};
pub use nifti_read::{NiftiInfo, read_nifti, read_nifti_info};
pub use nifti_write::{header_for_geometry, write_labels_like, write_nifti};
pub use nrrd::{Nrrd, read_nrrd, write_nrrd};
pub use volume::{Sample, Slice2d, Volume, VoxelData};
