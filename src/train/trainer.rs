//! A training run: the plan's volumes prepared, the net chosen for them, batches sampled on a
//! background thread and fed to the training loop (`fit`), then evaluation on held-out volumes.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::module::Module;
use burn::optim::AdamConfig;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::backend::open_device;
use super::backend::{catch_device_panic, map_device_panic};
use super::data::{BORDER_MARGIN, Batch, Sampling, TrainCase, sample_batch};
use super::evaluate::{CaseDice, Evaluation};
use super::extend::{extension_note, steps_trained};
use super::fit::{FitContext, Fitted, Validator};
use super::prepare::{Prepared, prepare_training};
use super::quality::{generalisation_note, run_flags};
use super::unet::{UNet2d, UNet3d, UNetSpec};
use super::validate;
use super::{ModelKind, TrainConfig};
use crate::dataset::{Dataset, TargetLabels};
use crate::error::{Error, Result};
use crate::jobs::Progress;
use crate::jobs::panic_message;
use crate::plan::{Plan, TargetCoverage};
use crate::rng::Rng;

/// How much of the target the plan's annotated slices hold, said before any training step: a
/// plan whose slices hold none of it is refused as infeasible (a study stores it as skipped, with
/// this reason, instead of training a net that can only learn background); one that holds it in
/// fewer than half its volumes gets a note (`TargetCoverage::warning`, as the study command and
/// the planner say it before training).
fn target_coverage_note(
    cases: &[super::data::TrainCase],
    plan: &crate::plan::Plan,
    target: &str,
) -> Result<Option<String>> {
    let coverage = TargetCoverage {
        planned_slices: plan.total_slices(),
        volumes: cases.len(),
        volumes_with_target: cases
            .iter()
            .filter(|c| c.has_supervised_foreground())
            .count(),
        slices_with_target: cases.iter().map(|c| c.fg_slices.len()).sum(),
        volumes_holding_target: cases.iter().filter(|c| c.target.contains(&1)).count(),
    };
    match coverage.warning(target) {
        Some(reason) if coverage.volumes_with_target == 0 => Err(Error::infeasible(reason)),
        note => Ok(note),
    }
}

/// Guards the seeding of a device's generator and the net initialisation that draws from it.
static SEEDED_INIT: Mutex<()> = Mutex::new(());

/// `init` right after seeding `device`'s generator with `seed`. Every run in a process shares
/// that generator, so seeding and initialising happen under one lock: a seeded run's first
/// weights stay its own when two trainings start at once (the GUI's jobs, parallel tests).
/// burn draws a parameter's values on its first use, so `init` must use them all, or the draws
/// happen later, outside the lock: nets are made by `UNet2d::seeded` / `UNet3d::seeded`.
pub fn seeded_init<M>(device: &Device, seed: u64, init: impl FnOnce() -> M) -> M {
    let _only_one = SEEDED_INIT.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    init()
}

/// What a training run gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    pub model: ModelKind,
    pub backend: String,
    pub notice: Option<String>,
    pub steps: usize,
    pub resumed_from: Option<usize>,
    pub train_cases: usize,
    pub annotated_slices: usize,
    pub train_seconds: f64,
    pub steps_per_second: f64,
    /// Seconds to the end of the first few steps: on a GPU mostly kernel compilation and
    /// autotuning, paid once per process and shape.
    pub warmup_seconds: f64,
    /// Steps per second after the warm-up (what a longer run gets).
    pub steady_steps_per_second: f64,
    /// Seconds spent predicting and scoring the held-out volumes.
    pub eval_seconds: f64,
    /// (step, loss) every few steps.
    pub loss_curve: Vec<(usize, f32)>,
    /// (step, Dice on the validation split) at every validation (early stopping only).
    #[serde(default)]
    pub validation_curve: Vec<(usize, f64)>,
    /// The step whose net was kept (best validation Dice; early stopping only).
    #[serde(default)]
    pub best_step: Option<usize>,
    /// The step early stopping ended training at (None: every configured step ran).
    #[serde(default)]
    pub stopped_at: Option<usize>,
    /// The step training went on to past `steps`, the net not having fitted its annotated
    /// slices by then (`TrainConfig::until_fitted`); None: it trained `steps`.
    #[serde(default)]
    pub extended_to: Option<usize>,
    pub test: Vec<CaseDice>,
    pub mean_dice: f64,
    /// Test volumes with no target voxel (scored by the empty-truth rule).
    pub empty_truth_cases: usize,
    /// The in-plane downsampling factor used (1: full resolution).
    #[serde(default)]
    pub in_plane_factor: usize,
    /// Why this run's Dice is not an estimate of the plan (it did not learn the target,
    /// over-segments, or its loss did not fall); empty for a usable run.
    #[serde(default)]
    pub flags: Vec<String>,
    pub warnings: Vec<String>,
}

