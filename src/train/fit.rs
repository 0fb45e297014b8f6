//! The training loop: Adam with a poly learning-rate decay over batches prepared on a
//! background thread, progress and cancellation, checkpoints and resume, and early stopping on a
//! validation split.

use std::path::Path;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::TrainConfig;
use super::data::Batch;
use super::extend::{learning_rate, segment_ends, segment_of, steps_trained};
use super::loss::masked_dice_ce;
use super::quality::fitted;
use super::validate::Tracker;
use crate::error::{Error, Result};
use crate::io::write_bytes_atomic;
use crate::jobs::Progress;

/// Where a run keeps its checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(super) struct RunState {
    step: usize,
    config: TrainConfig,
    plan_slices: usize,
    loss_curve: Vec<(usize, f32)>,
}

/// (step, loss) pairs.
pub(super) type LossCurve = Vec<(usize, f32)>;

/// A trained net (`M`: the 2D or 3D module, or `TrainedNet`) and how its training went.
pub(super) struct Fitted<M> {
    pub(super) model: M,
    /// The step training resumed from.
    pub(super) resumed_from: Option<usize>,
    pub(super) loss_curve: LossCurve,
    pub(super) timing: StepTiming,
    /// Validation scores (early stopping).
    pub(super) tracker: Tracker,
    /// The step early stopping ended training at.
    pub(super) stopped_at: Option<usize>,
    /// The step training ended at when it went on past `steps` (see `extend`).
    pub(super) extended_to: Option<usize>,
}

impl<M> Fitted<M> {
    pub(super) fn map<N>(self, f: impl FnOnce(M) -> N) -> Fitted<N> {
        Fitted {
            model: f(self.model),
            resumed_from: self.resumed_from,
            loss_curve: self.loss_curve,
            timing: self.timing,
            tracker: self.tracker,
            stopped_at: self.stopped_at,
            extended_to: self.extended_to,
        }
    }
}

/// Warm-up time and the rate after it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct StepTiming {
    pub(super) warmup_seconds: f64,
    pub(super) steady_steps_per_second: f64,
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
    /// Validation scores so far (early stopping).
    tracker: Tracker,
    /// The step training stopped at when early stopping ended it.
    stopped_at: Option<usize>,
    /// The end of the last segment when the net was trained on past `steps` (see `extend`).
    extended_to: Option<usize>,
}

/// Scores a net on the validation split (see `validate`).
pub(super) type Validator<'v, M> = &'v dyn Fn(&M) -> f64;

/// Steps counted as warm-up (kernel compilation and autotuning on a GPU) in rates and ETAs.
pub(super) const WARMUP_STEPS: usize = 3;

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
        // The net and optimiser of this step go to files named by the step, each written to a
        // temporary name, fsynced and renamed; state.json, replaced atomically last, says which
        // step to resume from. A kill at any moment leaves state.json naming a complete pair.
        let (model_name, optim_name) = checkpoint_files(step);
        let model_tmp = dir.join(format!(".{model_name}.tmp"));
        model.clone().save_file(&model_tmp).map_err(|e| {
            Error::file(format!("cannot save model checkpoint ({e:?})"), &model_tmp)
        })?;
        let optim_tmp = dir.join(format!(".{optim_name}.tmp"));
        optim
            .save(&optim_tmp)
            .map_err(|e| Error::file(format!("cannot save optimiser state ({e:?})"), &optim_tmp))?;
        for (tmp, name) in [(&model_tmp, &model_name), (&optim_tmp, &optim_name)] {
            std::fs::File::open(tmp)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io("cannot flush checkpoint", tmp, e))?;
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
        write_bytes_atomic(dir.join("state.json"), text.as_bytes())?;
        // Older checkpoints (and a killed writer's temporary files) are no longer needed.
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let old = (name.starts_with("model-")
                    || name.starts_with("optim-")
                    || name.starts_with(".model-")
                    || name.starts_with(".optim-"))
                    && name != model_name
                    && name != optim_name;
                if old {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    fn run<M: Module, const D: usize>(
        &mut self,
        mut model: M,
        forward: impl Fn(&M, Tensor<D>) -> Tensor<D>,
        mut optim: burn::optim::ModuleOptimizer,
        validator: Option<Validator<'_, M>>,
    ) -> Result<M> {
        let ends = segment_ends(self.config.steps, self.config.until_fitted);
        let stopping = self.config.early_stopping.filter(|_| validator.is_some());
        let mut best: Option<M> = None;
        let mut segment = segment_of(&ends, self.start);
        let mut step = self.start;
        loop {
            if step >= segment.1 {
                // The end of a segment: train on while the net has not fitted its slices and a
                // longer segment is allowed (a run resumed at a segment's end decides here too).
                match ends.iter().position(|&e| e > segment.1) {
                    Some(next) if !fitted(&self.loss_curve) => {
                        segment = (segment.1, ends[next]);
                        continue;
                    }
                    _ => break,
                }
            }
            let end = segment.1;
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
            let lr = learning_rate(self.config.learning_rate, segment, step);
            model = optim.step(lr, model, grads);
            if step.is_multiple_of(10) || step + 1 == end {
                self.loss_curve.push((step, value));
            }
            if self.warm.is_none() && step + 1 >= (self.start + WARMUP_STEPS).min(end) {
                self.warm = Some((step + 1, Instant::now()));
            }
            let status = match self.warm {
                Some((at, when)) if step + 1 > at => {
                    let rate = (step + 1 - at) as f64 / when.elapsed().as_secs_f64().max(1e-9);
                    let eta = (end - step - 1) as f64 / rate.max(1e-9);
                    format!("{rate:.2} steps/s, ETA {eta:.0} s")
                }
                _ => "warming up".to_string(),
            };
            let extended = if segment.0 > 0 {
                format!(" (trained on: not fitted at {} steps)", segment.0)
            } else {
                String::new()
            };
            self.progress.set(
                (step + 1) as f32 / end as f32,
                format!(
                    "step {}/{end}{extended}, loss {value:.4}, {status}",
                    step + 1
                ),
            );
            let every = self.config.checkpoint_every;
            if every > 0 && (step + 1).is_multiple_of(every) && step + 1 < end {
                self.save(&model, &optim, step + 1)?;
            }
            if let (Some(stop), Some(validate)) = (stopping, validator)
                && ((step + 1).is_multiple_of(stop.every) || step + 1 == end)
            {
                let score = validate(&model);
                if self.tracker.record(step + 1, score) {
                    best = Some(model.clone());
                }
                if self.tracker.should_stop(stop.patience) && step + 1 < end {
                    self.stopped_at = Some(step + 1);
                    break;
                }
            }
            step += 1;
        }
        // A run in a segment after the first was trained on past `steps`.
        self.extended_to = (segment.0 > 0).then_some(segment.1);
        let end = self.stopped_at.unwrap_or(segment.1);
        self.save(&model, &optim, end)?;
        Ok(best.unwrap_or(model))
    }
}

