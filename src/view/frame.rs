//! Screen layout of a volume for one plane. Radiological convention: axial and coronal views
//! show the patient's right on the screen's left; axial puts anterior at the top, coronal and
//! sagittal superior at the top; sagittal shows anterior on the left. Each screen axis is the
//! voxel axis that runs mostly along the matching world axis, flipped where it runs the other
//! way, so RAS, LPS, PIR or any other voxel order looks the same.

use crate::io::Plane;
use crate::io::geometry::{Affine, axis_directions};

/// One screen axis of a view: the voxel axis it walks and in which direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewAxis {
    pub voxel_axis: usize,
    /// Screen position 0 is the voxel axis's last index.
    pub flipped: bool,
    /// Voxels along it.
    pub len: usize,
    pub spacing_mm: f64,
}

impl ViewAxis {
    /// The voxel index at screen position `p`.
    #[inline]
    pub fn voxel(&self, p: usize) -> usize {
        if self.flipped { self.len - 1 - p } else { p }
    }

    /// The screen position of voxel index `v` (its own inverse).
    #[inline]
    pub fn screen(&self, v: usize) -> usize {
        self.voxel(v)
    }
}

/// How slices of one plane are drawn: the slice axis, and the voxel axes across and down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DisplayFrame {
    pub plane: Plane,
    /// The voxel axis the view's slices are taken along.
    pub slice_axis: usize,
    /// Screen x (left → right).
    pub across: ViewAxis,
    /// Screen y (top → bottom).
    pub down: ViewAxis,
}

impl DisplayFrame {
    /// The layout of `plane` for a volume of `shape` and `spacing_mm` placed by
    /// `world_from_voxel`.
    pub fn new(
        world_from_voxel: &Affine,
        shape: [usize; 3],
        spacing_mm: [f64; 3],
        plane: Plane,
    ) -> DisplayFrame {
        let dirs = axis_directions(world_from_voxel);
        let along = |world: usize| dirs.iter().position(|&(w, _)| w == world).unwrap_or(world);
        // (world axis across, world axis down); every screen axis runs against its world axis
        // (x toward the patient's left, y toward posterior or inferior).
        let (w_across, w_down) = match plane {
            Plane::Axial => (0, 1),
            Plane::Coronal => (0, 2),
            Plane::Sagittal => (1, 2),
        };
        let axis = |world: usize| {
            let v = along(world);
            ViewAxis {
                voxel_axis: v,
                flipped: dirs[v].1,
                len: shape[v],
                spacing_mm: spacing_mm[v],
            }
        };
        DisplayFrame {
            plane,
            slice_axis: along(plane.world_axis()),
            across: axis(w_across),
            down: axis(w_down),
        }
    }

    /// Image width in pixels (one per voxel).
    pub fn width(&self) -> usize {
        self.across.len
    }

    /// Image height in pixels.
    pub fn height(&self) -> usize {
        self.down.len
    }

    /// The image's size in millimetres (width, height): its aspect on screen.
    pub fn size_mm(&self) -> (f64, f64) {
        (
            self.across.len as f64 * self.across.spacing_mm,
            self.down.len as f64 * self.down.spacing_mm,
        )
    }

    /// The voxel shown at pixel (x, y) of slice `slice`.
    #[inline]
    pub fn voxel(&self, slice: usize, x: usize, y: usize) -> [usize; 3] {
        let mut ijk = [0usize; 3];
        ijk[self.slice_axis] = slice;
        ijk[self.across.voxel_axis] = self.across.voxel(x);
        ijk[self.down.voxel_axis] = self.down.voxel(y);
        ijk
    }

    /// Where voxel `ijk` is drawn: (slice, x, y).
    pub fn pixel(&self, ijk: [usize; 3]) -> (usize, usize, usize) {
        (
            ijk[self.slice_axis],
            self.across.screen(ijk[self.across.voxel_axis]),
            self.down.screen(ijk[self.down.voxel_axis]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An affine whose voxel axes run along `dirs` (world axis, sign) with 1 mm voxels.
    fn affine(dirs: [(usize, f64); 3]) -> Affine {
        let mut a = [[0.0; 4]; 4];
        for (v, &(w, s)) in dirs.iter().enumerate() {
            a[w][v] = s;
        }
        a[3][3] = 1.0;
        a
    }

    /// The world direction (axis, sign) screen x and y run along, in any voxel order.
    fn screen_world(f: &DisplayFrame, a: &Affine) -> [(usize, f64); 2] {
        let dir = |ax: &ViewAxis| {
            let col = ax.voxel_axis;
            let w = (0..3).find(|&w| a[w][col] != 0.0).unwrap();
            let s = a[w][col].signum() * if ax.flipped { -1.0 } else { 1.0 };
            (w, s)
        };
        [dir(&f.across), dir(&f.down)]
    }

    #[test]
    fn every_voxel_order_is_shown_in_the_radiological_convention() {
        let orders = [
            [(0, 1.0), (1, 1.0), (2, 1.0)],   // RAS
            [(0, -1.0), (1, -1.0), (2, 1.0)], // LPS
            [(1, -1.0), (2, -1.0), (0, 1.0)], // PIR
            [(0, -1.0), (2, 1.0), (1, 1.0)],  // LSA
        ];
        // Screen x toward the patient's left (−x) or posterior (−y); screen y toward
        // posterior (−y) or inferior (−z).
        let expected = [
            (Plane::Axial, [(0, -1.0), (1, -1.0)]),
            (Plane::Coronal, [(0, -1.0), (2, -1.0)]),
            (Plane::Sagittal, [(1, -1.0), (2, -1.0)]),
        ];
        for dirs in orders {
            let a = affine(dirs);
            for (plane, want) in expected {
                let f = DisplayFrame::new(&a, [4, 5, 6], [1.0, 2.0, 3.0], plane);
                assert_eq!(screen_world(&f, &a), want, "{dirs:?} {plane:?}");
                assert_eq!(dirs[f.slice_axis].0, plane.world_axis());
                // Every pixel maps to a voxel and back.
                for y in 0..f.height() {
                    for x in 0..f.width() {
                        let ijk = f.voxel(1, x, y);
                        assert_eq!(f.pixel(ijk), (1, x, y));
                    }
                }
            }
        }
    }

    #[test]
    fn the_aspect_follows_the_spacing() {
        let f = DisplayFrame::new(
            &affine([(0, 1.0), (1, 1.0), (2, 1.0)]),
            [100, 80, 30],
            [0.8, 0.8, 5.0],
            Plane::Coronal,
        );
        assert_eq!((f.width(), f.height()), (100, 30));
        let (w, h) = f.size_mm();
        assert!((w - 80.0).abs() < 1e-9 && (h - 150.0).abs() < 1e-9);
    }
}
