//! A large synthetic CT cohort for scale checks, generated on the fly and never stored:
//! `--data synthetic-ct:N` gives N unlabelled 512×512×(100–600) int16 CTs (0.7 mm in-plane,
//! 1–2.5 mm slices). Each volume is made when it is loaded, so a dataset of 300 (about 50 GB of
//! voxels) costs memory only for the volumes in use.

use super::{Case, CaseGeometry, Dataset, Layout, Modality, Source};
use crate::io::{self, Affine, Volume, VoxelData};
use crate::rng::Rng;

const SIDE: usize = 512;
const SEED: u64 = 300;

/// The `--data` spec prefix.
pub const SPEC_PREFIX: &str = "synthetic-ct:";

fn case_shape_spacing(index: usize) -> ([usize; 3], [f64; 3]) {
    let mut rng = Rng::with_stream(SEED, index as u64);
    let slices = 100 + rng.below(501);
    let spacing = [0.7, 0.7, [1.0, 1.25, 1.5, 2.0, 2.5][rng.below(5)]];
    ([SIDE, SIDE, slices], spacing)
}

fn affine(shape: [usize; 3], spacing: [f64; 3]) -> Affine {
    [
        [-spacing[0], 0.0, 0.0, spacing[0] * shape[0] as f64 / 2.0],
        [0.0, -spacing[1], 0.0, spacing[1] * shape[1] as f64 / 2.0],
        [0.0, 0.0, spacing[2], -(spacing[2] * shape[2] as f64) / 2.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
}

/// Header facts of case `index` (nothing generated).
pub fn geometry(index: usize) -> CaseGeometry {
    let (shape, spacing_mm) = case_shape_spacing(index);
    let world_from_voxel = affine(shape, spacing_mm);
    CaseGeometry {
        shape,
        spacing_mm,
        orientation: io::geometry::orientation_code(&world_from_voxel),
        dtype: "int16".into(),
        world_from_voxel,
    }
}

/// What each voxel inside the body of case `index` is, visited slice by slice: `visit(i, j, k,
/// core)` for every body voxel (air elsewhere). An elliptical body whose size changes along z,
/// with a denser core band through its middle.
fn for_each_body_voxel(shape: [usize; 3], mut visit: impl FnMut(usize, usize, usize, bool)) {
    let [nx, ny, nz] = shape;
    for k in 0..nz {
        let t = k as f64 / nz as f64;
        let a = 180.0 + 50.0 * (std::f64::consts::PI * t).sin();
        let b = 0.7 * a;
        for j in 0..ny {
            let y = (j as f64 - ny as f64 / 2.0) / b;
            if y.abs() >= 1.0 {
                continue;
            }
            let half = a * (1.0 - y * y).sqrt();
            let (lo, hi) = (
                (nx as f64 / 2.0 - half).max(0.0) as usize,
                ((nx as f64 / 2.0 + half) as usize).min(nx),
            );
            let core = (half * 0.5) as usize;
            for i in lo..hi {
                visit(i, j, k, i + core > nx / 2 && i < nx / 2 + core);
            }
        }
    }
}

/// A volume of case `index`'s grid holding `data`.
fn on_grid(index: usize, data: VoxelData) -> Volume {
    let (shape, spacing) = case_shape_spacing(index);
    Volume::new(shape, spacing, affine(shape, spacing), data)
}

/// Generates case `index`: air, an elliptical body whose size changes along z, a denser core,
/// noise. Cheap enough (about 0.1 s per 100 slices) that generating is not what is measured.
pub fn generate(index: usize) -> Volume {
    let (shape, _) = case_shape_spacing(index);
    let [nx, ny, nz] = shape;
    let mut rng = Rng::with_stream(SEED, 1000 + index as u64);
    let noise: Vec<i16> = (0..4096).map(|_| (rng.normal() * 15.0) as i16).collect();
    let mut data = vec![-1000i16; nx * ny * nz];
    for_each_body_voxel(shape, |i, j, k, core| {
        let base = if core { 60 } else { -80 };
        data[i + nx * (j + ny * k)] = base + noise[(i * 31 + j * 17 + k * 7) & 4095];
    });
    on_grid(index, VoxelData::I16(data))
}

/// The label map of case `index` in a labelled cohort: 1 on the body's dense core.
pub fn generate_labels(index: usize) -> Volume {
    let (shape, _) = case_shape_spacing(index);
    let [nx, ny, nz] = shape;
    let mut labels = vec![0u8; nx * ny * nz];
    for_each_body_voxel(shape, |i, j, k, core| {
        if core {
            labels[i + nx * (j + ny * k)] = 1;
        }
    });
    on_grid(index, VoxelData::U8(labels))
}

/// The cohort of `cases` volumes as an (unlabelled) dataset.
pub fn dataset(cases: usize) -> Dataset {
    cohort(cases, false)
}

/// The cohort of `cases` volumes, with a label map of each body's core when `labelled` (for
/// measuring training at scale: `synthetic-ct:N:labelled`).
pub fn cohort(cases: usize, labelled: bool) -> Dataset {
    Dataset {
        id: if labelled {
            format!("synthetic-ct-{cases}-labelled")
        } else {
            format!("synthetic-ct-{cases}")
        },
        root: None,
        layout: Layout::Demo,
        label_names: if labelled {
            [(1, "core".to_string())].into_iter().collect()
        } else {
            Default::default()
        },
        cases: (0..cases)
            .map(|i| Case {
                id: format!("ct_{i:04}"),
                image: Source::Synthetic(i),
                labels: labelled.then_some(Source::Synthetic(i)),
                modality: Modality::Ct,
            })
            .collect(),
        cache: Default::default(),
        features: Default::default(),
        dicom_scans: Default::default(),
    }
}

/// The dataset for a `synthetic-ct:N` (or `synthetic-ct:N:labelled`) spec, if `spec` is one.
pub fn from_spec(spec: &str) -> Option<crate::error::Result<Dataset>> {
    let rest = spec.strip_prefix(SPEC_PREFIX)?;
    let (n, labelled) = match rest.strip_suffix(":labelled") {
        Some(n) => (n, true),
        None => (rest, false),
    };
    Some(match n.parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(cohort(n, labelled)),
        _ => Err(crate::error::Error::invalid(format!(
            "'{spec}': give the number of synthetic cases, 1 to 10000 (e.g. synthetic-ct:300, or synthetic-ct:300:labelled with a label map of each body's core)"
        ))),
    })
}
