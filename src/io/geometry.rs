//! Voxel-to-world geometry: the affine, orientation codes (RAS, LPS, PIR, ...) and the choice of
//! slicing axis by anatomy rather than by the file's voxel order.

use serde::{Deserialize, Serialize};

/// A 4×4 affine mapping voxel indices (i, j, k, 1) to world millimetres (x, y, z, 1) in the NIfTI
/// convention (RAS+ world: x grows to the patient's Left→Right, y Posterior→Anterior,
/// z Inferior→Superior).
pub type Affine = [[f64; 4]; 4];

/// The identity affine.
pub const IDENTITY: Affine = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
    [0.0, 0.0, 0.0, 1.0],
];

/// Applies `world_from_voxel` to a (fractional) voxel index.
pub fn voxel_to_world(world_from_voxel: &Affine, ijk: [f64; 3]) -> [f64; 3] {
    let mut out = [0.0; 3];
    for (r, o) in out.iter_mut().enumerate() {
        *o = world_from_voxel[r][0] * ijk[0]
            + world_from_voxel[r][1] * ijk[1]
            + world_from_voxel[r][2] * ijk[2]
            + world_from_voxel[r][3];
    }
    out
}

/// The inverse of `world_from_voxel` (world millimetres → fractional voxel index); None when
/// its 3×3 part is singular.
pub fn voxel_from_world(world_from_voxel: &Affine) -> Option<Affine> {
    let m = |r: usize, c: usize| world_from_voxel[r][c];
    let det = m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1))
        - m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0))
        + m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0));
    if det.abs() < 1e-12 {
        return None;
    }
    let mut inverse = IDENTITY;
    for (r, row) in inverse.iter_mut().take(3).enumerate() {
        for (c, x) in row.iter_mut().take(3).enumerate() {
            // The cofactor of (c, r); cyclic indices carry its sign.
            let (r1, r2) = ((c + 1) % 3, (c + 2) % 3);
            let (c1, c2) = ((r + 1) % 3, (r + 2) % 3);
            *x = (m(r1, c1) * m(r2, c2) - m(r1, c2) * m(r2, c1)) / det;
        }
    }
    for row in inverse.iter_mut().take(3) {
        row[3] = -(0..3).map(|c| row[c] * m(c, 3)).sum::<f64>();
    }
    Some(inverse)
}

/// Largest absolute difference between two affines' entries.
pub fn affine_max_diff(a: &Affine, b: &Affine) -> f64 {
    let mut m: f64 = 0.0;
    for r in 0..4 {
        for c in 0..4 {
            m = m.max((a[r][c] - b[r][c]).abs());
        }
    }
    m
}

/// Anatomical slicing planes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plane {
    /// Slices perpendicular to the inferior–superior axis.
    Axial,
    /// Slices perpendicular to the posterior–anterior axis.
    Coronal,
    /// Slices perpendicular to the left–right axis.
    Sagittal,
}

impl Plane {
    /// All planes, axial first.
    pub const ALL: [Plane; 3] = [Plane::Axial, Plane::Coronal, Plane::Sagittal];

    /// The world axis (0 = x L→R, 1 = y P→A, 2 = z I→S) this plane is perpendicular to.
    pub fn world_axis(self) -> usize {
        match self {
            Plane::Sagittal => 0,
            Plane::Coronal => 1,
            Plane::Axial => 2,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Plane::Axial => "axial",
            Plane::Coronal => "coronal",
            Plane::Sagittal => "sagittal",
        }
    }

    /// Parses "axial", "coronal" or "sagittal".
    pub fn parse(s: &str) -> Option<Plane> {
        match s.to_ascii_lowercase().as_str() {
            "axial" | "transverse" => Some(Plane::Axial),
            "coronal" => Some(Plane::Coronal),
            "sagittal" => Some(Plane::Sagittal),
            _ => None,
        }
    }
}

/// For each voxel axis, the world axis it mostly runs along and whether it runs in the positive
/// direction. Assigns each world axis once (greedy by the largest direction cosine), as nibabel's
/// `aff2axcodes` does for any affine whose axes are not exactly oblique at 45°.
pub fn axis_directions(world_from_voxel: &Affine) -> [(usize, bool); 3] {
    let mut cos = [[0.0f64; 3]; 3]; // cos[voxel_axis][world_axis]
    for (v, row) in cos.iter_mut().enumerate() {
        let norm = (0..3)
            .map(|w| world_from_voxel[w][v].powi(2))
            .sum::<f64>()
            .sqrt()
            .max(1e-12);
        for (w, c) in row.iter_mut().enumerate() {
            *c = world_from_voxel[w][v] / norm;
        }
    }
    let mut out = [(0usize, true); 3];
    let mut used_voxel = [false; 3];
    let mut used_world = [false; 3];
    for _ in 0..3 {
        let mut best = (0, 0, -1.0);
        for (v, row) in cos.iter().enumerate() {
            for (w, c) in row.iter().enumerate() {
                if !used_voxel[v] && !used_world[w] && c.abs() > best.2 {
                    best = (v, w, c.abs());
                }
            }
        }
        let (v, w, _) = best;
        used_voxel[v] = true;
        used_world[w] = true;
        out[v] = (w, cos[v][w] >= 0.0);
    }
    out
}

