//! How much of the target a plan's annotated slices hold, known before anything is trained: a
//! plan whose slices miss the target in most of its volumes teaches those volumes only
//! background (measured on the real CT's adrenal glands: 40 slices as 20 volumes × 2
//! fixed-interval slices held the glands in 1 of 20 volumes and every run scored 0; the same
//! 40 slices placed on the glands scored 0.375, docs/src/benchmarks.md, "Small structures").
//! The study command says so before training, the planner under the plan, and each run again
//! in its notes; a plan whose slices hold none of the target is refused by the trainer.

use serde::Serialize;

use super::Plan;
use super::plan::foreground_slices;
use crate::dataset::{Dataset, TargetLabels};
use crate::error::{Error, Result};
use crate::jobs::Progress;

/// A plan's annotated slices against the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TargetCoverage {
    /// Annotated slices of the plan.
    pub planned_slices: usize,
    /// Volumes of the plan.
    pub volumes: usize,
    /// Of them, volumes with at least one annotated slice that holds the target.
    pub volumes_with_target: usize,
    /// Annotated slices that hold the target.
    pub slices_with_target: usize,
    /// Volumes of the plan whose labels hold the target anywhere (on any slice): a volume
    /// without it teaches only background whichever slices are annotated.
    pub volumes_holding_target: usize,
}

impl TargetCoverage {
    /// Reads the label maps of `plan`'s volumes in `dataset` and counts the annotated slices
    /// holding `target`. An error for a volume without labels (nothing to count) or one the
    /// dataset lacks.
    pub fn of(
        dataset: &Dataset,
        plan: &Plan,
        target: &TargetLabels,
        progress: &Progress,
    ) -> Result<Self> {
        let mut coverage = TargetCoverage {
            planned_slices: plan.total_slices(),
            volumes: plan.volumes.len(),
            volumes_with_target: 0,
            slices_with_target: 0,
            volumes_holding_target: 0,
        };
        for planned in &plan.volumes {
            progress.check()?;
            let index = dataset.require_case(&planned.case_id)?;
            let labels = dataset.load_labels(index)?.ok_or_else(|| {
                Error::invalid(format!(
                    "case '{}' has no label map: cannot tell where the target is",
                    planned.case_id
                ))
            })?;
            let with = foreground_slices(&labels, planned.axis, target);
            let held = planned
                .slices
                .iter()
                .filter(|s| with.binary_search(s).is_ok())
                .count();
            coverage.slices_with_target += held;
            coverage.volumes_with_target += usize::from(held > 0);
            coverage.volumes_holding_target += usize::from(!with.is_empty());
        }
        Ok(coverage)
    }

    /// Whether the slices hold the target in fewer than half the plan's volumes: the rest
    /// teach only background.
    pub fn is_poor(&self) -> bool {
        2 * self.volumes_with_target < self.volumes
    }

    /// "the plan's 40 slices hold the target (adrenal glands) in 1 of 20 volumes (1 slices)",
    /// and where some volumes hold none of it on any slice, how many.
    pub fn sentence(&self, target: &str) -> String {
        let absent = self.volumes - self.volumes_holding_target.min(self.volumes);
        format!(
            "the plan's {} slices hold the target ({target}) in {} of {} volumes ({} slices){}",
            self.planned_slices,
            self.volumes_with_target,
            self.volumes,
            self.slices_with_target,
            if absent > 0 {
                format!(
                    "; {absent} of the {} volumes hold none of it on any slice",
                    self.volumes
                )
            } else {
                String::new()
            }
        )
    }

    /// What to do about poor coverage: where most volumes lack the target altogether, choose
    /// volumes that show it; else place the slices on it.
    fn advice(&self) -> &'static str {
        if 2 * self.volumes_holding_target < self.volumes {
            "the target is absent from most of the plan's volumes: plan volumes that show it (or more of them)"
        } else {
            "place the slices on the structure (e.g. strategy foreground-fixed in a simulation) or plan fewer volumes"
        }
    }

    /// The sentence with what it means where the coverage is poor or empty; None where the
    /// slices hold the target in at least half the volumes.
    pub fn warning(&self, target: &str) -> Option<String> {
        if self.volumes_with_target == 0 {
            return Some(format!(
                "the plan's {} annotated slices hold no voxel of the target ({target}) in its {} volume(s): there is nothing to learn; plan slices where the target appears",
                self.planned_slices, self.volumes
            ));
        }
        self.is_poor().then(|| {
            format!(
                "{}: the others teach only background; {}",
                self.sentence(target),
                self.advice()
            )
        })
    }
}

