//! The scans of a dataset's DICOM folders, each made once and kept (shared by the dataset's
//! clones): a folder holding many series is read once for all its cases' geometries and loads,
//! not once per case on every plan.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::io::{DicomFolder, scan_dicom_folder};

/// Scanned DICOM folders by path.
#[derive(Clone, Default)]
pub struct DicomScans {
    inner: Arc<Mutex<HashMap<PathBuf, Arc<DicomFolder>>>>,
}

impl DicomScans {
    /// The scan of `folder`: kept, or made now and kept.
    pub fn get_or_scan(&self, folder: &Path) -> Result<Arc<DicomFolder>> {
        if let Some(scan) = self.kept(folder) {
            return Ok(scan);
        }
        // Scanned without the lock: other folders are scanned in parallel meanwhile.
        Ok(self.keep(scan_dicom_folder(folder)?))
    }

    /// Keeps `scanned` (a dataset opener's own scan) and returns it shared.
    pub fn keep(&self, scanned: DicomFolder) -> Arc<DicomFolder> {
        let scanned = Arc::new(scanned);
        if let Ok(mut map) = self.inner.lock() {
            return Arc::clone(
                map.entry(scanned.folder.clone())
                    .or_insert_with(|| Arc::clone(&scanned)),
            );
        }
        scanned
    }

    fn kept(&self, folder: &Path) -> Option<Arc<DicomFolder>> {
        self.inner.lock().ok()?.get(folder).cloned()
    }

    /// How many folders are kept.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |m| m.len())
    }

    /// True when no folder is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for DicomScans {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DicomScans")
            .field("folders", &self.len())
            .finish()
    }
}
