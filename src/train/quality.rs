//! Whether a run's Dice can stand for its plan: a run that did not learn the target, that
//! over-segments, or whose loss did not fall is flagged rather than reported as an estimate.
//! A run that fits its own annotated slices but scores near zero on the test volumes did
//! learn: its low Dice is what the plan buys, and it gets a note instead of a flag.

use super::evaluate::CaseDice;

/// Mean Dice under which a run may have learned nothing of the target.
pub const NEAR_ZERO_DICE: f64 = 0.1;
/// Predicted over true target voxels (summed over the test volumes) above which a run is
/// taken to over-segment.
pub const OVER_SEGMENTATION_RATIO: f64 = 3.0;
/// The loss must fall below this fraction of its first value for a run to count as trained.
pub const CONVERGED_LOSS_FRACTION: f32 = 0.9;
/// A run whose loss ends below this fraction of its first value has fitted its training
/// slices (its loss's Dice term no longer sits near 1, the value for predicting nothing). Half
/// (0.4 and earlier) let a net stop just as it began to find a small target: a lesion run
/// stopped at 300 steps with its loss at 0.2 of its first value and scored 0.11 on the test
/// volumes; trained on to 600, 0.58 (docs/src/calibration.md). Organs fit to 0.02-0.14 of it.
pub const FITTED_LOSS_FRACTION: f32 = 0.25;

/// The loss's first value and its final level: the median of the curve's last quarter (at
/// least three points), since one batch's loss is noisy. None with fewer than three points.
pub(crate) fn loss_levels(loss_curve: &[(usize, f32)]) -> Option<(f32, f32)> {
    let &(_, first) = loss_curve.first()?;
    if loss_curve.len() < 3 || first <= 0.0 {
        return None;
    }
    let mut tail: Vec<f32> = loss_curve[loss_curve.len() - (loss_curve.len() / 4).max(3)..]
        .iter()
        .map(|p| p.1)
        .collect();
    tail.sort_by(f32::total_cmp);
    Some((first, tail[tail.len() / 2]))
}

/// Whether the loss curve shows the net fitted its training slices: its final level at most
/// `FITTED_LOSS_FRACTION` of its first value (false without enough points to tell).
pub fn fitted(loss_curve: &[(usize, f32)]) -> bool {
    fitted_levels(loss_curve).is_some()
}

/// The loss's (first, final) levels where they show the net fitted its slices.
fn fitted_levels(loss_curve: &[(usize, f32)]) -> Option<(f32, f32)> {
    loss_levels(loss_curve).filter(|&(first, last)| last <= FITTED_LOSS_FRACTION * first)
}

/// A run scoring near zero on the test volumes that hold the target.
struct NearZero {
    /// Mean Dice over those volumes, and how many there are.
    mean: f64,
    with_target: usize,
    /// The loss's (first, final) levels where they show the net fitted its own slices.
    fitted: Option<(f32, f32)>,
}

/// Whether the run scores near zero, judged on the test volumes that hold the target: volumes
/// without it score 1 for an empty prediction, so a model that predicts nothing looks good on
/// them. None when it does not, or no test volume holds the target.
fn near_zero(test: &[CaseDice], loss_curve: &[(usize, f32)]) -> Option<NearZero> {
    let with_target: Vec<f64> = test
        .iter()
        .filter(|t| t.truth_voxels > 0)
        .map(|t| t.dice)
        .collect();
    let mean = with_target.iter().sum::<f64>() / with_target.len().max(1) as f64;
    (!with_target.is_empty() && mean < NEAR_ZERO_DICE).then(|| NearZero {
        mean,
        with_target: with_target.len(),
        fitted: fitted_levels(loss_curve),
    })
}

/// The reasons, one sentence each, why a run's Dice is not an estimate of its plan; empty for
/// a usable run. Near-zero Dice is a flag only where the loss shows the net did not fit its
/// own slices (or there is no loss curve to tell); else see `generalisation_note`.
pub fn run_flags(test: &[CaseDice], loss_curve: &[(usize, f32)]) -> Vec<String> {
    let mut flags = Vec::new();
    let truth: u64 = test.iter().map(|t| t.truth_voxels).sum();
    let predicted: u64 = test.iter().map(|t| t.predicted_voxels).sum();
    if let Some(NearZero {
        mean,
        with_target,
        fitted: None,
    }) = near_zero(test, loss_curve)
    {
        flags.push(format!(
            "Dice {mean:.3} on the {with_target} volume(s) holding the target is near zero: the model did not learn it{}",
            if predicted == 0 {
                " (it predicts nothing)"
            } else {
                ""
            }
        ));
    }
    if truth > 0 && predicted as f64 > OVER_SEGMENTATION_RATIO * truth as f64 {
        flags.push(format!(
            "the predictions hold {:.1}× the target's voxels: the model over-segments",
            predicted as f64 / truth as f64
        ));
    }
    if let Some((first, last)) = loss_levels(loss_curve)
        && last > CONVERGED_LOSS_FRACTION * first
    {
        flags.push(format!(
            "the loss did not fall ({first:.3} → {last:.3}): train longer or with another learning rate"
        ));
    }
    flags
}