impl TrainReport {
    /// The steps the net trained to: fewer than `steps` when early stopping ended it, more when
    /// it trained on to fit its slices.
    pub fn steps_trained(&self) -> usize {
        steps_trained(self.steps, self.stopped_at, self.extended_to)
    }
}

fn default_features(model: ModelKind) -> Vec<usize> {
    match model {
        ModelKind::TwoD => vec![16, 32, 64, 128, 256],
        ModelKind::ThreeD => vec![8, 16, 32, 64, 128],
    }
}

/// Per-level strides of a 3D net `[slice, h, w]`: no downsampling along the slice axis while its
/// spacing is more than twice the in-plane spacing.
pub fn anisotropic_strides(levels: usize, slice_mm: f64, in_plane_mm: f64) -> Vec<Vec<usize>> {
    let (mut z, mut xy) = (slice_mm, in_plane_mm);
    (0..levels)
        .map(|_| {
            xy *= 2.0;
            if z > 2.0 * (xy / 2.0) {
                vec![1, 2, 2]
            } else {
                z *= 2.0;
                vec![2, 2, 2]
            }
        })
        .collect()
}

fn round_up(x: usize, m: usize) -> usize {
    x.div_ceil(m.max(1)) * m.max(1)
}

/// One training run: what it trains on, how, and where its files go.
#[derive(Debug, Clone, Copy)]
pub struct TrainJob<'a> {
    pub dataset: &'a Dataset,
    /// The annotated slices to train on; its test cases (or every case outside it) are scored.
    pub plan: &'a Plan,
    pub target: &'a TargetLabels,
    pub config: &'a TrainConfig,
    /// Where checkpoints are kept (None: nowhere).
    pub run_dir: Option<&'a Path>,
    /// Continue from the checkpoint in `run_dir`.
    pub resume: bool,
    /// Where to write the test predictions as NIfTI on their source grids.
    pub predict_out: Option<&'a Path>,
}

impl<'a> TrainJob<'a> {
    /// A run without checkpoints or written predictions.
    pub fn new(
        dataset: &'a Dataset,
        plan: &'a Plan,
        target: &'a TargetLabels,
        config: &'a TrainConfig,
    ) -> Self {
        TrainJob {
            dataset,
            plan,
            target,
            config,
            run_dir: None,
            resume: false,
            predict_out: None,
        }
    }
}

/// A trained net.
pub enum TrainedNet {
    /// A 2D U-Net (slices).
    TwoD(UNet2d),
    /// A 3D U-Net (blocks).
    ThreeD(UNet3d),
}

/// Trains the configured model on `job.plan`'s annotated slices and evaluates it on the held-out
/// cases (`plan.test_cases`, or every dataset case outside the plan). With `run_dir`, keeps
/// checkpoints there and resumes from one when `resume` is set. With `predict_out`, writes the
/// test predictions as NIfTI on their source grids.
pub fn train_and_evaluate(job: &TrainJob, progress: &Progress) -> Result<TrainReport> {
    job.config.validate()?;
    job.plan.check_dataset(job.dataset)?;
    let test_ids = test_ids(job.dataset, job.plan)?;
    let trained = train(job, progress)?;
    evaluate_and_report(job, trained, &test_ids, progress)
}

/// A net trained on a plan, with what evaluating it needs and what training said.
struct Trained {
    fitted: Fitted<TrainedNet>,
    /// The in-plane downsampling factor, the net's size divisor and the patch it trained on.
    factor: usize,
    divisor: Vec<usize>,
    patch: Vec<usize>,
    opened: super::backend::OpenedDevice,
    train_seconds: f64,
    /// Notes from preparing and splitting the training data.
    warnings: Vec<String>,
}

