//! The built-in demo cohort: 24 deterministic, CT-like synthetic "patients", generated in code.
//!
//! How a case is made (all from `Rng::with_stream(DEMO_SEED, case)`):
//! - Grid 96×96 in-plane, 40–120 slices; in-plane spacing 3.0–3.8 mm, slice spacing 2.5, 3, 4
//!   or 5 mm (anisotropic, as clinical CT). Affine `diag(-sx, -sy, sz)`: LPS, like DICOM-derived CT.
//! - Body: an elliptical torso (semi-axes 130–160 × 95–120 mm, breathing slowly along z) in air
//!   (−1000 HU), a 12–18 mm subcutaneous fat ring (−100 HU), soft tissue (35 HU) with smooth
//!   texture (±12 HU), a vertebral body (cortex 600 HU, marrow 250 HU) and two enhancing kidneys
//!   (150–170 HU, not labelled: plausible distractors).
//! - Target organ (label 1, liver-like, 85–125 HU by contrast timing): an ellipsoid 45–70 ×
//!   35–55 mm in-plane spanning 35–60 % of the scan length, its outline bent by 2nd/3rd angular
//!   harmonics and its centre drifting along z, so shape, size and position differ per patient and
//!   some slices hold no organ.
//! - 0–3 lesions (label 2, spheres of 5–12 mm radius, 45 HU below the organ) inside the organ.
//! - A spleen-like target (label 3, the demo's default target): an ellipsoid 18–30 × 14–24 mm
//!   in-plane (1.5× in one patient in six) on the side opposite the organ, spanning 20–40 % of the
//!   scan, outline bent by a 2nd harmonic, its brightness anywhere from 55 HU (barely above soft
//!   tissue) to 175 HU (as bright as the kidneys beside it). Patients differ far more than
//!   neighbouring slices do, so a plan that sees more patients learns more, as in the paper; the
//!   organ wins where the two touch.
//! - Gaussian noise σ 8–18 HU; stored as int16 HU with a uint8 label map.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Case, CaseGeometry, Dataset, Layout, Modality, Source};
use crate::error::Result;
use crate::io::{self, Affine, Volume, VoxelData};
use crate::rng::Rng;

/// Number of demo patients.
pub const DEMO_CASES: usize = 24;
/// The label a demo plan targets unless told otherwise: the spleen, where plans differ (every
/// plan learns the organ to Dice ~0.95).
pub const DEFAULT_TARGET: i64 = 3;
/// Seed of the cohort.
pub const DEMO_SEED: u64 = 2025;
const NX: usize = 96;
const NY: usize = 96;
const SLICE_SPACINGS: [f64; 4] = [2.5, 3.0, 4.0, 5.0];

/// Case id of demo patient `index`.
pub fn case_id(index: usize) -> String {
    format!("demo_{index:03}")
}

/// Label value → name of the demo cohort.
pub fn label_names() -> BTreeMap<i64, String> {
    [
        (0, "background"),
        (1, "organ"),
        (2, "lesion"),
        (3, "spleen"),
    ]
    .into_iter()
    .map(|(v, n)| (v, n.to_string()))
    .collect()
}

/// The demo cohort as a dataset (volumes generated on load).
pub fn dataset() -> Dataset {
    Dataset {
        id: "demo".into(),
        root: None,
        layout: Layout::Demo,
        label_names: label_names(),
        cases: (0..DEMO_CASES)
            .map(|i| Case {
                id: case_id(i),
                image: Source::Demo(i),
                labels: Some(Source::Demo(i)),
                modality: Modality::Ct,
            })
            .collect(),
        cache: Default::default(),
        features: Default::default(),
        dicom_scans: Default::default(),
    }
}

struct Lesion {
    centre_mm: [f64; 3],
    radius_mm: f64,
}

/// The spleen-like target: where plans differ, because patients differ more than slices do.
struct Spleen {
    centre: [f64; 2],
    radii: [f64; 2],
    z: (f64, f64),
    bend: (f64, f64),
    hu: f64,
}

struct Params {
    slices: usize,
    spacing_mm: [f64; 3],
    body_a: f64,
    body_b: f64,
    body_phase: f64,
    fat_mm: f64,
    texture: [(f64, f64, f64); 3],
    organ_centre: [f64; 2],
    organ_radii: [f64; 2],
    organ_z: (f64, f64),
    organ_harmonics: [(f64, f64); 2],
    organ_drift: (f64, f64),
    organ_hu: f64,
    kidney_z: (f64, f64),
    kidney_hu: f64,
    lesions: Vec<Lesion>,
    noise_hu: f64,
    spleen: Spleen,
}

