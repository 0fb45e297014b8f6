//! Runs that did not learn, run again. A run flagged as not having learned its target (Dice near
//! zero with a loss that never fell, over-segmentation, a loss that did not fall) says nothing
//! about its plan: it spends its seed. Its scenario then gets the next *rerun seed*, up to a
//! limit per scenario, so a study of ten seeds still measures about ten runs that learned
//! instead of silently estimating from fewer.
//!
//! Rerun seeds are numbered from [`RERUN_SEEDS_FROM`] in the order a scenario needs them, the
//! same numbers in every scenario: two scenarios that each needed one rerun share seed 1000 and
//! with it their held-out volumes (where each seed draws its own), so paired comparisons still
//! pair. The reruns a store needs follow from the stored runs alone, so a worker process, a
//! resumed study and a report all compute the same list; a rerun is counted in its scenario's
//! summary (`ScenarioSummary::reruns`) and shown beside the flagged runs it replaced.

use super::store::StoreContents;
use super::summary::by_scenario;
use crate::error::{Error, Result};
use crate::study::store::key::RunSpec;

/// The first seed used for reruns; a study's own seeds stay below it.
pub const RERUN_SEEDS_FROM: u64 = 1000;

/// Reruns per scenario when a study or simulation does not say: two flagged runs in one
/// scenario of ten seeds are replaced, more than that says the recipe does not suit the target
/// (the study's advice says so) and more seeds would not change it.
pub const DEFAULT_RERUNS: usize = 2;

/// Whether `spec` runs under a rerun seed (it replaces a run that did not learn).
pub fn is_rerun(spec: &RunSpec) -> bool {
    is_rerun_seed(spec.request.seed)
}

/// Whether `seed` is a rerun seed.
pub fn is_rerun_seed(seed: u64) -> bool {
    seed >= RERUN_SEEDS_FROM
}

/// `spec` under seed `seed` (plan and training): everything else as it was.
fn under_seed(spec: &RunSpec, seed: u64) -> RunSpec {
    let mut request = spec.request.clone();
    request.seed = seed;
    let mut train = spec.train.clone();
    train.seed = seed;
    RunSpec::new(&spec.dataset, request, train, &spec.preset)
}

/// Whether `spec` is stored and flagged as not having learned.
fn flagged(spec: &RunSpec, contents: &StoreContents) -> bool {
    contents
        .get(&spec.key())
        .and_then(|run| run.result())
        .is_some_and(|r| !r.learned())
}

/// `specs` followed by the reruns that the flagged runs stored in `contents` call for: per
/// scenario, in the order its runs are listed (reruns included, so a flagged rerun is replaced
/// too), one rerun per flagged run until the scenario has `limit`.
///
/// Reruns already in `specs` are derived again from the store, not added twice: the list a
/// resumed study starts from may hold them.
pub fn with_reruns(specs: &[RunSpec], contents: &StoreContents, limit: usize) -> Vec<RunSpec> {
    let specs: Vec<RunSpec> = specs.iter().filter(|s| !is_rerun(s)).cloned().collect();
    let mut all = specs.clone();
    for (_, members) in by_scenario(&specs) {
        let mut runs: Vec<RunSpec> = members.into_iter().cloned().collect();
        let (mut made, mut i) = (0usize, 0usize);
        while i < runs.len() && made < limit {
            if flagged(&runs[i], contents) {
                let rerun = under_seed(&runs[i], RERUN_SEEDS_FROM + made as u64);
                runs.push(rerun.clone());
                all.push(rerun);
                made += 1;
            }
            i += 1;
        }
    }
    all
}

