//! A plan handed to annotators: its volumes split between N people by the cost model's hours
//! (whole volumes stay with one person), a share of them given to two for agreement checks,
//! and per annotator a folder to work in (`package`): a worklist to tick, and per case a label
//! template on the image's grid with files that open it in 3D Slicer and ITK-SNAP.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::plan::Plan;

/// What `handoff.json` says the package is.
pub const HANDOFF_FORMAT: &str = "sliceplan-handoff/1";

/// One annotator's share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The annotator's folder name ("annotator-1", …).
    pub name: String,
    /// Cases in plan order.
    pub cases: Vec<String>,
    /// Annotation hours under the plan's cost model.
    pub hours: f64,
}

/// How a plan is split between annotators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub annotators: Vec<Assignment>,
    /// Cases given to two annotators, for agreement checks (spread over the plan).
    pub shared: Vec<String>,
}

/// Hours to annotate one planned volume of `slices` slices.
fn volume_hours(plan: &Plan, slices: usize) -> f64 {
    plan.request.cost_model.seconds(1, slices) / 3600.0
}

/// Positions of `k` of `n` items spread evenly (the middle of each of k equal runs).
fn spread(n: usize, k: usize) -> Vec<usize> {
    (0..k).map(|i| (2 * i + 1) * n / (2 * k)).collect()
}

/// Splits `plan` between `annotators` people, balancing their hours (longest volumes first,
/// each to whoever has least so far); with `overlap` > 0, that share of the volumes (at least
/// one), spread over the plan, goes to a second annotator too.
pub fn split(plan: &Plan, annotators: usize, overlap: f64) -> Result<Split> {
    if annotators == 0 {
        return Err(Error::invalid("a hand-off needs at least one annotator"));
    }
    if !(0.0..1.0).contains(&overlap) {
        return Err(Error::invalid(format!(
            "the overlap is a share of the volumes, from 0 to below 1, got {overlap}"
        )));
    }
    if overlap > 0.0 && annotators < 2 {
        return Err(Error::invalid(
            "an overlap for agreement checks needs at least two annotators",
        ));
    }
    let n = plan.volumes.len();
    if n == 0 {
        return Err(Error::invalid("the plan has no volume to hand off"));
    }
    let k = if overlap > 0.0 {
        ((overlap * n as f64).round() as usize).clamp(1, n)
    } else {
        0
    };
    let shared_at = spread(n, k);
    let mut order: Vec<usize> = (0..n).collect();
    let hours: Vec<f64> = plan
        .volumes
        .iter()
        .map(|v| volume_hours(plan, v.slices.len()))
        .collect();
    order.sort_by(|&a, &b| hours[b].total_cmp(&hours[a]).then(a.cmp(&b)));
    let mut load = vec![0.0f64; annotators];
    let mut given: Vec<Vec<usize>> = vec![Vec::new(); annotators];
    let least = |load: &[f64], except: Option<usize>| {
        (0..load.len())
            .filter(|&a| Some(a) != except)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
    };
    for &i in &order {
        let first = least(&load, None).unwrap_or(0);
        load[first] += hours[i];
        given[first].push(i);
        if shared_at.contains(&i)
            && let Some(second) = least(&load, Some(first))
        {
            load[second] += hours[i];
            given[second].push(i);
        }
    }
    let annotators = given
        .into_iter()
        .zip(load)
        .enumerate()
        .map(|(a, (mut volumes, hours))| {
            volumes.sort_unstable();
            Assignment {
                name: format!("annotator-{}", a + 1),
                cases: volumes
                    .iter()
                    .map(|&i| plan.volumes[i].case_id.clone())
                    .collect(),
                hours,
            }
        })
        .collect();
    Ok(Split {
        annotators,
        shared: shared_at
            .iter()
            .map(|&i| plan.volumes[i].case_id.clone())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::Progress;
    use crate::plan::{Budget, Plan, PlanRequest, PlannedVolume, make_plan};

    /// A plan of the demo with volumes of `slices` planned slices each.
    fn plan(slices: &[usize]) -> Plan {
        let request = PlanRequest {
            budget: Some(Budget::Slices(4)),
            ..PlanRequest::default()
        };
        let mut p = make_plan(&crate::dataset::demo::dataset(), &request, &Progress::new())
            .expect("a plan");
        p.volumes = slices
            .iter()
            .enumerate()
            .map(|(i, &n)| PlannedVolume {
                case_id: format!("case{i:02}"),
                image_path: String::new(),
                axis: 2,
                slice_count: 100,
                slices: (0..n).collect(),
            })
            .collect();
        p
    }

    #[test]
    fn hours_are_balanced_and_whole_volumes_stay_with_one_person() {
        let p = plan(&[10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5]);
        let s = split(&p, 3, 0.0).unwrap();
        let mut all: Vec<&String> = s.annotators.iter().flat_map(|a| &a.cases).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 12, "every volume once");
        assert_eq!(
            s.annotators.iter().map(|a| a.cases.len()).sum::<usize>(),
            12
        );
        let hours: Vec<f64> = s.annotators.iter().map(|a| a.hours).collect();
        let (lo, hi) = (
            hours.iter().cloned().fold(f64::MAX, f64::min),
            hours.iter().cloned().fold(0.0, f64::max),
        );
        // The 10-slice volume alone is about 0.28 h; the rest balance around it.
        assert!(hi - lo <= volume_hours(&p, 5) + 1e-9, "{hours:?}");
        assert!(s.shared.is_empty());
    }

    #[test]
    fn shared_volumes_go_to_two_annotators_and_spread_over_the_plan() {
        let p = plan(&[2; 20]);
        let s = split(&p, 3, 0.1).unwrap();
        assert_eq!(s.shared, vec!["case05", "case15"]);
        for case in &s.shared {
            let holders = s
                .annotators
                .iter()
                .filter(|a| a.cases.contains(case))
                .count();
            assert_eq!(holders, 2, "{case}");
        }
        assert_eq!(
            s.annotators.iter().map(|a| a.cases.len()).sum::<usize>(),
            22
        );
    }

    #[test]
    fn impossible_splits_are_refused() {
        let p = plan(&[2; 4]);
        for (n, overlap, says) in [
            (0, 0.0, "at least one annotator"),
            (1, 0.1, "two annotators"),
            (2, 1.0, "share of the volumes"),
        ] {
            let e = split(&p, n, overlap).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