/// What training a net needs besides the net itself.
pub(super) struct FitContext<'a> {
    pub(super) config: &'a TrainConfig,
    pub(super) device: &'a Device,
    pub(super) progress: &'a Progress,
    pub(super) run_dir: Option<&'a Path>,
    pub(super) resume_dir: Option<&'a Path>,
    pub(super) plan_slices: usize,
}

impl FitContext<'_> {
    /// Resumes from a checkpoint if asked, then trains `model` (the same steps for the 2D and
    /// the 3D net); returns it, the step it resumed from, and the loss curve.
    pub(super) fn fit<M: Module, const D: usize>(
        &self,
        model: M,
        forward: impl Fn(&M, Tensor<D>) -> Tensor<D>,
        optim: burn::optim::ModuleOptimizer,
        batches_from: &dyn Fn(usize) -> Result<Receiver<Batch>>,
        validator: Option<Validator<'_, M>>,
    ) -> Result<Fitted<M>> {
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
            tracker: Tracker::default(),
            stopped_at: None,
            extended_to: None,
        };
        let model = lp.run(model, forward, optim, validator)?;
        let last = steps_trained(self.config.steps, lp.stopped_at, lp.extended_to);
        let steps_after_warmup = last.saturating_sub(lp.warm.map_or(0, |w| w.0));
        let timing = StepTiming {
            warmup_seconds: lp
                .warm
                .map_or(0.0, |(_, when)| (when - lp.started).as_secs_f64()),
            steady_steps_per_second: lp.warm.map_or(0.0, |(_, when)| {
                steps_after_warmup as f64 / when.elapsed().as_secs_f64().max(1e-9)
            }),
        };
        Ok(Fitted {
            model,
            resumed_from: (start > 0).then_some(start),
            loss_curve: lp.loss_curve,
            timing,
            tracker: lp.tracker,
            stopped_at: lp.stopped_at,
            extended_to: lp.extended_to,
        })
    }
}

/// The model and optimiser file names of the checkpoint at `step`.
fn checkpoint_files(step: usize) -> (String, String) {
    (format!("model-{step}.bpk"), format!("optim-{step}.bin"))
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
    let (model_name, optim_name) = checkpoint_files(state.step);
    let model = model.try_load_file(dir.join(&model_name)).map_err(|e| {
        Error::file(
            format!("cannot load model checkpoint ({e:?})"),
            dir.join(&model_name),
        )
    })?;
    let optim = optim.load(dir.join(&optim_name)).map_err(|e| {
        Error::file(
            format!("cannot load optimiser state ({e:?})"),
            dir.join(&optim_name),
        )
    })?;
    Ok((model, optim, Some(state)))
}