fn params(index: usize) -> Params {
    let mut r = Rng::with_stream(DEMO_SEED, index as u64 + 1);
    let slices = 40 + r.below(81);
    // Geometry is kept exactly representable in a NIfTI header (f32), so the cohort in memory
    // and written to disk are identical.
    let s_xy = r.range_f64(3.0, 3.8) as f32 as f64;
    let s_z = SLICE_SPACINGS[r.below(SLICE_SPACINGS.len())];
    let length = slices as f64 * s_z;
    let organ_len = r.range_f64(0.35, 0.6) * length;
    let organ_mid = r.range_f64(0.35, 0.65) * length;
    let organ_z = (organ_mid - organ_len / 2.0, organ_mid + organ_len / 2.0);
    let organ_radii = [r.range_f64(45.0, 70.0), r.range_f64(35.0, 55.0)];
    let organ_centre = [r.range_f64(35.0, 60.0), r.range_f64(-30.0, 0.0)];
    let n_lesions = r.below(4);
    let lesions = (0..n_lesions)
        .map(|_| {
            let z = organ_z.0 + organ_len * r.range_f64(0.3, 0.7);
            Lesion {
                centre_mm: [
                    organ_centre[0] + organ_radii[0] * r.range_f64(-0.35, 0.35),
                    organ_centre[1] + organ_radii[1] * r.range_f64(-0.35, 0.35),
                    z,
                ],
                radius_mm: r.range_f64(5.0, 12.0),
            }
        })
        .collect();
    Params {
        slices,
        spacing_mm: [s_xy, s_xy, s_z],
        body_a: r.range_f64(130.0, 160.0),
        body_b: r.range_f64(95.0, 120.0),
        body_phase: r.range_f64(0.0, std::f64::consts::TAU),
        fat_mm: r.range_f64(12.0, 18.0),
        texture: [
            (
                r.range_f64(0.02, 0.05),
                r.range_f64(0.02, 0.05),
                r.range_f64(0.0, std::f64::consts::TAU),
            ),
            (
                r.range_f64(0.03, 0.07),
                r.range_f64(0.01, 0.04),
                r.range_f64(0.0, std::f64::consts::TAU),
            ),
            (
                r.range_f64(0.01, 0.03),
                r.range_f64(0.04, 0.08),
                r.range_f64(0.0, std::f64::consts::TAU),
            ),
        ],
        organ_centre,
        organ_radii,
        organ_z,
        organ_harmonics: [
            (
                r.range_f64(0.06, 0.14),
                r.range_f64(0.0, std::f64::consts::TAU),
            ),
            (
                r.range_f64(0.03, 0.08),
                r.range_f64(0.0, std::f64::consts::TAU),
            ),
        ],
        organ_drift: (
            r.range_f64(5.0, 15.0),
            r.range_f64(0.0, std::f64::consts::TAU),
        ),
        organ_hu: r.range_f64(85.0, 125.0),
        kidney_z: (organ_mid, organ_z.1 + 0.1 * length),
        kidney_hu: r.range_f64(150.0, 170.0),
        lesions,
        noise_hu: r.range_f64(8.0, 18.0),
        spleen: spleen(&mut r, length),
    }
}

/// The spleen of one patient (drawn after every other parameter, so adding it left the organ,
/// lesions and noise of every patient as they were).
fn spleen(r: &mut Rng, length: f64) -> Spleen {
    let len = r.range_f64(0.2, 0.4) * length;
    let mid = r.range_f64(0.3, 0.7) * length;
    // One patient in six has an enlarged spleen.
    let grow = if r.below(6) == 0 { 1.5 } else { 1.0 };
    Spleen {
        centre: [r.range_f64(-85.0, -60.0), r.range_f64(-35.0, 0.0)],
        radii: [
            grow * r.range_f64(18.0, 30.0),
            grow * r.range_f64(14.0, 24.0),
        ],
        z: (mid - len / 2.0, mid + len / 2.0),
        bend: (
            r.range_f64(0.05, 0.2),
            r.range_f64(0.0, std::f64::consts::TAU),
        ),
        // From barely above soft tissue (35 HU) to as bright as the kidneys.
        hu: r.range_f64(55.0, 175.0),
    }
}

