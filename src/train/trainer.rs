//! The training loop: batches prepared on a background thread, masked loss, Adam with a poly
//! learning-rate decay, progress, cancellation, checkpoints and resume, then evaluation.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::backend::open_device;
use super::backend::{catch_device_panic, map_device_panic, panic_message};
use super::data::{BORDER_MARGIN, Batch, Sampling, sample_batch};
use super::evaluate::{CaseDice, Evaluation};
use super::loss::masked_dice_ce;
use super::prepare::{Prepared, prepare_training};
use super::quality::run_flags;
use super::unet::{UNet2d, UNet3d, UNetSpec};
use super::{ModelKind, TrainConfig};
use crate::dataset::{Dataset, TargetLabels};
use crate::error::{Error, Result};
use crate::io::write_bytes_atomic;
use crate::jobs::Progress;
use crate::plan::Plan;
use crate::rng::Rng;

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

/// Where a run keeps its checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct RunState {
    step: usize,
    config: TrainConfig,
    plan_slices: usize,
    loss_curve: Vec<(usize, f32)>,
}

/// (step, loss) pairs.
type LossCurve = Vec<(usize, f32)>;

/// The trained net, the step resumed from, the loss curve and the step timing.
type Trained = (TrainedNet, Option<usize>, Vec<(usize, f32)>, StepTiming);

/// Warm-up time and the rate after it.
#[derive(Debug, Clone, Copy, Default)]
struct StepTiming {
    warmup_seconds: f64,
    steady_steps_per_second: f64,
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

struct Loop<'a> {
    config: &'a TrainConfig,
    device: &'a Device,
    rx: Receiver<Batch>,
    progress: &'a Progress,
    run_dir: Option<&'a Path>,
    start: usize,
    loss_curve: Vec<(usize, f32)>,
    plan_slices: usize,
    started: Instant,
    /// The step after which the warm-up ended, and when.
    warm: Option<(usize, Instant)>,
}

/// Steps counted as warm-up (kernel compilation and autotuning on a GPU) in rates and ETAs.
const WARMUP_STEPS: usize = 3;

impl Loop<'_> {
    fn save<M: Module>(
        &self,
        model: &M,
        optim: &burn::optim::ModuleOptimizer,
        step: usize,
    ) -> Result<()> {
        let Some(dir) = self.run_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create run folder", dir, e))?;
        let model_tmp = dir.join(".model.bpk.tmp");
        model.clone().save_file(&model_tmp).map_err(|e| {
            Error::file(format!("cannot save model checkpoint ({e:?})"), &model_tmp)
        })?;
        let optim_tmp = dir.join(".optim.bin.tmp");
        optim
            .save(&optim_tmp)
            .map_err(|e| Error::file(format!("cannot save optimiser state ({e:?})"), &optim_tmp))?;
        for (tmp, name) in [(&model_tmp, "model.bpk"), (&optim_tmp, "optim.bin")] {
            std::fs::rename(tmp, dir.join(name))
                .map_err(|e| Error::io("cannot move checkpoint into place", dir.join(name), e))?;
        }
        let state = RunState {
            step,
            config: self.config.clone(),
            plan_slices: self.plan_slices,
            loss_curve: self.loss_curve.clone(),
        };
        let text =
            serde_json::to_string_pretty(&state).map_err(|e| Error::invalid(e.to_string()))?;
        write_bytes_atomic(dir.join("state.json"), text.as_bytes())
    }

    fn run<M: Module, const D: usize>(
        &mut self,
        mut model: M,
        forward: impl Fn(&M, Tensor<D>) -> Tensor<D>,
        mut optim: burn::optim::ModuleOptimizer,
    ) -> Result<M> {
        let steps = self.config.steps;
        for step in self.start..steps {
            if self.progress.is_cancelled() {
                self.save(&model, &optim, step)?;
                return Err(Error::Cancelled);
            }
            let batch = self
                .rx
                .recv()
                .map_err(|_| Error::Train("the batch preparation thread stopped".into()))?;
            let mut shape = vec![batch.batch, 1];
            shape.extend(&batch.spatial);
            let mut shape2 = shape.clone();
            shape2[1] = 2;
            let x =
                Tensor::<D>::from_data(TensorData::new(batch.image, shape.clone()), self.device);
            let y = Tensor::<D>::from_data(TensorData::new(batch.onehot, shape2), self.device);
            let m = Tensor::<D>::from_data(TensorData::new(batch.mask, shape), self.device);
            let loss = masked_dice_ce(forward(&model, x), y, m);
            let value: f32 = loss.clone().into_scalar();
            if !value.is_finite() {
                return Err(Error::Train(format!(
                    "the loss became {value} at step {step}; try a lower learning rate"
                )));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let lr =
                self.config.learning_rate * (1.0 - step as f64 / steps as f64).max(0.0).powf(0.9);
            model = optim.step(lr, model, grads);
            if step % 10 == 0 || step + 1 == steps {
                self.loss_curve.push((step, value));
            }
            if self.warm.is_none() && step + 1 >= (self.start + WARMUP_STEPS).min(steps) {
                self.warm = Some((step + 1, Instant::now()));
            }
            let status = match self.warm {
                Some((at, when)) if step + 1 > at => {
                    let rate = (step + 1 - at) as f64 / when.elapsed().as_secs_f64().max(1e-9);
                    let eta = (steps - step - 1) as f64 / rate.max(1e-9);
                    format!("{rate:.2} steps/s, ETA {eta:.0} s")
                }
                _ => "warming up".to_string(),
            };
            self.progress.set(
                (step + 1) as f32 / steps as f32,
                format!("step {}/{steps}, loss {value:.4}, {status}", step + 1),
            );
            let every = self.config.checkpoint_every;
            if every > 0 && (step + 1) % every == 0 && step + 1 < steps {
                self.save(&model, &optim, step + 1)?;
            }
        }
        self.save(&model, &optim, steps)?;
        Ok(model)
    }
}

