//! Files for 3D Slicer: a markups file (`.mrk.json`, Slicer 5's plane markups) with one plane per
//! planned slice, named by its order, so an annotator steps through them in the Markups module.
//! Positions are in RAS millimetres, as the NIfTI grid gives them (the schema allows RAS or LPS).

use serde_json::{Value, json};

use crate::dataset::CaseGeometry;
use crate::io::geometry::voxel_to_world;
use crate::plan::PlannedVolume;

/// The markups schema the file follows (Slicer 5).
pub const MARKUPS_SCHEMA: &str = "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/markups-schema-v1.0.3.json#";

/// Unit vector of voxel axis `axis` in world (RAS) space.
fn axis_direction(g: &CaseGeometry, axis: usize) -> [f64; 3] {
    let v = [
        g.world_from_voxel[0][axis],
        g.world_from_voxel[1][axis],
        g.world_from_voxel[2][axis],
    ];
    let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-12);
    v.map(|x| x / norm)
}

/// The plane through planned slice `slice` of `volume`: its centre (the middle of the slice),
/// the in-plane directions and the normal (RAS), and its size in mm.
fn slice_plane(g: &CaseGeometry, volume: &PlannedVolume, slice: usize) -> Value {
    let axis = volume.axis;
    let (a, b) = crate::io::Volume::in_plane_axes(axis);
    let mut ijk = g.shape.map(|n| (n as f64 - 1.0) / 2.0);
    ijk[axis] = slice as f64;
    let center = voxel_to_world(&g.world_from_voxel, ijk);
    let (x, y, n) = (
        axis_direction(g, a),
        axis_direction(g, b),
        axis_direction(g, axis),
    );
    // Columns x, y, n (the plane's axes and normal), row by row.
    let orientation: Vec<f64> = (0..3).flat_map(|r| [x[r], y[r], n[r]]).collect();
    let mut base_to_node: Vec<f64> = (0..3).flat_map(|r| [x[r], y[r], n[r], center[r]]).collect();
    base_to_node.extend([0.0, 0.0, 0.0, 1.0]);
    let size = [
        g.shape[a] as f64 * g.spacing_mm[a],
        g.shape[b] as f64 * g.spacing_mm[b],
        0.0,
    ];
    let order = volume.slices.iter().position(|&s| s == slice).unwrap_or(0) + 1;
    let name = format!(
        "{} slice {order} of {} (index {slice})",
        volume.case_id,
        volume.slices.len()
    );
    json!({
        "type": "Plane",
        "name": name,
        "coordinateSystem": "RAS",
        "coordinateUnits": "mm",
        "locked": true,
        "fixedNumberOfControlPoints": true,
        "labelFormat": "%N-%d",
        "planeType": "pointNormal",
        "sizeMode": "absolute",
        "autoScalingSizeFactor": 1.0,
        "center": center,
        "normal": n,
        "size": size,
        "orientation": orientation,
        "objectToBase": [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        "baseToNode": base_to_node,
        "controlPoints": [{
            "id": "1",
            "label": name,
            "position": center,
            "orientation": orientation,
            "selected": true,
            "locked": true,
            "visibility": true,
            "positionStatus": "defined"
        }]
    })
}

/// The markups file of `volume` on a case of geometry `g`: one plane per planned slice, in
/// the plan's order.
pub fn slice_markups(g: &CaseGeometry, volume: &PlannedVolume) -> Value {
    json!({
        "@schema": MARKUPS_SCHEMA,
        "markups": volume
            .slices
            .iter()
            .map(|&s| slice_plane(g, volume, s))
            .collect::<Vec<Value>>(),
    })
}
