//! A cohort made from one real labelled volume, for studies where only one such volume exists:
//! each case sees the volume through its own scan range (a window of the axial slices that holds
//! the target's middle slice), an in-plane deformation (rotation, scaling, shear, shift and a
//! smooth elastic warp that drifts along the slices) and its own scanner gain, offset and noise.
//! Real anatomy and intensities with a made-up spread between patients: what such a cohort
//! cannot show is anatomy that differs between people. Deterministic for a seed.

use std::ops::Range;
use std::path::Path;

use super::{Case, Modality};
use crate::error::{Error, Result};
use crate::io::{Plane, Volume, VoxelData, write_bytes_atomic, write_labels_like, write_nifti};
use crate::rng::Rng;

/// How one case sees the source.
#[derive(Debug, Clone, PartialEq)]
pub struct AugmentDraw {
    /// The source's axial slices this case holds.
    pub source_slices: Range<usize>,
    /// Output (x, y) about the slice centre → source offset (rotation · shear · scale).
    linear: [[f64; 2]; 2],
    shift: (f64, f64),
    /// Elastic warp components: amplitude (voxels), wavelengths along x and y (voxels), phase,
    /// phase drift per slice.
    waves: [[f64; 5]; 4],
    pub gain: f64,
    pub offset: f64,
    pub noise_sd: f64,
}

impl AugmentDraw {
    /// The draw of case `index` of a cohort with `seed`, from a source `depth` slices deep whose
    /// target lies on slices `target` (first and last).
    pub fn new(seed: u64, index: usize, depth: usize, target: (usize, usize)) -> Self {
        let mut rng = Rng::with_stream(seed, index as u64);
        // A scan range of half to three quarters of the source, holding the target's middle.
        let slices = ((depth as f64 * rng.range_f64(0.5, 0.75)).round() as usize).clamp(1, depth);
        let middle = (target.0 + target.1) / 2;
        let lo = (middle + 1).saturating_sub(slices);
        let hi = middle.min(depth - slices).max(lo);
        let first = lo + rng.below(hi - lo + 1);
        let angle = rng.range_f64(-12.0, 12.0).to_radians();
        let (sx, sy) = (rng.range_f64(0.87, 1.15), rng.range_f64(0.87, 1.15));
        let shear = rng.range_f64(-0.08, 0.08);
        let (c, s) = (angle.cos(), angle.sin());
        let linear = [
            [c * sx, (c * shear - s) * sy],
            [s * sx, (s * shear + c) * sy],
        ];
        let shift = (rng.range_f64(-6.0, 6.0), rng.range_f64(-6.0, 6.0));
        let mut wave = || {
            [
                rng.range_f64(1.0, 3.5),
                rng.range_f64(35.0, 90.0),
                rng.range_f64(35.0, 90.0),
                rng.range_f64(0.0, std::f64::consts::TAU),
                rng.range_f64(-0.05, 0.05),
            ]
        };
        let waves = [wave(), wave(), wave(), wave()];
        AugmentDraw {
            source_slices: first..first + slices,
            linear,
            shift,
            waves,
            gain: rng.range_f64(0.92, 1.08),
            offset: rng.range_f64(-25.0, 25.0),
            noise_sd: rng.range_f64(4.0, 18.0),
        }
    }

    /// The source position seen at output voxel (x, y) of output slice z.
    fn source(&self, (x, y, z): (f64, f64, f64), (cx, cy): (f64, f64)) -> (f64, f64) {
        let (u, v) = (x - cx, y - cy);
        let [[a, b], [c, d]] = self.linear;
        let tau = std::f64::consts::TAU;
        let warp = |[amp, lx, ly, phase, drift]: [f64; 5]| {
            amp * (tau * x / lx + phase + drift * z).sin() * (tau * y / ly + phase).cos()
        };
        (
            cx + a * u + b * v + self.shift.0 + warp(self.waves[0]) + warp(self.waves[1]),
            cy + c * u + d * v + self.shift.1 + warp(self.waves[2]) + warp(self.waves[3]),
        )
    }
}

/// One case of the cohort: its image (int16), label map and draw.
pub struct AugmentedCase {
    pub image: Volume,
    pub labels: Vec<u16>,
    pub draw: AugmentDraw,
}

/// A labelled volume prepared once for drawing the cases of a cohort from it.
pub struct AugmentSource<'a> {
    image: &'a Volume,
    labels: &'a [u16],
    /// The image's values, scaling applied.
    intensities: Vec<f32>,
    /// The lowest value, standing in outside the source.
    background: f64,
    /// The first and last axial slices holding the target.
    target_slices: (usize, usize),
}