/// Adds to `plan`'s rationale how much of its target its slices hold, where `dataset` has the
/// labels to tell (a pilot set): the sentence, with what it means where the coverage is poor.
/// The planner (GUI and `sliceplan plan`) says it under the plan, before anything is trained.
pub fn explain_coverage(dataset: &Dataset, plan: &mut Plan, progress: &Progress) -> Result<()> {
    if !dataset.is_labelled() || plan.volumes.is_empty() {
        return Ok(());
    }
    let target = plan.request.target.clone();
    let coverage = TargetCoverage::of(dataset, plan, &target, progress)?;
    let name = target.describe(&dataset.label_names);
    // Plain text: the GUI's fonts have no warning sign.
    plan.rationale.push(format!(
        "Coverage: {}",
        coverage
            .warning(&name)
            .unwrap_or_else(|| coverage.sentence(&name))
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::demo;
    use crate::plan::{Budget, PlanRequest, SliceStrategy, make_plan};

    fn coverage(strategy: SliceStrategy, volumes: usize) -> TargetCoverage {
        let dataset = demo::dataset();
        let request = PlanRequest {
            budget: Some(Budget::Slices(2 * volumes)),
            volumes: Some(volumes),
            slice_strategy: strategy,
            target: dataset.default_target(),
            ..PlanRequest::default()
        };
        let plan = make_plan(&dataset, &request, &Progress::new()).unwrap();
        TargetCoverage::of(&dataset, &plan, &request.target, &Progress::new()).unwrap()
    }

    #[test]
    fn slices_placed_on_the_target_hold_it_in_every_volume() {
        let on = coverage(SliceStrategy::ForegroundFixed, 6);
        assert_eq!((on.planned_slices, on.volumes), (12, 6));
        assert_eq!((on.volumes_with_target, on.slices_with_target), (6, 12));
        assert_eq!(on.volumes_holding_target, 6);
        assert!(!on.is_poor() && on.warning("spleen").is_none());
    }

    #[test]
    fn the_count_matches_the_labels_slice_by_slice() {
        // Fixed-interval slices: count by hand what each planned slice holds.
        let dataset = demo::dataset();
        let request = PlanRequest {
            budget: Some(Budget::Slices(16)),
            volumes: Some(8),
            target: dataset.default_target(),
            ..PlanRequest::default()
        };
        let plan = make_plan(&dataset, &request, &Progress::new()).unwrap();
        let c = TargetCoverage::of(&dataset, &plan, &request.target, &Progress::new()).unwrap();
        let (mut volumes, mut slices, mut holding) = (0, 0, 0);
        for v in &plan.volumes {
            let labels = dataset
                .load_labels(dataset.case_index(&v.case_id).unwrap())
                .unwrap()
                .unwrap();
            let held = v
                .slices
                .iter()
                .filter(|&&s| {
                    labels
                        .slices_where(v.axis, |l| request.target.is_foreground(l))
                        .contains(&s)
                })
                .count();
            slices += held;
            volumes += usize::from(held > 0);
            let anywhere = labels.slices_where(v.axis, |l| request.target.is_foreground(l));
            holding += usize::from(!anywhere.is_empty());
        }
        assert_eq!(
            (c.volumes_with_target, c.slices_with_target),
            (volumes, slices)
        );
        assert_eq!(c.volumes_holding_target, holding);
        assert_eq!(c.is_poor(), 2 * volumes < 8);
    }

    #[test]
    fn the_planner_says_the_coverage_in_the_rationale() {
        let dataset = demo::dataset();
        let request = PlanRequest {
            budget: Some(Budget::Slices(12)),
            volumes: Some(6),
            slice_strategy: SliceStrategy::ForegroundFixed,
            target: dataset.default_target(),
            ..PlanRequest::default()
        };
        let mut plan = make_plan(&dataset, &request, &Progress::new()).unwrap();
        let before = plan.rationale.len();
        explain_coverage(&dataset, &mut plan, &Progress::new()).unwrap();
        assert_eq!(plan.rationale.len(), before + 1);
        let line = plan.rationale.last().unwrap();
        assert!(
            line.starts_with("Coverage: the plan's 12 slices")
                && line.contains("in 6 of 6 volumes (12 slices)"),
            "{line}"
        );
    }

    #[test]
    fn poor_and_empty_coverage_are_said_with_what_to_do() {
        let poor = TargetCoverage {
            planned_slices: 40,
            volumes: 20,
            volumes_with_target: 1,
            slices_with_target: 1,
            volumes_holding_target: 20,
        };
        let w = poor.warning("adrenal glands").unwrap();
        assert!(
            w.starts_with(
                "the plan's 40 slices hold the target (adrenal glands) in 1 of 20 volumes"
            ) && w.contains("foreground-fixed"),
            "{w}"
        );
        let none = TargetCoverage {
            volumes_with_target: 0,
            slices_with_target: 0,
            ..poor
        };
        assert!(none.warning("x").unwrap().contains("nothing to learn"));
        let half = TargetCoverage {
            volumes_with_target: 10,
            ..poor
        };
        assert!(half.warning("x").is_none(), "half the volumes is enough");
        // Most volumes without the target at all: the advice is about the volumes.
        let absent = TargetCoverage {
            volumes_holding_target: 4,
            ..poor
        };
        let w = absent.warning("lesion").unwrap();
        assert!(
            w.contains("16 of the 20 volumes hold none of it on any slice")
                && w.contains("absent from most of the plan's volumes"),
            "{w}"
        );
    }
}
