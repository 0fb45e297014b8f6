//! A binary DICOM SEG written as OHIF or highdicom would write one, for tests that return masks
//! in that form: one frame per segment and labelled slice, placed by ImagePositionPatient. The
//! frames run along the slice axis with rows reversed (the column direction points against the
//! volume's second in-plane axis), so a reader that places frames by index instead of by
//! position reads the wrong voxels.

use std::path::Path;

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use sliceplan::io::Volume;

/// What the SEG holds.
pub struct SegSpec<'a> {
    /// The grid the labels lie on (its affine places the frames).
    pub grid: &'a Volume,
    /// Dataset label values, `grid`'s voxel order.
    pub labels: &'a [u16],
    /// (segment number, label value it holds, segment label).
    pub segments: &'a [(u16, u16, &'a str)],
    /// The slicing axis of the frames.
    pub axis: usize,
    /// "BINARY", or another type to see it refused.
    pub segmentation_type: &'a str,
}

fn item(elements: Vec<DataElement<InMemDicomObject>>) -> InMemDicomObject {
    InMemDicomObject::from_element_iter(elements)
}

fn sequence(tag: dicom_core::Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

fn text(tag: dicom_core::Tag, vr: VR, value: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

fn decimals(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.6}"))
        .collect::<Vec<_>>()
        .join("\\")
}

/// World (LPS) of voxel `ijk` of `grid`.
fn lps(grid: &Volume, ijk: [f64; 3]) -> [f64; 3] {
    let w = sliceplan::io::geometry::voxel_to_world(&grid.world_from_voxel, ijk);
    [-w[0], -w[1], w[2]]
}

fn code(meaning: &str) -> InMemDicomObject {
    item(vec![
        text(tags::CODE_VALUE, VR::SH, "85756007"),
        text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "SCT"),
        text(tags::CODE_MEANING, VR::LO, meaning),
    ])
}

