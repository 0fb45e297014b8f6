//! The subcommands, one file per group; the helpers they share are here.

mod cache;
#[cfg(feature = "gui")]
mod gui;
mod handoff;
mod info;
mod interp;
mod plan;
mod simulate;
mod study;
mod train;

use anyhow::{Context, Result};
use serde::Serialize;

#[cfg(not(feature = "gui"))]
use super::args::GuiArgs;
use super::args::{DataArg, PlanOptions, TrainOptions};
pub use super::progress::{is_quiet, with_progress};
use sliceplan::dataset::{Dataset, TargetLabels};
use sliceplan::io::Plane;
use sliceplan::plan::{BodyRule, Budget, CostModel, PlanRequest, Rounding};
use sliceplan::train::TrainConfig;

pub use cache::cache;
#[cfg(feature = "gui")]
pub use gui::gui;

/// Without the `gui` feature there is no window to open.
#[cfg(not(feature = "gui"))]
pub fn gui(_args: GuiArgs) -> Result<()> {
    anyhow::bail!(
        "this sliceplan was built without the `gui` feature; the command-line subcommands work (see `sliceplan help`)"
    )
}
pub use handoff::handoff;
pub use info::{demo, info};
pub use interp::interp;
pub use plan::{export_nnunet, plan, status};
pub use simulate::simulate;
pub use study::study;
pub use train::train;

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn load_data(spec: &str) -> Result<Dataset> {
    Ok(sliceplan::dataset::open_spec(spec)?)
}

fn list<T: std::str::FromStr>(spec: &str, what: &str) -> Result<Vec<T>> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<T>()
                .map_err(|_| anyhow::anyhow!("{what}: cannot read '{s}'"))
        })
        .collect()
}

fn budget(o: &PlanOptions) -> Option<Budget> {
    match (o.budget_slices, o.budget_hours) {
        (Some(b), _) => Some(Budget::Slices(b)),
        (None, Some(h)) => Some(Budget::Seconds(h * 3600.0)),
        (None, None) => None,
    }
}

fn target_arg(label: Option<&str>, ds: &Dataset) -> Result<TargetLabels> {
    Ok(match label {
        Some(spec) => TargetLabels::parse(spec, &ds.label_names)?,
        None => ds.default_target(),
    })
}

fn request_args(o: &PlanOptions, ds: &Dataset) -> Result<PlanRequest> {
    let mut body_rule = BodyRule::default();
    if let Some(t) = o.body_threshold {
        body_rule.threshold = Some(t);
    }
    if let Some(f) = o.body_min_fraction {
        body_rule.min_fraction = f;
    }
    Ok(PlanRequest {
        budget: budget(o),
        volumes: o.volumes,
        density: o.density,
        rounding: match o.rounding.as_str() {
            "density" => Rounding::Density,
            _ => Rounding::FixedK,
        },
        min_slices_per_volume: o.min_slices,
        slice_strategy: o.strategy,
        volume_strategy: o.volume_strategy,
        seed: o.seed,
        plane: Plane::parse(&o.plane).with_context(|| {
            format!(
                "unknown plane '{}' (choose axial, coronal or sagittal)",
                o.plane
            )
        })?,
        body_rule,
        cost_model: CostModel {
            seconds_per_slice: o.seconds_per_slice,
            seconds_per_volume: o.seconds_per_volume,
        },
        target: target_arg(o.label.as_deref(), ds)?,
        holdout: o.holdout,
        holdout_seed: o.holdout_seed,
    })
}

/// The training configuration; `seed` and `interp` are the command's own (simulate has lists).
fn train_config(
    o: &TrainOptions,
    seed: u64,
    interp: Option<sliceplan::interp::Method>,
) -> Result<TrainConfig> {
    let mut c = TrainConfig {
        model: o.model,
        backend: o.backend,
        steps: o.steps,
        batch_size: o.batch,
        learning_rate: o.lr,
        seed,
        ..TrainConfig::default()
    };
    if let Some(p) = &o.patch {
        c.patch = Some(list::<usize>(p, "--patch")?);
    }
    c.interpolation = interp;
    c.max_in_plane = o.max_in_plane;
    if let Some(f) = &o.features {
        c.features = Some(list::<usize>(f, "--features")?);
    }
    if let Some(every) = o.validate_every {
        c.early_stopping = Some(sliceplan::train::validate::EarlyStopping {
            every,
            patience: o.patience.unwrap_or(5),
        });
    }
    c.until_fitted = o
        .max_steps
        .map(|max_steps| sliceplan::train::UntilFitted { max_steps });
    c.validate()?;
    Ok(c)
}

fn load_data_arg(d: &DataArg) -> Result<Dataset> {
    load_data(&d.data)
}
