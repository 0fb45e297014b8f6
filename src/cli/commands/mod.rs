//! The subcommands, one file per group; the helpers they share are here.

mod cache;
#[cfg(feature = "gui")]
mod gui;
mod info;
mod interp;
mod plan;
mod simulate;
mod study;
mod train;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::Args;
use sliceplan::dataset::{Dataset, TargetLabels, demo, open_dataset};
use sliceplan::interp::Method;
use sliceplan::io::Plane;
use sliceplan::jobs::{Job, Progress};
use sliceplan::plan::{
    BodyRule, Budget, CostModel, PlanRequest, Rounding, SliceStrategy, VolumeStrategy,
};
use sliceplan::train::{BackendChoice, ModelKind, TrainConfig};

pub use cache::cache;
#[cfg(feature = "gui")]
pub use gui::gui;

/// Without the `gui` feature there is no window to open.
#[cfg(not(feature = "gui"))]
pub fn gui(_args: Args) -> Result<()> {
    bail!(
        "this sliceplan was built without the `gui` feature; the command-line subcommands work (see `sliceplan help`)"
    )
}
pub use info::{demo, info};
pub use interp::interp;
pub use plan::{export_nnunet, plan, status};
pub use simulate::simulate;
pub use study::study;
pub use train::train;

/// `--quiet`: no progress on stderr.
static QUIET: AtomicBool = AtomicBool::new(false);

/// True under `--quiet`.
pub fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Silences the progress of long commands (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn load_data(spec: &str) -> Result<Dataset> {
    if spec == "demo" {
        return Ok(demo::dataset());
    }
    Ok(open_dataset(spec)?)
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

/// Runs `work` on a named background thread, reporting progress on stderr (redrawn in place on
/// a terminal, a line every 10 s otherwise) unless `--quiet`; stdout stays for the results, so
/// `--json` output is clean.
fn with_progress<T: Send + 'static>(
    name: &str,
    work: impl FnOnce(&Progress) -> sliceplan::Result<T> + Send + 'static,
) -> Result<T> {
    let quiet = QUIET.load(Ordering::Relaxed);
    let mut job = Job::spawn(name, work)?;
    let tty = std::io::stderr().is_terminal();
    let mut last = String::new();
    let mut waited = Duration::ZERO;
    loop {
        if let Some(r) = job.try_result() {
            if tty && !quiet {
                eprintln!();
            }
            return Ok(r?);
        }
        std::thread::sleep(Duration::from_millis(200));
        waited += Duration::from_millis(200);
        let (f, msg) = job.progress.get();
        if quiet || msg == last {
            continue;
        }
        if tty {
            eprint!("\r{:>5.1}% {msg:<70}", f * 100.0);
            last = msg;
        } else if last.is_empty() || waited >= Duration::from_secs(10) {
            eprintln!("{:>5.1}% {msg}", f * 100.0);
            last = msg;
            waited = Duration::ZERO;
        }
    }
}

fn budget_args(args: &mut Args) -> Result<(Option<Budget>, CostModel)> {
    let slices: Option<usize> = args.parsed("--budget-slices")?;
    let hours: Option<f64> = args.parsed("--budget-hours")?;
    let mut cost = CostModel::default();
    if let Some(x) = args.parsed("--seconds-per-slice")? {
        cost.seconds_per_slice = x;
    }
    if let Some(x) = args.parsed("--seconds-per-volume")? {
        cost.seconds_per_volume = x;
    }
    let budget = match (slices, hours) {
        (Some(_), Some(_)) => bail!("give --budget-slices or --budget-hours, not both"),
        (Some(b), None) => Some(Budget::Slices(b)),
        (None, Some(h)) => Some(Budget::Seconds(h * 3600.0)),
        (None, None) => None,
    };
    Ok((budget, cost))
}

fn target_arg(args: &mut Args, ds: &Dataset) -> Result<TargetLabels> {
    Ok(match args.opt("--label")? {
        Some(spec) => TargetLabels::parse(&spec, &ds.label_names)?,
        None => TargetLabels::all_foreground(),
    })
}

fn plane_arg(args: &mut Args) -> Result<Plane> {
    match args.opt("--plane")? {
        Some(p) => Plane::parse(&p)
            .with_context(|| format!("unknown plane '{p}' (choose axial, coronal or sagittal)")),
        None => Ok(Plane::Axial),
    }
}

fn request_args(args: &mut Args, ds: &Dataset) -> Result<PlanRequest> {
    let (budget, cost_model) = budget_args(args)?;
    let mut body_rule = BodyRule::default();
    if let Some(t) = args.parsed("--body-threshold")? {
        body_rule.threshold = Some(t);
    }
    if let Some(f) = args.parsed("--body-min-fraction")? {
        body_rule.min_fraction = f;
    }
    Ok(PlanRequest {
        budget,
        volumes: args.parsed("--volumes")?,
        density: args.parsed("--density")?,
        rounding: match args.opt("--rounding")?.as_deref() {
            None | Some("fixed-k") | Some("fixed") => Rounding::FixedK,
            Some("density") => Rounding::Density,
            Some(o) => bail!("unknown rounding '{o}' (choose fixed-k or density)"),
        },
        min_slices_per_volume: args.parsed("--min-slices")?.unwrap_or(1),
        slice_strategy: SliceStrategy::parse(
            &args.opt("--strategy")?.unwrap_or_else(|| "fixed".into()),
        )?,
        volume_strategy: VolumeStrategy::parse(
            &args
                .opt("--volume-strategy")?
                .unwrap_or_else(|| "random".into()),
        )?,
        seed: args.parsed("--seed")?.unwrap_or(0),
        plane: plane_arg(args)?,
        body_rule,
        cost_model,
        target: target_arg(args, ds)?,
        holdout: args.parsed("--holdout")?.unwrap_or(0),
    })
}

fn train_config(args: &mut Args) -> Result<TrainConfig> {
    let mut c = TrainConfig::default();
    if let Some(m) = args.opt("--model")? {
        c.model = ModelKind::parse(&m)?;
    }
    if let Some(b) = args.opt("--backend")? {
        c.backend = BackendChoice::parse(&b)?;
    }
    if let Some(s) = args.parsed("--steps")? {
        c.steps = s;
    }
    c.batch_size = args.parsed("--batch")?;
    if let Some(p) = args.opt("--patch")? {
        c.patch = Some(list::<usize>(&p, "--patch")?);
    }
    if let Some(lr) = args.parsed("--lr")? {
        c.learning_rate = lr;
    }
    if let Some(seed) = args.parsed("--seed")? {
        c.seed = seed;
    }
    if let Some(m) = args.opt("--interp")? {
        c.interpolation = Some(Method::parse(&m)?);
    }
    if let Some(n) = args.parsed("--max-in-plane")? {
        c.max_in_plane = Some(n);
    }
    if let Some(f) = args.opt("--features")? {
        c.features = Some(list::<usize>(&f, "--features")?);
    }
    if let Some(every) = args.parsed("--validate-every")? {
        c.early_stopping = Some(sliceplan::train::validate::EarlyStopping {
            every,
            patience: args.parsed("--patience")?.unwrap_or(5),
        });
    } else if args.opt("--patience")?.is_some() {
        return Err(anyhow::Error::new(sliceplan::Error::invalid(
            "--patience needs --validate-every (early stopping validates every N steps)",
        )));
    }
    c.validate()?;
    Ok(c)
}
