//! Early stopping on a validation split drawn from the plan's own annotated slices, never from
//! the held-out test volumes.
//!
//! The split: with at least `MIN_VOLUMES_FOR_VOLUME_SPLIT` planned volumes, a fifth of them (at
//! least one, chosen by the run's seed) are kept aside whole, taken from the volumes whose
//! annotated slices hold the target while at least one such volume is left to train on; with
//! fewer, every fifth annotated slice of each volume with at least three is kept aside. When
//! neither leaves a validation slice (a handful of annotated slices in all), or the validation
//! slices hold none of the target (a small one: their Dice would be 1 for predicting nothing and
//! reward a net that has learned nothing), the run trains its full steps without early stopping
//! and says so.
//!
//! The score is the Dice of the net's prediction on the validation slices, pooled over all of
//! them. Until it first rises above zero the net has found none of the target yet (a small
//! target's net predicts background everywhere for hundreds of steps): such scores neither
//! become the best nor use up patience.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{TrainCase, pick_slices};
use super::eval::{predict_2d, predict_3d};
use super::trainer::TrainedNet;
use crate::rng::Rng;

/// From this many planned volumes on, whole volumes are kept aside for validation.
pub const MIN_VOLUMES_FOR_VOLUME_SPLIT: usize = 4;

/// Early stopping: validate every `every` steps; stop after `patience` validations without a
/// better score and keep the best net.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    pub every: usize,
    pub patience: usize,
}

/// The training cases with the validation slices taken out, and the validation cases.
pub struct Split {
    pub train: Vec<TrainCase>,
    /// Each supervised only on its validation slices.
    pub validation: Vec<TrainCase>,
    /// One line saying how the split was made.
    pub description: String,
}

impl Split {
    /// No validation: every case trains as it is, for the reason `description` gives.
    fn none(train: Vec<TrainCase>, description: String) -> Split {
        Split {
            train,
            validation: Vec::new(),
            description,
        }
    }
}

/// Splits `cases` (as prepared for training) into training and validation parts.
pub fn split(cases: Vec<TrainCase>, seed: u64) -> Split {
    if cases.len() >= MIN_VOLUMES_FOR_VOLUME_SPLIT {
        let n_val = (cases.len() as f64 * 0.2).round().max(1.0) as usize;
        let mut order: Vec<usize> = (0..cases.len()).collect();
        let mut rng = Rng::with_stream(seed, 77);
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let holding: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| cases[i].has_supervised_foreground())
            .collect();
        let chosen: Vec<usize> = if holding.len() > n_val {
            holding[..n_val].to_vec()
        } else {
            order[..n_val].to_vec()
        };
        let (mut train, mut validation) = (Vec::new(), Vec::new());
        for (i, case) in cases.into_iter().enumerate() {
            if chosen.contains(&i) {
                validation.push(case);
            } else {
                train.push(case);
            }
        }
        if !validation.iter().any(TrainCase::has_supervised_foreground) {
            let volumes = train.len() + validation.len();
            train.extend(validation);
            return Split::none(
                train,
                format!(
                    "no validation split: too few of the plan's {volumes} volumes hold the target on their annotated slices; trained the full steps"
                ),
            );
        }
        let description = format!(
            "validation on {} of the plan's {} volumes",
            validation.len(),
            validation.len() + train.len()
        );
        return Split {
            train,
            validation,
            description,
        };
    }
    // Every fifth annotated slice of each volume with at least three.
    let kept_out: Vec<Vec<usize>> = cases
        .iter()
        .map(|case| {
            let annotated: Vec<usize> = (0..case.dims[2]).filter(|&s| case.supervised[s]).collect();
            if annotated.len() < 3 {
                return Vec::new();
            }
            annotated.into_iter().skip(2).step_by(5).collect()
        })
        .collect();
    let held: usize = kept_out.iter().map(Vec::len).sum();
    if held == 0 {
        return Split::none(
            cases,
            "no validation split: too few annotated slices; trained the full steps".to_string(),
        );
    }
    if !cases
        .iter()
        .zip(&kept_out)
        .any(|(c, val)| val.iter().any(|s| c.fg_slices.contains(s)))
    {
        return Split::none(
            cases,
            "no validation split: the slices it would keep out hold none of the target; trained the full steps".to_string(),
        );
    }
    let mut train = Vec::new();
    let mut validation = Vec::new();
    for (case, val) in cases.into_iter().zip(kept_out) {
        if val.is_empty() {
            train.push(case);
            continue;
        }
        let keep: Vec<usize> = (0..case.dims[2])
            .filter(|&s| case.supervised[s] && !val.contains(&s))
            .collect();
        validation.push(case.with_supervised(&val));
        train.push(case.with_supervised(&keep));
    }
    Split {
        train,
        validation,
        description: format!("validation on {held} annotated slice(s) kept out of training"),
    }
}

