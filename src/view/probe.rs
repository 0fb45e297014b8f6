//! The hover readout: what is under the pointer.

use crate::io::Volume;
use crate::io::geometry::voxel_to_world;

/// One voxel, described.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub ijk: [usize; 3],
    /// Its centre in world (RAS+) millimetres.
    pub world_mm: [f64; 3],
    /// The image value (scaling applied).
    pub intensity: f64,
    /// The label value, where the case has labels.
    pub label: Option<i64>,
}

/// The voxel `ijk` of `image` (and `labels`, on the same grid); None outside the volume.
pub fn probe(image: &Volume, labels: Option<&Volume>, ijk: [usize; 3]) -> Option<Probe> {
    if (0..3).any(|a| ijk[a] >= image.shape[a]) {
        return None;
    }
    let index = image.index(ijk[0], ijk[1], ijk[2]);
    Some(Probe {
        ijk,
        world_mm: voxel_to_world(
            &image.world_from_voxel,
            [ijk[0] as f64, ijk[1] as f64, ijk[2] as f64],
        ),
        intensity: image.value(index),
        label: labels
            .filter(|l| l.shape == image.shape)
            .map(|l| l.value(index).round() as i64),
    })
}