/// Runs what `specs` and their reruns miss, a round at a time: `run_round` gets the whole list
/// (specs and the reruns known so far) and runs what the store lacks; each round's flagged runs
/// add the next reruns, until a round adds none. `load` reads the store. Returns the final list.
/// (Generic in the error so that a binary's rounds may fail with their own.)
pub fn run_with_reruns<E: From<Error>>(
    specs: &[RunSpec],
    limit: usize,
    load: impl Fn() -> Result<StoreContents>,
    mut run_round: impl FnMut(&[RunSpec]) -> std::result::Result<(), E>,
) -> std::result::Result<Vec<RunSpec>, E> {
    loop {
        let contents = load()?;
        let all = with_reruns(specs, &contents, limit);
        if all.iter().all(|s| contents.get(&s.key()).is_some()) {
            return Ok(all);
        }
        run_round(&all)?;
        // A round that stored nothing new (its runs failed to store) would loop forever.
        let after = load()?;
        if all
            .iter()
            .all(|s| contents.get(&s.key()).is_some() == after.get(&s.key()).is_some())
        {
            return Ok(all);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Budget, PlanRequest};
    use crate::study::estimates::tests::stored;
    use crate::study::store::ResultStore;
    use crate::study::summary::{scenario_key, summarize_runs};
    use crate::train::TrainConfig;

    fn spec(volumes: usize, seed: u64) -> RunSpec {
        let request = PlanRequest {
            budget: Some(Budget::Slices(40)),
            volumes: Some(volumes),
            seed,
            ..PlanRequest::default()
        };
        let train = TrainConfig {
            seed,
            ..TrainConfig::default()
        };
        RunSpec::new("fp", request, train, "quick")
    }

    /// Runs the study of `seeds` at 5 and 20 volumes with fake training: a run is flagged
    /// when `fails(volumes, seed)`. Returns the final list and the rounds it took.
    fn study(
        fails: impl Fn(usize, u64) -> bool,
        limit: usize,
    ) -> (Vec<RunSpec>, usize, ResultStore) {
        let dir = tempfile::tempdir().unwrap().keep();
        let store = ResultStore::open(&dir, "d", "fp").unwrap();
        let specs: Vec<RunSpec> = [5, 20]
            .iter()
            .flat_map(|&v| (0..4).map(move |seed| spec(v, seed)))
            .collect();
        let mut rounds = 0;
        let all = run_with_reruns(
            &specs,
            limit,
            || store.load(),
            |batch| -> Result<()> {
                rounds += 1;
                let contents = store.load()?;
                for s in batch.iter().filter(|s| contents.get(&s.key()).is_none()) {
                    let v = s.request.volumes.unwrap_or(0);
                    store.append(&stored(s, 0.5, fails(v, s.request.seed)))?;
                }
                Ok(())
            },
        )
        .unwrap();
        (all, rounds, store)
    }

    #[test]
    fn a_flagged_run_is_rerun_under_the_next_rerun_seed_and_counted() {
        // At 20 volumes seed 1 does not learn, nor does its first rerun (seed 1000): a second
        // rerun (1001) learns. At 5 volumes every run learns.
        let (all, rounds, store) = study(|v, seed| v == 20 && (seed == 1 || seed == 1000), 2);
        let reruns: Vec<(usize, u64)> = all
            .iter()
            .filter(|s| is_rerun(s))
            .map(|s| (s.request.volumes.unwrap_or(0), s.request.seed))
            .collect();
        assert_eq!(reruns, vec![(20, 1000), (20, 1001)]);
        assert_eq!(rounds, 3, "the study, then one rerun per round");
        let summaries = summarize_runs(&all, &store.load().unwrap());
        let s20 = &summaries[1];
        assert_eq!((s20.runs, s20.flagged, s20.reruns), (6, 2, 2));
        assert_eq!(
            s20.dice.n, 4,
            "four runs learned: the estimate keeps its seeds"
        );
        assert_eq!((summaries[0].runs, summaries[0].reruns), (4, 0));
    }

    #[test]
    fn reruns_stop_at_the_limit_and_shared_seeds_pair_scenarios() {
        // Every run of seed 2 fails at both allocations, and so does every rerun.
        let (all, _, store) = study(|_, seed| seed == 2 || seed >= RERUN_SEEDS_FROM, 1);
        let reruns: Vec<(usize, u64)> = all
            .iter()
            .filter(|s| is_rerun(s))
            .map(|s| (s.request.volumes.unwrap_or(0), s.request.seed))
            .collect();
        assert_eq!(
            reruns,
            vec![(5, 1000), (20, 1000)],
            "one each, the same seed"
        );
        let summaries = summarize_runs(&all, &store.load().unwrap());
        assert!(
            summaries
                .iter()
                .all(|s| (s.runs, s.flagged, s.reruns) == (5, 2, 1))
        );
        // Without reruns nothing is added; a list holding its reruns gets them once.
        let contents = store.load().unwrap();
        assert_eq!(with_reruns(&all[..8], &contents, 0).len(), 8);
        assert_eq!(with_reruns(&all, &contents, 1), all);
    }

    #[test]
    fn a_rerun_differs_from_its_run_only_in_its_seeds() {
        let original = spec(20, 3);
        let rerun = under_seed(&original, RERUN_SEEDS_FROM);
        assert_ne!(original.key(), rerun.key());
        assert_eq!(rerun.train.seed, RERUN_SEEDS_FROM);
        assert_eq!(scenario_key(&original), scenario_key(&rerun));
        assert!(is_rerun(&rerun) && !is_rerun(&original));
    }
}