/// A note for a run that fitted its training slices yet scores near zero on the test
/// volumes: a real, poor result of the plan (its volumes do not teach the target as it looks
/// in the test volumes), reported as such rather than flagged.
pub fn generalisation_note(test: &[CaseDice], loss_curve: &[(usize, f32)]) -> Option<String> {
    let NearZero {
        mean,
        with_target,
        fitted,
    } = near_zero(test, loss_curve)?;
    let (first, last) = fitted?;
    Some(format!(
        "the model fits its training slices (loss {first:.3} → {last:.3}) but scores Dice {mean:.3} on the {with_target} test volume(s) holding the target: this plan generalises poorly to them"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(dice: f64, truth: u64, predicted: u64) -> CaseDice {
        CaseDice {
            case_id: "c".into(),
            dice,
            truth_voxels: truth,
            predicted_voxels: predicted,
        }
    }

    #[test]
    fn usable_runs_have_no_flag_and_failed_ones_say_why() {
        // Trained (below 0.9× its first value), not fitted (above a quarter of it).
        let falling = [(0, 1.2), (10, 0.9), (20, 0.8), (30, 0.75)];
        assert!(run_flags(&[case(0.8, 100, 110)], &falling).is_empty());
        let flags = run_flags(&[case(0.02, 100, 1500)], &falling);
        assert_eq!(flags.len(), 2, "{flags:?}");
        assert!(flags[0].contains("near zero"));
        assert!(flags[1].contains("15.0×"));
        let flat = [(0, 1.0), (10, 0.98), (20, 0.95)];
        let flags = run_flags(&[case(0.5, 100, 100)], &flat);
        assert_eq!(flags.len(), 1);
        assert!(flags[0].contains("did not fall"));
        // Volumes without the target (empty-truth rule) flag nothing by themselves, and do not
        // hide a model that predicts nothing on the others.
        assert!(run_flags(&[case(1.0, 0, 0)], &falling).is_empty());
        let stalled = [(0, 1.6), (10, 1.2), (20, 1.0), (30, 0.97)];
        let flags = run_flags(&[case(1.0, 0, 0), case(0.0, 200, 0)], &stalled);
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert!(flags[0].contains("predicts nothing"), "{flags:?}");
        assert!(generalisation_note(&[case(0.0, 200, 0)], &stalled).is_none());
    }

    #[test]
    fn near_zero_dice_after_fitting_the_training_slices_is_a_result_not_a_failure() {
        // Loss 1.6 → 0.005 (the last quarter's mean): the net fitted its slices.
        let fitted = [
            (0, 1.6),
            (10, 0.9),
            (20, 0.3),
            (30, 0.1),
            (40, 0.01),
            (50, 0.004),
            (60, 0.006),
        ];
        let test = [case(0.08, 300, 120), case(1.0, 0, 0)];
        assert!(run_flags(&test, &fitted).is_empty());
        let note = generalisation_note(&test, &fitted).unwrap();
        assert!(
            note.contains("0.080") && note.contains("generalises poorly"),
            "{note}"
        );
        // One low batch at the end does not make a stalled run fitted (the tail's median).
        let noisy_end = [
            (0, 1.6),
            (10, 1.1),
            (20, 1.0),
            (30, 1.0),
            (40, 0.98),
            (50, 0.98),
            (60, 0.98),
            (70, 0.3),
        ];
        assert_eq!(run_flags(&test, &noisy_end).len(), 1);
        assert!(super::fitted(&fitted) && !super::fitted(&noisy_end) && !super::fitted(&[]));
        // Without a loss curve there is nothing to tell the two apart: flagged.
        assert_eq!(run_flags(&test, &[]).len(), 1);
        assert!(generalisation_note(&[case(0.5, 300, 280)], &fitted).is_none());
    }
}
