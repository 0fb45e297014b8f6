//! What to do when a study's trainings did not learn its target: a sentence for the report, the
//! CLI and the GUI's planner, so that a handful of surviving runs is not read as the plan's expected Dice.

use super::estimates::FrontierPoint;
use super::report::ScenarioSummary;
use crate::study::store::key::RunSpec;

/// Flagged runs needed, as a share of the measured ones, before the advice is given.
const ADVICE_SHARE: f64 = 1.0 / 3.0;

/// The advice for a study's stored runs (`summaries` of `specs`), naming the most steps any run
/// was given; for `study run`'s table and the report.
pub fn study_advice(specs: &[RunSpec], summaries: &[ScenarioSummary]) -> Option<String> {
    let counts = summaries
        .iter()
        .fold((0, 0), |(r, f), s| (r + s.runs, f + s.flagged));
    let steps = specs
        .iter()
        .map(|s| s.train.most_steps())
        .max()
        .unwrap_or(0);
    not_learned_advice(counts, steps)
}

/// The advice for the planner's frontier (each point's seeds that learned and that did not),
/// trained for `steps` steps; for the GUI.
pub fn frontier_advice(points: &[FrontierPoint], steps: usize) -> Option<String> {
    let counts = points.iter().fold((0, 0), |(r, f), p| {
        (r + p.by_seed.len() + p.flagged, f + p.flagged)
    });
    not_learned_advice(counts, steps)
}

/// A sentence when a third or more of a study's `runs` (and at least two) were `flagged` as not
/// having learned the target; `steps` is the most steps any run was given.
pub fn not_learned_advice((runs, flagged): (usize, usize), steps: usize) -> Option<String> {
    if flagged < 2 || (flagged as f64) < ADVICE_SHARE * runs as f64 {
        return None;
    }
    Some(format!(
        "{flagged} of {runs} runs did not learn the target (Dice near zero and a loss that never \
         fitted), so these estimates rest on the runs that did. A small target needs longer \
         training than {steps} steps: more steps (`steps` in a study file; the demo's lesions \
         learned in 3 of 10 runs at a fixed 300 steps, in 8 of 10 when quick trained on up to \
         1200 before 0.5 and in all 10 since, and in all 10 at a fixed 1000) or the `full` \
         preset, which trains to convergence."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_comes_when_a_third_of_the_runs_did_not_learn() {
        assert_eq!(not_learned_advice((12, 0), 300), None);
        // One failure in three runs is chance, not a pattern.
        assert_eq!(not_learned_advice((3, 1), 300), None);
        assert_eq!(not_learned_advice((20, 4), 300), None);
        let advice = not_learned_advice((10, 7), 300).expect("7 of 10");
        assert!(advice.starts_with("7 of 10 runs did not learn"), "{advice}");
        assert!(advice.contains("than 300 steps"), "{advice}");
        assert!(not_learned_advice((6, 2), 1000).is_some());
    }
}