impl<'a> AugmentSource<'a> {
    /// `image` and its `labels` (axial slices along the third voxel axis), with the cases to be
    /// drawn around the slices holding any of `target`.
    pub fn new(image: &'a Volume, labels: &'a [u16], target: &[u16]) -> Result<Self> {
        let plane = image.shape[0] * image.shape[1];
        if labels.len() != image.voxel_count() {
            return Err(Error::invalid(format!(
                "the label map holds {} voxels, the image {}",
                labels.len(),
                image.voxel_count()
            )));
        }
        let holds: Vec<usize> = (0..image.shape[2])
            .filter(|&k| {
                labels[k * plane..(k + 1) * plane]
                    .iter()
                    .any(|l| target.contains(l))
            })
            .collect();
        let (Some(&first), Some(&last)) = (holds.first(), holds.last()) else {
            return Err(Error::invalid(format!(
                "no voxel holds the target labels {target:?}"
            )));
        };
        let intensities = image.to_f32();
        let background = intensities.iter().copied().fold(f32::INFINITY, f32::min) as f64;
        Ok(AugmentSource {
            image,
            labels,
            intensities,
            background,
            target_slices: (first, last),
        })
    }

    /// Case `index` of the cohort with `seed`. Intensities are resampled bilinearly, labels by
    /// the nearest voxel; outside the source, the source's lowest value.
    pub fn case(&self, seed: u64, index: usize) -> AugmentedCase {
        let (image, labels, intensities) = (self.image, self.labels, &self.intensities);
        let [nx, ny, nz] = image.shape;
        let plane = nx * ny;
        let draw = AugmentDraw::new(seed, index, nz, self.target_slices);
        let background = self.background;
        let mut noise = Rng::with_stream(seed ^ 0x5eed_0a0e, index as u64);
        let centre = ((nx as f64 - 1.0) / 2.0, (ny as f64 - 1.0) / 2.0);
        let depth = draw.source_slices.len();
        let mut out_image = Vec::with_capacity(plane * depth);
        let mut out_labels = Vec::with_capacity(plane * depth);
        for (z, k) in draw.source_slices.clone().enumerate() {
            for j in 0..ny {
                for i in 0..nx {
                    let (sx, sy) = draw.source((i as f64, j as f64, z as f64), centre);
                    let inside =
                        sx >= 0.0 && sy >= 0.0 && sx <= (nx - 1) as f64 && sy <= (ny - 1) as f64;
                    let (value, label) = if inside {
                        let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
                        let (x1, y1) = ((x0 + 1).min(nx - 1), (y0 + 1).min(ny - 1));
                        let (fx, fy) = (sx - x0 as f64, sy - y0 as f64);
                        let at = |x: usize, y: usize| intensities[image.index(x, y, k)] as f64;
                        let v = (1.0 - fy) * ((1.0 - fx) * at(x0, y0) + fx * at(x1, y0))
                            + fy * ((1.0 - fx) * at(x0, y1) + fx * at(x1, y1));
                        let nearest = image.index(sx.round() as usize, sy.round() as usize, k);
                        (v, labels[nearest])
                    } else {
                        (background, 0)
                    };
                    let v = draw.gain * value + draw.offset + draw.noise_sd * noise.normal();
                    out_image.push(v.round().clamp(i16::MIN as f64, i16::MAX as f64) as i16);
                    out_labels.push(label);
                }
            }
        }
        // The window's first slice moves the origin along the slice axis.
        let mut world_from_voxel = image.world_from_voxel;
        for (r, row) in world_from_voxel.iter_mut().enumerate().take(3) {
            row[3] += draw.source_slices.start as f64 * image.world_from_voxel[r][2];
        }
        let image = Volume::new(
            [nx, ny, depth],
            image.spacing_mm,
            world_from_voxel,
            VoxelData::I16(out_image),
        );
        AugmentedCase {
            image,
            labels: out_labels,
            draw,
        }
    }
}

/// Case `index` of the cohort with `seed` made from `image` and its `labels` around the slices
/// holding any of `target` (see [`AugmentSource`]; a cohort prepares its source once).
pub fn augment_case(
    image: &Volume,
    labels: &[u16],
    target: &[u16],
    seed: u64,
    index: usize,
) -> Result<AugmentedCase> {
    Ok(AugmentSource::new(image, labels, target)?.case(seed, index))
}

