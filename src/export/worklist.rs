//! The annotators' worklist: one CSV row per planned slice.

use std::path::Path;

use crate::dataset::Dataset;
use crate::error::Result;
use crate::io::geometry::voxel_to_world;
use crate::io::write_bytes_atomic;
use crate::plan::Plan;

/// One row of the worklist.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorklistRow {
    pub order: usize,
    pub case_id: String,
    pub image_path: String,
    pub plane: String,
    pub axis: usize,
    pub slice_index: usize,
    /// World coordinate (mm) of the slice centre along the plane's normal (x for sagittal,
    /// y for coronal, z for axial; RAS+ as in NIfTI).
    pub position_mm: f64,
    /// For a DICOM case sliced along its images: the SOPInstanceUID of the image to annotate, so
    /// an annotator can open exactly that image in their viewer (empty otherwise).
    pub sop_instance_uid: String,
}

/// The worklist rows of `plan`, ordered by case then slice (so annotators open each volume once).
pub fn worklist_rows(plan: &Plan, dataset: &Dataset) -> Result<Vec<WorklistRow>> {
    let world_axis = plan.request.plane.world_axis();
    let mut rows = Vec::with_capacity(plan.total_slices());
    for v in &plan.volumes {
        let (geometry, uids) = match dataset.case_index(&v.case_id) {
            Some(i) => {
                let (g, uids) = dataset.geometry_and_uids(i)?;
                (Some(g), uids)
            }
            None => (None, None),
        };
        // DICOM images are the k slices; only a plan cut along k names one image per slice.
        let uids = uids.filter(|_| v.axis == 2);
        for &s in &v.slices {
            let position_mm = match &geometry {
                Some(g) => {
                    let mut ijk = [
                        (g.shape[0] as f64 - 1.0) / 2.0,
                        (g.shape[1] as f64 - 1.0) / 2.0,
                        (g.shape[2] as f64 - 1.0) / 2.0,
                    ];
                    ijk[v.axis] = s as f64;
                    voxel_to_world(&g.world_from_voxel, ijk)[world_axis]
                }
                None => f64::NAN,
            };
            rows.push(WorklistRow {
                order: rows.len() + 1,
                case_id: v.case_id.clone(),
                image_path: v.image_path.clone(),
                plane: plan.request.plane.name().to_string(),
                axis: v.axis,
                slice_index: s,
                position_mm,
                sop_instance_uid: uids
                    .as_ref()
                    .and_then(|u| u.get(s).cloned())
                    .unwrap_or_default(),
            });
        }
    }
    Ok(rows)
}

/// The worklist's columns; a hand-off worklist adds `done` and `target_absent` to tick.
const COLUMNS: [&str; 8] = [
    "order",
    "case_id",
    "image_path",
    "plane",
    "axis",
    "slice_index",
    "position_mm",
    "sop_instance_uid",
];

/// The columns an annotator ticks in a hand-off worklist.
pub const TICK_COLUMNS: [&str; 2] = ["done", "target_absent"];

fn csv_error(e: impl std::fmt::Display) -> crate::error::Error {
    crate::error::Error::invalid(format!("cannot write the worklist: {e}"))
}

/// Renders rows as CSV text (with empty `done` and `target_absent` columns to tick when
/// `ticks`).
pub fn worklist_csv_with(rows: &[WorklistRow], ticks: bool) -> Result<String> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let mut header: Vec<&str> = COLUMNS.to_vec();
    if ticks {
        header.extend(TICK_COLUMNS);
    }
    w.write_record(&header).map_err(csv_error)?;
    for r in rows {
        let mut record = vec![
            r.order.to_string(),
            r.case_id.clone(),
            r.image_path.clone(),
            r.plane.clone(),
            r.axis.to_string(),
            r.slice_index.to_string(),
            format!("{:.3}", r.position_mm),
            r.sop_instance_uid.clone(),
        ];
        if ticks {
            record.extend([String::new(), String::new()]);
        }
        w.write_record(&record).map_err(csv_error)?;
    }
    let bytes = w.into_inner().map_err(csv_error)?;
    String::from_utf8(bytes).map_err(csv_error)
}

/// Renders rows as CSV text.
pub fn worklist_csv(rows: &[WorklistRow]) -> Result<String> {
    worklist_csv_with(rows, false)
}

/// A worklist row as an annotator returned it: which planned slice, and what they ticked.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Tick {
    pub case_id: String,
    pub slice_index: usize,
    /// Ticked `done` (the slice was looked at).
    pub done: bool,
    /// Ticked `target_absent`: the target is not on this slice (a 0-only slice is an answer).
    pub target_absent: bool,
}

/// Whether a tick column's cell says yes (`1`, `x`, `y`, `yes`, `true`, `✓`, any case).
fn ticked(cell: &str) -> bool {
    matches!(
        cell.trim().to_ascii_lowercase().as_str(),
        "1" | "x" | "y" | "yes" | "true" | "✓" | "✔"
    )
}

/// Reads a worklist back (as written, or after a spreadsheet: quoted fields, a byte-order
/// mark, CRLF line ends): its rows' case, slice and ticks. A worklist without tick columns
/// reads as nothing ticked.
pub fn read_ticks(path: &Path) -> Result<Vec<Tick>> {
    let bad = |why: String| crate::error::Error::file(format!("unreadable worklist ({why})"), path);
    let bytes = std::fs::read(path).map_err(|e| crate::error::Error::io("cannot read", path, e))?;
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text);
    let header = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(case), Some(slice)) = (column("case_id"), column("slice_index")) else {
        return Err(bad("no case_id and slice_index columns".into()));
    };
    let (done, absent) = (column("done"), column("target_absent"));
    let mut ticks = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("");
        let slice_index = cell(Some(slice)).trim().parse().map_err(|_| {
            bad(format!(
                "row {} has slice_index '{}', not a whole number",
                line + 2,
                cell(Some(slice))
            ))
        })?;
        ticks.push(Tick {
            case_id: cell(Some(case)).trim().to_string(),
            slice_index,
            done: ticked(cell(done)),
            target_absent: ticked(cell(absent)),
        });
    }
    Ok(ticks)
}

/// Writes the worklist CSV of `plan` atomically.
pub fn write_worklist(plan: &Plan, dataset: &Dataset, path: impl AsRef<Path>) -> Result<usize> {
    let rows = worklist_rows(plan, dataset)?;
    write_bytes_atomic(path, worklist_csv(&rows)?.as_bytes())?;
    Ok(rows.len())
}
