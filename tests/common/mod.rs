//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod seg;

use std::path::{Path, PathBuf};

use sliceplan::io::{self, Volume, VoxelData};

/// Set (to anything but 0) where the real-data fixtures must be present: CI sets it, so that a
/// missing `../shared/data/real` fails there instead of skipping every real-data check.
pub const REQUIRE_REAL_DATA: &str = "SLICEPLAN_REQUIRE_REAL_DATA";

/// `../shared/data/real` beside the repository, if present (a failure when absent while
/// `REQUIRE_REAL_DATA` is set).
pub fn real_data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
    if p.is_dir() {
        return Some(p);
    }
    let required = std::env::var(REQUIRE_REAL_DATA).is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(
        !required,
        "{REQUIRE_REAL_DATA} is set but the fixtures are absent: {}",
        p.display()
    );
    eprintln!("SKIPPED: ../shared/data/real is absent, real-data checks not run");
    None
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

/// Ticks `rows` (case, slice) as "target absent" in a hand-off worklist, saved as a spreadsheet
/// would save it: a BOM, CRLF line ends, the tick quoted.
pub fn tick_absent(path: &Path, rows: &[(String, usize)]) {
    let text = std::fs::read_to_string(path).expect("worklist");
    let mut out = String::from("\u{feff}");
    for (n, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let hit = n > 0
            && rows
                .iter()
                .any(|(c, s)| cells[1] == c && cells[5] == s.to_string());
        out.push_str(line);
        // The last column, target_absent, ticked.
        out.push_str(if hit { "\"x\"\r\n" } else { "\r\n" });
    }
    std::fs::write(path, out).expect("worklist written");
}