/// Writes `cases` cases made from the case folder `source` (an image and its label map, as a
/// dataset of one case: its grids checked, its label names and modality read as for any
/// dataset) around `target` into `out` as case folders (`case_000/image.nii.gz`,
/// `labels.nii.gz`, `case.json`), which open as a dataset. Returns each case's draw.
pub fn write_augmented_cohort(
    source: &Path,
    target: &[u16],
    cases: usize,
    seed: u64,
    out: &Path,
) -> Result<Vec<AugmentDraw>> {
    let dataset = super::open_dataset(source)?;
    let labels_path = match (dataset.len(), &dataset.cases[..]) {
        (
            1,
            [
                Case {
                    labels: Some(labels),
                    ..
                },
            ],
        ) => labels.display_path(),
        _ => {
            return Err(Error::file(
                format!(
                    "expected one case with a label map, found {} case(s)",
                    dataset.len()
                ),
                source,
            ));
        }
    };
    let loaded = dataset.load(0)?;
    let image = &loaded.image;
    if image.axis_for_plane(Plane::Axial) != 2 {
        return Err(Error::file(
            format!(
                "the axial slices are not along the third voxel axis (orientation {})",
                image.orientation()
            ),
            dataset.cases[0].image.display_path(),
        ));
    }
    let labels = loaded.labels_u16()?;
    let prepared = AugmentSource::new(image, &labels, target)
        .map_err(|e| Error::file(e.to_string(), &labels_path))?;
    let names: serde_json::Map<String, serde_json::Value> = dataset
        .label_names
        .iter()
        .map(|(v, name)| (v.to_string(), name.clone().into()))
        .collect();
    let modality = match loaded.modality {
        Modality::Ct => "CT",
        Modality::Mr => "MR",
        Modality::Other => "other",
    };
    let mut draws = Vec::with_capacity(cases);
    for index in 0..cases {
        let case = prepared.case(seed, index);
        let dir = out.join(format!("case_{index:03}"));
        write_nifti(dir.join("image.nii.gz"), &case.image)?;
        write_labels_like(dir.join("labels.nii.gz"), &case.image, &case.labels)?;
        let facts = serde_json::json!({
            "labels": names,
            "modality": modality,
            "augmented_from": source.display().to_string(),
            "seed": seed,
            "source_slices": [case.draw.source_slices.start, case.draw.source_slices.end],
            "gain": case.draw.gain,
            "offset": case.draw.offset,
            "noise_sd": case.draw.noise_sd,
        });
        let text = serde_json::to_string_pretty(&facts)
            .map_err(|e| Error::invalid(format!("case.json of {}: {e}", dir.display())))?;
        write_bytes_atomic(dir.join("case.json"), text.as_bytes())?;
        draws.push(case.draw);
    }
    Ok(draws)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 48×40×30 volume: a bright disc (label 1, 300) on slices 12–17 in a dark body (0), air
    /// (−1000) outside.
    fn disc_volume() -> (Volume, Vec<u16>) {
        let shape = [48, 40, 30];
        let mut image = Vec::new();
        let mut labels = Vec::new();
        for k in 0..shape[2] {
            for j in 0..shape[1] {
                for i in 0..shape[0] {
                    let (x, y) = (i as f64 - 24.0, j as f64 - 20.0);
                    let disc = (12..18).contains(&k) && (x - 5.0).hypot(y) < 6.0;
                    let body = x.hypot(y) < 18.0;
                    image.push(if disc {
                        300
                    } else if body {
                        0
                    } else {
                        -1000
                    });
                    labels.push(disc as u16);
                }
            }
        }
        let affine = [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 2.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let v = Volume::new(shape, [1.0, 1.0, 2.0], affine, VoxelData::I16(image));
        (v, labels)
    }

    #[test]
    fn labels_move_with_the_image_and_the_window_holds_the_target() {
        let (image, labels) = disc_volume();
        for index in 0..6 {
            let case = augment_case(&image, &labels, &[1], 7, index).unwrap();
            let d = &case.draw;
            assert!(d.source_slices.contains(&14), "{:?}", d.source_slices);
            assert_eq!(case.image.shape[2], d.source_slices.len());
            let values = case.image.to_f32();
            let inside: Vec<f32> = (0..values.len())
                .filter(|&i| case.labels[i] == 1)
                .map(|i| values[i])
                .collect();
            assert!(
                inside.len() > 300,
                "case {index}: {} target voxels",
                inside.len()
            );
            // The disc's voxels carry the disc's intensity (gain · 300 + offset ± noise), not
            // the body's: the labels were warped with the image.
            let bright = inside.iter().filter(|&&v| v > 150.0).count();
            assert!(
                bright as f64 > 0.9 * inside.len() as f64,
                "case {index}: {bright} of {} labelled voxels bright",
                inside.len()
            );
            // The origin moved with the window: output slice 0 is source slice `start`.
            let z0 = case.image.world_from_voxel[2][3];
            assert_eq!(z0, 2.0 * d.source_slices.start as f64);
        }
    }

    #[test]
    fn cases_are_deterministic_and_differ_from_each_other() {
        let (image, labels) = disc_volume();
        let a = augment_case(&image, &labels, &[1], 3, 0).unwrap();
        let b = augment_case(&image, &labels, &[1], 3, 0).unwrap();
        let c = augment_case(&image, &labels, &[1], 3, 1).unwrap();
        assert_eq!(a.draw, b.draw);
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.image.to_f32(), b.image.to_f32());
        assert_ne!(a.draw, c.draw);
    }

    #[test]
    fn a_target_the_volume_lacks_is_refused() {
        let (image, labels) = disc_volume();
        let e = augment_case(&image, &labels, &[2], 0, 0).err().unwrap();
        assert!(
            e.to_string()
                .contains("no voxel holds the target labels [2]"),
            "{e}"
        );
        let e = augment_case(&image, &labels[1..], &[1], 0, 0)
            .err()
            .unwrap();
        assert!(e.to_string().contains("label map holds"), "{e}");
    }
}