/// What training a net needs besides the net itself.
struct FitContext<'a> {
    config: &'a TrainConfig,
    device: &'a Device,
    progress: &'a Progress,
    run_dir: Option<&'a Path>,
    resume_dir: Option<&'a Path>,
    plan_slices: usize,
}

impl FitContext<'_> {
    /// Resumes from a checkpoint if asked, then trains `model` (the same steps for the 2D and
    /// the 3D net); returns it, the step it resumed from, and the loss curve.
    fn fit<M: Module, const D: usize>(
        &self,
        model: M,
        forward: impl Fn(&M, Tensor<D>) -> Tensor<D>,
        optim: burn::optim::ModuleOptimizer,
        batches_from: &dyn Fn(usize) -> Result<Receiver<Batch>>,
    ) -> Result<(M, Option<usize>, LossCurve, StepTiming)> {
        let (model, optim, state) =
            try_resume(self.resume_dir, self.config, self.plan_slices, model, optim)?;
        let start = state.as_ref().map(|s| s.step).unwrap_or(0);
        let mut lp = Loop {
            config: self.config,
            device: self.device,
            rx: batches_from(start)?,
            progress: self.progress,
            run_dir: self.run_dir,
            start,
            loss_curve: state.map(|s| s.loss_curve).unwrap_or_default(),
            plan_slices: self.plan_slices,
            started: Instant::now(),
            warm: None,
        };
        let model = lp.run(model, forward, optim)?;
        let steps_after_warmup = self.config.steps.saturating_sub(lp.warm.map_or(0, |w| w.0));
        let timing = StepTiming {
            warmup_seconds: lp
                .warm
                .map_or(0.0, |(_, when)| (when - lp.started).as_secs_f64()),
            steady_steps_per_second: lp.warm.map_or(0.0, |(_, when)| {
                steps_after_warmup as f64 / when.elapsed().as_secs_f64().max(1e-9)
            }),
        };
        Ok((model, (start > 0).then_some(start), lp.loss_curve, timing))
    }
}