/// Writes the SEG of `spec` to `path`.
pub fn write_dicom_seg(path: &Path, spec: &SegSpec) {
    let g = spec.grid;
    let (a, b) = Volume::in_plane_axes(spec.axis);
    let (columns, rows) = (g.shape[a], g.shape[b]);
    let unit = |axis: usize, sign: f64| {
        let p0 = lps(g, [0.0; 3]);
        let mut ijk = [0.0; 3];
        ijk[axis] = 1.0;
        let p1 = lps(g, ijk);
        let d = [0, 1, 2].map(|r| (p1[r] - p0[r]) * sign);
        let n = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        d.map(|x| x / n)
    };
    let (row_dir, column_dir) = (unit(a, 1.0), unit(b, -1.0));
    let mut bits: Vec<bool> = Vec::new();
    let mut frames = Vec::new();
    for s in 0..g.shape[spec.axis] {
        for &(number, value, _) in spec.segments {
            let mut pixels = Vec::with_capacity(rows * columns);
            for r in 0..rows {
                for c in 0..columns {
                    let mut ijk = [0usize; 3];
                    ijk[a] = c;
                    ijk[b] = rows - 1 - r;
                    ijk[spec.axis] = s;
                    pixels.push(spec.labels[g.index(ijk[0], ijk[1], ijk[2])] == value);
                }
            }
            if !pixels.iter().any(|&p| p) {
                continue;
            }
            let mut first = [0.0; 3];
            first[b] = (rows - 1) as f64;
            first[spec.axis] = s as f64;
            let position = lps(g, first);
            frames.push(item(vec![
                sequence(
                    tags::FRAME_CONTENT_SEQUENCE,
                    vec![item(vec![DataElement::new(
                        tags::DIMENSION_INDEX_VALUES,
                        VR::UL,
                        PrimitiveValue::U32(
                            [number as u32, frames.len() as u32 + 1]
                                .into_iter()
                                .collect(),
                        ),
                    )])],
                ),
                sequence(
                    tags::PLANE_POSITION_SEQUENCE,
                    vec![item(vec![text(
                        tags::IMAGE_POSITION_PATIENT,
                        VR::DS,
                        &decimals(&position),
                    )])],
                ),
                sequence(
                    tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                    vec![item(vec![DataElement::new(
                        tags::REFERENCED_SEGMENT_NUMBER,
                        VR::US,
                        PrimitiveValue::from(number),
                    )])],
                ),
            ]));
            bits.extend(pixels);
        }
    }
    let mut bytes = vec![0u8; bits.len().div_ceil(8)];
    for (i, &bit) in bits.iter().enumerate() {
        if bit {
            bytes[i / 8] |= 1 << (i % 8);
        }
    }
    if bytes.len() % 2 == 1 {
        bytes.push(0);
    }
    let segments = spec
        .segments
        .iter()
        .map(|&(number, _, label)| {
            item(vec![
                DataElement::new(tags::SEGMENT_NUMBER, VR::US, PrimitiveValue::from(number)),
                text(tags::SEGMENT_LABEL, VR::LO, label),
                text(tags::SEGMENT_ALGORITHM_TYPE, VR::CS, "MANUAL"),
                sequence(
                    tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
                    vec![code("Tissue")],
                ),
                sequence(
                    tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE,
                    vec![code(label)],
                ),
            ])
        })
        .collect();
    let spacing = [g.spacing_mm[b], g.spacing_mm[a]];
    let shared = item(vec![
        sequence(
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![item(vec![text(
                tags::IMAGE_ORIENTATION_PATIENT,
                VR::DS,
                &decimals(&[row_dir, column_dir].concat()),
            )])],
        ),
        sequence(
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![item(vec![
                text(tags::PIXEL_SPACING, VR::DS, &decimals(&spacing)),
                text(
                    tags::SLICE_THICKNESS,
                    VR::DS,
                    &decimals(&[g.spacing_mm[spec.axis]]),
                ),
                text(
                    tags::SPACING_BETWEEN_SLICES,
                    VR::DS,
                    &decimals(&[g.spacing_mm[spec.axis]]),
                ),
            ])],
        ),
    ]);
    let n_frames = frames.len();
    let sop = "2.25.1234567890123456789";
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let mut elements = vec![
        text(tags::SOP_CLASS_UID, VR::UI, uids::SEGMENTATION_STORAGE),
        text(tags::SOP_INSTANCE_UID, VR::UI, sop),
        text(tags::STUDY_INSTANCE_UID, VR::UI, "2.25.11"),
        text(tags::SERIES_INSTANCE_UID, VR::UI, "2.25.12"),
        text(tags::FRAME_OF_REFERENCE_UID, VR::UI, "2.25.13"),
        text(tags::MODALITY, VR::CS, "SEG"),
        text(tags::SERIES_NUMBER, VR::IS, "1"),
        text(tags::INSTANCE_NUMBER, VR::IS, "1"),
        text(tags::CONTENT_LABEL, VR::CS, "RETURNED"),
        text(tags::IMAGE_TYPE, VR::CS, "DERIVED\\PRIMARY"),
        text(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"),
        text(tags::SEGMENTATION_TYPE, VR::CS, spec.segmentation_type),
        us(tags::SAMPLES_PER_PIXEL, 1),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        us(tags::ROWS, rows as u16),
        us(tags::COLUMNS, columns as u16),
        text(tags::NUMBER_OF_FRAMES, VR::IS, &n_frames.to_string()),
        us(tags::BITS_ALLOCATED, 1),
        us(tags::BITS_STORED, 1),
        us(tags::HIGH_BIT, 0),
        us(tags::PIXEL_REPRESENTATION, 0),
        sequence(tags::SEGMENT_SEQUENCE, segments),
        sequence(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared]),
        sequence(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, frames),
        sequence(
            tags::DIMENSION_ORGANIZATION_SEQUENCE,
            vec![item(vec![text(
                tags::DIMENSION_ORGANIZATION_UID,
                VR::UI,
                "2.25.14",
            )])],
        ),
        DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::from(bytes)),
    ];
    if spec.segmentation_type == "FRACTIONAL" {
        elements.push(text(
            tags::SEGMENTATION_FRACTIONAL_TYPE,
            VR::CS,
            "PROBABILITY",
        ));
    }
    let file = item(elements)
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .unwrap();
    file.write_to_file(path).unwrap();
}