fn affine(p: &Params) -> Affine {
    let [sx, sy, sz] = p.spacing_mm;
    let f32_exact = |v: f64| v as f32 as f64;
    [
        [-sx, 0.0, 0.0, f32_exact(sx * NX as f64 / 2.0)],
        [0.0, -sy, 0.0, f32_exact(sy * NY as f64 / 2.0)],
        [0.0, 0.0, sz, f32_exact(-sz * p.slices as f64 / 2.0)],
        [0.0, 0.0, 0.0, 1.0],
    ]
}

/// Geometry of demo case `index` without generating it.
pub fn geometry(index: usize) -> CaseGeometry {
    let p = params(index);
    let world_from_voxel = affine(&p);
    CaseGeometry {
        shape: [NX, NY, p.slices],
        spacing_mm: p.spacing_mm,
        orientation: io::geometry::orientation_code(&world_from_voxel),
        dtype: "int16".into(),
        world_from_voxel,
    }
}

/// Generates demo case `index`: (image in HU as int16, label map as uint8).
pub fn generate(index: usize) -> (Volume, Volume) {
    let p = params(index);
    let mut noise = Rng::with_stream(DEMO_SEED ^ 0xA5A5, index as u64);
    let [sx, sy, sz] = p.spacing_mm;
    let n = NX * NY * p.slices;
    let mut image = vec![0i16; n];
    let mut labels = vec![0u8; n];
    let length = p.slices as f64 * sz;
    for k in 0..p.slices {
        let z = (k as f64 + 0.5) * sz;
        let breathe = 1.0 + 0.05 * (std::f64::consts::TAU * z / length + p.body_phase).sin();
        let (a, b) = (p.body_a * breathe, p.body_b * breathe);
        // Organ cross-section at this z.
        let organ = if z > p.organ_z.0 && z < p.organ_z.1 {
            let t = 2.0 * (z - p.organ_z.0) / (p.organ_z.1 - p.organ_z.0) - 1.0;
            let scale = (1.0 - t * t).max(0.0).powf(0.35);
            let drift = p.organ_drift.0 * (std::f64::consts::PI * t + p.organ_drift.1).sin();
            Some((
                p.organ_centre[0] + drift,
                p.organ_centre[1] + 0.5 * drift,
                p.organ_radii[0] * scale,
                p.organ_radii[1] * scale,
                t,
            ))
        } else {
            None
        };
        let spleen = &p.spleen;
        let spleen_scale = if z > spleen.z.0 && z < spleen.z.1 {
            let t = 2.0 * (z - spleen.z.0) / (spleen.z.1 - spleen.z.0) - 1.0;
            (1.0 - t * t).max(0.0).powf(0.4)
        } else {
            0.0
        };
        let kidney_scale = if z > p.kidney_z.0 && z < p.kidney_z.1 {
            let t = 2.0 * (z - p.kidney_z.0) / (p.kidney_z.1 - p.kidney_z.0) - 1.0;
            (1.0 - t * t).max(0.0).sqrt()
        } else {
            0.0
        };
        for j in 0..NY {
            let y = (j as f64 - NY as f64 / 2.0 + 0.5) * sy;
            for i in 0..NX {
                let x = (i as f64 - NX as f64 / 2.0 + 0.5) * sx;
                let idx = i + NX * (j + NY * k);
                let rho = (x / a).powi(2) + (y / b).powi(2);
                let mut hu;
                let mut label = 0u8;
                if rho > 1.0 {
                    hu = -1000.0;
                } else {
                    let inner = (x / (a - p.fat_mm)).powi(2) + (y / (b - p.fat_mm)).powi(2);
                    if inner > 1.0 {
                        hu = -100.0;
                    } else {
                        hu = 35.0;
                        for (fx, fy, ph) in p.texture {
                            hu += 4.0 * (fx * x + fy * y + 0.02 * z + ph).sin();
                        }
                        // Vertebral body, posterior midline.
                        let (vx, vy) = (x, y - 0.62 * b);
                        let vr = (vx * vx + vy * vy).sqrt();
                        if vr < 14.0 {
                            hu = if vr > 10.0 { 600.0 } else { 250.0 };
                        }
                        // Kidneys either side of the spine.
                        if kidney_scale > 0.0 {
                            for side in [-1.0, 1.0] {
                                let kx = (x - side * 55.0) / (22.0 * kidney_scale);
                                let ky = (y - 0.35 * b) / (30.0 * kidney_scale);
                                if kx * kx + ky * ky < 1.0 {
                                    hu = p.kidney_hu;
                                }
                            }
                        }
                        if spleen_scale > 0.0 {
                            let (dx, dy) = (x - spleen.centre[0], y - spleen.centre[1]);
                            let (rx, ry) = (
                                spleen.radii[0] * spleen_scale,
                                spleen.radii[1] * spleen_scale,
                            );
                            let rho = (dx / rx).powi(2) + (dy / ry).powi(2);
                            // The outline's angle only where the bent outline can reach.
                            let inside = rho < (1.0 + spleen.bend.0).powi(2) && {
                                let bend = 1.0
                                    + spleen.bend.0 * (2.0 * dy.atan2(dx) + spleen.bend.1).sin();
                                rho < bend * bend
                            };
                            if inside {
                                hu = spleen.hu;
                                label = 3;
                            }
                        }
                        if let Some((cx, cy, rx, ry, t)) = organ {
                            let (dx, dy) = (x - cx, y - cy);
                            let theta = dy.atan2(dx);
                            let [(h2, p2), (h3, p3)] = p.organ_harmonics;
                            let bend = 1.0
                                + h2 * (2.0 * theta + p2 + t).sin()
                                + h3 * (3.0 * theta + p3).sin();
                            if (dx / rx).powi(2) + (dy / ry).powi(2) < bend * bend {
                                hu = p.organ_hu + 3.0 * (0.1 * x).sin();
                                label = 1;
                                for lesion in &p.lesions {
                                    let d2 = (x - lesion.centre_mm[0]).powi(2)
                                        + (y - lesion.centre_mm[1]).powi(2)
                                        + (z - lesion.centre_mm[2]).powi(2);
                                    if d2 < lesion.radius_mm.powi(2) {
                                        hu = p.organ_hu - 45.0;
                                        label = 2;
                                    }
                                }
                            }
                        }
                    }
                }
                hu += p.noise_hu * noise.normal();
                image[idx] = hu.round().clamp(-1024.0, 3071.0) as i16;
                labels[idx] = label;
            }
        }
    }
    let world_from_voxel = affine(&p);
    let header = io::header_for_geometry([NX, NY, p.slices], p.spacing_mm, &world_from_voxel);
    let image = Volume {
        shape: [NX, NY, p.slices],
        spacing_mm: p.spacing_mm,
        world_from_voxel,
        data: VoxelData::I16(image),
        scaling: None,
        source_dtype: None,
        header,
    };
    let labels = image.derived(VoxelData::U8(labels));
    (image, labels)
}