/// Loads a checkpoint from `dir` into `model`/`optim` if one matches `config`.
fn try_resume<M: Module>(
    dir: Option<&Path>,
    config: &TrainConfig,
    plan_slices: usize,
    model: M,
    optim: burn::optim::ModuleOptimizer,
) -> Result<(M, burn::optim::ModuleOptimizer, Option<RunState>)> {
    let Some(dir) = dir else {
        return Ok((model, optim, None));
    };
    let state_path = dir.join("state.json");
    if !state_path.is_file() {
        return Ok((model, optim, None));
    }
    let text = std::fs::read_to_string(&state_path)
        .map_err(|e| Error::io("cannot read checkpoint state", &state_path, e))?;
    let state: RunState = serde_json::from_str(&text)
        .map_err(|e| Error::file(format!("corrupt checkpoint state ({e})"), &state_path))?;
    let mut same = state.config.clone();
    same.steps = config.steps;
    same.checkpoint_every = config.checkpoint_every;
    if same != *config || state.plan_slices != plan_slices {
        return Err(Error::file(
            "the checkpoint was made with other settings or another plan; use a new run folder",
            &state_path,
        ));
    }
    let model = model.try_load_file(dir.join("model.bpk")).map_err(|e| {
        Error::file(
            format!("cannot load model checkpoint ({e:?})"),
            dir.join("model.bpk"),
        )
    })?;
    let optim = optim.load(dir.join("optim.bin")).map_err(|e| {
        Error::file(
            format!("cannot load optimiser state ({e:?})"),
            dir.join("optim.bin"),
        )
    })?;
    Ok((model, optim, Some(state)))
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
    TwoD(UNet2d),
    ThreeD(UNet3d),
}

