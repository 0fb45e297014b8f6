//! What a study says before it trains: for each scenario, its first seed's plan made and checked
//! against the labels, so that a plan whose slices miss the target in most of its volumes is
//! said before the runs that would find it out ("the plan's 40 slices hold the target … in 1 of
//! 20 volumes"). Each run says it again for its own seed in its notes.

use std::collections::HashSet;

use super::reruns::is_rerun;
use super::summary::scenario_key;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::jobs::Progress;
use crate::plan::{SliceStrategy, TargetCoverage, make_plan};
use crate::study::store::key::RunSpec;

/// One warning per scenario of `specs` whose first seed's plan holds the target in fewer than
/// half its volumes: "60 slices, s=20, fixed, 2d, seed 0: the plan's …". Scenarios whose plan
/// cannot be made are left to the runs (they are stored as skipped, with why); those that
/// select slices by image features (`ual`, `coreset`) too, since their plans read every volume's
/// features, which the runs compute anyway.
pub fn coverage_warnings(
    dataset: &Dataset,
    specs: &[RunSpec],
    progress: &Progress,
) -> Result<Vec<String>> {
    let mut seen = HashSet::new();
    let mut warnings = Vec::new();
    for spec in specs.iter().filter(|s| !is_rerun(s)) {
        let by_features = matches!(
            spec.request.slice_strategy,
            SliceStrategy::Ual | SliceStrategy::Coreset
        );
        if by_features || !seen.insert(scenario_key(spec)) {
            continue;
        }
        let plan = match make_plan(dataset, &spec.request, progress) {
            Err(Error::Infeasible(_)) => continue,
            other => other?,
        };
        let coverage = TargetCoverage::of(dataset, &plan, &spec.request.target, progress)?;
        let target = spec.request.target.describe(&dataset.label_names);
        if let Some(w) = coverage.warning(&target) {
            warnings.push(format!("{}: {w}", spec.label()));
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::demo;
    use crate::plan::{Budget, PlanRequest};
    use crate::train::TrainConfig;

    fn spec(strategy: SliceStrategy, target: &str, seed: u64) -> RunSpec {
        let dataset = demo::dataset();
        let request = PlanRequest {
            budget: Some(Budget::Slices(16)),
            volumes: Some(16),
            slice_strategy: strategy,
            seed,
            target: crate::dataset::TargetLabels::parse(target, &dataset.label_names).unwrap(),
            ..PlanRequest::default()
        };
        RunSpec::new("fp", request, TrainConfig::default(), "quick")
    }

    #[test]
    fn a_plan_missing_a_small_target_is_said_once_per_scenario() {
        let dataset = demo::dataset();
        // One slice in each of 16 volumes: the demo's lesions (0–3 small ones per patient) are
        // missed by most fixed-interval slices, never by slices placed on them.
        let specs: Vec<RunSpec> = [0, 1, 2]
            .iter()
            .map(|&seed| spec(SliceStrategy::Fixed, "lesion", seed))
            .chain([spec(SliceStrategy::ForegroundFixed, "lesion", 0)])
            .collect();
        let warnings = coverage_warnings(&dataset, &specs, &Progress::new()).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("fixed, 2d, seed 0: the plan's 16 slices hold the target (lesion")
                && warnings[0].contains("of 16 volumes"),
            "{warnings:?}"
        );
    }
}