/// Prepares the plan's volumes, chooses the net and patch, and fits it.
fn train(job: &TrainJob, progress: &Progress) -> Result<Trained> {
    let (dataset, plan, config) = (job.dataset, job.plan, job.config);
    let prepared = prepare_training(job, progress)?;
    let axis = plan.volumes[0].axis;
    let mut warnings: Vec<String> = resolution_note(&prepared, axis).into_iter().collect();
    let target_name = job.target.describe(&dataset.label_names);
    if let Some(note) = target_coverage_note(&prepared.cases, plan, &target_name)? {
        tracing::warn!(target: "sliceplan", "{note}");
        warnings.push(note);
    }
    let spec = net_spec(config, &prepared.geometry0, axis, prepared.factor);
    let divisor = spec.divisor();
    let patch = patch_size(config, &prepared.cases, &divisor)?;
    let opened = open_device(config.backend)?;
    let device = opened.device.clone().autodiff();
    // Early stopping takes its validation slices out of the plan's own annotated slices.
    let (train_cases, validation_cases) = match config.early_stopping {
        Some(_) => {
            let split = validate::split(prepared.cases, config.seed);
            warnings.push(split.description.clone());
            (split.train, split.validation)
        }
        None => (prepared.cases, Vec::new()),
    };
    let run_dir: Option<PathBuf> = job.run_dir.map(Path::to_path_buf);
    let ctx = FitContext {
        config,
        device: &device,
        progress,
        run_dir: run_dir.as_deref(),
        resume_dir: if job.resume { run_dir.as_deref() } else { None },
        plan_slices: plan.total_slices(),
    };
    let score = |net: &TrainedNet| {
        let (fixed_chunk, device) = (opened.is_gpu, &opened.device);
        validate::score(
            net,
            &validation_cases,
            &divisor,
            &patch,
            fixed_chunk,
            device,
        )
    };
    let validator = (!validation_cases.is_empty()).then_some(&score as &dyn Fn(&TrainedNet) -> f64);
    let sampling = Sampling {
        batch: batch_size(config),
        patch: patch.clone(),
        fg_fraction: config.fg_fraction,
        augment: config.augment,
    };
    let started = Instant::now();
    let outcome =
        catch_device_panic(|| fit_net(&ctx, &spec, Arc::new(train_cases), &sampling, validator));
    let fitted = match outcome {
        Ok(r) => r?,
        Err(e) => return Err(map_device_panic(panic_message(e.as_ref()), &opened.name)),
    };
    Ok(Trained {
        fitted,
        factor: prepared.factor,
        divisor,
        patch,
        train_seconds: started.elapsed().as_secs_f64(),
        opened,
        warnings,
    })
}

/// Scores `trained` on the held-out `test_ids` and reports the run: Dice, flags and notes.
fn evaluate_and_report(
    job: &TrainJob,
    trained: Trained,
    test_ids: &[String],
    progress: &Progress,
) -> Result<TrainReport> {
    let (plan, config) = (job.plan, job.config);
    let Trained {
        fitted,
        factor,
        divisor,
        patch,
        opened,
        train_seconds,
        mut warnings,
    } = trained;
    let eval_started = Instant::now();
    let evaluation = Evaluation {
        dataset: job.dataset,
        plan,
        target: job.target,
        factor,
        divisor: &divisor,
        patch: &patch,
        device: &opened.device,
        device_name: &opened.name,
        is_gpu: opened.is_gpu,
        predict_out: job.predict_out,
    };
    let (test, empty_truth_cases) = evaluation.run(&fitted.model, test_ids, progress)?;
    let eval_seconds = eval_started.elapsed().as_secs_f64();
    let mean_dice = test.iter().map(|t| t.dice).sum::<f64>() / test.len().max(1) as f64;
    let Fitted {
        resumed_from,
        loss_curve,
        timing,
        tracker,
        stopped_at,
        extended_to,
        ..
    } = fitted;
    warnings.extend(training_notes(
        config,
        &tracker.curve,
        tracker.best,
        extended_to,
        &loss_curve,
    ));
    warnings.extend(generalisation_note(&test, &loss_curve));
    progress.set(1.0, format!("mean Dice {mean_dice:.3}"));
    let trained_steps =
        steps_trained(config.steps, stopped_at, extended_to) - resumed_from.unwrap_or(0);
    Ok(TrainReport {
        model: config.model,
        backend: opened.name,
        notice: opened.notice,
        steps: config.steps,
        resumed_from,
        train_cases: plan.volumes.len(),
        annotated_slices: plan.total_slices(),
        train_seconds,
        steps_per_second: trained_steps as f64 / train_seconds.max(1e-9),
        warmup_seconds: timing.warmup_seconds,
        steady_steps_per_second: timing.steady_steps_per_second,
        eval_seconds,
        flags: run_flags(&test, &loss_curve),
        loss_curve,
        validation_curve: tracker.curve,
        best_step: tracker.best.map(|b| b.0),
        stopped_at,
        extended_to,
        test,
        mean_dice,
        empty_truth_cases,
        in_plane_factor: factor,
        warnings,
    })
}

