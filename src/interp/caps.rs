//! How a part without a counterpart on the other side of a gap ends inside it: the weight of its
//! erosion towards its medial axis at each point of the gap, like a cone or a dome by the
//! object's own taper.

/// A capped part without a labelled slice before its last erodes half like a cone and half like
/// a dome (`capped_weight`).
const DOME_SHARE: f32 = 0.5;
/// Area ratios (last labelled slice over the one before) at or below which a capped part ends
/// like a cone, and at or above which it ends like a dome (`dome_share`).
const TAPER_CONE: f32 = 0.4;
const TAPER_DOME: f32 = 0.9;

/// The blend weight of a capped part at `t` (0 at its labelled slice, ½ where it ends): a share
/// of a dome's erosion, whose radius falls as R·√(1 − (t/½)²) and keeps blob-like ends (a
/// gallbladder's, a disc's) full further into the gap, and the rest the linear erosion, which
/// tapers the part to its medial axis like a cone (`dome_share` chooses the share).
pub(super) fn capped_weight(t: f32, dome_share: f32) -> f32 {
    if t >= 0.5 {
        // Gone: the linear weight keeps every blended value above zero.
        return t;
    }
    // The dome's erosion as a fraction of the part's depth, and the linear blend's weight
    // that erodes that much: (1 − w)·(−depth) + w·depth = −depth·(1 − e) at w = e / (1 + e).
    let e = 1.0 - (1.0 - 4.0 * t * t).max(0.0).sqrt();
    dome_share * e / (1.0 + e) + (1.0 - dome_share) * t
}

/// The dome's share of a capped part's erosion, from `taper`: the label's area on its last
/// labelled slice over its area on the annotated slice before that (None where it has none). An
/// object that narrows towards its end (a ratio of 0.4 or less: a vertebra's tip, the heart's
/// apex) tapers like a cone; one as wide there as before (0.9 or more: a disc, a gallbladder's
/// fundus) ends like a dome; between, in proportion; without a slice before, half and half.
/// Chosen on `bench_interp`'s small structures and large masks (BENCHMARKS.md).
pub(super) fn dome_share(taper: Option<f32>) -> f32 {
    match taper {
        None => DOME_SHARE,
        Some(r) => ((r - TAPER_CONE) / (TAPER_DOME - TAPER_CONE)).clamp(0.0, 1.0),
    }
}
