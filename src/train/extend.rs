//! Training on past the configured steps while the net has not fitted its own annotated slices.
//!
//! A small target (the demo's lesions, a hippocampus) can take several times the steps of an
//! organ before the net predicts any of it: with a fixed step count such a run ends predicting
//! nothing, and its Dice says nothing about its plan. With `UntilFitted`, training runs in
//! segments: the configured `steps`, then segments doubling the total (300 → 600 → 1200), each
//! with the learning-rate schedule restarted (a warm restart), until the loss shows the net
//! fitted its slices (`quality::fitted`, judged on the plan's own training batches, never on
//! the test volumes) or `max_steps` is reached. A run that fits within `steps` trains exactly as
//! without it.

use serde::{Deserialize, Serialize};

use super::quality::{self, FITTED_LOSS_FRACTION};

/// Train on, doubling the steps, up to `max_steps` while the net has not fitted its slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UntilFitted {
    pub max_steps: usize,
}

/// How many times its steps a run trains at most by default (the quick preset, the GUI).
pub const DEFAULT_EXTENSION: usize = 4;

impl UntilFitted {
    /// Up to `DEFAULT_EXTENSION` times `steps`.
    pub fn default_for(steps: usize) -> Self {
        UntilFitted {
            max_steps: DEFAULT_EXTENSION * steps,
        }
    }
}

/// Where the training segments end: `steps`, then doubling, the last at `max_steps` (just
/// `steps` without an extension or when `max_steps` is not above it).
pub fn segment_ends(steps: usize, until: Option<UntilFitted>) -> Vec<usize> {
    let mut ends = vec![steps];
    if let Some(u) = until {
        let mut end = steps;
        while end < u.max_steps && end > 0 {
            end = (end * 2).min(u.max_steps);
            ends.push(end);
        }
    }
    ends
}

/// The segment a run at `step` (steps done: 0 at the start, or a checkpoint's) is in: the
/// first whose end is at or after it, as its first step and its end. A run at a segment's end
/// is still in it, so whether to train on is decided there, as when it ran through.
pub fn segment_of(ends: &[usize], step: usize) -> (usize, usize) {
    let k = ends
        .iter()
        .position(|&e| e >= step)
        .unwrap_or(ends.len().saturating_sub(1));
    let start = if k == 0 { 0 } else { ends[k - 1] };
    (start, ends.get(k).copied().unwrap_or(0))
}

/// The learning rate at `step` of a segment `[start, end)`: a polynomial decay (power 0.9) from
/// `base` to zero over the segment.
pub fn learning_rate(base: f64, (start, end): (usize, usize), step: usize) -> f64 {
    let length = end.saturating_sub(start).max(1) as f64;
    let into = step.saturating_sub(start) as f64;
    base * (1.0 - into / length).max(0.0).powf(0.9)
}

/// The step a run ended at: where early stopping stopped it, else the end of the segment it
/// trained on to, else its `steps`.
pub fn steps_trained(steps: usize, stopped_at: Option<usize>, extended_to: Option<usize>) -> usize {
    stopped_at.or(extended_to).unwrap_or(steps)
}

/// The sentence a run that was extended reports.
pub fn extension_note(steps: usize, trained_to: usize, loss_curve: &[(usize, f32)]) -> String {
    let levels = quality::loss_levels(loss_curve)
        .map(|(first, last)| format!(" (loss {first:.3} → {last:.3} at the end)"))
        .unwrap_or_default();
    let fitted = if quality::fitted(loss_curve) {
        "fitted them then"
    } else {
        "had still not fitted them"
    };
    format!(
        "trained {trained_to} steps, not {steps}: the net had not fitted its annotated slices (its loss above {FITTED_LOSS_FRACTION} of its first value) and {fitted}{levels}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_double_up_to_the_most_steps() {
        let until = Some(UntilFitted { max_steps: 1200 });
        assert_eq!(segment_ends(300, until), vec![300, 600, 1200]);
        assert_eq!(
            segment_ends(300, Some(UntilFitted { max_steps: 1000 })),
            vec![300, 600, 1000]
        );
        assert_eq!(segment_ends(300, None), vec![300]);
        assert_eq!(
            segment_ends(300, Some(UntilFitted { max_steps: 300 })),
            vec![300]
        );
        let ends = segment_ends(300, until);
        assert_eq!(segment_of(&ends, 0), (0, 300));
        assert_eq!(segment_of(&ends, 299), (0, 300));
        assert_eq!(segment_of(&ends, 300), (0, 300), "decided at its end");
        assert_eq!(segment_of(&ends, 301), (300, 600));
        assert_eq!(segment_of(&ends, 1200), (600, 1200));
        assert_eq!(segment_of(&ends, 5000), (600, 1200));
    }

    #[test]
    fn each_segment_restarts_the_decay() {
        // The schedule without an extension: 1 - step/steps, to the power 0.9.
        for s in [0, 37, 99] {
            let plain = (1.0 - s as f64 / 100.0).powf(0.9);
            assert!((learning_rate(1.0, (0, 100), s) - plain).abs() < 1e-12);
        }
        assert!(learning_rate(1.0, (0, 100), 99) < 0.02);
        // Each later segment starts again from the base rate.
        assert_eq!(learning_rate(1.0, (100, 200), 100), 1.0);
        assert!((learning_rate(1.0, (100, 200), 150) - 0.5f64.powf(0.9)).abs() < 1e-12);
        assert_eq!(learning_rate(2.0, (200, 400), 200), 2.0);
        assert!((learning_rate(1.0, (200, 400), 300) - 0.5f64.powf(0.9)).abs() < 1e-12);
    }
}