/// The held-out cases to evaluate on: the plan's test cases, else every case outside the plan.
/// An error when there are none, or the plan has no volume to train on.
fn test_ids(dataset: &Dataset, plan: &Plan) -> Result<Vec<String>> {
    let test_ids: Vec<String> = if plan.test_cases.is_empty() {
        dataset
            .cases
            .iter()
            .filter(|c| plan.volume(&c.id).is_none())
            .map(|c| c.id.clone())
            .collect()
    } else {
        plan.test_cases.clone()
    };
    if test_ids.is_empty() {
        return Err(Error::invalid(
            "no held-out volume to evaluate on: every case is in the plan; plan with held-out test volumes",
        ));
    }
    if plan.volumes.is_empty() {
        return Err(Error::invalid(
            "the plan has no annotated volume to train on",
        ));
    }
    Ok(test_ids)
}

/// A note when the volumes were downsampled in plane for training, with the target's extent
/// before and after.
fn resolution_note(prepared: &Prepared, axis: usize) -> Option<String> {
    let (factor, shape) = (prepared.factor, prepared.geometry0.shape);
    (factor > 1).then(|| {
        let (a, b) = crate::io::Volume::in_plane_axes(axis);
        format!(
            "in-plane resolution reduced {factor}× for training ({}×{} → {}×{} px){}",
            shape[a],
            shape[b],
            shape[a].div_ceil(factor),
            shape[b].div_ceil(factor),
            prepared
                .target_extent_px
                .map(|e| format!(
                    "; the target spans about {:.0} px, {:.0} after",
                    e,
                    e / factor as f64
                ))
                .unwrap_or_default()
        )
    })
}

/// The U-Net for `config`: 2D isotropic, or 3D with strides that follow the slice spacing
/// against the in-plane spacing (after downsampling by `factor`).
fn net_spec(
    config: &TrainConfig,
    geometry: &crate::dataset::CaseGeometry,
    axis: usize,
    factor: usize,
) -> UNetSpec {
    let features = config
        .features
        .clone()
        .unwrap_or_else(|| default_features(config.model));
    let levels = features.len() - 1;
    match config.model {
        ModelKind::TwoD => UNetSpec::isotropic(2, features, 2),
        ModelKind::ThreeD => {
            let (a, _) = crate::io::Volume::in_plane_axes(axis);
            let strides = anisotropic_strides(
                levels,
                geometry.spacing_mm[axis],
                geometry.spacing_mm[a] * factor as f64,
            );
            UNetSpec {
                in_channels: 1,
                classes: 2,
                features,
                strides,
            }
        }
    }
}

