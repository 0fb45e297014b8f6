//! Risk flags for gaps between annotated slices: where interpolation should not be trusted.

use serde::{Deserialize, Serialize};

/// Why a gap is risky.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlagKind {
    /// The object is on one side of the gap only.
    AppearsOrDisappears,
    /// The number of connected components differs across the gap.
    ComponentCountChanges,
    /// Both masks are non-empty but do not overlap.
    NoOverlap,
    /// One mask's area exceeds the other's by more than the threshold ratio.
    AreaRatio,
    /// The gap is wider (in mm) than the object's in-plane size.
    GapWiderThanObject,
}

/// One flagged gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskFlag {
    pub case_id: String,
    pub label: i64,
    pub from_slice: usize,
    pub to_slice: usize,
    pub kind: FlagKind,
    pub detail: String,
}

/// Thresholds of the flags.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FlagRules {
    /// Flag when max(area) / min(area) exceeds this.
    pub max_area_ratio: f64,
}

impl Default for FlagRules {
    fn default() -> Self {
        FlagRules {
            max_area_ratio: 2.0,
        }
    }
}

/// Connected components (8-connectivity) of a binary mask.
pub fn component_count(mask: &[bool], width: usize, height: usize) -> usize {
    super::parts::label_components(mask, width, height).1
}

/// Flags the gap between annotated slices `a` < `b` for one label.
#[allow(clippy::too_many_arguments)]
pub fn flag_gap(
    case_id: &str,
    label: i64,
    (a, mask_a): (usize, &[bool]),
    (b, mask_b): (usize, &[bool]),
    width: usize,
    height: usize,
    pixel_mm2: f64,
    slice_mm: f64,
    rules: &FlagRules,
) -> Vec<RiskFlag> {
    let area = |m: &[bool]| m.iter().filter(|&&x| x).count();
    let (area_a, area_b) = (area(mask_a), area(mask_b));
    let mut flags = Vec::new();
    let mut push = |kind: FlagKind, detail: String| {
        flags.push(RiskFlag {
            case_id: case_id.to_string(),
            label,
            from_slice: a,
            to_slice: b,
            kind,
            detail,
        })
    };
    if area_a == 0 && area_b == 0 {
        return flags;
    }
    if (area_a == 0) != (area_b == 0) {
        let (here, there) = if area_a == 0 { (b, a) } else { (a, b) };
        push(
            FlagKind::AppearsOrDisappears,
            format!("label {label} is on slice {here} but not on slice {there}"),
        );
        return flags;
    }
    let (ca, cb) = (
        component_count(mask_a, width, height),
        component_count(mask_b, width, height),
    );
    if ca != cb {
        push(
            FlagKind::ComponentCountChanges,
            format!("{ca} component(s) on slice {a}, {cb} on slice {b}"),
        );
    }
    if !mask_a.iter().zip(mask_b).any(|(&x, &y)| x && y) {
        push(
            FlagKind::NoOverlap,
            format!("the masks on slices {a} and {b} do not overlap"),
        );
    }
    let ratio = area_a.max(area_b) as f64 / area_a.min(area_b) as f64;
    if ratio > rules.max_area_ratio {
        push(
            FlagKind::AreaRatio,
            format!("areas {area_a} and {area_b} pixels differ {ratio:.1}×"),
        );
    }
    let gap_mm = (b - a) as f64 * slice_mm;
    let size_mm = 2.0 * (area_a.max(area_b) as f64 * pixel_mm2 / std::f64::consts::PI).sqrt();
    if gap_mm > size_mm {
        push(
            FlagKind::GapWiderThanObject,
            format!("gap of {gap_mm:.1} mm is wider than the object (≈ {size_mm:.1} mm across)"),
        );
    }
    flags
}
