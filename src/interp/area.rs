//! The level at which a blend of two sides keeps their linearly interpolated area.

/// The level below which at least `area` (rounded) of `values` lie, where fewer than that lie
/// below zero; otherwise zero. Shape-based interpolation of two sides that overlap poorly (an
/// object that moves, bends or changes shape across the gap) thins the middle of the gap below
/// either side; thresholding there at the level that holds the linearly interpolated area keeps
/// it as large as the slices around it suggest.
pub(super) fn level_for_area(values: &[f32], area: f32) -> f32 {
    let want = area.round() as usize;
    let now = values.iter().filter(|&&x| x < 0.0).count();
    if want <= now || want >= values.len() {
        return 0.0;
    }
    // The (want − now) smallest of the values at or above zero join the inside.
    let mut outside: Vec<f32> = values.iter().copied().filter(|&x| x >= 0.0).collect();
    let k = want - now;
    let (_, last, rest) = outside.select_nth_unstable_by(k - 1, f32::total_cmp);
    let last = *last;
    let next = rest.iter().copied().fold(f32::INFINITY, f32::min);
    if !next.is_finite() {
        return 0.0;
    }
    // Between the last value taken in and the next one: where they are equal (common in
    // distance fields), every value equal to them stays out, so it never takes in more.
    (last + next) / 2.0
}
