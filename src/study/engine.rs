//! Runs what a study or simulation still misses: each run is planned, trained, scored and
//! appended to the store as soon as it ends, so a cancel, a crash or a closed window keeps every
//! finished run, and a rerun picks up where it stopped.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::store::{ResultStore, RunOutcome, RunResult, StoredRun};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::jobs::Progress;
use crate::plan::make_plan;
use crate::study::store::key::RunSpec;
use crate::train::{TrainJob, train_and_evaluate};

/// Voxel data kept in memory across a study's runs (the process's one case cache).
pub const STUDY_CACHE_BYTES: usize = crate::dataset::cache::SHARED_CACHE_BYTES;

/// How a study stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StudyProgress {
    /// Runs in the study.
    pub total: usize,
    /// Runs in the store (measured or skipped).
    pub done: usize,
    /// Of those, skipped because their plan cannot be made.
    pub skipped: usize,
    /// Runs this call ran.
    pub ran: usize,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Plans, trains and scores `spec` on `dataset`: its stored line.
pub fn run_one(dataset: &Dataset, spec: &RunSpec, progress: &Progress) -> Result<StoredRun> {
    progress.set(0.0, "planning");
    // Planning reads every volume's features on a large dataset: a cancel stops it too.
    let outcome = match make_plan(dataset, &spec.request, progress) {
        Err(Error::Infeasible(reason)) => RunOutcome::Skipped { reason },
        Err(e) => return Err(e),
        Ok(plan) => {
            let report = train_and_evaluate(
                &TrainJob::new(dataset, &plan, &spec.target, &spec.train),
                progress,
            )?;
            let steps_trained = report.steps_trained();
            RunOutcome::Done(RunResult {
                slices: plan.total_slices(),
                volumes: plan.volumes.len(),
                slices_per_volume: plan.accounting.slices_per_volume,
                density: plan.accounting.density,
                annotation_hours: plan.accounting.estimated_seconds / 3600.0,
                mean_dice: report.mean_dice,
                cases: report.test,
                loss_curve: report.loss_curve,
                validation_curve: report.validation_curve,
                steps_trained,
                train_seconds: report.train_seconds,
                warmup_seconds: report.warmup_seconds,
                eval_seconds: report.eval_seconds,
                device: report.backend,
                flags: report.flags,
                notes: report.warnings,
            })
        }
    };
    Ok(StoredRun {
        key: spec.key(),
        spec: spec.clone(),
        outcome,
        finished_unix: now_unix(),
    })
}

/// How many worker processes a study's missing runs get, and why.
///
/// On the CPU, burn's `flex` gains little from a second thread: measured on the 2-core machine
/// (docs/src/studies.md, "Study throughput"), two single-threaded worker processes finished the demo
/// throughput study 1.67× sooner than one process on both cores, with the same Dice. So a CPU
/// study gets one worker per core (at most one per missing run); on a GPU one process keeps its
/// compiled kernels across runs, so it gets one worker.
pub fn choose_workers(specs: &[RunSpec], missing: usize, cores: usize) -> (usize, String) {
    use crate::train::BackendChoice;
    use crate::train::torch::{TorchAvailability, availability};
    let torch_cuda = || matches!(availability(), TorchAvailability::Linked { cuda: true, .. });
    let all_cpu = specs.iter().all(|s| match s.train.backend {
        BackendChoice::Cpu => true,
        BackendChoice::Torch => !torch_cuda(),
        BackendChoice::Auto | BackendChoice::Wgpu => false,
    });
    let wants_gpu = specs.iter().any(|s| s.train.backend == BackendChoice::Wgpu);
    let hardware_gpu = || {
        torch_cuda()
            || crate::train::backend::gpu_adapters()
                .iter()
                .any(|(_, software)| !software)
    };
    let on_cpu = all_cpu || (!wants_gpu && !hardware_gpu());
    if !on_cpu {
        return (
            1,
            "one process on the GPU (its compiled kernels are reused across runs)".into(),
        );
    }
    let n = cores.min(missing).max(1);
    let why = if n > 1 {
        format!(
            "{n} worker processes of one thread each on the CPU (faster than one process on {cores} threads)"
        )
    } else {
        "one process".to_string()
    };
    (n, why)
}

/// Where `specs` stand in `store`.
pub fn status(specs: &[RunSpec], store: &ResultStore) -> Result<StudyProgress> {
    let contents = store.load()?;
    let mut p = StudyProgress {
        total: specs.len(),
        ..StudyProgress::default()
    };
    for spec in specs {
        if let Some(run) = contents.get(&spec.key()) {
            p.done += 1;
            if run.result().is_none() {
                p.skipped += 1;
            }
        }
    }
    Ok(p)
}

/// Runs every spec not yet in `store`, appending each as it ends; progress says which run of
/// how many and the time left from the runs measured so far. Cancelling stops after the current
/// step: every finished run is already stored.
pub fn run_missing(
    dataset: &Dataset,
    specs: &[RunSpec],
    store: &ResultStore,
    progress: &Progress,
) -> Result<StudyProgress> {
    let contents = store.load()?;
    let mut seen = std::collections::HashSet::new();
    let missing: Vec<&RunSpec> = specs
        .iter()
        .filter(|s| contents.get(&s.key()).is_none() && seen.insert(s.key()))
        .collect();
    // Each volume is read once for all the runs below (up to the cache's bound).
    let cached;
    let dataset = if dataset.cache.is_enabled() {
        dataset
    } else {
        // One cache for the process: a GUI estimate and simulation running at once share it.
        cached = dataset.clone().with_shared_case_cache();
        &cached
    };
    let started = Instant::now();
    // The time left is estimated per training step, so runs of other lengths (a calibration's
    // quick and long runs) are weighed by their steps.
    let mut steps_done = 0usize;
    for (i, spec) in missing.iter().enumerate() {
        progress.check()?;
        let eta = if steps_done > 0 {
            let per_step = started.elapsed().as_secs_f64() / steps_done as f64;
            let steps_left: usize = missing[i..].iter().map(|s| s.train.steps).sum();
            format!(", about {:.0} s left", per_step * steps_left as f64)
        } else {
            String::new()
        };
        let part = progress.part(
            i,
            missing.len(),
            format!("run {} of {} ({}){eta}", i + 1, missing.len(), spec.label()),
        );
        let run = run_one(dataset, spec, &part)?;
        if let Some(result) = run.result() {
            steps_done += result.steps_trained;
        }
        store.append(&run)?;
    }
    progress.set(1.0, "all runs stored");
    status(specs, store).map(|s| StudyProgress {
        ran: missing.len(),
        ..s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::demo;
    use crate::plan::{Budget, PlanRequest, SliceStrategy};
    use crate::train::TrainConfig;

    #[test]
    fn a_cancelled_run_stops_while_it_plans() {
        let dataset = demo::dataset();
        let request = PlanRequest {
            budget: Some(Budget::Slices(24)),
            slice_strategy: SliceStrategy::Ual,
            ..PlanRequest::default()
        };
        let spec = RunSpec::new("fp", request, TrainConfig::default(), "tiny");
        let progress = Progress::new();
        progress.cancel();
        let err = run_one(&dataset, &spec, &progress).unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err}");
        assert!(
            dataset.features.is_empty(),
            "the plan read the volumes' features after the cancel"
        );
    }
}