/// The training patch: the configured one rounded up to the net's divisor, else (2D) the whole
/// slice with a margin of padding around it (see `BORDER_MARGIN`) or (3D) up to 16×64×64.
fn patch_size(config: &TrainConfig, cases: &[TrainCase], divisor: &[usize]) -> Result<Vec<usize>> {
    let largest = |d: usize| cases.iter().map(|c| c.dims[d]).max().unwrap_or(1);
    let (max_w, max_h, max_d) = (largest(0), largest(1), largest(2));
    let patch: Vec<usize> = match (&config.patch, config.model) {
        (Some(p), _) => p
            .iter()
            .zip(divisor)
            .map(|(&x, &m)| round_up(x, m))
            .collect(),
        (None, ModelKind::TwoD) => vec![
            round_up(max_h + 2 * BORDER_MARGIN, divisor[0]),
            round_up(max_w + 2 * BORDER_MARGIN, divisor[1]),
        ],
        (None, ModelKind::ThreeD) => vec![
            round_up(max_d.min(16), divisor[0]),
            round_up(max_h.min(64), divisor[1]),
            round_up(max_w.min(64), divisor[2]),
        ],
    };
    let expected_len = if config.model == ModelKind::TwoD {
        2
    } else {
        3
    };
    if patch.len() != expected_len {
        return Err(Error::invalid(format!(
            "a {} patch needs {expected_len} sizes, got {}",
            config.model.name(),
            patch.len()
        )));
    }
    Ok(patch)
}

/// Patches per step: the configured number, else 8 slices (2D) or 2 blocks (3D).
fn batch_size(config: &TrainConfig) -> usize {
    let default = if config.model == ModelKind::TwoD {
        8
    } else {
        2
    };
    config.batch_size.unwrap_or(default).max(1)
}

/// Fits the net of `spec` on `cases`, batches sampled on a background thread (one seeded stream
/// per step: reproducible and resumable), validated by `score` where there is a split.
fn fit_net(
    ctx: &FitContext,
    spec: &UNetSpec,
    cases: Arc<Vec<TrainCase>>,
    sampling: &Sampling,
    score: Option<&dyn Fn(&TrainedNet) -> f64>,
) -> Result<Fitted<TrainedNet>> {
    let config = ctx.config;
    let spawn = |start: usize| -> Result<Receiver<Batch>> {
        let (tx, rx) = sync_channel::<Batch>(4);
        let cases = Arc::clone(&cases);
        let sampling = sampling.clone();
        let (seed, steps) = (config.seed, config.most_steps());
        std::thread::Builder::new()
            .name("sliceplan-batches".into())
            .spawn(move || {
                for step in start..steps {
                    let mut rng = Rng::with_stream(seed, 10_000 + step as u64);
                    if tx.send(sample_batch(&cases, &sampling, &mut rng)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| Error::Train(format!("cannot start the batch thread: {e}")))?;
        Ok(rx)
    };
    let optim = AdamConfig::new().with_epsilon(1e-8).init();
    match config.model {
        ModelKind::TwoD => {
            let v2 = |m: &UNet2d| score.map_or(0.0, |s| s(&TrainedNet::TwoD(m.valid())));
            let fitted = ctx.fit(
                UNet2d::seeded(spec, ctx.device, config.seed),
                |m: &UNet2d, x| m.forward(x),
                optim,
                &spawn,
                score.is_some().then_some(&v2 as Validator<'_, UNet2d>),
            )?;
            Ok(fitted.map(|m| TrainedNet::TwoD(m.valid())))
        }
        ModelKind::ThreeD => {
            let v3 = |m: &UNet3d| score.map_or(0.0, |s| s(&TrainedNet::ThreeD(m.valid())));
            let fitted = ctx.fit(
                UNet3d::seeded(spec, ctx.device, config.seed),
                |m: &UNet3d, x| m.forward(x),
                optim,
                &spawn,
                score.is_some().then_some(&v3 as Validator<'_, UNet3d>),
            )?;
            Ok(fitted.map(|m| TrainedNet::ThreeD(m.valid())))
        }
    }
}

/// What the training itself says: a validation split on which the net found nothing, and
/// training past the configured steps.
fn training_notes(
    config: &TrainConfig,
    validation_curve: &[(usize, f64)],
    best: Option<(usize, f64)>,
    extended_to: Option<usize>,
    loss_curve: &[(usize, f32)],
) -> Vec<String> {
    let mut notes = Vec::new();
    if !validation_curve.is_empty() && best.is_none() {
        notes.push(format!(
            "the net found none of the target on the validation split in {} validations; trained every step and kept the last net",
            validation_curve.len()
        ));
    }
    if let Some(to) = extended_to {
        notes.push(extension_note(config.steps, to, loss_curve));
    }
    notes
}
