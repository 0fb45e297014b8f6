//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use sliceplan::io::{self, Volume, VoxelData};

/// `../shared/data/real` beside the repository, if present.
pub fn real_data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIPPED: ../shared/data/real is absent, real-data checks not run");
        None
    }
}

/// A fresh temporary folder.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A small volume with geometry `diag(sx, sy, sz)`.
pub fn volume(shape: [usize; 3], spacing: [f64; 3], data: VoxelData) -> Volume {
    let affine = [
        [spacing[0], 0.0, 0.0, -10.0],
        [0.0, spacing[1], 0.0, 5.0],
        [0.0, 0.0, spacing[2], 20.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    Volume {
        shape,
        spacing_mm: spacing,
        world_from_voxel: affine,
        data,
        scaling: None,
        source_dtype: None,
        header: io::header_for_geometry(shape, spacing, &affine),
    }
}

/// Writes `v` uncompressed and returns the file's bytes (for patching).
pub fn nii_bytes(dir: &Path, v: &Volume) -> Vec<u8> {
    let p = dir.join("tmp-source.nii");
    io::write_nifti(&p, v).expect("write");
    std::fs::read(&p).expect("read back")
}

/// Gzip-compresses bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// Runs the `sliceplan` binary; returns (exit code, stdout, stderr).
pub fn cli(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sliceplan"))
        .args(args)
        .output()
        .expect("run sliceplan");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