/// Trains the configured model on `job.plan`'s annotated slices and evaluates it on the held-out
/// cases (`plan.test_cases`, or every dataset case outside the plan). With `run_dir`, keeps
/// checkpoints there and resumes from one when `resume` is set. With `predict_out`, writes the
/// test predictions as NIfTI on their source grids.
pub fn train_and_evaluate(job: &TrainJob, progress: &Progress) -> Result<TrainReport> {
    let TrainJob {
        dataset,
        plan,
        target,
        config,
        run_dir,
        resume,
        predict_out,
    } = *job;
    config.validate()?;
    plan.check_dataset(dataset)?;

    let mut warnings = Vec::new();
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
    let Prepared {
        cases: train_cases,
        factor,
        target_extent_px,
        geometry0,
    } = prepare_training(job, progress)?;
    let axis0 = plan.volumes[0].axis;
    if factor > 1 {
        let (a, b) = crate::io::Volume::in_plane_axes(axis0);
        warnings.push(format!(
            "in-plane resolution reduced {factor}× for training ({}×{} → {}×{} px){}",
            geometry0.shape[a],
            geometry0.shape[b],
            geometry0.shape[a].div_ceil(factor),
            geometry0.shape[b].div_ceil(factor),
            target_extent_px
                .map(|e| format!(
                    "; the target spans about {:.0} px, {:.0} after",
                    e,
                    e / factor as f64
                ))
                .unwrap_or_default()
        ));
    }
    if !train_cases.iter().any(|c| c.has_supervised_foreground()) {
        warnings.push(format!(
            "no annotated slice holds the target ({}); the model can only learn background",
            target.describe(&dataset.label_names)
        ));
    }
    let spec = {
        let features = config
            .features
            .clone()
            .unwrap_or_else(|| default_features(config.model));
        let levels = features.len() - 1;
        match config.model {
            ModelKind::TwoD => UNetSpec::isotropic(2, features, 2),
            ModelKind::ThreeD => {
                let (a, _) = crate::io::Volume::in_plane_axes(axis0);
                let strides = anisotropic_strides(
                    levels,
                    geometry0.spacing_mm[axis0],
                    geometry0.spacing_mm[a] * factor as f64,
                );
                UNetSpec {
                    in_channels: 1,
                    classes: 2,
                    features,
                    strides,
                }
            }
        }
    };
    let divisor = spec.divisor();
    let max_w = train_cases.iter().map(|c| c.dims[0]).max().unwrap_or(1);
    let max_h = train_cases.iter().map(|c| c.dims[1]).max().unwrap_or(1);
    let max_d = train_cases.iter().map(|c| c.dims[2]).max().unwrap_or(1);
    let patch: Vec<usize> = match (&config.patch, config.model) {
        (Some(p), _) => p
            .iter()
            .zip(&divisor)
            .map(|(&x, &m)| round_up(x, m))
            .collect(),
        // The whole slice with a margin of padding around it (see `BORDER_MARGIN`).
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
    let batch = config
        .batch_size
        .unwrap_or(if config.model == ModelKind::TwoD {
            8
        } else {
            2
        })
        .max(1);
    let opened = open_device(config.backend)?;
    let device = opened.device.clone().autodiff();
    device.seed(config.seed);
    let plan_slices = plan.total_slices();
    // Batches on a background thread, one seeded stream per step (reproducible and resumable).
    let sampling = Sampling {
        batch,
        patch: patch.clone(),
        fg_fraction: config.fg_fraction,
        augment: config.augment,
    };
    let shared = Arc::new(train_cases);
    let run_dir: Option<PathBuf> = run_dir.map(Path::to_path_buf);
    let resume_dir = if resume { run_dir.as_deref() } else { None };
    let optim = AdamConfig::new().with_epsilon(1e-8).init();
    let started = Instant::now();
    let outcome = catch_device_panic(|| -> Result<Trained> {
        let spawn = |start: usize| -> Result<Receiver<Batch>> {
            let (tx, rx) = sync_channel::<Batch>(4);
            let cases = Arc::clone(&shared);
            let sampling = sampling.clone();
            let (seed, steps) = (config.seed, config.steps);
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
        let ctx = FitContext {
            config,
            device: &device,
            progress,
            run_dir: run_dir.as_deref(),
            resume_dir,
            plan_slices,
        };
        match config.model {
            ModelKind::TwoD => {
                let (m, resumed, curve, timing) = ctx.fit(
                    UNet2d::new(&spec, &device),
                    |m: &UNet2d, x| m.forward(x),
                    optim,
                    &spawn,
                )?;
                Ok((TrainedNet::TwoD(m.valid()), resumed, curve, timing))
            }
            ModelKind::ThreeD => {
                let (m, resumed, curve, timing) = ctx.fit(
                    UNet3d::new(&spec, &device),
                    |m: &UNet3d, x| m.forward(x),
                    optim,
                    &spawn,
                )?;
                Ok((TrainedNet::ThreeD(m.valid()), resumed, curve, timing))
            }
        }
    });
    let (net, resumed_from, loss_curve, timing) = match outcome {
        Ok(r) => r?,
        Err(e) => return Err(map_device_panic(panic_message(e.as_ref()), &opened.name)),
    };
    let train_seconds = started.elapsed().as_secs_f64();
    let trained_steps = config.steps - resumed_from.unwrap_or(0);
    // Evaluation.
    let eval_started = Instant::now();
    let evaluation = Evaluation {
        dataset,
        plan,
        target,
        factor,
        divisor: &divisor,
        patch: &patch,
        device: &opened.device,
        device_name: &opened.name,
        predict_out,
    };
    let (test, empty_truth_cases) = evaluation.run(&net, &test_ids, progress)?;
    let mean_dice = test.iter().map(|t| t.dice).sum::<f64>() / test.len().max(1) as f64;
    let flags = run_flags(&test, &loss_curve);
    progress.set(1.0, format!("mean Dice {mean_dice:.3}"));
    Ok(TrainReport {
        model: config.model,
        backend: opened.name,
        notice: opened.notice,
        steps: config.steps,
        resumed_from,
        train_cases: plan.volumes.len(),
        annotated_slices: plan_slices,
        train_seconds,
        steps_per_second: trained_steps as f64 / train_seconds.max(1e-9),
        warmup_seconds: timing.warmup_seconds,
        steady_steps_per_second: timing.steady_steps_per_second,
        eval_seconds: eval_started.elapsed().as_secs_f64(),
        loss_curve,
        test,
        mean_dice,
        empty_truth_cases,
        in_plane_factor: factor,
        flags,
        warnings,
    })
}