/// Writes the demo cohort as an nnU-Net v2 raw dataset in `out` (`imagesTr/`, `labelsTr/`,
/// `dataset.json`). Returns the number of cases written.
pub fn write_nnunet(out: &Path) -> Result<usize> {
    write_nnunet_with_progress(out, &crate::jobs::Progress::new())
}

/// `write_nnunet` reporting case i of N on `progress` (and stopping when it is cancelled).
pub fn write_nnunet_with_progress(out: &Path, progress: &crate::jobs::Progress) -> Result<usize> {
    for i in 0..DEMO_CASES {
        progress.check()?;
        progress.set(
            i as f32 / DEMO_CASES as f32,
            format!("writing demo case {} of {DEMO_CASES}", i + 1),
        );
        let (image, labels) = generate(i);
        let id = case_id(i);
        io::write_nifti(
            out.join("imagesTr").join(format!("{id}_0000.nii.gz")),
            &image,
        )?;
        io::write_nifti(out.join("labelsTr").join(format!("{id}.nii.gz")), &labels)?;
    }
    let json = serde_json::json!({
        "name": "sliceplan-demo",
        "description": "Synthetic CT-like cohort generated by sliceplan (deterministic)",
        "channel_names": {"0": "CT"},
        "labels": {"background": 0, "organ": 1, "lesion": 2, "spleen": 3},
        "numTraining": DEMO_CASES,
        "file_ending": ".nii.gz"
    });
    let text = serde_json::to_string_pretty(&json).unwrap_or_default();
    io::write_bytes_atomic(out.join("dataset.json"), text.as_bytes())?;
    Ok(DEMO_CASES)
}
