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

/// Generates case `index`: air, an elliptical body whose size changes along z, a denser core,
/// noise. Cheap enough (about 0.1 s per 100 slices) that generating is not what is measured.
pub fn generate(index: usize) -> Volume {
    let (shape, spacing) = case_shape_spacing(index);
    let [nx, ny, nz] = shape;
    let mut rng = Rng::with_stream(SEED, 1000 + index as u64);
    let noise: Vec<i16> = (0..4096).map(|_| (rng.normal() * 15.0) as i16).collect();
    let mut data = vec![-1000i16; nx * ny * nz];
    for k in 0..nz {
        let t = k as f64 / nz as f64;
        let a = 180.0 + 50.0 * (std::f64::consts::PI * t).sin();
        let b = 0.7 * a;
        let slice = &mut data[k * nx * ny..(k + 1) * nx * ny];
        for j in 0..ny {
            let y = (j as f64 - ny as f64 / 2.0) / b;
            let row = &mut slice[j * nx..(j + 1) * nx];
            if y.abs() >= 1.0 {
                continue;
            }
            let half = a * (1.0 - y * y).sqrt();
            let (lo, hi) = (
                (nx as f64 / 2.0 - half).max(0.0) as usize,
                ((nx as f64 / 2.0 + half) as usize).min(nx),
            );
            let core = (half * 0.5) as usize;
            for (i, v) in row.iter_mut().enumerate().take(hi).skip(lo) {
                let base = if i + core > nx / 2 && i < nx / 2 + core {
                    60
                } else {
                    -80
                };
                *v = base + noise[(i * 31 + j * 17 + k * 7) & 4095];
            }
        }
    }
    let world_from_voxel = affine(shape, spacing);
    Volume {
        shape,
        spacing_mm: spacing,
        world_from_voxel,
        header: io::header_for_geometry(shape, spacing, &world_from_voxel),
        data: VoxelData::I16(data),
        scaling: None,
        source_dtype: None,
    }
}

/// The cohort of `cases` volumes as an (unlabelled) dataset.
pub fn dataset(cases: usize) -> Dataset {
    Dataset {
        id: format!("synthetic-ct-{cases}"),
        root: None,
        layout: Layout::Demo,
        label_names: Default::default(),
        cases: (0..cases)
            .map(|i| Case {
                id: format!("ct_{i:04}"),
                image: Source::Synthetic(i),
                labels: None,
                modality: Modality::Ct,
            })
            .collect(),
        cache: Default::default(),
        features: Default::default(),
    }
}

/// The dataset for a `synthetic-ct:N` spec, if `spec` is one.
pub fn from_spec(spec: &str) -> Option<crate::error::Result<Dataset>> {
    let n = spec.strip_prefix(SPEC_PREFIX)?;
    Some(match n.parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(dataset(n)),
        _ => Err(crate::error::Error::invalid(format!(
            "'{spec}': give the number of synthetic cases, 1 to 10000 (e.g. synthetic-ct:300)"
        ))),
    })
}