/// The orientation code of an affine, e.g. "RAS" or "PIR": for each voxel axis, the direction its
/// index grows towards.
pub fn orientation_code(world_from_voxel: &Affine) -> String {
    axis_directions(world_from_voxel)
        .iter()
        .map(|&(w, positive)| match (w, positive) {
            (0, true) => 'R',
            (0, false) => 'L',
            (1, true) => 'A',
            (1, false) => 'P',
            (2, true) => 'S',
            _ => 'I',
        })
        .collect()
}

/// The voxel axis (0, 1 or 2) whose slices lie in `plane`, whatever the file's voxel order.
pub fn voxel_axis_for_plane(world_from_voxel: &Affine, plane: Plane) -> usize {
    let dirs = axis_directions(world_from_voxel);
    dirs.iter()
        .position(|&(w, _)| w == plane.world_axis())
        .unwrap_or(2)
}

/// The affine of a NIfTI quaternion transform (qform), per the NIfTI-1 standard.
pub fn qform_affine(q: [f64; 3], offset: [f64; 3], pixdim: [f64; 3], qfac: f64) -> Affine {
    let (b, c, d) = (q[0], q[1], q[2]);
    let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
    let r = [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ];
    let qfac = if qfac < 0.0 { -1.0 } else { 1.0 };
    let scale = [pixdim[0], pixdim[1], pixdim[2] * qfac];
    let mut m = IDENTITY;
    for row in 0..3 {
        for col in 0..3 {
            m[row][col] = r[row][col] * scale[col];
        }
        m[row][3] = offset[row];
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientation_codes_of_common_affines() {
        let ras = [
            [2.0, 0.0, 0.0, 0.0],
            [0.0, 2.0, 0.0, 0.0],
            [0.0, 0.0, 3.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert_eq!(orientation_code(&ras), "RAS");
        let lps = [
            [-1.0, 0.0, 0.0, 0.0],
            [0.0, -1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert_eq!(orientation_code(&lps), "LPS");
        // PIR: i runs anterior→posterior, j superior→inferior, k left→right.
        let pir = [
            [0.0, 0.0, 1.5, 0.0],
            [-1.5, 0.0, 0.0, 0.0],
            [0.0, -1.5, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert_eq!(orientation_code(&pir), "PIR");
        assert_eq!(voxel_axis_for_plane(&pir, Plane::Axial), 1);
        assert_eq!(voxel_axis_for_plane(&pir, Plane::Sagittal), 2);
        assert_eq!(voxel_axis_for_plane(&pir, Plane::Coronal), 0);
    }

    #[test]
    fn voxel_from_world_undoes_world_from_voxel() {
        // An oblique, permuted and flipped affine with a translation.
        let (c, s) = (0.8f64, 0.6f64);
        let a = [
            [0.0, 0.7 * c, -2.0 * s, 10.0],
            [-1.2, 0.0, 0.0, -4.0],
            [0.0, 0.7 * s, 2.0 * c, 33.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let inverse = voxel_from_world(&a).unwrap();
        for ijk in [[0.0, 0.0, 0.0], [3.0, -2.0, 7.5], [100.0, 1.0, 0.25]] {
            let back = voxel_to_world(&inverse, voxel_to_world(&a, ijk));
            for (x, y) in back.iter().zip(ijk) {
                assert!((x - y).abs() < 1e-9, "{back:?} {ijk:?}");
            }
        }
        let mut flat = a;
        flat[2] = [0.0, 0.0, 0.0, 1.0];
        assert!(voxel_from_world(&flat).is_none());
    }

    #[test]
    fn qform_identity_quaternion_scales_by_pixdim_and_qfac() {
        let m = qform_affine([0.0; 3], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0], -1.0);
        assert_eq!(m[0][0], 2.0);
        assert_eq!(m[1][1], 3.0);
        assert_eq!(m[2][2], -4.0);
        assert_eq!(m[1][3], 2.0);
        assert_eq!(orientation_code(&m), "RAI");
    }
}
