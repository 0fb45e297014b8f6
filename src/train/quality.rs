//! Whether a run's Dice can stand for its plan: a run that did not learn the target, that
//! over-segments, or whose loss did not fall is flagged rather than reported as an estimate.

use super::evaluate::CaseDice;

/// Mean Dice under which a run is taken to have learned nothing of the target.
pub const NEAR_ZERO_DICE: f64 = 0.1;
/// Predicted over true target voxels (summed over the test volumes) above which a run is
/// taken to over-segment.
pub const OVER_SEGMENTATION_RATIO: f64 = 3.0;
/// The loss must fall below this fraction of its first value for a run to count as trained.
pub const CONVERGED_LOSS_FRACTION: f32 = 0.9;

/// The reasons, one sentence each, why a run's Dice is not an estimate of its plan; empty for
/// a usable run.
pub fn run_flags(test: &[CaseDice], loss_curve: &[(usize, f32)]) -> Vec<String> {
    let mut flags = Vec::new();
    let truth: u64 = test.iter().map(|t| t.truth_voxels).sum();
    let predicted: u64 = test.iter().map(|t| t.predicted_voxels).sum();
    // Volumes without the target score 1 for an empty prediction: a model that predicts
    // nothing looks good on them, so only volumes holding the target tell whether it learned.
    let with_target: Vec<f64> = test
        .iter()
        .filter(|t| t.truth_voxels > 0)
        .map(|t| t.dice)
        .collect();
    let mean = with_target.iter().sum::<f64>() / with_target.len().max(1) as f64;
    if !with_target.is_empty() && mean < NEAR_ZERO_DICE {
        flags.push(format!(
            "Dice {mean:.3} on the {} volume(s) holding the target is near zero: the model did not learn it{}",
            with_target.len(),
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
    if let (Some(&(_, first)), Some(&(_, last))) = (loss_curve.first(), loss_curve.last())
        && loss_curve.len() >= 3
        && last > CONVERGED_LOSS_FRACTION * first
    {
        flags.push(format!(
            "the loss did not fall ({first:.3} → {last:.3}): train longer or with another learning rate"
        ));
    }
    flags
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
        let falling = [(0, 1.2), (10, 0.8), (20, 0.4)];
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
        let flags = run_flags(&[case(1.0, 0, 0), case(0.0, 200, 0)], &falling);
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert!(flags[0].contains("predicts nothing"), "{flags:?}");
    }
}