/// Pooled Dice of `net` on the supervised slices of `cases`.
pub fn score(
    net: &TrainedNet,
    cases: &[TrainCase],
    divisor: &[usize],
    patch: &[usize],
    fixed_chunk: bool,
    device: &Device,
) -> f64 {
    let (mut inter, mut pred, mut truth) = (0u64, 0u64, 0u64);
    for case in cases {
        let slices: Vec<usize> = (0..case.dims[2]).filter(|&s| case.supervised[s]).collect();
        if slices.is_empty() {
            continue;
        }
        let (truth_mask, probs) = match net {
            TrainedNet::TwoD(m) => {
                let sub = case.only_slices(&slices);
                let probs = predict_2d(
                    m,
                    &sub,
                    [divisor[0], divisor[1]],
                    [patch[0], patch[1]],
                    16,
                    fixed_chunk,
                    device,
                );
                (sub.target, probs)
            }
            TrainedNet::ThreeD(m) => {
                let probs = predict_3d(m, case, [patch[0], patch[1], patch[2]], device);
                let per = case.dims[0] * case.dims[1];
                (
                    pick_slices(&case.target, per, &slices),
                    pick_slices(&probs, per, &slices),
                )
            }
        };
        for (p, &t) in probs.iter().zip(&truth_mask) {
            let (p, t) = (*p > 0.5, t > 0);
            inter += (p && t) as u64;
            pred += p as u64;
            truth += t as u64;
        }
    }
    crate::interp::dice_from_counts(inter, pred, truth)
}

/// Tracks the validation scores and decides when to stop.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    /// (step, validation Dice) at every validation.
    pub curve: Vec<(usize, f64)>,
    pub best: Option<(usize, f64)>,
    since_best: usize,
}

impl Tracker {
    /// Records `score` after `step` steps; true when it is the best so far (by more than 0.001).
    /// Scores of zero before any better one are recorded but are not a best and use up no
    /// patience: the net has found none of the target yet.
    pub fn record(&mut self, step: usize, score: f64) -> bool {
        self.curve.push((step, score));
        if self.best.is_none() && score <= 0.0 {
            return false;
        }
        match self.best {
            Some((_, b)) if score <= b + 1e-3 => {
                self.since_best += 1;
                false
            }
            _ => {
                self.best = Some((step, score));
                self.since_best = 0;
                true
            }
        }
    }

    /// True after `patience` validations without a better score.
    pub fn should_stop(&self, patience: usize) -> bool {
        self.best.is_some() && self.since_best >= patience.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, d: usize, supervised: &[usize]) -> TrainCase {
        let (w, h) = (4, 4);
        let mut target = vec![0u8; w * h * d];
        for s in 0..d {
            target[s * w * h] = 1;
        }
        TrainCase {
            id: id.into(),
            dims: [w, h, d],
            image: vec![0.0; w * h * d],
            target,
            supervised: (0..d).map(|s| supervised.contains(&s)).collect(),
            fg_slices: supervised.to_vec(),
            pad_value: 0.0,
            source_shape: [w, h, d],
            axis: 2,
            factor: 1,
        }
    }

    /// `case` without any target.
    fn empty(id: &str, d: usize, supervised: &[usize]) -> TrainCase {
        let mut c = case(id, d, supervised);
        c.target.fill(0);
        c.fg_slices.clear();
        c
    }

    #[test]
    fn a_small_target_is_validated_where_it_is_annotated_or_not_at_all() {
        // 3 of 10 volumes hold the target: the 2 kept aside hold it, one is left to train on.
        for seed in 0..8 {
            let cases: Vec<TrainCase> = (0..10)
                .map(|i| {
                    let id = format!("c{i}");
                    if i % 4 == 1 {
                        case(&id, 10, &[1, 5])
                    } else {
                        empty(&id, 10, &[1, 5])
                    }
                })
                .collect();
            let split = split(cases, seed);
            assert_eq!(split.validation.len(), 2);
            assert!(
                split
                    .validation
                    .iter()
                    .all(|c| c.has_supervised_foreground())
            );
            assert_eq!(
                split
                    .train
                    .iter()
                    .filter(|c| c.has_supervised_foreground())
                    .count(),
                1
            );
        }
        // None holds it on its annotated slices: nothing to validate on, every volume trains.
        let cases: Vec<TrainCase> = (0..5)
            .map(|i| empty(&format!("c{i}"), 10, &[1, 5]))
            .collect();
        let split = split(cases, 0);
        assert!(split.validation.is_empty());
        assert_eq!(split.train.len(), 5);
        assert!(
            split.description.contains("hold the target"),
            "{}",
            split.description
        );
        // Few volumes: the slices kept out hold none of it (only slice 1 does), so none are.
        let mut few = case("a", 12, &[1, 3, 5, 7, 9, 11]);
        few.target.fill(0);
        few.target[16] = 1;
        few.fg_slices = vec![1];
        let split = super::split(vec![few], 0);
        assert!(split.validation.is_empty());
        assert_eq!(split.train[0].supervised.iter().filter(|&&s| s).count(), 6);
        assert!(split.description.contains("none of the target"));
    }

    #[test]
    fn validation_scores_of_zero_before_the_net_finds_the_target_use_no_patience() {
        let mut t = Tracker::default();
        for step in [100, 200, 300, 400, 500, 600, 700] {
            assert!(!t.record(step, 0.0));
            assert!(!t.should_stop(5));
        }
        assert_eq!(t.best, None);
        assert!(t.record(800, 0.4));
        assert!(!t.record(900, 0.0));
        assert!(!t.should_stop(2));
        assert!(!t.record(1000, 0.3));
        assert!(t.should_stop(2));
        assert_eq!(t.best, Some((800, 0.4)));
        assert_eq!(t.curve.len(), 10);
    }

    #[test]
    fn many_volumes_keep_whole_volumes_aside() {
        let cases: Vec<TrainCase> = (0..10)
            .map(|i| case(&format!("c{i}"), 10, &[1, 5]))
            .collect();
        let split = split(cases, 3);
        assert_eq!(split.validation.len(), 2);
        assert_eq!(split.train.len(), 8);
        for v in &split.validation {
            assert!(split.train.iter().all(|t| t.id != v.id));
        }
        // Another seed keeps other volumes aside, the same seed the same ones.
        let ids = |s: &Split| {
            s.validation
                .iter()
                .map(|c| c.id.clone())
                .collect::<Vec<_>>()
        };
        let again = super::split(
            (0..10)
                .map(|i| case(&format!("c{i}"), 10, &[1, 5]))
                .collect(),
            3,
        );
        assert_eq!(ids(&split), ids(&again));
    }

    #[test]
    fn few_volumes_keep_every_fifth_slice_aside_and_never_train_on_it() {
        let split = split(
            vec![
                case("a", 20, &[0, 2, 4, 6, 8, 10, 12]),
                case("b", 20, &[3, 9]),
            ],
            0,
        );
        assert_eq!(split.validation.len(), 1);
        let val = &split.validation[0];
        let val_slices: Vec<usize> = (0..20).filter(|&s| val.supervised[s]).collect();
        assert_eq!(val_slices, vec![4]);
        let train_a = split.train.iter().find(|c| c.id == "a").unwrap();
        assert!(!train_a.supervised[4]);
        assert_eq!(train_a.supervised.iter().filter(|&&s| s).count(), 6);
        assert!(!train_a.fg_slices.contains(&4));
        // The two-slice volume trains whole.
        let train_b = split.train.iter().find(|c| c.id == "b").unwrap();
        assert_eq!(train_b.supervised.iter().filter(|&&s| s).count(), 2);
    }

    #[test]
    fn too_few_slices_give_no_validation() {
        let split = split(vec![case("a", 5, &[1, 3])], 0);
        assert!(split.validation.is_empty());
        assert!(split.description.contains("no validation"));
    }

    #[test]
    fn the_tracker_stops_after_patience_without_improvement() {
        let mut t = Tracker::default();
        assert!(t.record(50, 0.5));
        assert!(t.record(100, 0.7));
        assert!(!t.record(150, 0.7005));
        assert!(!t.should_stop(2));
        assert!(!t.record(200, 0.6));
        assert!(t.should_stop(2));
        assert_eq!(t.best, Some((100, 0.7)));
        assert_eq!(t.curve.len(), 4);
    }
}
